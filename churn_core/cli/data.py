"""The data commands of `churn`: `demo`, `ingest`, `etl`, `sql` and `schema`.

`demo` imports churn_core.jobs.demo when it runs, not at the top: that module loads XGBoost (about a
second), which `churn --help` and every other command would otherwise pay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table as RichTable

from churn_core.cli.common import (
    AsOf,
    OutputFormat,
    console,
    guarded,
    print_frame,
    progress_steps,
    settings,
    writing,
)
from churn_core.data.etl import ETL_TABLES, run_etl
from churn_core.data.ingest import ingest_directory
from churn_core.jobs.history import JOB_RUNS
from churn_core.schema import ALL_TABLES, EVALUATOR_SCORES, PLAY_TABLES
from churn_core.warehouse import open_warehouse


@guarded
def demo(
    evaluators: Annotated[int | None, typer.Option(help="Evaluators to generate (default 57,700).")] = None,
    days: Annotated[int | None, typer.Option(help="Days over which evaluations started (default 90).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed; the same seed gives the same data.")] = None,
) -> None:
    """Generate realistic demo data, load it, build every table, train and promote a model and score,
    so the dashboard opens on it."""
    from churn_core.jobs.demo import run_demo  # loads XGBoost: see the module docstring

    s = settings()
    s = s.with_overrides(
        demo_evaluators=evaluators or s.demo_evaluators,
        demo_days=days or s.demo_days,
        demo_seed=s.demo_seed if seed is None else seed,
    )
    with writing("demo", s), progress_steps() as step:
        run_demo(s, step)
    console.print(f"Demo warehouse ready in {s.home}. Next: [bold]churn dashboard[/]")


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
    s = settings()
    with writing("ingest", s), progress_steps() as step:
        rows = step(f"Validating and loading {directory}", lambda: ingest_directory(open_warehouse(s), directory))
    for table, n in rows.items():  # a table given always has rows: 0 is one this load emptied
        console.print(f"{table}: {n:,} rows" if n else f"{table}: emptied (no file for it in {directory})")
    console.print("Next: [bold]churn etl[/]")


@guarded
def etl(as_of: AsOf = None) -> None:
    """Build the modelling tables (instances_modeling, instances_w1, ...) from the raw tables with SQL."""
    s = settings()
    warehouse = open_warehouse(s)
    with writing("etl", s), progress_steps() as step:
        rows = step(f"Building {', '.join(ETL_TABLES)}", lambda: run_etl(warehouse, s, as_of.date() if as_of else None))
    for table, n in rows.items():
        console.print(f"{table}: {n:,} rows")


@guarded
def sql(
    query: Annotated[str, typer.Argument(help="One read-only SELECT in Athena (Trino) SQL.")],
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
) -> None:
    """Run a read-only query against the configured warehouse, for analysts and scripts."""
    print_frame(open_warehouse(settings(), read_only=True).read_only_query(query), format)


def schema() -> None:
    """Describe every table and column: grain, source and meaning."""
    out = Console()
    for table in (*ALL_TABLES.values(), EVALUATOR_SCORES, *PLAY_TABLES.values(), JOB_RUNS):
        out.print(f"[bold]{table.name}[/] — {table.grain}. Source: {table.source}")
        grid = RichTable("column", "type", "null", "meaning", show_edge=False)
        for c in table.columns:
            grid.add_row(c.name, c.type, "yes" if c.nullable else "", c.doc)
        out.print(grid)
