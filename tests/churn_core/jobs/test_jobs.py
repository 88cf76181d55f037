"""Job runs: history in job_runs, failure safety, retries, the job lock, freshness, and the real daily and
weekly jobs, including kill -9 at random points of a weekly run."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import random
import re
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from churn_core.cli import app
from churn_core.errors import ChurnError, TransientError
from churn_core.jobs import history
from churn_core.jobs.demo import run_demo
from churn_core.jobs.history import RunRecord, freshness, job_history, utc_now
from churn_core.jobs.locks import LockBusy, jobs_lock
from churn_core.jobs.logs import LOG_FILE
from churn_core.jobs.runner import JobFailed, JobResult, StepOutcome, execute_job
from churn_core.jobs.steps import run_job
from churn_core.model.registry import Registry
from churn_core.settings import Settings
from churn_core.warehouse import QueryError, Warehouse, WarehouseError, open_warehouse
from tests.conftest import make_settings


class Locked(WarehouseError, TransientError):
    """What a warehouse adapter raises for a lock another process holds for a moment."""


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "home", job_retries=2, job_retry_backoff_seconds=0.5)


def _step(rows_in: int | None = None, rows_out: int | None = None, **extra: Any) -> Any:
    return lambda context: StepOutcome(rows_in=rows_in, rows_out=rows_out, **extra)


def _raise(exc: Exception) -> Any:
    def step(context: Any) -> StepOutcome:
        raise exc

    return step


def _step_rows(warehouse: Warehouse, run_id: str) -> pd.DataFrame:
    """The outcome rows job_runs holds for the steps of a run, in the order they ran (`churn sql` shows them)."""
    return warehouse.query(
        "SELECT step, status, attempts, rows_out, model_version, detail FROM job_runs "
        "WHERE run_id = :run_id AND step <> 'run' AND status <> 'running' ORDER BY started_at, step",
        {"run_id": run_id},
    )


def test_a_run_records_each_step_and_its_outcome(settings: Settings) -> None:
    result = execute_job(
        "daily",
        [("etl", _step(100, 400)), ("score", _step(90, 90, model_version="v3"))],
        settings,
        launched_by="scheduler",
    )
    assert result.status == "succeeded" and [s.step for s in result.steps] == ["etl", "score"]
    warehouse = open_warehouse(settings)
    runs = job_history(warehouse, 10, settings)
    assert list(runs.columns) == list(history.RUN_COLUMNS)
    run = runs.iloc[0]
    assert (run.run_id, run.job, run.launched_by) == (result.run_id, "daily", "scheduler")
    assert run.status == "succeeded"
    assert (run.rows_in, run.rows_out, run.model_version) == (100, 90, "v3")
    assert run.ended_at >= run.started_at and run.duration_seconds >= 0
    assert [(s.step, s.status, s.outcome.rows_out, s.attempts) for s in result.steps] == [
        ("etl", "succeeded", 400, 1),
        ("score", "succeeded", 90, 1),
    ]
    steps = _step_rows(warehouse, result.run_id)
    assert steps[["step", "status", "rows_out", "attempts"]].values.tolist() == [
        ["etl", "succeeded", 400, 1],
        ["score", "succeeded", 90, 1],
    ]
    # append-only: a start row and an outcome row for the run and each step
    assert open_warehouse(settings).count("job_runs") == 6


def test_a_failed_step_ends_the_run_records_why_and_runs_nothing_after(settings: Settings) -> None:
    ran = []
    with pytest.raises(JobFailed, match="weekly run .* failed at step train: no training rows"):
        execute_job(
            "weekly",
            [
                ("etl", _step(1, 2)),
                ("train", _raise(ChurnError("no training rows"))),
                ("score", lambda c: ran.append("score")),
            ],
            settings,
        )
    assert ran == []
    warehouse = open_warehouse(settings)
    run = job_history(warehouse, 1, settings).iloc[0]
    assert run.status == "failed" and run.error == "no training rows"
    steps = _step_rows(warehouse, run.run_id)
    assert steps[["step", "status"]].values.tolist() == [["etl", "succeeded"], ["train", "failed"]]


def test_transient_errors_are_retried_with_backoff_and_nothing_else(settings: Settings) -> None:
    failures = [Locked("warehouse x.duckdb is locked by another process"), TransientError("ThrottlingException")]
    waits: list[float] = []

    def flaky(context: Any) -> StepOutcome:
        if failures:
            raise failures.pop(0)
        return StepOutcome(rows_out=5)

    result = execute_job("daily", [("score", flaky)], settings, sleep=waits.append)
    assert result.steps[0].attempts == 3 and waits == [0.5, 1.0]
    assert _step_rows(open_warehouse(settings), result.run_id)["attempts"].tolist() == [3]
    # Errors not marked transient are not retried, whatever their message says.
    for permanent in (
        QueryError("Table x does not exist"),
        WarehouseError("Could not set lock on file: throttled, service unavailable"),
        TimeoutError("timed out"),
        ConnectionResetError(),
    ):
        with pytest.raises(JobFailed):
            execute_job("daily", [("score", _raise(permanent))], settings, sleep=waits.append)
        assert waits == [0.5, 1.0]
    # A transient error that persists fails the run after job_retries retries.
    with pytest.raises(JobFailed, match="locked by another process") as failed:
        execute_job("daily", [("score", _raise(Locked("locked by another process")))], settings, sleep=waits.append)
    assert waits == [0.5, 1.0, 0.5, 1.0]
    assert failed.value.result.steps[0].attempts == 3
    log = (settings.log_dir / LOG_FILE).read_text()
    assert log.count("transient error, retrying in") == 4


def test_the_runs_own_history_writes_are_retried_when_transient(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    record, failures = history.record, [Locked("locked"), Locked("locked")]

    def flaky_record(warehouse: Warehouse, *records: RunRecord) -> None:
        if failures:
            raise failures.pop(0)
        record(warehouse, *records)

    monkeypatch.setattr(history, "record", flaky_record)
    waits: list[float] = []
    result = execute_job("daily", [("etl", _step(1, 1))], settings, sleep=waits.append)
    assert result.status == "succeeded" and waits == [0.5, 1.0]
    assert job_history(open_warehouse(settings), 1, settings).status.tolist() == ["succeeded"]


def test_only_one_job_runs_at_a_time(settings: Settings) -> None:
    holder = jobs_lock(settings).acquire(0, job="weekly", run_id="weekly-1")
    try:
        with pytest.raises(LockBusy, match="another job is running .*weekly-1"):
            execute_job("daily", [("etl", _step())], settings)
    finally:
        holder.release()
    refused = job_history(open_warehouse(settings), 5, settings)
    assert refused.status.tolist() == ["refused"] and "weekly-1" in refused.error.iloc[0]  # one row, no steps
    execute_job("daily", [("etl", _step())], settings)
    assert job_history(open_warehouse(settings), 5, settings).status.tolist() == ["succeeded", "refused"]


def test_a_run_whose_process_died_reads_interrupted_and_the_next_run_closes_it(settings: Settings) -> None:
    warehouse = open_warehouse(settings)
    started = utc_now() - dt.timedelta(minutes=5)
    history.record(
        warehouse,
        RunRecord("weekly-dead", "weekly", "run", "scheduler", started, "running"),
        RunRecord("weekly-dead", "weekly", "train", "scheduler", started, "running"),
    )
    assert job_history(warehouse, 5, settings).status.tolist() == ["interrupted"]
    # While a live process holds the job lock for that run, it reads as running.
    holder = jobs_lock(settings).acquire(0, job="weekly", run_id="weekly-dead")
    try:
        assert job_history(warehouse, 5, settings).status.tolist() == ["running"]
    finally:
        holder.release()
    # Without a view of the lock, an open run reads as running for a while, then as interrupted.
    assert job_history(warehouse, 5).status.tolist() == ["running"]
    execute_job("daily", [("etl", _step())], settings)
    runs = job_history(warehouse, 5)
    assert runs.set_index("run_id").status.to_dict() == {"weekly-dead": "interrupted", runs.run_id[0]: "succeeded"}
    dead = runs.set_index("run_id").loc["weekly-dead"]
    assert "interrupted" in dead.error and pd.notna(dead.ended_at)
    assert _step_rows(warehouse, "weekly-dead")[["step", "status"]].values.tolist() == [["train", "interrupted"]]
    assert history.open_runs(warehouse).empty


def test_freshness_of_the_served_score_set(settings: Settings) -> None:
    warehouse = open_warehouse(settings)
    none = freshness(warehouse, settings)
    assert none.stale and none.as_of_date is None and "No scores yet" in none.message
    now = utc_now()
    for as_of, hours_ago in ((dt.date(2026, 3, 1), 80), (dt.date(2026, 3, 2), 50)):
        warehouse.write_partition(
            "score_sets",
            pd.DataFrame(
                {
                    "as_of_date": [as_of],
                    "model_version": ["v1"],
                    "rows": [1500],
                    "created_at": pd.Series([now - dt.timedelta(hours=hours_ago)], dtype="datetime64[us]"),
                }
            ),
            "as_of_date",
            as_of,
        )
    stale = freshness(warehouse, settings, now=now)
    assert stale.stale and stale.as_of_date == dt.date(2026, 3, 2) and round(stale.age_hours) == 50
    assert "stale" in stale.message
    fresh = freshness(warehouse, settings.with_overrides(freshness_hours=72), now=now)
    assert not fresh.stale and fresh.model_version == "v1" and fresh.rows == 1500


# --- the real jobs on a small generated warehouse -------------------------------------------------------

# Settings that keep training and scoring of ~1,500 evaluators to seconds, the same in and out of process.
FAST: dict[str, Any] = {
    "demo_evaluators": 1500,
    "demo_days": 60,
    "tuning_budget_seconds": 0.5,
    "tuning_max_trials": 1,
    "tuning_folds": 2,
    "tuning_max_rounds": 40,
    "bootstrap_samples": 10,
    "uplift_trees": 10,
    "train_threads": 1,
    "job_retry_backoff_seconds": 0.2,
}
KILLS = 8


@pytest.fixture(scope="module")
def weekly_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, JobResult]:
    """Demo data for 1,500 evaluators and one complete weekly run (champion and score set)."""
    settings = make_settings(tmp_path_factory.mktemp("weekly") / "home", **FAST)
    run_demo(settings)
    return settings, run_job("weekly", settings)


def _assert_whole(settings: Settings) -> str:
    """The champion loads (complete, checksums verified) and every kept score set is complete and single;
    return the champion's version."""
    registry = Registry(settings)
    champion = registry.load("champion").version
    warehouse = open_warehouse(settings)
    sets = warehouse.query("""
        SELECT s.as_of_date, s.rows, s.model_version,
               (SELECT count(*) FROM evaluator_scores e WHERE e.as_of_date = s.as_of_date) AS scored,
               (SELECT count(DISTINCT e.instance) FROM evaluator_scores e WHERE e.as_of_date = s.as_of_date)
                   AS evaluators,
               (SELECT count(DISTINCT e.model_version) FROM evaluator_scores e
                WHERE e.as_of_date = s.as_of_date) AS models
        FROM score_sets s""")
    assert len(sets) >= 1 and sets["as_of_date"].is_unique
    assert (sets["scored"] == sets["rows"]).all() and (sets["evaluators"] == sets["rows"]).all()
    assert (sets["models"] == 1).all() and set(sets["model_version"]) <= set(registry.versions())
    scored_dates = warehouse.query("SELECT DISTINCT as_of_date FROM evaluator_scores")["as_of_date"]
    assert set(scored_dates) == set(sets["as_of_date"])
    return champion


