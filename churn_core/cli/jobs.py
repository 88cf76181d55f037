"""The job commands of `churn`: `run` a scheduled job now, serve the `scheduler`, list recent `jobs`.

`run` and `scheduler` import the job steps when they run, not at the top: the steps load XGBoost (about
a second), which `churn --help`, `churn jobs` and every other command would otherwise pay.
"""

from __future__ import annotations

import os
import signal
from enum import StrEnum
from types import FrameType
from typing import Annotated

import typer
from rich.markup import escape

from churn_core.cli.common import AsOf, OutputFormat, console, fail, guarded, print_frame, settings
from churn_core.errors import ChurnError
from churn_core.jobs.history import freshness, job_history, next_runs
from churn_core.jobs.stop import STOP, Stopped
from churn_core.warehouse import open_warehouse

# The columns `churn jobs` shows as a table (the csv and json formats carry them all).
TABLE_COLUMNS: tuple[str, ...] = (
    "started_at",
    "job",
    "status",
    "duration_seconds",
    "rows_out",
    "model_version",
    "launched_by",
    "run_id",
    "error",
)


class JobName(StrEnum):
    daily = "daily"
    weekly = "weekly"


def _stop(signum: int, frame: FrameType | None) -> None:
    """SIGTERM: abandon the running step at once, or stop at the next step boundary (see churn_core.jobs.stop)."""
    if STOP.request(f"{signal.Signals(signum).name} received"):
        raise Stopped(STOP.reason)


@guarded
def run_now(
    job: Annotated[
        JobName,
        typer.Argument(
            help="daily: telemetry check -> etl -> score. "
            "weekly: etl -> train -> evaluate -> promote if not worse -> score."
        ),
    ],
    as_of: AsOf = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait if another job runs (default: fail).")] = 0.0,
) -> None:
    """Run a scheduled job now, recorded in job_runs; exit status 1 when it fails (the previous model and
    scores stay in service)."""
    from churn_core.jobs.steps import run_job  # loads XGBoost: see the module docstring

    STOP.reset()
    previous = signal.signal(signal.SIGTERM, _stop)
    launched_by = "airflow" if os.environ.get("AIRFLOW_CTX_DAG_ID") else "manual"
    try:
        result = run_job(
            job.value,
            settings(),
            as_of=as_of.date() if as_of else None,
            launched_by=launched_by,
            lock_wait_seconds=wait,
        )
    except Stopped as exc:
        fail(ChurnError(f"{job.value} run stopped ({exc}); recorded as interrupted, nothing was left half-done"))
    finally:
        signal.signal(signal.SIGTERM, previous)
        STOP.reset()
    for step in result.steps:
        note = f" — {escape(step.outcome.detail)}" if step.outcome.detail else ""
        console.print(f"{step.step}: {step.status} in {step.seconds:.1f}s{note}")
    console.print(
        f"{job.value} run {result.run_id} succeeded in {(result.ended_at - result.started_at).total_seconds():.1f}s"
    )


@guarded
def scheduler() -> None:
    """Run the daily and weekly jobs on their cron schedules (settings score_cron, train_cron, timezone)
    until stopped; runs missed while it was down are caught up once. Stop with SIGTERM or Ctrl-C."""
    from churn_core.jobs.scheduler import run_scheduler  # loads XGBoost: see the module docstring

    raise typer.Exit(run_scheduler(settings()))


@guarded
def jobs(
    limit: Annotated[int, typer.Option(help="How many runs to show.")] = 20,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = (OutputFormat.table),
) -> None:
    """Show the recent job runs, the next scheduled runs and how fresh the served scores are."""
    s = settings()
    warehouse = open_warehouse(s)
    runs = job_history(warehouse, limit, s)
    if format is not OutputFormat.table:
        print_frame(runs, format)
        return
    runs = runs.assign(
        started_at=runs["started_at"].astype(str).str[:19],
        duration_seconds=runs["duration_seconds"].round(1),
        error=runs["error"].fillna("").astype(str).str[:60],
    )
    print_frame(runs[list(TABLE_COLUMNS)], format)
    print_frame(next_runs(s, 2), format)
    if s.warehouse_path.exists() or s.backend != "duckdb":
        console.print(freshness(warehouse, s).message)
