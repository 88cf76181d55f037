"""Job history (`job_runs`) and the reads the dashboard shows: past runs, next runs, score freshness.

`job_runs` is append-only, so every write is one INSERT that a killed process cannot half-do: a run (and
each of its steps) appends a 'running' row when it starts and a row with its outcome when it ends. The
readers take the outcome row when there is one; a start without an end is a run in progress while its
process holds the job lock, and 'interrupted' once it does not (the next job run also closes such runs
for good with an 'interrupted' row).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from churn_core.jobs.locks import JOBS_LOCK, lock_holder
from churn_core.jobs.schedule import JOB_CRONS, cron_trigger
from churn_core.schema import Column, Table
from churn_core.settings import Settings
from churn_core.warehouse import Warehouse

TABLE = "job_runs"
RUN = "run"  # the `step` value of the row that describes a whole run
STATUSES: tuple[str, ...] = ("running", "succeeded", "failed", "interrupted", "refused")
INTERRUPTED = "interrupted: the process ended before recording an outcome (killed, crashed or the machine stopped)"
# With no view of the job lock (the dashboard on another host than the jobs), an open run older than this
# reads as interrupted.
OPEN_RUN_MAX_HOURS = 12.0

JOB_RUNS = Table(
    TABLE,
    grain="append-only: one 'running' row when a run or step starts, one row with its outcome when it ends",
    source="churn run / churn scheduler / Airflow (churn_core.jobs.runner); read with churn_core.jobs.history",
    key=("run_id", "step", "status"),
    columns=(
        Column("run_id", "VARCHAR", "id of the job run (shared by its steps)"),
        Column("job", "VARCHAR", "daily or weekly"),
        Column("step", "VARCHAR", "'run' for the whole run, else the step (etl, train, evaluate, ...)"),
        Column("launched_by", "VARCHAR", "manual, scheduler, catch-up or airflow"),
        Column("started_at", "TIMESTAMP", "start, UTC"),
        Column("ended_at", "TIMESTAMP", "end, UTC (NULL on the start row)", True),
        Column(
            "status",
            "VARCHAR",
            "running (start row), succeeded, failed, interrupted, or refused (another job held the lock)",
            allowed=STATUSES,
        ),
        Column("attempts", "INTEGER", "tries the step took (transient errors are retried)", True),
        Column("rows_in", "BIGINT", "rows the step read", True),
        Column("rows_out", "BIGINT", "rows the step wrote", True),
        Column("model_version", "VARCHAR", "model trained, promoted or used to score", True),
        Column("bytes_scanned", "BIGINT", "bytes the warehouse scanned (Athena), when known", True),
        Column("error", "VARCHAR", "why the run or step failed (secrets redacted)", True),
        Column("detail", "VARCHAR", "what happened, e.g. why a candidate was not promoted", True),
        Column("host", "VARCHAR", "machine that ran it"),
        Column("pid", "INTEGER", "process id that ran it"),
    ),
)

_DTYPES: dict[str, str] = {"VARCHAR": "string", "TIMESTAMP": "datetime64[us]", "INTEGER": "Int32", "BIGINT": "Int64"}
RUN_COLUMNS: tuple[str, ...] = (
    "run_id",
    "job",
    "launched_by",
    "started_at",
    "ended_at",
    "status",
    "duration_seconds",
    "rows_in",
    "rows_out",
    "model_version",
    "bytes_scanned",
    "error",
    "detail",
)


def utc_now() -> dt.datetime:
    """Now in UTC without tzinfo: how job_runs stores times (a plain TIMESTAMP in both engines)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class RunRecord:
    """One job_runs row; `None` fields are stored as NULL."""

    run_id: str
    job: str
    step: str
    launched_by: str
    started_at: dt.datetime
    status: str
    ended_at: dt.datetime | None = None
    attempts: int | None = None
    rows_in: int | None = None
    rows_out: int | None = None
    model_version: str | None = None
    bytes_scanned: int | None = None
    error: str | None = None
    detail: str | None = None


def job_runs_frame(records: list[RunRecord]) -> pd.DataFrame:
    """Rows for job_runs with the table's column types, even when every value of a column is NULL."""
    host, pid = socket.gethostname(), os.getpid()
    rows = [{**{c.name: getattr(r, c.name, None) for c in JOB_RUNS.columns}, "host": host, "pid": pid} for r in records]
    return pd.DataFrame(
        {c.name: pd.Series([row[c.name] for row in rows], dtype=_DTYPES[c.type]) for c in JOB_RUNS.columns}
    )


def record(warehouse: Warehouse, *records: RunRecord) -> None:
    """Append rows to job_runs in one INSERT."""
    warehouse.append(TABLE, job_runs_frame(list(records)))


def open_runs(warehouse: Warehouse) -> pd.DataFrame:
    """Runs and steps with a start row and no outcome row (their process died), oldest first."""
    if not warehouse.table_exists(TABLE):
        return pd.DataFrame(columns=["run_id", "job", "step", "launched_by", "started_at"])
    return warehouse.run("open_job_runs")


