"""Score sets and the at-risk list: the filters as bound SQL, the list page by page, its summary and export."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from churn_core.schema import CHANNELS, EVALUATOR_SCORES, RISK_TIERS
from churn_core.views._common import SHAP_COLUMN, UPLIFT_COLUMN, as_date, plain_value, render_sql
from churn_core.warehouse import Warehouse
from churn_core.warehouse.base import in_list

SORTS: dict[str, str] = {
    "plan": "today's plan in contact order",
    "risk": "highest risk first",
    "value": "most valuable contact first",
    "change": "biggest rise in risk first",
}
DEFAULT_SORT = "plan"
# Segment flags the list can be narrowed to: column (set to 1) -> label. control_group = the holdout.
FLAGS: dict[str, str] = {"worth_saving": "in today's plan", "might_swing": "might swing", "control_group": "held out"}
NOT_REACHED = "none"  # the channels filter's value for "no touch delivered yet"
NO_CHANNEL = "none"  # the recommended-channel filter's value for "no channel recommended" (held out, not paying)
TABLE_COLUMNS: tuple[str, ...] = (
    "instance",
    "churn_probability",
    "risk_tier",
    "day_of_trial",
    "top_reason",
    "segment",
    "worth_saving",
    "plan_rank",
    "might_swing",
    "control_group",
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


@dataclass(frozen=True)
class Filters:
    """What the at-risk list is narrowed to; empty means "all". Frozen and hashable, so it keys caches."""

    tiers: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()  # keys of FLAGS: in today's plan, might swing, held out (any of them)
    recommended: tuple[str, ...] = ()  # recommended channels; NO_CHANNEL for none
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
            "recommended": self.recommended,
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
    threshold: float | None = None  # the model's cut-off: at or above it an evaluator is flagged


@dataclass(frozen=True)
class FilterOptions:
    products: tuple[str, ...] = ()
    editions: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    cohort_weeks: tuple[dt.date, ...] = ()
    channels: tuple[str, ...] = ()
    recommended: tuple[str, ...] = (*CHANNELS, NO_CHANNEL)
    team_size_max: int = 1
    day_of_trial_max: int = 1
    tiers: tuple[str, ...] = RISK_TIERS


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
    chosen = [c for c in filters.recommended if c != NO_CHANNEL]
    if chosen or NO_CHANNEL in filters.recommended:
        sql, bound = in_list("recommended_channel", "f_rec", chosen) if chosen else ("FALSE", {})
        parts.append(f"{sql} OR recommended_channel IS NULL" if NO_CHANNEL in filters.recommended else sql)
        params.update(bound)
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
                    as_date(r["as_of_date"]),
                    str(r.get("model_version", "")),
                    int(r[rows]) if rows and pd.notna(r[rows]) else 0,
                    plain_value(r.get("created_at")),
                    plain_value(r.get("threshold")),
                )
                for _, r in df.iterrows()
            ]
    df = warehouse.run("score_set_list")
    return [ScoreSet(as_date(r["as_of_date"]), str(r["model_version"]), int(r["scored"])) for _, r in df.iterrows()]


def score_columns(warehouse: Warehouse) -> tuple[list[str], list[str]]:
    """The model features that have SHAP columns and the channels that have uplift columns in the table."""
    columns = list(warehouse.run("score_columns").columns)
    shap = [m.group(1) for c in columns if (m := SHAP_COLUMN.match(c)) and m.group(1) != "base"]
    uplift = [m.group(1) for c in columns if (m := UPLIFT_COLUMN.match(c))]
    return shap, uplift


def export_columns(warehouse: Warehouse) -> list[str]:
    """Columns an analyst may export: the schema's, then the table's SHAP and uplift columns."""
    shap, uplift = score_columns(warehouse)
    return [*EVALUATOR_SCORES.names, *(f"shap_{f}" for f in shap), *(f"uplift_{c}" for c in uplift)]


def filter_options(warehouse: Warehouse, as_of: dt.date) -> FilterOptions:
    """What each filter can be set to in a score set (values present in it, and the ranges)."""
    df = warehouse.run("at_risk_filter_options", {"as_of": as_of})
    values = {
        name: [v for v in group["value"].tolist() if v is not None and v == v] for name, group in df.groupby("field")
    }
    channels = sorted(
        {c.strip() for combo in values.get("channels_reached", []) for c in str(combo).split(",") if c.strip()},
        key=lambda c: (CHANNELS.index(c) if c in CHANNELS else 99, c),
    )

    def top(name: str) -> int:
        found = [int(float(v)) for v in values.get(name, []) if str(v).strip()]
        return max(found) if found else 1

    return FilterOptions(
        products=tuple(sorted(map(str, values.get("product", [])))),
        editions=tuple(sorted(map(str, values.get("edition", [])))),
        regions=tuple(sorted(map(str, values.get("region", [])))),
        cohort_weeks=tuple(sorted((d for v in values.get("cohort_week", []) if (d := as_date(v))), reverse=True)),
        channels=(*channels, NOT_REACHED),
        team_size_max=top("team_size_max"),
        day_of_trial_max=top("day_of_trial_max"),
    )


def at_risk_page(
    warehouse: Warehouse,
    as_of: dt.date,
    filters: Filters,
    sort: str = DEFAULT_SORT,
    page: int = 0,
    page_size: int = 50,
) -> pd.DataFrame:
    """One page of the scored evaluators matching `filters`, sorted; paging happens in the warehouse."""
    offset = max(0, int(page)) * page_size
    return _at_risk_list(warehouse, as_of, filters, sort, TABLE_COLUMNS[1:], offset, page_size)


@dataclass(frozen=True)
class AtRiskSummary:
    """How many evaluators of a score set match the filters, what they are worth, and today's plan for them."""

    evaluators: int = 0
    flagged: int = 0  # predicted to leave: churn probability at or above the model's threshold
    high_risk: int = 0
    value_at_risk: float = 0.0
    worth_saving: int = 0  # in today's plan
    plan_value: float = 0.0  # expected incremental retained value of today's planned contacts
    might_swing: int = 0
    held_out: int = 0  # in the measurement holdout: never contacted