def test_the_weekly_job_trains_promotes_and_scores(weekly_home: tuple[Settings, JobResult]) -> None:
    settings, result = weekly_home
    warehouse = open_warehouse(settings)
    run = job_history(warehouse, 1, settings).iloc[0]
    assert (run.run_id, run.job, run.status) == (result.run_id, "weekly", "succeeded")
    assert [s.step for s in result.steps] == ["etl", "train", "evaluate", "promote", "score", "plays"]
    assert {s.status for s in result.steps} == {"succeeded"}
    by_step = {s.step: s.outcome for s in result.steps}
    candidate, promote = by_step["train"].model_version, by_step["promote"]
    assert promote.detail == f"promoted {candidate} to champion" or promote.detail.startswith("kept champion")
    assert _assert_whole(settings) == promote.model_version == run.model_version
    recorded = _step_rows(warehouse, result.run_id).set_index("step")
    assert recorded.loc["promote", "detail"] == promote.detail
    assert not freshness(warehouse, settings).stale


def _cli(home: Path, *args: str) -> Any:
    """`churn ARGS` in this process (as a user runs it, with CHURN_* from the environment)."""
    env = {f"CHURN_{k.upper()}": str(v) for k, v in FAST.items()}
    return CliRunner().invoke(app, list(args), env={**env, "CHURN_HOME": str(home)}, catch_exceptions=False)


