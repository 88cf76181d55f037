"""What a play is: who is eligible, which channel and content, how many a day, how many held out, and when.

A spec is a TOML file (or the Plays page's form) read into a `Play`; every problem is a PlaySpecError that
names the field and says what to write instead, raised before anything is stored. Eligibility is a rule
over the score set's columns: a text column lists the values it accepts (`risk_tier = ["high"]`), a
number column a range (`day_of_trial = { min = 2, max = 6 }`, either bound may be left out).
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn_core.errors import ChurnError
from churn_core.schema import CHANNELS, EVALUATOR_SCORES

# score-set columns a rule may use: the evaluator's segment, risk and day, never ids, dates or explanations
_NOT_RULES = frozenset(
    {"instance", "as_of_date", "eval_start_date", "cohort_week", "model_version", "top_reason", "top_drivers"}
    | {"shap_base", "control_group", "previous_as_of_date", "churn_margin", "channels_reached"}
)
RULE_COLUMNS: dict[str, str] = {c.name: c.type for c in EVALUATOR_SCORES.columns if c.name not in _NOT_RULES}
TEXT_TYPES = frozenset({"VARCHAR"})
FIELDS = (
    "name",
    "owner",
    "channel",
    "content_id",
    "daily_capacity",
    "holdout_share",
    "start_date",
    "end_date",
    "allow_overlap",
    "eligibility",
)
Rule = tuple[str, ...] | tuple[float | None, float | None]


class PlaySpecError(ChurnError):
    """A play spec cannot be used; nothing was stored. The message names the field and what to write."""


@dataclass(frozen=True)
class Play:
    """A play as stored in the plays table (the eligibility rule as {column: values or (min, max)})."""

    name: str
    owner: str
    channel: str
    content_id: str
    daily_capacity: int
    holdout_share: float
    start_date: dt.date
    end_date: dt.date
    eligibility: Mapping[str, Rule] = field(default_factory=dict)
    allow_overlap: bool = False

    @property
    def rule_json(self) -> str:
        """The eligibility rule as the plays table stores it."""
        return json.dumps(
            {
                column: list(rule)
                if RULE_COLUMNS[column] in TEXT_TYPES
                else dict(zip(("min", "max"), rule, strict=True))
                for column, rule in sorted(self.eligibility.items())
            }
        )

    def describe_rule(self) -> str:
        """The rule as people read it: "risk_tier in high, medium; day_of_trial 2..6"."""
        parts = []
        for column, rule in sorted(self.eligibility.items()):
            if RULE_COLUMNS[column] in TEXT_TYPES:
                parts.append(f"{column} in {', '.join(map(str, rule))}")
            else:
                low, high = rule
                parts.append(f"{column} {'' if low is None else f'{low:g}'}..{'' if high is None else f'{high:g}'}")
        return "; ".join(parts) or "everyone scored (outside the measurement holdout)"

    def eligible(self, scores: pd.DataFrame) -> np.ndarray:
        """True for the score-set rows the rule accepts."""
        keep = np.ones(len(scores), bool)
        for column, rule in self.eligibility.items():
            values = scores[column]
            if RULE_COLUMNS[column] in TEXT_TYPES:
                keep &= values.astype("string").isin(list(rule)).fillna(False).to_numpy(bool)
            else:
                number = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
                low, high = rule
                keep &= (number >= (-np.inf if low is None else low)) & (number <= (np.inf if high is None else high))
        return keep

    def running_on(self, day: dt.date) -> bool:
        return self.start_date <= day <= self.end_date


def load_spec(path: Path) -> Play:
    """The play a TOML spec file describes (checked; see parse_play)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlaySpecError(f"{path}: no such file; write the play's spec there (see README, Plays)") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlaySpecError(f"{path}: not valid TOML ({exc})") from None
    return parse_play(data, str(path))


