"""The `churn` command line: one sub-command per pipeline stage, each a thin call into churn_core."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import click
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from churn_core.errors import ChurnError
from churn_core.jobs.logs import redact, secret_values
from churn_core.settings import Settings, SettingsError, describe, load_settings, shown_value
from churn_core.warehouse import open_warehouse

app = typer.Typer(
    help="Churn Prediction Unleashed: predict which free-trial evaluators will leave, and why.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)
T = TypeVar("T")


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


AsOf = Annotated[
    dt.datetime | None,
    typer.Option("--as-of", formats=["%Y-%m-%d"], help="Build as of this date (default: last day of data)."),
]


def settings() -> Settings:
    return load_settings()


@contextmanager
def _steps() -> Iterator[Callable[[str, Callable[[], T]], T]]:
    """Run named steps under one progress display, each with a spinner and its elapsed time."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    ) as progress:

        def step(label: str, work: Callable[[], T]) -> T:
            task = progress.add_task(label, total=1)
            started = time.monotonic()
            result = work()
            progress.update(task, completed=1, description=f"{label} [dim]done[/]")
            if not console.is_terminal:
                console.print(f"{label}: done in {time.monotonic() - started:.1f}s")
            return result

        yield step


def _secrets() -> list[str]:
    """Every credential to keep out of what is printed, even when the settings themselves do not load."""
    try:
        current = settings()
    except Exception:  # noqa: BLE001 (the environment's credentials are still hidden)
        current = Settings()
    return secret_values(current)


def _fail(exc: Exception) -> None:
    message = redact(str(exc), _secrets())
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _crash(exc: Exception) -> None:
    """A bug: the traceback for the report, with every credential removed (never the raw one)."""
    secrets = _secrets()
    console.print(
        redact("".join(traceback.format_exception(exc)), secrets), markup=False, highlight=False, soft_wrap=True
    )
    console.print(
        f"[bold red]error:[/] unexpected {type(exc).__name__}: {escape(redact(str(exc), secrets))} "
        "(a bug in churn; please report it with the lines above)",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(1)


def guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a user can fix into a one-line message and exit status 1, never a traceback; any
    other error prints its traceback. Both are redacted of credentials (churn_core.jobs.logs.secret_values)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ChurnError, SettingsError) as exc:
            _fail(exc)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # noqa: BLE001 (printed redacted instead of raw)
            _crash(exc)

    return wrapper


def print_frame(df: pd.DataFrame, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.csv:
        sys.stdout.write(df.to_csv(index=False))
    elif fmt is OutputFormat.json:
        sys.stdout.write(df.to_json(orient="records", date_format="iso") + "\n")
    else:
        table = RichTable(*map(str, df.columns))
        for row in df.itertuples(index=False):
            table.add_row(*("" if pd.isna(v) else str(v) for v in row))
        Console().print(table)


@app.command()
@guarded
def demo(
    evaluators: Annotated[int | None, typer.Option(help="Evaluators to generate (default 57,700).")] = None,
    days: Annotated[int | None, typer.Option(help="Days over which evaluations started (default 90).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed; the same seed gives the same data.")] = None,
) -> None:
    """Generate realistic demo data, load it, build every table, train and promote a model and score,
    so the dashboard opens on it."""
    from churn_core.jobs.steps import run_demo

    s = settings()
    s = s.with_overrides(
        demo_evaluators=evaluators or s.demo_evaluators,
        demo_days=days or s.demo_days,
        demo_seed=s.demo_seed if seed is None else seed,
    )
    with _steps() as step:
        run_demo(s, step)
    console.print(f"Demo warehouse ready in {s.home}. Next: [bold]churn dashboard[/]")


@app.command()
@guarded
def ingest(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Folder with evaluators, daily_usage, engagements, content as .csv or .parquet, one file per table."
        ),
    ],
) -> None:
    """Load your own raw tables; every file is validated first and nothing is written if one is bad."""
    from churn_core.data.ingest import ingest_directory

    s = settings()
    with _steps() as step:
        rows = step(f"Validating and loading {directory}", lambda: ingest_directory(open_warehouse(s), directory))
    for table, n in rows.items():
        console.print(f"{table}: {n:,} rows")
    console.print("Next: [bold]churn etl[/]")


@app.command()
@guarded
def etl(as_of: AsOf = None) -> None:
    """Build the modelling tables (instances_modeling, instances_w1, ...) from the raw tables with SQL."""
    from churn_core.data.etl import ETL_TABLES, run_etl

    s = settings()
    warehouse = open_warehouse(s)
    with _steps() as step:
        rows = step(f"Building {', '.join(ETL_TABLES)}", lambda: run_etl(warehouse, s, as_of.date() if as_of else None))
    for table, n in rows.items():
        console.print(f"{table}: {n:,} rows")


@app.command()
@guarded
def score(
    as_of: Annotated[
        dt.datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="Score as of this date (default: the date instances_w1 was built for).",
        ),
    ] = None,
) -> None:
    """Score every evaluator in trial with the champion model: risk, reasons, whom to save and how."""
    from churn_core.model.registry import Registry
    from churn_core.scoring.score import score_evaluators

    s = settings()
    model = Registry(s).load("champion")
    with _steps() as step:
        summary = score_evaluators(open_warehouse(s), s, model, as_of.date() if as_of else None, step)
    console.print(
        f"Scored {summary.rows:,} evaluators as of {summary.as_of} with model {summary.model_version}: "
        f"{summary.high_risk:,} high risk, {summary.worth_saving:,} worth saving, "
        f"{summary.might_swing:,} might swing, value at risk {summary.value_at_risk:,.0f}; "
        f"drift alerts: {summary.drift_alerts}."
    )
    for note in summary.notes:
        console.print(f"[yellow]warning:[/] {escape(note)}", highlight=False, soft_wrap=True)


