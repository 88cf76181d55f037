"""The `churn` command line end to end, as a user runs it, in a temporary CHURN_HOME."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from churn_core.data.ingest import load_raw
from churn_core.data.synthetic import DEMO_PLAYS
from churn_core.schema import SEED_COLUMNS
from churn_core.warehouse import open_warehouse
from tests.conftest import make_settings


def churn(
    home: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("CHURN_", "AWS_"))}
    env = inherited | (env or {})
    env["CHURN_HOME"] = str(home)
    env["CHURN_TUNING_BUDGET_SECONDS"] = "5"
    result = subprocess.run(
        [sys.executable, "-m", "churn_core.cli", *args],
        env=env,
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli") / "home"
    churn(home, "demo", "--evaluators", "2000", "--seed", "3")
    return home


def test_demo_builds_the_seed_training_table(demo_home: Path) -> None:
    out = churn(demo_home, "sql", "SELECT * FROM instances_modeling LIMIT 5", "--format", "csv").stdout
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:19] == [name for name, _ in SEED_COLUMNS]
    assert len(rows) == 6


def test_sql_formats_and_parameters(demo_home: Path) -> None:
    out = churn(demo_home, "sql", "SELECT count(*) AS n FROM evaluators", "--format", "json").stdout
    assert json.loads(out) == [{"n": 2000}]
    table = churn(demo_home, "sql", "SELECT region, count(*) AS n FROM evaluators GROUP BY 1 ORDER BY 1").stdout
    assert "AMER" in table and "region" in table


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE evaluators",
        "DELETE FROM evaluators",
        "SELECT 1; DROP TABLE evaluators",
        "CREATE TABLE x AS SELECT 1",
    ],
)
def test_sql_is_read_only(demo_home: Path, statement: str) -> None:
    result = churn(demo_home, "sql", statement, check=False)
    assert result.returncode == 1
    assert "read-only" in result.stderr or "only one" in result.stderr
    assert "Traceback" not in result.stderr
    assert churn(demo_home, "sql", "SELECT count(*) AS n FROM evaluators", "-f", "csv").stdout.split() == ["n", "2000"]


def test_etl_as_of_an_earlier_date_sees_less(demo_home: Path) -> None:
    churn(demo_home, "etl", "--as-of", "2026-10-01")
    early = churn(demo_home, "sql", "SELECT count(*) AS n FROM instances_modeling", "-f", "csv").stdout.split()[1]
    churn(demo_home, "etl")
    late = churn(demo_home, "sql", "SELECT count(*) AS n FROM instances_modeling", "-f", "csv").stdout.split()[1]
    assert 0 < int(early) < int(late)


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    result = churn(tmp_path / "empty", "etl", check=False)
    assert result.returncode == 1 and "churn ingest DIR" in result.stderr and "Traceback" not in result.stderr
    result = churn(tmp_path / "empty", "ingest", str(tmp_path / "nowhere"), check=False)
    assert result.returncode == 1 and "is not a directory" in result.stderr


def test_help_explains_every_command(tmp_path: Path) -> None:
    out = churn(tmp_path, "--help").stdout
    for command in ("demo", "etl", "ingest", "sql", "dashboard", "schema"):
        assert command in out
    assert "instances_modeling" in churn(tmp_path, "schema").stdout


def test_the_demo_runs_its_plays_and_their_results_come_back(demo_home: Path) -> None:
    results = json.loads(churn(demo_home, "plays", "results", "--format", "json").stdout)
    assert [r["play"] for r in results] == [p.name for p in DEMO_PLAYS]
    for result in results:
        assert result["treatment"] > 0 and result["holdout"] > 0 and result["status"] in ("active", "ended")
        assert result["resolved_treatment"] > 0 and 0.5 < result["reach_rate"] <= 1
        assert result["verdict"] in ("working", "not yet clear", "not working")
    listed = json.loads(churn(demo_home, "plays", "list", "--format", "json").stdout)
    assert listed[1]["eligible"] == "day_of_trial 1..1; product in Desk"


def test_ingest_says_which_tables_it_emptied(tmp_path: Path, small_tables) -> None:
    home = tmp_path / "home"
    raw = {k: v for k, v in small_tables.items() if k != "demo_truth"}
    load_raw(open_warehouse(make_settings(home)), raw, {"demo_truth": small_tables["demo_truth"]})
    directory = tmp_path / "in"
    directory.mkdir()
    for name in ("evaluators", "daily_usage"):
        small_tables[name].to_csv(directory / f"{name}.csv", index=False)
    out = churn(home, "ingest", str(directory)).stderr  # the summary is for people: stderr, like every message
    assert f"evaluators: {len(small_tables['evaluators']):,} rows" in out
    assert "engagements: emptied" in out and "demo_truth: emptied" in out


SECRET = "fake-secret-KEY-0123456789abcdef"


def _athena_env(tmp_path: Path, port: int, **more: str) -> dict[str, str]:
    """The Athena backend against 127.0.0.1:`port`, with fake credentials and no AWS files of this machine."""
    return {
        "CHURN_BACKEND": "athena",
        "CHURN_ATHENA_S3_DATA_PREFIX": "s3://bucket/data",
        "CHURN_ATHENA_S3_STAGING_DIR": "s3://bucket/results/",
        "CHURN_ATHENA_MAX_ATTEMPTS": "2",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKE",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        **more,
    }


def test_an_unknown_aws_profile_is_one_clear_line(tmp_path: Path) -> None:
    """An AWS_PROFILE naming no profile failed while the session was made, as a traceback "bug in churn"."""
    env = _athena_env(tmp_path, 9, AWS_PROFILE="no-such-profile")
    result = churn(tmp_path / "home", "sql", "select 1", check=False, env=env)
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no-such-profile" in lines[0] and "AWS_PROFILE names no profile" in lines[0], lines


def test_an_unreachable_athena_endpoint_is_one_clear_redacted_line(tmp_path: Path) -> None:
    """Also fixed: pyathena logged every failed attempt with its traceback (18 of them, unredacted) before the
    clean error."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = churn(tmp_path / "home", "sql", "select 1", check=False, env=_athena_env(tmp_path, port))
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "Traceback" not in output and SECRET not in output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "could not reach AWS" in lines[0] and "Check the network" in lines[0]
