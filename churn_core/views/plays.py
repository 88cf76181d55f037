"""The Plays page's reads: every play's results and its newest treatment list, and that list as a file in the
CRM layout of the other exports (human headers, formula-safe cells, a description of what it holds)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from churn_core.access.exports import ColumnFormat, Export
from churn_core.plays import delivery
from churn_core.plays.results import PlayResult, play_results
from churn_core.plays.store import PlayRecord, find_play, list_plays
from churn_core.settings import Settings
from churn_core.views.list_export import column_format
from churn_core.warehouse import Warehouse

LIST_FORMATS: dict[str, ColumnFormat] = {
    "contact_order": ColumnFormat("Contact order", "integer"),
    "channel": ColumnFormat("Channel", "channel"),
    "content_id": ColumnFormat("Content item"),
    "contact_value": ColumnFormat("Value of contact", "money"),
}


def plays_overview(warehouse: Warehouse, settings: Settings, day: dt.date | None = None) -> list[PlayResult]:
    """Every play's results (oldest first)."""
    return play_results(warehouse, settings, day)


def play_list_days(warehouse: Warehouse) -> dict[str, dt.date]:
    """The day of each play's newest treatment list."""
    return delivery.last_days(warehouse)


def treatment_list(warehouse: Warehouse, play: str, day: dt.date) -> pd.DataFrame:
    """The play's treatment list of `day`, in contact order."""
    return delivery.treatment_list(warehouse, play, day)


def treatment_file(warehouse: Warehouse, play: str, day: dt.date) -> Export:
    """The treatment list as a file: contact order, instance, channel and content, then who they are."""
    record = find_play(warehouse, play).play
    rows = delivery.treatment_list(warehouse, record.name, day)
    about = (
        ("List", f"Play {record.name}: evaluators to contact (its holdout is left out: DO NOT contact them)"),
        ("Assigned on", day.isoformat()),
        ("Channel and content", f"{record.channel} {record.content_id}"),
        ("Eligible", record.describe_rule()),
        ("Rows", f"{len(rows):,} (daily capacity {record.daily_capacity:,})"),
        ("Exported at", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
    )
    formats = {c: LIST_FORMATS.get(c) or column_format(c) for c in rows.columns}
    return Export(rows, formats, about)


def play_records(warehouse: Warehouse) -> list[PlayRecord]:
    """Every play with its status, oldest first."""
    return list_plays(warehouse)


def content_items(warehouse: Warehouse) -> pd.DataFrame:
    """The content catalogue (content_id, channel, title) a play picks its item from; empty without one."""
    if not warehouse.table_exists("content"):
        return pd.DataFrame(columns=["content_id", "channel", "title"])
    return warehouse.run("content_catalogue")
