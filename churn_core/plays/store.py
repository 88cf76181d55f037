"""The plays and their status history: created once, paused or resumed, never edited (append-only tables).

A play's status is the newest play_status row; past its end_date a play reads `ended` whatever that row
says, so nothing has to run at midnight for it to stop. Names are unique without regard to case, so two
plays can never be confused in a list, an export file name or a webhook payload.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from churn_core.plays.spec import Play, PlaySpecError, parse_rule
from churn_core.schema import PLAY_STATUS, PLAYS
from churn_core.warehouse import Warehouse

ACTIVE, PAUSED, ENDED = "active", "paused", "ended"


@dataclass(frozen=True)
class PlayRecord:
    """A stored play with its status and who created it."""

    play: Play
    status: str  # the newest play_status row: active or paused
    created_at: dt.datetime
    created_by: str

    def status_on(self, day: dt.date) -> str:
        """active, paused or ended (past its end_date) on `day`."""
        return ENDED if day > self.play.end_date else self.status

    def assigns_on(self, day: dt.date) -> bool:
        """True when the daily run assigns evaluators to it on `day`."""
        return self.status == ACTIVE and self.play.running_on(day)


def list_plays(warehouse: Warehouse) -> list[PlayRecord]:
    """Every play, oldest first (the order the daily run assigns them in)."""
    if not warehouse.table_exists(PLAYS.name):
        return []
    return [_record(row) for row in warehouse.run("play_list").to_dict("records")]


def find_play(warehouse: Warehouse, name: str) -> PlayRecord:
    """The play called `name` (any case); PlaySpecError listing the plays there are when none is."""
    plays = list_plays(warehouse)
    found = next((p for p in plays if p.play.name.lower() == name.strip().lower()), None)
    if found is None:
        known = ", ".join(p.play.name for p in plays) or "none yet"
        raise PlaySpecError(f"no play called {name!r} (plays: {known}); create one with `churn plays create`")
    return found


def create_play(warehouse: Warehouse, play: Play, created_by: str) -> None:
    """Store a new, active play after checking its name is free and its content item exists for its channel;
    a PlaySpecError stores nothing."""
    taken = {p.play.name.lower(): p.play.name for p in list_plays(warehouse)}
    if play.name.lower() in taken:
        raise PlaySpecError(
            f"a play called {taken[play.name.lower()]!r} exists already; choose another name (pause the old one "
            "with `churn plays pause` if it is to stop)"
        )
    _check_content(warehouse, play)
    now = _now()
    row = {
        "play": play.name,
        "owner": play.owner,
        "channel": play.channel,
        "content_id": play.content_id,
        "eligibility": play.rule_json,
        "daily_capacity": play.daily_capacity,
        "holdout_share": play.holdout_share,
        "start_date": play.start_date,
        "end_date": play.end_date,
        "allow_overlap": int(play.allow_overlap),
        "created_at": now,
        "created_by": created_by,
    }
    warehouse.append(PLAYS.name, _typed(PLAYS.names, [row], {"daily_capacity", "allow_overlap"}))
    _append_status(warehouse, play.name, ACTIVE, created_by, now)


def set_status(warehouse: Warehouse, name: str, status: str, changed_by: str) -> PlayRecord:
    """Pause (status paused) or resume (active) a play; returns it as it was before."""
    if status not in (ACTIVE, PAUSED):
        raise PlaySpecError(f"a play can be set {ACTIVE} or {PAUSED}, not {status!r}")
    record = find_play(warehouse, name)
    _append_status(warehouse, record.play.name, status, changed_by, _now())
    return record


def _append_status(warehouse: Warehouse, name: str, status: str, by: str, at: dt.datetime) -> None:
    row = {"play": name, "status": status, "changed_at": at, "changed_by": by}
    warehouse.append(PLAY_STATUS.name, _typed(PLAY_STATUS.names, [row], set()))


def _check_content(warehouse: Warehouse, play: Play) -> None:
    if not warehouse.table_exists("content"):
        return  # no catalogue loaded: any content id is taken as the CRM's own
    catalogue = warehouse.run("content_catalogue")
    items = catalogue[catalogue["channel"] == play.channel]["content_id"].astype(str).tolist()
    if play.content_id not in items:
        raise PlaySpecError(
            f"content_id {play.content_id!r} is not a {play.channel} item of the content catalogue; "
            f"choose one of {', '.join(items) or '(none for this channel)'}"
        )


def _record(row: dict) -> PlayRecord:
    play = Play(
        name=str(row["play"]),
        owner=str(row["owner"]),
        channel=str(row["channel"]),
        content_id=str(row["content_id"]),
        daily_capacity=int(row["daily_capacity"]),
        holdout_share=float(row["holdout_share"]),
        start_date=pd.Timestamp(row["start_date"]).date(),
        end_date=pd.Timestamp(row["end_date"]).date(),
        eligibility=parse_rule(str(row["eligibility"]), f"play {row['play']}"),
        allow_overlap=bool(row["allow_overlap"]),
    )
    return PlayRecord(play, str(row["status"]), pd.Timestamp(row["created_at"]).to_pydatetime(), str(row["created_by"]))


def _typed(columns: list[str], rows: list[dict], integers: set[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    for name in integers:
        frame[name] = frame[name].astype("int32")
    return frame


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
