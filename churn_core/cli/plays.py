"""`churn plays create|list|pause|resume|results`: contact plays from a spec file, and what they achieve."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape

from churn_core.access import actions
from churn_core.cli.common import OutputFormat, console, guarded, print_frame, settings, writing
from churn_core.plays import store
from churn_core.plays.results import play_results, results_frame
from churn_core.plays.spec import load_spec
from churn_core.warehouse import open_warehouse

LIST_COLUMNS = (
    "play",
    "status",
    "owner",
    "channel",
    "content_id",
    "eligible",
    "daily_capacity",
    "holdout_share",
    "start_date",
    "end_date",
    "allow_overlap",
)
plays_app = typer.Typer(help="Contact plays: randomised holdouts and the saves they bring.", no_args_is_help=True)


@plays_app.command("create")
@guarded
def create(spec: Annotated[Path, typer.Option("--spec", help="The play's spec (.toml); see README, Plays.")]) -> None:
    """Create a play from a spec file; it is assigned from the next daily scoring run on."""
    play = load_spec(spec)
    s = settings()
    with writing("plays create", s):
        actions.create_play(open_warehouse(s), actions.operator("churn plays create"), play)
    console.print(
        f"Created play {escape(play.name)}: {play.channel} {escape(play.content_id)} to "
        f"{escape(play.describe_rule())}, {play.daily_capacity} a day, {play.holdout_share:.0%} held out, "
        f"{play.start_date} to {play.end_date}."
    )


@plays_app.command("list")
@guarded
def list_plays(
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
) -> None:
    """Every play with its status, rule, capacity and dates."""
    records = store.list_plays(open_warehouse(settings(), read_only=True))
    today = pd.Timestamp.now(tz="UTC").date()
    rows = [
        (
            r.play.name,
            r.status_on(today),
            r.play.owner,
            r.play.channel,
            r.play.content_id,
            r.play.describe_rule(),
            r.play.daily_capacity,
            r.play.holdout_share,
            r.play.start_date,
            r.play.end_date,
            r.play.allow_overlap,
        )
        for r in records
    ]
    print_frame(pd.DataFrame(rows, columns=LIST_COLUMNS), format)


def _set_status(name: str, status: str) -> None:
    s = settings()
    with writing(f"plays {status}", s):
        actions.set_play_status(open_warehouse(s), actions.operator(f"churn plays {status}"), name, status)
    console.print(f"Play {escape(name)} is {status}.")


@plays_app.command("pause")
@guarded
def pause(name: Annotated[str, typer.Argument(help="The play's name.")]) -> None:
    """Pause a play: nobody new is assigned to it; its assignments and results stay."""
    _set_status(name, store.PAUSED)


@plays_app.command("resume")
@guarded
def resume(name: Annotated[str, typer.Argument(help="The play's name.")]) -> None:
    """Resume a paused play: the next daily run assigns to it again."""
    _set_status(name, store.ACTIVE)


@plays_app.command("results")
@guarded
def results(
    name: Annotated[str | None, typer.Argument(help="One play (default: every play).")] = None,
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
) -> None:
    """What each play achieved: retention and activation by arm, the effect (95%, adjusted, always-valid),
    the effect among the reached, saves, revenue, cost, return and a verdict."""
    s = settings()
    warehouse = open_warehouse(s, read_only=True)
    found = play_results(warehouse, s)
    if name is not None:
        wanted = store.find_play(warehouse, name).play.name
        found = [r for r in found if r.play == wanted]
    frame = results_frame(found)
    if format is OutputFormat.table and len(frame):  # one column per play, numbers rounded
        frame = frame.round(4).T.reset_index().set_axis(["", *frame["play"]], axis=1).iloc[1:]
    print_frame(frame, format)
