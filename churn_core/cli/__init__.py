"""The `churn` command line: one sub-command per pipeline stage, each a thin call into churn_core.

The commands live by concept (cli/data.py, models.py, jobs.py, plays.py, dashboard.py, with what they share in
common.py) and are registered here, in the order `churn --help` lists them.
"""

from __future__ import annotations

import os

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from churn_core.cli import data, jobs, models, plays
from churn_core.cli.common import guarded, settings
from churn_core.cli.dashboard import dashboard
from churn_core.settings import describe, shown_value

app = typer.Typer(
    help="Churn Prediction Unleashed: predict which free-trial evaluators will leave, and why.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _quiet_threads() -> None:
    """OpenMP threads (XGBoost's, numba's) that sleep instead of spin when they wait: on a busy, shared machine
    `churn demo` trains 5x faster. Set before any command loads them (they all do so lazily)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@guarded
def show_settings() -> None:
    """Show every setting, its environment variable and its current value (credentials masked)."""
    current = settings()
    grid = RichTable("environment variable", "type", "default", "current", show_edge=False)
    for var, kind, default in describe():
        grid.add_row(var, kind, default, escape(shown_value(current, var.removeprefix("CHURN_").lower())))
    Console().print(grid)


app.command()(data.demo)
app.command()(data.ingest)
app.command()(data.etl)
app.command()(models.score)
app.command()(data.sql)
app.command()(data.schema)
app.command("settings")(show_settings)
app.command()(dashboard)
app.command("run")(jobs.run_now)
app.command()(jobs.scheduler)
app.command()(jobs.jobs)
app.command()(models.train)
app.command()(models.evaluate)
app.add_typer(models.models_app, name="models")
app.add_typer(plays.plays_app, name="plays")


def main() -> None:
    app()