def parse_play(data: Mapping[str, Any], where: str = "play spec") -> Play:
    """A checked Play from a spec's fields; PlaySpecError names the first field that cannot be used."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise PlaySpecError(f"{where}: unknown field(s) {', '.join(unknown)}; a spec has {', '.join(FIELDS)}")
    missing = [f for f in FIELDS[:8] if f not in data or data[f] in (None, "")]
    if missing:
        raise PlaySpecError(f"{where}: missing {', '.join(missing)}")
    name = str(data["name"]).strip()
    if not name or len(name) > 60 or not all(ch.isalnum() or ch in "-_ ." for ch in name):
        raise PlaySpecError(f"{where}: name {name!r} must be 1-60 letters, digits, spaces, '-', '_' or '.'")
    channel = str(data["channel"])
    if channel not in CHANNELS:
        raise PlaySpecError(f"{where}: channel {channel!r} is not one of {', '.join(CHANNELS)}")
    capacity = _number(data["daily_capacity"], "daily_capacity", where, int)
    if capacity <= 0:
        raise PlaySpecError(f"{where}: daily_capacity must be a positive number of contacts a day, not {capacity}")
    share = _number(data["holdout_share"], "holdout_share", where, float)
    if not 0 < share < 1:
        raise PlaySpecError(f"{where}: holdout_share must be between 0 and 1 (e.g. 0.2 for 20%), not {share}")
    start, end = _date(data["start_date"], "start_date", where), _date(data["end_date"], "end_date", where)
    if end < start:
        raise PlaySpecError(f"{where}: end_date {end} is before start_date {start}")
    overlap = data.get("allow_overlap", False)
    if not isinstance(overlap, bool):
        raise PlaySpecError(f"{where}: allow_overlap must be true or false, not {overlap!r}")
    return Play(
        name=name,
        owner=str(data["owner"]).strip(),
        channel=channel,
        content_id=str(data["content_id"]).strip(),
        daily_capacity=capacity,
        holdout_share=share,
        start_date=start,
        end_date=end,
        eligibility=parse_rule(data.get("eligibility") or {}, where),
        allow_overlap=overlap,
    )


def parse_rule(rule: Mapping[str, Any] | str, where: str = "play spec") -> dict[str, Rule]:
    """{column: values or (min, max)} from a spec's [eligibility] table (or the plays table's JSON)."""
    if isinstance(rule, str):
        rule = json.loads(rule)
    if not isinstance(rule, Mapping):
        raise PlaySpecError(f"{where}: eligibility must be a table of column = rule")
    out: dict[str, Rule] = {}
    for column, value in rule.items():
        if column not in RULE_COLUMNS:
            raise PlaySpecError(
                f"{where}: eligibility column {column!r} is not a score-set column a rule may use; "
                f"choose from {', '.join(sorted(RULE_COLUMNS))}"
            )
        if RULE_COLUMNS[column] in TEXT_TYPES:
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                raise PlaySpecError(f'{where}: eligibility {column} takes a list of values, e.g. {column} = ["a", "b"]')
            out[column] = tuple(values)
        else:
            if not isinstance(value, Mapping) or not set(value) <= {"min", "max"} or not value:
                raise PlaySpecError(
                    f"{where}: eligibility {column} takes a range, e.g. {column} = {{ min = 1, max = 5 }}"
                )
            low, high = (
                None if value.get(k) is None else _number(value[k], f"{column}.{k}", where, float)
                for k in ("min", "max")
            )
            if low is not None and high is not None and high < low:
                raise PlaySpecError(f"{where}: eligibility {column} has max {high:g} below min {low:g}")
            out[column] = (low, high)
    return out


def _number(value: Any, name: str, where: str, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PlaySpecError(f"{where}: {name} must be a number, not {value!r}")
    try:
        number = kind(value)
    except ValueError:
        raise PlaySpecError(f"{where}: {name} must be a number, not {value!r}") from None
    if kind is int and float(value) != number:
        raise PlaySpecError(f"{where}: {name} must be a whole number, not {value!r}")
    return number


def _date(value: Any, name: str, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise PlaySpecError(f"{where}: {name} must be a date, yyyy-mm-dd, not {value!r}") from None
