"""Job runs: history in job_runs, failure safety, retries, the job lock, freshness, and the real daily and
weekly jobs, including kill -9 at random points of a weekly run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from churn_core import history
from churn_core.errors import ChurnError
from churn_core.history import RunRecord, freshness, job_history, job_steps, utc_now
from churn_core.locks import LockBusy, jobs_lock
from churn_core.runner import JobFailed, StepOutcome, execute_job, is_transient
from churn_core.settings import Settings
from churn_core.warehouse import QueryError, WarehouseError, open_warehouse
from tests.conftest import make_settings


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "home", job_retries=2, job_retry_backoff_seconds=0.5)


def _step(rows_in: int | None = None, rows_out: int | None = None, **extra: Any) -> Any:
    return lambda context: StepOutcome(rows_in=rows_in, rows_out=rows_out, **extra)


def _raise(exc: Exception) -> Any:
    def step(context: Any) -> StepOutcome:
        raise exc
    return step


def test_a_run_records_each_step_and_its_outcome(settings: Settings) -> None:
    result = execute_job("daily", [("etl", _step(100, 400)), ("score", _step(90, 90, model_version="v3"))],
                         settings, launched_by="scheduler")
    assert result.status == "succeeded" and [s.step for s in result.steps] == ["etl", "score"]
    warehouse = open_warehouse(settings)
    runs = job_history(warehouse, 10, settings)
    assert list(runs.columns) == list(history.RUN_COLUMNS)
    run = runs.iloc[0]
    assert (run.run_id, run.job, run.launched_by) == (result.run_id, "daily", "scheduler")
    assert run.status == "succeeded"
    assert (run.rows_in, run.rows_out, run.model_version) == (100, 90, "v3")
    assert run.ended_at >= run.started_at and run.duration_seconds >= 0
    steps = job_steps(warehouse, result.run_id, settings)
    assert list(steps.columns) == list(history.STEP_COLUMNS)
    assert steps["step"].tolist() == ["etl", "score"] and set(steps["status"]) == {"succeeded"}
    assert steps["rows_out"].tolist() == [400, 90] and steps["attempts"].tolist() == [1, 1]
    # append-only: a start row and an outcome row for the run and each step
    assert open_warehouse(settings).count("job_runs") == 6


def test_a_failed_step_ends_the_run_records_why_and_runs_nothing_after(settings: Settings) -> None:
    ran = []
    with pytest.raises(JobFailed, match="weekly run .* failed at step train: no training rows"):
        execute_job("weekly", [("etl", _step(1, 2)), ("train", _raise(ChurnError("no training rows"))),
                               ("score", lambda c: ran.append("score"))], settings)
    assert ran == []
    warehouse = open_warehouse(settings)
    run = job_history(warehouse, 1, settings).iloc[0]
    assert run.status == "failed" and run.error == "no training rows"
    steps = job_steps(warehouse, run.run_id, settings)
    assert steps[["step", "status"]].values.tolist() == [["etl", "succeeded"], ["train", "failed"]]


def test_transient_warehouse_errors_are_retried_with_backoff(settings: Settings) -> None:
    failures = [WarehouseError("cannot open the warehouse x.duckdb: Could not set lock on file"),
                type("Throttled", (QueryError,), {"transient": True})("ThrottlingException: Rate exceeded")]
    waits: list[float] = []

    def flaky(context: Any) -> StepOutcome:
        if failures:
            raise failures.pop(0)
        return StepOutcome(rows_out=5)

    result = execute_job("daily", [("score", flaky)], settings, sleep=waits.append)
    assert result.steps[0].attempts == 3 and waits == [0.5, 1.0]
    # A permanent error is not retried; a transient one that persists fails after job_retries retries.
    with pytest.raises(JobFailed):
        execute_job("daily", [("score", _raise(QueryError("Table x does not exist")))], settings,
                    sleep=waits.append)
    assert waits == [0.5, 1.0]
    with pytest.raises(JobFailed, match="Could not set lock"):
        execute_job("daily", [("score", _raise(WarehouseError("Could not set lock on file")))], settings,
                    sleep=waits.append)
    assert waits == [0.5, 1.0, 0.5, 1.0]
    steps = job_steps(open_warehouse(settings), job_history(open_warehouse(settings), 1).run_id[0])
    assert steps["attempts"].tolist() == [3]


def test_what_counts_as_transient() -> None:
    assert is_transient(WarehouseError("cannot open the warehouse: Could not set lock on file"))
    assert is_transient(TimeoutError()) and is_transient(ConnectionResetError())
    assert not is_transient(QueryError("Binder Error: column x not found"))
    assert not is_transient(ValueError("Could not set lock"))
    assert is_transient(type("E", (Exception,), {"transient": True})())


def test_only_one_job_runs_at_a_time(settings: Settings) -> None:
    holder = jobs_lock(settings).acquire(0, {"job": "weekly", "run_id": "weekly-1"})
    try:
        with pytest.raises(LockBusy, match="another job is running .*weekly-1"):
            execute_job("daily", [("etl", _step())], settings)
    finally:
        holder.release()
    assert not open_warehouse(settings).table_exists("job_runs")  # a refused run records nothing
    execute_job("daily", [("etl", _step())], settings)


def test_a_run_whose_process_died_reads_interrupted_and_the_next_run_closes_it(settings: Settings) -> None:
    warehouse = open_warehouse(settings)
    started = utc_now() - dt.timedelta(minutes=5)
    history.record(warehouse, RunRecord("weekly-dead", "weekly", "run", "scheduler", started, "running"),
                   RunRecord("weekly-dead", "weekly", "train", "scheduler", started, "running"))
    assert job_history(warehouse, 5, settings).status.tolist() == ["interrupted"]
    # While a live process holds the job lock for that run, it reads as running.
    holder = jobs_lock(settings).acquire(0, {"job": "weekly", "run_id": "weekly-dead"})
    try:
        assert job_history(warehouse, 5, settings).status.tolist() == ["running"]
    finally:
        holder.release()
    # Without a view of the lock, an open run reads as running for a while, then as interrupted.
    assert job_history(warehouse, 5).status.tolist() == ["running"]
    execute_job("daily", [("etl", _step())], settings)
    runs = job_history(warehouse, 5)
    assert runs.set_index("run_id").status.to_dict() == {"weekly-dead": "interrupted",
                                                         runs.run_id[0]: "succeeded"}
    dead = runs.set_index("run_id").loc["weekly-dead"]
    assert "interrupted" in dead.error and pd.notna(dead.ended_at)
    assert job_steps(warehouse, "weekly-dead").status.tolist() == ["interrupted"]
    assert history.open_runs(warehouse).empty


def test_freshness_of_the_served_score_set(settings: Settings) -> None:
    warehouse = open_warehouse(settings)
    none = freshness(warehouse, settings)
    assert none.stale and none.as_of_date is None and "No scores yet" in none.message
    now = utc_now()
    for as_of, hours_ago in ((dt.date(2026, 3, 1), 80), (dt.date(2026, 3, 2), 50)):
        warehouse.write_partition("score_sets", pd.DataFrame({
            "as_of_date": [as_of], "model_version": ["v1"], "rows": [1500],
            "created_at": pd.Series([now - dt.timedelta(hours=hours_ago)], dtype="datetime64[us]")}),
            "as_of_date", as_of)
    stale = freshness(warehouse, settings, now=now)
    assert stale.stale and stale.as_of_date == dt.date(2026, 3, 2) and round(stale.age_hours) == 50
    assert "stale" in stale.message
    fresh = freshness(warehouse, settings.with_overrides(freshness_hours=72), now=now)
    assert not fresh.stale and fresh.model_version == "v1" and fresh.rows == 1500
