"""One lock for everything that writes: `churn score`, `train`, `ingest`, `etl`, `demo` and `models promote` take
the job lock (so none runs while a job half-builds the tables), a refused run is recorded in job_runs, and every
promotion -- from the CLI, `churn train` or the weekly job -- is written to audit_log."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from churn_core.cli import app
from churn_core.jobs.history import job_history
from churn_core.jobs.locks import LockBusy, jobs_lock
from churn_core.jobs.runner import execute_job
from churn_core.warehouse import open_warehouse
from tests.conftest import make_settings


@pytest.fixture()
def home(etl_home, tmp_path, monkeypatch):
    settings = make_settings(tmp_path / "home")
    settings.warehouse_path.parent.mkdir(parents=True)
    settings.warehouse_path.write_bytes(etl_home.warehouse_path.read_bytes())
    for key in [k for k in os.environ if k.startswith("CHURN_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("CHURN_HOME", str(settings.home))
    return settings


@pytest.mark.parametrize(
    "command",
    [["score"], ["train", "--profile", "seed"], ["etl"], ["ingest", "."], ["models", "promote", "v0001"], ["demo"]],
    ids=lambda c: c[0] if c[0] != "models" else "promote",
)
def test_writing_commands_wait_for_the_running_job(home, command) -> None:
    """Also fixed: a `churn score` during a daily run scored the date that run's ETL had half-built."""
    lock = jobs_lock(home).acquire(job="daily", run_id="daily-test")
    try:
        result = CliRunner().invoke(app, command)
    finally:
        lock.release()
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "another job is running" in said and "daily-test" in said, said


def test_a_refused_run_is_recorded(home) -> None:
    lock = jobs_lock(home).acquire(job="weekly", run_id="weekly-test")
    try:
        with pytest.raises(LockBusy):
            execute_job("daily", [], home, launched_by="manual")
    finally:
        lock.release()
    runs = job_history(open_warehouse(home), 5)
    assert runs["status"].tolist()[:1] == ["refused"] and "another job is running" in runs["error"].iloc[0]


def _promoted(monkeypatch) -> None:
    """A registry whose promote succeeds without a trained model (what is audited is under test here)."""
    from churn_core.model.registry import Comparison, Registry

    def promote(self, version, force=False):
        return Comparison(version, "v0001", 0.8, 0.7, 100, 0.005, True, "better")

    monkeypatch.setattr(Registry, "promote", promote)


def _audited(settings) -> list[tuple[str, str]]:
    entries = open_warehouse(settings).query("SELECT user_email, action, detail FROM audit_log")
    return [(a, d) for a, d in zip(entries["action"], entries["detail"], strict=True)]


def test_a_promotion_from_the_cli_is_audited(home, monkeypatch) -> None:
    """Also fixed: only the dashboard's promotions reached audit_log."""
    _promoted(monkeypatch)
    result = CliRunner().invoke(app, ["models", "promote", "v0002", "--force"])
    assert result.exit_code == 0, result.output
    [(action, detail)] = _audited(home)
    assert action == "promote" and '"version": "v0002"' in detail and '"force": true' in detail


def test_the_weekly_auto_promotion_is_audited(home, monkeypatch) -> None:
    from churn_core.jobs.runner import JobContext
    from churn_core.jobs.steps import promote_step

    _promoted(monkeypatch)
    context = JobContext(
        "weekly", "weekly-1", home, open_warehouse(home), state={"dataset": "evaluators", "candidate": "v0002"}
    )
    assert promote_step(context).model_version == "v0002"
    [(action, detail)] = _audited(home)
    assert action == "promote" and '"previous": "v0001"' in detail
