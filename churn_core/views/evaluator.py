"""One evaluator: sign-up facts, scores and risk history, the scoring job's drivers, channel uplifts, activity,
touches. How a score is explained is churn_core.views.explanation; the what-if is churn_core.views.what_if."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from churn_core.views._common import UPLIFT_COLUMN, as_date, as_record
from churn_core.warehouse import Warehouse


@dataclass(frozen=True)
class Profile:
    """One evaluator: sign-up facts, its score in the chosen set and the set before, and its risk history."""

    instance: int
    facts: dict[str, Any] | None
    current: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    features: dict[str, Any] = field(default_factory=dict)


def evaluator_profile(warehouse: Warehouse, instance: int, as_of: dt.date | None) -> Profile:
    """Everything the profile page shows about one evaluator, as of score set `as_of`."""
    facts_df = warehouse.run("evaluator_facts", {"instance": instance})
    facts = as_record(facts_df.iloc[0]) if not facts_df.empty else None
    if as_of is None or not warehouse.table_exists("evaluator_scores"):
        return Profile(instance, facts)
    rows = warehouse.run("evaluator_score_rows", {"instance": instance, "as_of": as_of})
    history = warehouse.run("evaluator_risk_history", {"instance": instance})
    current = as_record(rows.iloc[0]) if len(rows) and as_date(rows.iloc[0]["as_of_date"]) == as_of else None
    previous = as_record(rows.iloc[1 if current else 0]) if len(rows) > (1 if current else 0) else None
    features: dict[str, Any] = {}
    if current is not None and warehouse.table_exists("feature_snapshots"):
        snap = warehouse.run(
            "evaluator_feature_values",
            {"instance": instance, "as_of_day": int(current.get("as_of_day") or 7)},
        )
        features = as_record(snap.iloc[0]) if not snap.empty else {}
    return Profile(instance, facts, current, previous, history, features)


@dataclass(frozen=True)
class Driver:
    """One of the scoring job's top drivers: a feature, its value, its SHAP value (above 0 it raises the risk)
    and the sentence that says so."""

    feature: str
    value: Any
    shap: float | None
    reason: str


def top_drivers(score: Mapping[str, Any]) -> list[Driver]:
    """The scoring job's own top drivers (JSON column), or [] when it is missing or unreadable."""
    try:
        items = json.loads(score.get("top_drivers") or "[]")
    except (TypeError, ValueError):
        return []
    if not isinstance(items, list):
        return []
    return [
        Driver(str(i.get("feature") or ""), i.get("value"), _number(i.get("shap")), str(i.get("reason") or ""))
        for i in items
        if isinstance(i, dict)
    ]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def channel_uplifts(score: Mapping[str, Any], costs: Mapping[str, float] | None = None) -> pd.DataFrame:
    """The uplift estimate of every channel for one scored evaluator, best first."""
    rows = [
        {"channel": m.group(1), "uplift": float(v), "cost": (costs or {}).get(m.group(1))}
        for k, v in score.items()
        if (m := UPLIFT_COLUMN.match(k)) and v is not None
    ]
    df = pd.DataFrame(rows, columns=["channel", "uplift", "cost"])
    return df.sort_values("uplift", ascending=False).reset_index(drop=True)


def daily_activity(warehouse: Warehouse, instance: int) -> pd.DataFrame:
    return warehouse.run("evaluator_daily_activity", {"instance": instance})


def evaluator_touches(warehouse: Warehouse, instance: int) -> pd.DataFrame:
    if not warehouse.table_exists("engagements"):
        return pd.DataFrame()
    if not warehouse.table_exists("content"):
        return warehouse.query(
            "SELECT * FROM engagements WHERE instance = :instance ORDER BY sent_at", {"instance": instance}
        )
    return warehouse.run("evaluator_touches", {"instance": instance})
