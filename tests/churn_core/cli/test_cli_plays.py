"""`churn plays create|list|pause|resume|results` through typer's CliRunner on a copy of the scored warehouse."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from churn_core.cli import app
from churn_core.warehouse import open_warehouse
from tests.conftest import make_settings

SPEC = """
name = "call the valuable"
owner = "ana@example.com"
channel = "phone"
content_id = "PH-02"
daily_capacity = 40
holdout_share = 0.5
start_date = 2026-10-01
end_date = 2026-12-31

[eligibility]
risk_tier = ["high", "medium"]
"""


@pytest.fixture
def run(scored_home, tmp_path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    shutil.copytree(scored_home.home, home)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str) -> object:
        return runner.invoke(app, list(args), env={"CHURN_HOME": str(home), "CHURN_CONFIG": ""})

    invoke.home = home  # type: ignore[attr-defined]
    return invoke


def test_create_list_pause_resume_and_results(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "play.toml"
    spec.write_text(SPEC, encoding="utf-8")
    created = run("plays", "create", "--spec", str(spec))
    assert created.exit_code == 0, created.output
    assert "Created play call the valuable: phone PH-02" in created.output
    listed = json.loads(run("plays", "list", "--format", "json").stdout)
    assert [(p["play"], p["channel"], p["eligible"]) for p in listed] == [
        ("call the valuable", "phone", "risk_tier in high, medium")
    ]
    assert run("plays", "pause", "call the valuable").exit_code == 0
    assert json.loads(run("plays", "list", "-f", "json").stdout)[0]["status"] in {"paused", "ended"}
    assert run("plays", "resume", "call the valuable").exit_code == 0
    entries = open_warehouse(make_settings(run.home)).query("SELECT action FROM audit_log ORDER BY at")["action"]
    assert entries.tolist() == ["play_create", "play_pause", "play_resume"]
    [result] = json.loads(run("plays", "results", "call the valuable", "--format", "json").stdout)
    assert result["play"] == "call the valuable" and result["treatment"] == 0 and result["verdict"] == "not yet clear"
    table = run("plays", "results")
    assert table.exit_code == 0 and "verdict" in table.stdout


def test_a_bad_spec_is_one_line_and_stores_nothing(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "play.toml"
    spec.write_text(SPEC.replace("daily_capacity = 40", "daily_capacity = 0"), encoding="utf-8")
    out = run("plays", "create", "--spec", str(spec))
    assert out.exit_code == 1 and "daily_capacity must be a positive number" in out.output
    assert "Traceback" not in out.output
    assert not open_warehouse(make_settings(run.home)).table_exists("plays")
    missing = run("plays", "pause", "nope")
    assert missing.exit_code == 1 and "no play called 'nope'" in missing.output