@app.command()
@guarded
def sql(
    query: Annotated[str, typer.Argument(help="One read-only SELECT in Athena (Trino) SQL.")],
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
) -> None:
    """Run a read-only query against the configured warehouse, for analysts and scripts."""
    print_frame(open_warehouse(settings(), read_only=True).read_only_query(query), format)


@app.command()
def schema() -> None:
    """Describe every table and column: grain, source and meaning."""
    from churn_core.jobs.history import JOB_RUNS
    from churn_core.schema import ALL_TABLES, EVALUATOR_SCORES

    out = Console()
    for table in (*ALL_TABLES.values(), EVALUATOR_SCORES, JOB_RUNS):
        out.print(f"[bold]{table.name}[/] — {table.grain}. Source: {table.source}")
        grid = RichTable("column", "type", "null", "meaning", show_edge=False)
        for c in table.columns:
            grid.add_row(c.name, c.type, "yes" if c.nullable else "", c.doc)
        out.print(grid)


@app.command("settings")
@guarded
def show_settings() -> None:
    """Show every setting, its environment variable and its current value (credentials masked)."""
    current = settings()
    grid = RichTable("environment variable", "type", "default", "current", show_edge=False)
    for var, kind, default in describe():
        grid.add_row(var, kind, default, escape(shown_value(current, var.removeprefix("CHURN_").lower())))
    Console().print(grid)


@app.command()
def dashboard(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8501,
) -> None:
    """Start the Streamlit dashboard (run `churn demo` first to have data to look at)."""
    import dashboard as dashboard_package
    from churn_core.access.roles import check_exposure

    root = Path(dashboard_package.__file__).resolve().parents[1]
    try:
        check_exposure(host, root)
    except ChurnError as exc:
        _fail(exc)
    command = [
        sys.executable,
        "-m",
        "dashboard.serve",  # streamlit run dashboard/app.py, warmed up
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
    ]
    env = {**os.environ, "CHURN_HOME": str(settings().home.resolve())}
    raise typer.Exit(subprocess.call(command, cwd=root, env=env))


class JobName(StrEnum):
    daily = "daily"
    weekly = "weekly"


@app.command("run")
@guarded
def run_now(
    job: Annotated[
        JobName,
        typer.Argument(help="daily: etl -> score. weekly: etl -> train -> evaluate -> promote if not worse -> score."),
    ],
    as_of: AsOf = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait if another job runs (default: fail).")] = 0.0,
) -> None:
    """Run a scheduled job now, recorded in job_runs; exit status 1 when it fails (the previous model and
    scores stay in service)."""
    import signal

    from churn_core.jobs.runner import STOP, Stopped
    from churn_core.jobs.steps import run_job

    def stop(signum: int, frame: Any) -> None:
        if STOP.request(f"{signal.Signals(signum).name} received"):
            raise Stopped(STOP.reason)

    STOP.reset()
    previous = signal.signal(signal.SIGTERM, stop)
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
        _fail(ChurnError(f"{job.value} run stopped ({exc}); recorded as interrupted, nothing was left half-done"))
        return
    finally:
        signal.signal(signal.SIGTERM, previous)
        STOP.reset()
    for step in result.steps:
        note = f" — {escape(step.outcome.detail)}" if step.outcome.detail else ""
        console.print(f"{step.step}: {step.status} in {step.seconds:.1f}s{note}")
    console.print(
        f"{job.value} run {result.run_id} succeeded in {(result.ended_at - result.started_at).total_seconds():.1f}s"
    )


@app.command()
@guarded
def scheduler() -> None:
    """Run the daily and weekly jobs on their cron schedules (settings score_cron, train_cron, timezone)
    until stopped; runs missed while it was down are caught up once. Stop with SIGTERM or Ctrl-C."""
    from churn_core.jobs.scheduler import run_scheduler

    raise typer.Exit(run_scheduler(settings()))


@app.command()
@guarded
def jobs(
    limit: Annotated[int, typer.Option(help="How many runs to show.")] = 20,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = (OutputFormat.table),
) -> None:
    """Show the recent job runs, the next scheduled runs and how fresh the served scores are."""
    from churn_core.jobs.history import freshness, job_history, next_runs

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
    print_frame(
        runs[
            [
                "started_at",
                "job",
                "status",
                "duration_seconds",
                "rows_out",
                "model_version",
                "launched_by",
                "run_id",
                "error",
            ]
        ],
        format,
    )
    print_frame(next_runs(s, 2), format)
    if s.warehouse_path.exists() or s.backend != "duckdb":
        console.print(freshness(warehouse, s).message)


# --- model commands: train, evaluate, models list|show|promote (churn_core/cli/models.py) ---------------
from churn_core.cli.models import evaluate, models_app, train  # noqa: E402

app.command()(train)
app.command()(evaluate)
app.add_typer(models_app, name="models")


def main() -> None:
    app()