def at_risk_summary(warehouse: Warehouse, as_of: dt.date, filters: Filters = Filters()) -> AtRiskSummary:
    """The counts and values of AtRiskSummary over the matching evaluators."""
    where, params = filter_conditions(filters)
    row = warehouse.query(render_sql("at_risk_summary", filters=where), {**params, "as_of": as_of}).iloc[0]
    number = {k: float(v) if v is not None and v == v else 0.0 for k, v in row.items()}
    return AtRiskSummary(
        **{f.name: number[f.name] if f.type == "float" else int(number[f.name]) for f in fields(AtRiskSummary)}
    )


def plan_by_channel(warehouse: Warehouse, as_of: dt.date, filters: Filters = Filters()) -> dict[str, int]:
    """How many of the matching evaluators are in today's plan for each channel (channels in CHANNELS order)."""
    where, params = filter_conditions(filters)
    df = warehouse.query(render_sql("plan_by_channel", filters=where), {**params, "as_of": as_of})
    counts = dict(zip(df["channel"].astype(str), df["evaluators"].astype(int), strict=True))
    return {c: counts.get(c, 0) for c in CHANNELS}


def at_risk_export(
    warehouse: Warehouse,
    as_of: dt.date,
    filters: Filters,
    sort: str,
    columns: Iterable[str],
    limit: int,
    held_out: bool = False,
) -> pd.DataFrame:
    """The filtered, sorted list without paging, at most `limit` rows, with the chosen columns: the evaluators
    one may contact, or with `held_out` the measurement holdout only (never both in one list)."""
    allowed = set(export_columns(warehouse))
    chosen = [c for c in dict.fromkeys(columns) if c in allowed and c != "instance"]
    return _at_risk_list(warehouse, as_of, filters, sort, chosen, 0, limit, int(held_out))


def _at_risk_list(
    warehouse: Warehouse,
    as_of: dt.date,
    filters: Filters,
    sort: str,
    columns: Iterable[str],
    offset: int,
    limit: int,
    held_out: int | None = None,
) -> pd.DataFrame:
    """Instance and `columns` (table columns, never user text) of the matching evaluators, sorted, from
    `offset` on, at most `limit` rows; with `held_out` 0 or 1, only the evaluators outside or inside the holdout."""
    where, params = filter_conditions(filters)
    if held_out is not None:
        where += "\n    AND (control_group = :held_out)"
        params["held_out"] = held_out
    params.update(as_of=as_of, sort=sort if sort in SORTS else DEFAULT_SORT, offset=int(offset), limit=int(limit))
    sql = render_sql("at_risk_list", columns="".join(f", {c}" for c in columns), filters=where)
    return warehouse.query(sql, params)