def test_churn_run_daily_and_churn_jobs(weekly_home: tuple[Settings, JobResult]) -> None:
    settings, _ = weekly_home
    result = _cli(settings.home, "run", "daily")
    assert result.exit_code == 0, result.stderr
    assert "daily run daily-" in result.stderr and "succeeded" in result.stderr
    listing = _cli(settings.home, "jobs", "--format", "json")
    assert listing.exit_code == 0, listing.stderr
    runs = json.loads(listing.stdout)
    assert [(r["job"], r["status"]) for r in runs[:2]] == [("daily", "succeeded"), ("weekly", "succeeded")]
    assert runs[0]["model_version"] == runs[1]["model_version"] and runs[0]["rows_out"] > 0
    assert "Scores as of" in _cli(settings.home, "jobs").stderr
    _assert_whole(settings)


def test_a_failing_run_exits_1_with_one_line(tmp_path: Path) -> None:
    result = _cli(tmp_path / "empty", "run", "daily")
    assert result.exit_code == 1
    assert "failed at step etl: raw table(s)" in result.stderr and "Traceback" not in result.stderr


def _run_weekly(settings: Settings) -> None:
    """A weekly run in a child process (the target the kill test starts)."""
    run_job("weekly", settings)


@pytest.fixture(scope="module")
def processes() -> Any:
    """Child processes forked from a server that has imported the job modules once, so that each run
    starts in milliseconds instead of re-importing pandas, xgboost and DuckDB."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(
        [
            "churn_core.jobs.steps",
            "churn_core.model.train",
            "churn_core.scoring.score",
            "churn_core.model.registry",
            __name__,
        ]
    )
    return context


def _started_run(log: Path, offset: int, process: Any) -> str:
    """The run id of the first run that logged its start after `offset` in the job log."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if log.exists():
            with open(log, encoding="utf-8") as handle:
                handle.seek(offset)
                found = re.search(r"(weekly-\S+) run started", handle.read())
            if found:
                return found.group(1)
        assert process.is_alive() or process.exitcode == 0, f"the run ended with {process.exitcode}"
        time.sleep(0.02)
    raise AssertionError("the weekly run did not start")


