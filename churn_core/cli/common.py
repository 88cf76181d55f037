"""What every `churn` command shares: loading settings, showing progress and tables, and turning errors
into one redacted line (or, for a bug, a redacted traceback) with exit status 1."""

from __future__ import annotations

import datetime as dt
import functools
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any, NoReturn, TypeVar

import click
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable
from rich.text import Text

from churn_core.errors import ChurnError
from churn_core.jobs.history import utc_now
from churn_core.jobs.locks import FileLock, jobs_lock
from churn_core.jobs.logs import configure_command_logging
from churn_core.secrets import redact, secret_values
from churn_core.settings import Settings, SettingsError, load_settings

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
def writing(command: str, current: Settings) -> Iterator[FileLock]:
    """Hold the job lock while a command writes (score, train, ingest, etl, demo, models promote): one lock
    for everything that writes, so no command runs while a job half-builds the tables, nor two at once."""
    lock = jobs_lock(current).acquire(1.0, job=f"churn {command}", started_at=utc_now().isoformat())
    try:
        yield lock
    finally:
        lock.release()


@contextmanager
def progress_steps() -> Iterator[Callable[[str, Callable[[], T]], T]]:
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


def fail(exc: Exception) -> NoReturn:
    """An error the user can fix: its message on one line, redacted, and exit status 1."""
    message = redact(str(exc), _secrets())
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _crash(exc: Exception) -> NoReturn:
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
    other error prints its traceback. Both are redacted of credentials (churn_core.secrets.secret_values), and
    so is what libraries log meanwhile (one line each, see configure_command_logging)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        configure_command_logging(_secrets())
        try:
            return func(*args, **kwargs)
        except (ChurnError, SettingsError) as exc:
            fail(exc)
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
        # data is text, never Rich markup: `[/]` in a value would crash the table and `[link=...]` render
        table = RichTable()
        for column in df.columns:
            table.add_column(Text(str(column)))
        for row in df.itertuples(index=False):
            table.add_row(*(Text("" if pd.isna(v) else str(v)) for v in row))
        Console().print(table)
