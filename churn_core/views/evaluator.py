"""One evaluator: profile, SHAP drivers and their change, channel uplifts, daily activity, touches, what-if."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churn_core.schema import SEGMENT_COLUMNS
from churn_core.views._common import SHAP_COLUMN, UPLIFT_COLUMN, as_date, as_record, feature_label, plain_value
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


def reason_text(feature: str, value: Any, shap: float) -> str:
    """A driver in words for marketers: what the number is and which way it pushes the risk."""
    shown = (
        "unknown"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:,.0f}"
        if isinstance(value, int | float)
        else str(value)
    )
    direction = "raises the risk" if shap > 0 else "lowers the risk"
    return f"{feature_label(feature).capitalize()}: {shown} ({direction})"


def shap_drivers(score: Mapping[str, Any], features: Mapping[str, Any]) -> pd.DataFrame:
    """Every feature's SHAP value for one scored row with its value and reason, strongest first."""
    rows = []
    for key, shap in score.items():
        m = SHAP_COLUMN.match(key)
        if not m or m.group(1) == "base" or shap is None:
            continue
        name = m.group(1)
        value = features.get(name, score.get(name))
        rows.append(
            {
                "feature": name,
                "label": feature_label(name),
                "value": value,
                "shap": float(shap),
                "reason": reason_text(name, value, float(shap)),
            }
        )
    df = pd.DataFrame(rows, columns=["feature", "label", "value", "shap", "reason"])
    return df.reindex(df["shap"].abs().sort_values(ascending=False).index).reset_index(drop=True)


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


def shap_changes(current: Mapping[str, Any], previous: Mapping[str, Any] | None) -> pd.DataFrame:
    """What moved the risk since the previous score: the SHAP change of every feature, biggest first."""
    columns = ["feature", "label", "shap_now", "shap_before", "change"]
    if not previous:
        return pd.DataFrame(columns=columns)
    rows = []
    for key, now in current.items():
        m = SHAP_COLUMN.match(key)
        if not m or m.group(1) == "base" or key not in previous or now is None or previous[key] is None:
            continue
        rows.append(
            {
                "feature": m.group(1),
                "label": feature_label(m.group(1)),
                "shap_now": float(now),
                "shap_before": float(previous[key]),
                "change": float(now) - float(previous[key]),
            }
        )
    df = pd.DataFrame(rows, columns=columns)
    return df.reindex(df["change"].abs().sort_values(ascending=False).index).reset_index(drop=True)


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


# Score columns passed to the model with the features (segment columns a pipeline may use).
WHAT_IF_CONTEXT: tuple[str, ...] = ("instance", "as_of_day", "day_of_trial", *(c.name for c in SEGMENT_COLUMNS))


@dataclass(frozen=True)
class WhatIf:
    probability: float
    margin: float
    base: float
    drivers: pd.DataFrame


def shap_row(model: Any, x: pd.DataFrame) -> np.ndarray:
    """Exact SHAP values of the model's margin for the rows of `x`, base value last.

    XGBoost's own TreeSHAP (pred_contribs), which churn_core.scoring.explain.TreeExplainer reproduces: for the
    what-if's single row it is as fast, and it spares the dashboard numba's ~120 MB.
    """
    import xgboost as xgb  # here: pages without a what-if never import XGBoost (over a second)

    return np.asarray(model.booster.predict(xgb.DMatrix(x), pred_contribs=True), np.float64)


def what_if(model: Any, features: Mapping[str, Any], context: Mapping[str, Any]) -> WhatIf | None:
    """Score one evaluator with some features changed: the champion's new risk and its SHAP drivers."""
    if model is None:
        return None
    row = pd.DataFrame([{**context, **features}])
    x = model.pipeline.transform(row)
    margin = float(model.booster.inplace_predict(x.to_numpy(np.float32, na_value=np.nan), predict_type="margin")[0])
    calibrate = getattr(model, "calibrate", None)
    probability = (
        float(np.ravel(calibrate(np.asarray([margin])))[0])
        if callable(calibrate)
        else float(np.ravel(model.predict_proba(row))[0])
    )
    shap = shap_row(model, x)[0]
    score = {f"shap_{name}": float(v) for name, v in zip(x.columns, shap[:-1], strict=True)}
    values = {name: plain_value(x.iloc[0][name]) for name in x.columns}
    return WhatIf(probability, margin, float(shap[-1]), shap_drivers(score, {**values, **features}))