def test_kill_9_anywhere_in_weekly_runs_leaves_the_champion_and_scores_whole(
    weekly_home: tuple[Settings, JobResult], processes: Any
) -> None:
    settings, first = weekly_home
    seconds = (first.ended_at - first.started_at).total_seconds()
    seed = int(os.environ.get("CHURN_CHAOS_SEED", time.time_ns() % 100_000))
    rng = random.Random(seed)
    log = settings.log_dir / LOG_FILE
    champions = [_assert_whole(settings)]
    outcomes: dict[str, bool] = {}  # run id -> killed
    for _ in range(KILLS):
        offset = log.stat().st_size
        process = processes.Process(target=_run_weekly, args=(settings,))
        process.start()
        run_id = _started_run(log, offset, process)
        process.join(timeout=rng.uniform(0, seconds * 1.1))
        killed = process.is_alive()
        if killed:
            process.kill()  # SIGKILL: no handler, no cleanup
            process.join()
        assert killed or process.exitcode == 0, f"the run failed (exit {process.exitcode}), seed {seed}"
        outcomes[run_id] = killed
        champion = _assert_whole(settings)
        assert champion == champions[-1] or champion > champions[-1], f"seed {seed}"
        champions.append(champion)
        statuses = job_history(open_warehouse(settings), 100, settings).set_index("run_id")["status"]
        assert statuses[run_id] in ({"interrupted", "succeeded"} if killed else {"succeeded"}), f"seed {seed}"
    statuses = job_history(open_warehouse(settings), 100, settings).set_index("run_id")["status"]
    assert set(statuses[list(outcomes)]) <= {"interrupted", "succeeded"}
    assert "running" not in set(statuses)
    # The runs killed before the last were closed for good by the run after them.
    still_open = set(history.open_runs(open_warehouse(settings))["run_id"])
    assert still_open <= {list(outcomes)[-1]}, f"seed {seed}"
