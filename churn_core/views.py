"""Read queries behind the dashboard: one function per thing a page shows, each running a .sql file.

Every function takes a `Warehouse`, runs parameterised SQL from churn_core/sql/queries/ (aggregation
happens in the warehouse) and returns a small DataFrame or record. User input reaches SQL only as bound
parameters: filters become `column IN (:p0, ...)` through `in_list`, and the few column lists that vary
are picked from the table's own columns, never from what a user typed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn_core import history
from churn_core.errors import ChurnError
from churn_core.schema import CHANNELS, EVALUATOR_SCORES, FEATURE_DOCS, FEATURE_SNAPSHOTS, RISK_TIERS
from churn_core.settings import Settings
from churn_core.warehouse import Warehouse, load_sql
from churn_core.warehouse.base import in_list

SORTS: dict[str, str] = {
    "risk": "highest risk first",
    "value": "highest expected value of acting first",
    "change": "biggest rise since the last score first",
}
FLAGS: dict[str, str] = {"worth_saving": "worth saving", "might_swing": "might swing"}
NOT_REACHED = "none"  # the channels filter's value for "no touch delivered yet"
TABLE_COLUMNS: tuple[str, ...] = (
    "instance",
    "churn_probability",
    "risk_tier",
    "day_of_trial",
    "top_reason",
    "segment",
    "worth_saving",
    "might_swing",
    "recommended_channel",
    "channel_uplift",
    "expected_value",
    "value_at_risk",
    "probability_change",
    "product",
    "edition",
    "team_size",
    "region",
    "channels_reached",
    "cohort_week",
    "activated",
)
SEGMENT_DIMENSIONS: dict[str, str] = {
    "product": "product",
    "edition": "edition",
    "region": "region",
    "company_size_band": "company size",
    "acquisition_source": "acquisition source",
    "channel": "first channel that reached them",
}
FEATURE_LABELS: dict[str, str] = {
    "number_of_projects": "projects created",
    "number_of_issues": "issues created",
    "number_of_invites": "invitations sent",
    "w1_active_users": "people active so far",
    "w1_agg_active_users": "user-days of activity",
    "w1_max_active_users": "most people active on one day",
    "watchers_added": "watchers added",
    "issues_updated": "issue updates",
    "issues_commented": "issue comments",
    "issues_assigned": "issues assigned",
    "at_mentions": "@-mentions",
    "issues_viewed": "issue views",
    "issues_completed": "issues completed",
    "mobile_usage": "mobile sessions",
    "sprint_started": "sprints started",
    "sprint_finished": "sprints finished",
    "as_of_day": "days of usage seen",
}
_SHAP = re.compile(r"^shap_([a-z][a-z0-9_]*)$")
_UPLIFT = re.compile(r"^uplift_([a-z][a-z0-9_]*)$")
Z95 = 1.959963984540054
HASH_MODULUS = 1_000_003  # shap_sample.sql's deterministic hash of the instance id


@dataclass(frozen=True)
class Filters:
    """What the at-risk list is narrowed to; empty means "all". Frozen and hashable, so it keys caches."""

    tiers: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()  # keys of FLAGS: worth saving and/or might swing
    cohort_weeks: tuple[dt.date, ...] = ()
    products: tuple[str, ...] = ()
    editions: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()  # channels that reached the evaluator; NOT_REACHED for none yet
    team_size: tuple[int, int] | None = None  # inclusive seats range
    day_of_trial: tuple[int, int] | None = None  # inclusive range
    search: str = ""  # digits an instance id starts with

    def described(self) -> dict[str, tuple[str, ...]]:
        """The filters that are set, as short name -> values (for file names and captions)."""
        out: dict[str, tuple[str, ...]] = {
            "tier": self.tiers,
            "flag": tuple(FLAGS.get(f, f) for f in self.flags),
            "week": tuple(str(w) for w in self.cohort_weeks),
            "product": self.products,
            "edition": self.editions,
            "region": self.regions,
            "channel": self.channels,
            "team": tuple(map(str, self.team_size)) if self.team_size else (),
            "day": tuple(map(str, self.day_of_trial)) if self.day_of_trial else (),
            "instance": (self.search,) if self.search else (),
        }
        return {k: v for k, v in out.items() if v}


@dataclass(frozen=True)
class ScoreSet:
    as_of: dt.date
    model_version: str
    scored: int
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class FilterOptions:
    products: tuple[str, ...] = ()
    editions: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    cohort_weeks: tuple[dt.date, ...] = ()
    channels: tuple[str, ...] = ()
    team_size_max: int = 1
    day_of_trial_max: int = 1
    tiers: tuple[str, ...] = RISK_TIERS


@dataclass(frozen=True)
class Profile:
    """One evaluator: sign-up facts, its score in the chosen set and the set before, and its risk history."""

    instance: int
    facts: dict[str, Any] | None
    current: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    features: dict[str, Any] = field(default_factory=dict)


# --- plumbing ---------------------------------------------------------------------------------------


def render_sql(name: str, **fragments: str) -> str:
    """Text of queries/<name>.sql, each `/*marker*/` followed by its fragment (built here, never typed)."""
    text = load_sql(f"queries/{name}")
    for marker, fragment in fragments.items():
        token = f"/*{marker}*/"
        if token not in text:
            raise ValueError(f"queries/{name}.sql has no {token} marker")
        text = text.replace(token, fragment)
    return text


def _date(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _plain(value: Any) -> Any:
    """A numpy/pandas scalar as a plain Python value (None for missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _record(row: pd.Series) -> dict[str, Any]:
    return {k: _plain(v) for k, v in row.items()}


def filter_conditions(filters: Filters) -> tuple[str, dict[str, Any]]:
    """The filters as ` AND (...)` SQL over evaluator_scores, and the values to bind to its parameters."""
    parts: list[str] = []
    params: dict[str, Any] = {}

    def one_of(column: str, prefix: str, values: Iterable[Any]) -> None:
        values = list(values)
        if values:
            sql, bound = in_list(column, prefix, values)
            parts.append(sql)
            params.update(bound)

    one_of("risk_tier", "f_tier", filters.tiers)
    flags = [f"{flag} = 1" for flag in FLAGS if flag in filters.flags]  # column names from FLAGS only
    if flags:
        parts.append(" OR ".join(flags))
    one_of("cohort_week", "f_week", filters.cohort_weeks)
    one_of("product", "f_product", filters.products)
    one_of("edition", "f_edition", filters.editions)
    one_of("region", "f_region", filters.regions)
    if filters.channels:
        reached = []
        for i, channel in enumerate(filters.channels):
            if channel == NOT_REACHED:
                reached.append("coalesce(channels_reached, '') = ''")
            else:
                reached.append(f"strpos(',' || coalesce(channels_reached, '') || ',', :f_channel{i}) > 0")
                params[f"f_channel{i}"] = f",{channel},"
        parts.append(" OR ".join(reached))
    for column, bounds in (("team_size", filters.team_size), ("day_of_trial", filters.day_of_trial)):
        if bounds is not None:
            parts.append(f"{column} BETWEEN :f_{column}_low AND :f_{column}_high")
            params[f"f_{column}_low"], params[f"f_{column}_high"] = int(bounds[0]), int(bounds[1])
    digits = re.sub(r"\D", "", filters.search or "")[:12]
    if digits:
        parts.append("CAST(instance AS VARCHAR) LIKE :f_search")
        params["f_search"] = f"{digits}%"
    return "".join(f"\n    AND ({p})" for p in parts), params


# --- score sets and the at-risk list ----------------------------------------------------------------


def score_sets(warehouse: Warehouse) -> list[ScoreSet]:
    """The kept score sets, newest first; empty when nothing has been scored yet."""
    tables = set(warehouse.tables())
    if "evaluator_scores" not in tables:
        return []
    if "score_sets" in tables:
        df = warehouse.run("score_set_catalogue")
        if not df.empty:
            rows = "rows" if "rows" in df.columns else ("scored" if "scored" in df.columns else None)
            return [
                ScoreSet(
                    _date(r["as_of_date"]),
                    str(r.get("model_version", "")),
                    int(r[rows]) if rows and pd.notna(r[rows]) else 0,
                    _plain(r.get("created_at")),
                )
                for _, r in df.iterrows()
            ]
    df = warehouse.run("score_set_list")
    return [
        ScoreSet(_date(r["as_of_date"]), str(r["model_version"]), int(r["scored"])) for _, r in df.iterrows()
    ]


def score_columns(warehouse: Warehouse) -> tuple[list[str], list[str]]:
    """The model features that have SHAP columns and the channels that have uplift columns in the table."""
    columns = list(warehouse.run("score_columns").columns)
    shap = [m.group(1) for c in columns if (m := _SHAP.match(c)) and m.group(1) != "base"]
    uplift = [m.group(1) for c in columns if (m := _UPLIFT.match(c))]
    return shap, uplift


def export_columns(warehouse: Warehouse) -> list[str]:
    """Columns an analyst may export: the schema's, then the table's SHAP and uplift columns."""
    shap, uplift = score_columns(warehouse)
    return [*EVALUATOR_SCORES.names, *(f"shap_{f}" for f in shap), *(f"uplift_{c}" for c in uplift)]


def filter_options(warehouse: Warehouse, as_of: dt.date) -> FilterOptions:
    """What each filter can be set to in a score set (values present in it, and the ranges)."""
    df = warehouse.run("at_risk_filter_options", {"as_of": as_of})
    values = {
        name: [v for v in group["value"].tolist() if v is not None and v == v]
        for name, group in df.groupby("field")
    }
    channels = sorted(
        {
            c.strip()
            for combo in values.get("channels_reached", [])
            for c in str(combo).split(",")
            if c.strip()
        },
        key=lambda c: (CHANNELS.index(c) if c in CHANNELS else 99, c),
    )

    def top(name: str) -> int:
        found = [int(float(v)) for v in values.get(name, []) if str(v).strip()]
        return max(found) if found else 1

    return FilterOptions(
        products=tuple(sorted(map(str, values.get("product", [])))),
        editions=tuple(sorted(map(str, values.get("edition", [])))),
        regions=tuple(sorted(map(str, values.get("region", [])))),
        cohort_weeks=tuple(
            sorted((d for v in values.get("cohort_week", []) if (d := _date(v))), reverse=True)
        ),
        channels=(*channels, NOT_REACHED),
        team_size_max=top("team_size_max"),
        day_of_trial_max=top("day_of_trial_max"),
    )


def at_risk_page(
    warehouse: Warehouse,
    as_of: dt.date,
    filters: Filters,
    sort: str = "risk",
    page: int = 0,
    page_size: int = 50,
) -> pd.DataFrame:
    """One page of the scored evaluators matching `filters`, sorted; paging happens in the warehouse."""
    where, params = filter_conditions(filters)
    params.update(
        as_of=as_of,
        sort=sort if sort in SORTS else "risk",
        offset=max(0, int(page)) * page_size,
        limit=int(page_size),
    )
    return warehouse.query(render_sql("at_risk_page", filters=where), params)


def at_risk_summary(warehouse: Warehouse, as_of: dt.date, filters: Filters = Filters()) -> dict[str, float]:
    """Count, high-risk count, value at risk, worth saving and might swing of the matching evaluators."""
    where, params = filter_conditions(filters)
    df = warehouse.query(render_sql("at_risk_summary", filters=where), {**params, "as_of": as_of})
    return {k: float(v) if v is not None and v == v else 0.0 for k, v in df.iloc[0].items()}


def at_risk_export(
    warehouse: Warehouse, as_of: dt.date, filters: Filters, sort: str, columns: Iterable[str], limit: int
) -> pd.DataFrame:
    """The filtered, sorted list without paging, at most `limit` rows, with the chosen columns."""
    allowed = set(export_columns(warehouse))
    chosen = [c for c in dict.fromkeys(columns) if c in allowed and c != "instance"]
    where, params = filter_conditions(filters)
    params.update(as_of=as_of, sort=sort if sort in SORTS else "risk", limit=int(limit))
    sql = render_sql("at_risk_export", columns="".join(f", {c}" for c in chosen), filters=where)
    return warehouse.query(sql, params)


def week1_activation(warehouse: Warehouse, as_of: dt.date) -> dict[str, float | None]:
    """Week-1 activation of the trials that finished week 1 this week and last week (rate and count)."""
    out: dict[str, float | None] = {"this_week": None, "last_week": None, "this_week_n": 0, "last_week_n": 0}
    if not warehouse.table_exists("activation_daily"):
        return out
    df = warehouse.run("week1_activation_kpi", {"as_of": as_of})
    for _, row in df.iterrows():
        n = int(row["evaluators"])
        out[f"{row['week']}_n"] = n
        out[str(row["week"])] = float(row["activated"]) / n if n else None
    return out


# --- one evaluator ------------------------------------------------------------------------------------


def evaluator_profile(warehouse: Warehouse, instance: int, as_of: dt.date | None) -> Profile:
    """Everything the profile page shows about one evaluator, as of score set `as_of`."""
    facts_df = warehouse.run("evaluator_facts", {"instance": instance})
    facts = _record(facts_df.iloc[0]) if not facts_df.empty else None
    if as_of is None or not warehouse.table_exists("evaluator_scores"):
        return Profile(instance, facts)
    rows = warehouse.run("evaluator_score_rows", {"instance": instance, "as_of": as_of})
    history = warehouse.run("evaluator_risk_history", {"instance": instance})
    current = _record(rows.iloc[0]) if len(rows) and _date(rows.iloc[0]["as_of_date"]) == as_of else None
    previous = _record(rows.iloc[1 if current else 0]) if len(rows) > (1 if current else 0) else None
    features: dict[str, Any] = {}
    if current is not None and warehouse.table_exists("feature_snapshots"):
        snap = warehouse.run(
            "evaluator_feature_values",
            {"instance": instance, "as_of_day": int(current.get("as_of_day") or 7)},
        )
        features = _record(snap.iloc[0]) if not snap.empty else {}
    return Profile(instance, facts, current, previous, history, features)


def feature_label(feature: str) -> str:
    return FEATURE_LABELS.get(feature, feature.replace("_", " "))


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
        m = _SHAP.match(key)
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


def top_drivers(score: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The scoring job's own top drivers (JSON column), or [] when it is missing or unreadable."""
    try:
        items = json.loads(score.get("top_drivers") or "[]")
    except (TypeError, ValueError):
        return []
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def shap_changes(current: Mapping[str, Any], previous: Mapping[str, Any] | None) -> pd.DataFrame:
    """What moved the risk since the previous score: the SHAP change of every feature, biggest first."""
    columns = ["feature", "label", "shap_now", "shap_before", "change"]
    if not previous:
        return pd.DataFrame(columns=columns)
    rows = []
    for key, now in current.items():
        m = _SHAP.match(key)
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
        if (m := _UPLIFT.match(k)) and v is not None
    ]
    df = pd.DataFrame(rows, columns=["channel", "uplift", "cost"])
    return df.sort_values("uplift", ascending=False).reset_index(drop=True)


def feature_by_outcome(warehouse: Warehouse) -> pd.DataFrame:
    """Stayers against churners per feature: mean and median of each group (resolved evaluators)."""
    df = warehouse.run("feature_by_outcome")
    rows = []
    by = {int(r["retained"]): r for _, r in df.iterrows() if pd.notna(r["retained"])}
    stay, churn = by.get(1), by.get(0)
    for name in FEATURE_DOCS:
        rows.append(
            {
                "feature": name,
                "label": feature_label(name),
                "doc": FEATURE_DOCS.get(name, ""),
                "retained_mean": _stat(stay, "mean", name),
                "churned_mean": _stat(churn, "mean", name),
                "retained_median": _stat(stay, "median", name),
                "churned_median": _stat(churn, "median", name),
            }
        )
    out = pd.DataFrame(rows)
    out["retained_n"] = int(stay["evaluators"]) if stay is not None else 0
    out["churned_n"] = int(churn["evaluators"]) if churn is not None else 0
    out["ratio"] = out["retained_mean"] / out["churned_mean"].where(out["churned_mean"] > 0)
    return out


def _stat(row: pd.Series | None, stat: str, feature: str) -> float | None:
    value = None if row is None else row[f"{stat}__{feature}"]
    return None if value is None or pd.isna(value) else float(value)


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


# --- intervals ----------------------------------------------------------------------------------------


def wilson_interval(successes: Any, n: Any, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion (NaN where n = 0); honest at small n and near 0 or 1."""
    k = np.asarray(successes, float)
    n = np.asarray(n, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def difference_interval(k1: Any, n1: Any, k2: Any, n2: Any, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's interval for p1 - p2 from the two Wilson intervals (method 10)."""
    k1, n1, k2, n2 = (np.asarray(x, float) for x in (k1, n1, k2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, z)
    l2, u2 = wilson_interval(k2, n2, z)
    d = p1 - p2
    return d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def _rate(df: pd.DataFrame, name: str, k: str, n: str) -> None:
    df[name] = df[k] / df[n].where(df[n] > 0)
    df[f"{name}_low"], df[f"{name}_high"] = wilson_interval(df[k], df[n])


# --- activation -----------------------------------------------------------------------------------------


def activation_curves(warehouse: Warehouse) -> pd.DataFrame:
    """Cumulative share activated by day 0..7, per cohort week."""
    df = warehouse.run("activation_curves")
    df["rate"] = df["activated"] / df["evaluators"].where(df["evaluators"] > 0)
    return df


def activation_curves_by_segment(warehouse: Warehouse, dimension: str, since: dt.date) -> pd.DataFrame:
    """Cumulative share activated by day 0..7, per value of a segment dimension or first channel."""
    dimension = dimension if dimension in SEGMENT_DIMENSIONS else "product"
    df = warehouse.run("activation_curves_by_segment", {"dimension": dimension, "since": since})
    df["rate"] = df["activated"] / df["evaluators"].where(df["evaluators"] > 0)
    return df


def activation_trend(warehouse: Warehouse) -> pd.DataFrame:
    """Week-1 activation rate per cohort week, with its Wilson interval and the change on the week before."""
    df = warehouse.run("activation_trend")
    _rate(df, "rate", "activated", "evaluators")
    return df


def early_actions(warehouse: Warehouse, as_of: dt.date) -> pd.DataFrame:
    """Per early action (days 0..2): reach, activation and retention lift of doers over the others.

    impact = reach x retention lift: an action few people take matters little even if its lift is big.
    """
    df = warehouse.run("early_actions", {"as_of": as_of})
    df["reach"] = df["doers"] / df["evaluators"].where(df["evaluators"] > 0)
    for outcome, done, others, n_done, n_others in (
        ("activation", "doers_activated", "others_activated", "doers_reached_day7", "others_reached_day7"),
        ("retention", "doers_retained", "others_retained", "doers_resolved", "others_resolved"),
    ):
        df[f"{outcome}_doers"] = df[done] / df[n_done].where(df[n_done] > 0)
        df[f"{outcome}_others"] = df[others] / df[n_others].where(df[n_others] > 0)
        df[f"{outcome}_lift"] = df[f"{outcome}_doers"] - df[f"{outcome}_others"]
        df[f"{outcome}_lift_low"], df[f"{outcome}_lift_high"] = difference_interval(
            df[done], df[n_done], df[others], df[n_others]
        )
    df["impact"] = df["reach"] * df["retention_lift"]
    return df.sort_values("impact", ascending=False, na_position="last").reset_index(drop=True)


# --- channels and content -------------------------------------------------------------------------------


CONTROL_ARM = "no contact (control)"


def channel_outcomes(warehouse: Warehouse) -> pd.DataFrame:
    """Retention, activation and response rates per channel against the control, with Wilson intervals
    and the retention difference to the control (Newcombe interval)."""
    if not warehouse.table_exists("engagements"):
        return pd.DataFrame()
    df = warehouse.run("channel_outcomes")
    responses = warehouse.run("channel_responses").rename(columns={"channel": "arm"})
    df = df.merge(responses, on="arm", how="left")
    _rate(df, "retention", "retained", "resolved")
    _rate(df, "activation", "activated", "reached_day7")
    _rate(df, "response", "responded", "delivered")
    control = df[df["arm"] == CONTROL_ARM]
    if len(control):
        c = control.iloc[0]
        df["retention_lift"] = df["retention"] - (c["retained"] / c["resolved"] if c["resolved"] else np.nan)
        df["retention_lift_low"], df["retention_lift_high"] = difference_interval(
            df["retained"], df["resolved"], c["retained"], c["resolved"]
        )
    df["is_control"] = df["arm"] == CONTROL_ARM
    return df.sort_values(["is_control", "retention"], ascending=[True, False]).reset_index(drop=True)


def channel_uplift(warehouse: Warehouse, as_of: dt.date) -> pd.DataFrame:
    """The scoring job's per-channel uplift estimates (channel_effects) for a score set; empty if none."""
    if not warehouse.table_exists("channel_effects"):
        return pd.DataFrame()
    return warehouse.run("channel_uplift_estimates", {"as_of": as_of})


def unestimated_channels(effects: pd.DataFrame) -> list[str]:
    """Channels the scoring job had too little history to estimate (uplift NULL)."""
    if effects.empty or "uplift" not in effects:
        return []
    return effects.loc[effects["uplift"].isna(), "channel"].astype(str).tolist()


def content_lift(warehouse: Warehouse, min_resolved: int = 30, conservative: bool = False) -> pd.DataFrame:
    """Content items ranked by the retention lift (over the control group) of those who engaged with them,
    with sample sizes and intervals; items with fewer than `min_resolved` outcomes are marked too small and
    ranked last. `conservative` ranks by the interval's lower end instead of the lift itself."""
    if not (warehouse.table_exists("engagements") and warehouse.table_exists("content")):
        return pd.DataFrame()
    df = warehouse.run("content_retention")
    control = df[df["content_id"].isna()]
    df = df[df["content_id"].notna()].copy()
    _rate(df, "retention", "retained", "resolved")
    k2, n2 = (
        (float(control.iloc[0]["retained"]), float(control.iloc[0]["resolved"])) if len(control) else (0, 0)
    )
    df["control_retention"] = k2 / n2 if n2 else np.nan
    df["lift"] = df["retention"] - df["control_retention"]
    df["lift_low"], df["lift_high"] = difference_interval(df["retained"], df["resolved"], k2, n2)
    df["enough_data"] = df["resolved"] >= min_resolved
    df["control_resolved"] = int(n2)
    key = "lift_low" if conservative else "lift"
    return df.sort_values(["enough_data", key], ascending=[False, False]).reset_index(drop=True)


# --- drivers --------------------------------------------------------------------------------------------


def shap_importance(warehouse: Warehouse, as_of: dt.date) -> pd.DataFrame:
    """Global importance: mean |SHAP| (and mean SHAP) of every feature over a score set, computed in SQL."""
    features, _ = score_columns(warehouse)
    if not features:
        return pd.DataFrame(columns=["feature", "label", "mean_abs_shap", "mean_shap"])
    columns = "".join(
        f",\n    avg(abs(shap_{f})) AS abs__{f},\n    avg(shap_{f}) AS mean__{f}" for f in features
    )
    row = warehouse.query(render_sql("shap_importance", columns=columns), {"as_of": as_of}).iloc[0]
    df = pd.DataFrame(
        {
            "feature": features,
            "label": [feature_label(f) for f in features],
            "mean_abs_shap": [float(row[f"abs__{f}"]) for f in features],
            "mean_shap": [float(row[f"mean__{f}"]) for f in features],
        }
    )
    return df.sort_values("mean_abs_shap", ascending=False).reset_index(drop=True)


def shap_sample(warehouse: Warehouse, as_of: dt.date, limit: int = 1500, scored: int = 0) -> pd.DataFrame:
    """A deterministic sample of scored evaluators with `shap_<f>` and `value_<f>` columns per feature.

    With the set's size `scored`, a hash of the instance keeps about three times `limit` rows before
    sorting, so a set of a million rows is never sorted whole."""
    features, _ = score_columns(warehouse)
    columns = "".join(f",\n    s.shap_{f}" for f in features)
    snapshot = set(FEATURE_SNAPSHOTS.names) - {"instance"}
    columns += "".join(f",\n    f.{f} AS value_{f}" for f in features if f in snapshot)
    cutoff = HASH_MODULUS if scored <= 3 * limit else math.ceil(HASH_MODULUS * 3 * limit / scored)
    return warehouse.query(
        render_sql("shap_sample", columns=columns),
        {"as_of": as_of, "limit": int(limit), "cutoff": int(cutoff)},
    )


# --- model health ---------------------------------------------------------------------------------------


def flagged_by_threshold(histogram: pd.DataFrame) -> pd.DataFrame:
    """From the 1%-band histogram: how many evaluators (and how much value) a cut-off at each band flags."""
    bands = pd.DataFrame({"band": range(101)})
    df = bands.merge(histogram, on="band", how="left").fillna({"evaluators": 0, "value_at_risk": 0.0})
    df = df.sort_values("band", ascending=False)
    df["flagged"] = df["evaluators"].cumsum().astype(int)
    df["flagged_value_at_risk"] = df["value_at_risk"].cumsum()
    df["threshold"] = df["band"] / 100.0
    return df.sort_values("band").reset_index(drop=True)[["threshold", "flagged", "flagged_value_at_risk"]]


def risk_histogram(warehouse: Warehouse, as_of: dt.date) -> pd.DataFrame:
    return warehouse.run("risk_histogram", {"as_of": as_of})


def capacity_threshold(flagged: pd.DataFrame, capacity: int) -> float:
    """The lowest cut-off that flags no more evaluators than the team can handle."""
    fits = flagged[flagged["flagged"] <= capacity]
    return float(fits["threshold"].min()) if len(fits) else 1.0


def drift_history(warehouse: Warehouse) -> pd.DataFrame:
    if not warehouse.table_exists("score_drift"):
        return pd.DataFrame(columns=["as_of_date", "feature", "psi", "status"])
    return warehouse.run("feature_drift_history")


def realised_performance(warehouse: Warehouse) -> pd.DataFrame:
    """Past score sets against the outcomes known since: precision, recall, F1, accuracy, AUC, Brier."""
    if not warehouse.table_exists("evaluator_scores"):
        return pd.DataFrame()
    df = warehouse.run("realised_performance")
    tp, fp, fn, tn = (df[c].astype(float) for c in ("tp", "fp", "fn", "tn"))
    df["precision"] = tp / (tp + fp).where(tp + fp > 0)
    df["recall"] = tp / (tp + fn).where(tp + fn > 0)
    df["f1"] = 2 * df["precision"] * df["recall"] / (df["precision"] + df["recall"]).where(lambda s: s > 0)
    df["accuracy"] = (tp + tn) / (tp + fp + fn + tn).where(lambda s: s > 0)
    df["churn_rate"] = df["churned"] / df["resolved"]
    return df


def freshness(warehouse: Warehouse) -> dict[str, Any]:
    """The last day of telemetry and when the raw data was last checked (None where unknown)."""
    tables = set(warehouse.tables())
    if not {"daily_usage", "data_quality", "evaluators"} <= tables:
        return {"last_usage_date": None, "quality_checked_at": None, "evaluators": 0}
    return _record(warehouse.run("data_freshness").iloc[0])


def data_quality(warehouse: Warehouse) -> pd.DataFrame:
    if not warehouse.table_exists("data_quality"):
        return pd.DataFrame()
    return warehouse.run("data_quality_report")


def job_history(warehouse: Warehouse, settings: Settings, limit: int = 50) -> pd.DataFrame | None:
    """Recent scheduled job runs (one row per run), or None when no job has written job_runs yet."""
    if not warehouse.table_exists("job_runs"):
        return None
    return history.job_history(warehouse, limit, settings)


# --- the champion model: its card and the what-if ------------------------------------------------------


def load_model(settings: Any, version: str | None = None) -> Any | None:
    """Registry model `version` (falling back to the champion when that version is gone), or None when
    nothing has been trained yet."""
    try:
        from churn_core.registry import Registry
    except ImportError:
        return None
    registry = Registry(settings)
    for wanted in ([version] if version else []) + ["champion"]:
        try:
            return registry.load(wanted)
        except (ChurnError, FileNotFoundError, KeyError, LookupError, ValueError):
            continue
    return None


def model_versions(settings: Settings) -> pd.DataFrame:
    """Every registered model version with its profile, held-out ROC AUC and whether it is the champion."""
    from churn_core.registry import Registry

    columns = ["version", "profile", "trained_at", "roc_auc", "champion", "status"]
    rows = [{"version": c.get("version"), "profile": c.get("profile"), "trained_at": c.get("created_at"),
             "roc_auc": (c.get("metrics") or {}).get("roc_auc"), "champion": bool(c.get("champion")),
             "status": c.get("status")} for c in Registry(settings).list()]
    return pd.DataFrame(rows, columns=columns)


def model_card(settings: Any, version: str | None = None) -> dict[str, Any] | None:
    """The card of model `version` (else the champion's), or None when there is no registry yet.

    A local registry's card is read as the JSON it is (checked against the version's manifest), so the
    pages that only show the card do not load XGBoost, scikit-learn and SciPy (~120 MB).
    """
    for wanted in [version, None] if version else [None]:
        card = _local_card(settings, wanted)
        if card is not None:
            return card
    try:
        from churn_core.registry import Registry
    except ImportError:
        return None
    registry = Registry(settings)
    for wanted in ([version] if version else []) + ["champion"]:
        try:
            card = registry.card(wanted)
        except (ChurnError, FileNotFoundError, KeyError, LookupError, ValueError):
            continue
        if isinstance(card, dict):
            return card
    return None


def _local_alias(settings: Any) -> str | None:
    root = Path(settings.registry_dir)
    try:
        version = json.loads((root / "champion.json").read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError, AttributeError):
        return None
    return str(version) if isinstance(version, str) and re.fullmatch(r"v\d{4,}", version) else None


def _local_card(settings: Any, version: str | None) -> dict[str, Any] | None:
    """A version's card.json from the local registry layout, verified by sha256; None if anything is off."""
    if getattr(settings, "backend", "duckdb") != "duckdb":
        return None
    version = version or _local_alias(settings)
    if not version or not re.fullmatch(r"v\d{4,}", version):
        return None
    folder = Path(settings.registry_dir) / version
    try:
        data = (folder / "card.json").read_bytes()
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if hashlib.sha256(data).hexdigest() != manifest["files"]["card.json"]:
            return None
        card = json.loads(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return card if isinstance(card, dict) and card.get("version") == version else None


def champion_version(settings: Any) -> str | None:
    if getattr(settings, "backend", "duckdb") == "duckdb":
        return _local_alias(settings)
    try:
        from churn_core.registry import Registry

        return Registry(settings).champion_version()
    except (ImportError, ChurnError, FileNotFoundError, ValueError):
        return None


@dataclass(frozen=True)
class FeatureStudy:
    correlation: pd.DataFrame
    explained_variance: list[float]
    dropped: dict[str, str]


def feature_study(card: Mapping[str, Any] | None) -> FeatureStudy | None:
    """The card's feature study (correlation matrix, PCA explained variance, dropped features)."""
    if not card:
        return None
    study = card.get("feature_study") or {}
    corr = study.get("correlation") or {}
    if isinstance(corr, dict) and "columns" in corr and "values" in corr:
        matrix = pd.DataFrame(
            corr["values"], index=corr.get("index", corr["columns"]), columns=corr["columns"]
        )
    elif isinstance(corr, dict):
        matrix = pd.DataFrame(corr)
    else:
        matrix = pd.DataFrame()
    pca = study.get("pca") or {}
    explained = list(pca.get("explained_variance_ratio") or pca.get("explained_variance") or [])
    dropped = card.get("dropped_features") or study.get("dropped") or {}
    if isinstance(dropped, list):
        dropped = {
            str(d.get("feature", d)) if isinstance(d, dict) else str(d): str(d.get("reason", ""))
            if isinstance(d, dict)
            else ""
            for d in dropped
        }
    return FeatureStudy(matrix, [float(v) for v in explained], dict(dropped))


# Score columns passed to the model with the features (segment columns a pipeline may use).
WHAT_IF_CONTEXT: tuple[str, ...] = (
    "instance",
    "as_of_day",
    "day_of_trial",
    "product",
    "edition",
    "team_size",
    "company_size_band",
    "region",
    "acquisition_source",
    "expected_annual_value",
    "control_group",
)


@dataclass(frozen=True)
class WhatIf:
    probability: float
    margin: float
    base: float
    drivers: pd.DataFrame


def shap_row(model: Any, x: pd.DataFrame) -> np.ndarray:
    """Exact SHAP values of the model's margin for the rows of `x`, base value last.

    XGBoost's own TreeSHAP (pred_contribs), which churn_core.explain.TreeExplainer reproduces: for the
    what-if's single row it is as fast, and it spares the dashboard numba's ~120 MB.
    """
    import xgboost as xgb

    return np.asarray(model.booster.predict(xgb.DMatrix(x), pred_contribs=True), np.float64)


def what_if(model: Any, features: Mapping[str, Any], context: Mapping[str, Any]) -> WhatIf | None:
    """Score one evaluator with some features changed: the champion's new risk and its SHAP drivers."""
    if model is None:
        return None
    row = pd.DataFrame([{**context, **features}])
    x = model.pipeline.transform(row)
    margin = float(
        model.booster.inplace_predict(x.to_numpy(np.float32, na_value=np.nan), predict_type="margin")[0]
    )
    calibrate = getattr(model, "calibrate", None)
    probability = (
        float(np.ravel(calibrate(np.asarray([margin])))[0])
        if callable(calibrate)
        else float(np.ravel(model.predict_proba(row))[0])
    )
    shap = shap_row(model, x)[0]
    score = {f"shap_{name}": float(v) for name, v in zip(x.columns, shap[:-1], strict=True)}
    values = {name: _plain(x.iloc[0][name]) for name in x.columns}
    return WhatIf(probability, margin, float(shap[-1]), shap_drivers(score, {**values, **features}))


# --- reading the model card (a dict the registry stores with each version) -----------------------------

CARD_METRICS: tuple[tuple[str, str], ...] = (
    ("ROC AUC", "roc_auc"),
    ("PR AUC", "pr_auc"),
    ("Precision", "precision"),
    ("Recall", "recall"),
    ("F1", "f1"),
    ("F2", "f2"),
    ("Accuracy", "accuracy"),
    ("Brier", "brier"),
)


def _section(card: Mapping[str, Any] | None, *names: str) -> Any:
    for name in names:
        if card and name in card and card[name] is not None:
            return card[name]
    return None


def card_summary(card: Mapping[str, Any] | None) -> dict[str, Any]:
    """Version, profile, when trained, on how many rows, and the decision threshold with its rule."""
    threshold = _section(card, "threshold")
    if isinstance(threshold, Mapping):
        threshold = threshold.get("value")
    rows = _section(card, "training_rows")
    if rows is None and isinstance(_section(card, "training"), Mapping):
        rows = card["training"].get("rows")
    created = _section(card, "created_at", "trained_at")
    try:
        created = dt.datetime.fromisoformat(str(created)).replace(tzinfo=None) if created else None
    except ValueError:
        pass
    thresholds = _section(card, "thresholds")
    rule = thresholds.get("rule") if isinstance(thresholds, Mapping) else None
    return {
        "version": _section(card, "version"),
        "profile": _section(card, "profile"),
        "trained_at": created,
        "threshold": float(threshold) if threshold is not None else None,
        "rule": rule,
        "rows": f"{rows:,} training rows" if isinstance(rows, int) else "its training data",
    }


def card_metrics(card: Mapping[str, Any] | None) -> dict[str, float]:
    """The headline validation metrics that the card holds, by display name."""
    metrics = _section(card, "metrics") or {}
    out = {}
    for label, key in CARD_METRICS:
        value = metrics.get(key) if isinstance(metrics, Mapping) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[label] = float(value)
    return out


def card_confusion(card: Mapping[str, Any] | None) -> list[list[float]]:
    """Confusion matrix, rows actual [retained, churned], columns predicted [retained, churned]."""
    matrix = _section(card, "confusion_matrix")
    if isinstance(matrix, Mapping):
        matrix = matrix.get("matrix") or matrix.get("values")
    return matrix if isinstance(matrix, list) else []


def card_report(card: Mapping[str, Any] | None) -> pd.DataFrame:
    report = _section(card, "classification_report")
    if isinstance(report, Mapping):
        return pd.DataFrame([{"class": k, **v} for k, v in report.items() if isinstance(v, Mapping)])
    if isinstance(report, list):
        return pd.DataFrame(report)
    return pd.DataFrame()


def _curve(points: Any, x: str, y: str) -> pd.DataFrame:
    if isinstance(points, Mapping) and x in points and y in points:
        return pd.DataFrame({"x": points[x], "y": points[y]})
    if isinstance(points, list) and points and isinstance(points[0], Mapping):
        df = pd.DataFrame(points)
        if x in df and y in df:
            return pd.DataFrame({"x": df[x], "y": df[y]})
    return pd.DataFrame(columns=["x", "y"])


def card_curves(card: Mapping[str, Any] | None) -> dict[str, pd.DataFrame]:
    """ROC, precision-recall, cumulative gains and calibration points as x/y frames."""
    curves = _section(card, "curves") or {}
    return {
        "roc": _curve(curves.get("roc"), "fpr", "tpr"),
        "pr": _curve(curves.get("pr"), "recall", "precision"),
        "gains": _curve(curves.get("gains"), "share_contacted", "share_found"),
        "calibration": _curve(curves.get("calibration"), "predicted", "observed"),
    }


def card_churn_rate(card: Mapping[str, Any] | None) -> float | None:
    metrics = _section(card, "metrics") or {}
    value = metrics.get("churn_rate") if isinstance(metrics, Mapping) else None
    return float(value) if isinstance(value, int | float) else None


def card_lift(card: Mapping[str, Any] | None) -> pd.DataFrame:
    lift = _section(card, "lift")
    if isinstance(lift, list) and lift and isinstance(lift[0], Mapping):
        return pd.DataFrame(lift)
    return pd.DataFrame(columns=["decile", "lift"])


def card_cohorts(card: Mapping[str, Any] | None) -> pd.DataFrame:
    """Validation metrics per cohort week (scalar columns only)."""
    cohorts = _section(card, "metrics_by_cohort", "cohort_metrics")
    if isinstance(cohorts, Mapping):
        cohorts = [{"cohort": k, **v} for k, v in cohorts.items() if isinstance(v, Mapping)]
    return _scalars(pd.DataFrame(cohorts if isinstance(cohorts, list) else []))


def card_by_day(card: Mapping[str, Any] | None) -> pd.DataFrame:
    """Validation metrics per day of trial the model scored (1..7)."""
    by_day = _section(card, "metrics_by_day")
    if not isinstance(by_day, Mapping):
        return pd.DataFrame()
    return _scalars(pd.DataFrame([{"day": int(k), **v} for k, v in by_day.items() if isinstance(v, Mapping)]))


def _scalars(df: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in df.columns if not df[c].map(lambda v: isinstance(v, list | dict)).any()]
    return df[keep]


def card_threshold_table(card: Mapping[str, Any] | None) -> pd.DataFrame:
    """Validation precision, recall, F1, F2 and flagged share at each cut-off."""
    table = _section(card, "threshold_table")
    if isinstance(table, list) and table and isinstance(table[0], Mapping):
        return pd.DataFrame(table)
    if isinstance(table, Mapping) and "threshold" in table:
        return pd.DataFrame(table)
    return pd.DataFrame(columns=["threshold"])


def metrics_at(table: pd.DataFrame, threshold: float) -> dict[str, float]:
    """The validation metrics of the threshold-table row nearest to `threshold`."""
    if table.empty or "threshold" not in table:
        return {}
    row = table.iloc[int((table["threshold"] - threshold).abs().to_numpy().argmin())]
    return {k: float(v) for k, v in row.items() if isinstance(v, int | float | np.floating | np.integer)}