def close_interrupted(warehouse: Warehouse) -> list[RunRecord]:
    """Record 'interrupted' for the runs and steps whose process died before recording an end; return the
    runs closed. Call it holding the job lock: then no run is in progress, so every open run is dead."""
    now = utc_now()
    closed = [
        RunRecord(
            str(r.run_id),
            str(r.job),
            str(r.step),
            str(r.launched_by),
            r.started_at.to_pydatetime() if hasattr(r.started_at, "to_pydatetime") else r.started_at,
            "interrupted",
            ended_at=now,
            error=INTERRUPTED,
        )
        for r in open_runs(warehouse).itertuples(index=False)
    ]
    if closed:
        record(warehouse, *closed)
    return [r for r in closed if r.step == RUN]


# --- reads for the dashboard and `churn jobs` -----------------------------------------------------------


def _open_run_params(settings: Settings | None, now: dt.datetime | None = None) -> dict[str, Any]:
    """How the readers tell a run in progress from one whose process died: ask the job lock when it is
    on this machine, else treat runs open longer than OPEN_RUN_MAX_HOURS as interrupted."""
    now = now or utc_now()
    lock = settings.home / JOBS_LOCK if settings is not None else None
    if lock is not None and (settings.backend == "duckdb" or lock.exists()):
        holder = lock_holder(lock)
        return {"running_run_id": holder.run_id if holder else "", "stale_before": now}
    return {"running_run_id": "", "stale_before": now - dt.timedelta(hours=OPEN_RUN_MAX_HOURS)}


def job_history(warehouse: Warehouse, limit: int = 50, settings: Settings | None = None) -> pd.DataFrame:
    """The newest `limit` job runs, newest first, with RUN_COLUMNS; status is succeeded, failed,
    interrupted (its process died or was stopped) or running. Empty before the first run.

    With `settings`, a run with no recorded end is 'running' only while it holds the job lock; without,
    only while it is younger than OPEN_RUN_MAX_HOURS."""
    if not warehouse.table_exists(TABLE):
        return pd.DataFrame(columns=list(RUN_COLUMNS))
    return warehouse.run("job_run_history", {"limit": int(limit), **_open_run_params(settings)})


def next_runs(settings: Settings, n: int = 5, now: dt.datetime | None = None) -> pd.DataFrame:
    """The next `n` scheduled times of each job from the cron settings, soonest first.

    Columns: job, next_run (timezone-aware, in settings.timezone), cron, timezone.
    """
    zone = ZoneInfo(settings.timezone)
    start = (now or dt.datetime.now(zone)).astimezone(zone)
    rows = []
    for job, setting in JOB_CRONS.items():
        trigger = cron_trigger(settings, job)
        previous, moment = None, start
        for _ in range(max(0, n)):
            fire = trigger.get_next_fire_time(previous, moment)
            if fire is None:
                break
            rows.append(
                {"job": job, "next_run": fire, "cron": getattr(settings, setting), "timezone": settings.timezone}
            )
            previous, moment = fire, fire + dt.timedelta(seconds=1)
    df = pd.DataFrame(rows, columns=["job", "next_run", "cron", "timezone"])
    return df.sort_values(["next_run", "job"], ignore_index=True)


@dataclass(frozen=True)
class Freshness:
    """The newest score set and whether it is older than settings.freshness_hours."""

    as_of_date: dt.date | None
    created_at: dt.datetime | None  # UTC
    model_version: str | None
    rows: int
    age_hours: float | None
    stale: bool
    message: str


def freshness(warehouse: Warehouse, settings: Settings, now: dt.datetime | None = None) -> Freshness:
    """How old the served score set is: `stale` when it was written more than settings.freshness_hours
    ago, or when there is none; `message` is one sentence for a banner."""
    now = now or utc_now()
    df = warehouse.run("score_freshness") if warehouse.table_exists("score_sets") else pd.DataFrame()
    if df.empty:
        return Freshness(
            None,
            None,
            None,
            0,
            None,
            True,
            "No scores yet: run `churn run daily` (or `churn demo`) to score the evaluators.",
        )
    row = df.iloc[0]
    as_of = pd.Timestamp(row["as_of_date"]).date()
    created = pd.Timestamp(row["created_at"]).to_pydatetime() if pd.notna(row["created_at"]) else None
    if created is not None and created.tzinfo is not None:
        created = created.astimezone(dt.UTC).replace(tzinfo=None)
    age = (now - created).total_seconds() / 3600 if created else None
    stale = age is None or age > settings.freshness_hours
    rows = int(row["rows"]) if pd.notna(row["rows"]) else 0
    when = f"{age:.0f} hours ago" if age is not None else "at an unknown time"
    if stale:
        message = (
            f"Scores are stale: the newest score set (data as of {as_of}) was written {when}, "
            f"more than {settings.freshness_hours:g} hours ago. Check the job history for a failed "
            "run."
        )
    else:
        message = f"Scores as of {as_of}, written {when} by model {row['model_version']}."
    return Freshness(as_of, created, str(row["model_version"]), rows, age, stale, message)
