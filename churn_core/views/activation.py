"""Activation: the week-1 KPI, cumulative activation curves by cohort or segment, and early actions' lift."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from churn_core.intervals import add_rate, difference_interval
from churn_core.warehouse import Warehouse

SEGMENT_DIMENSIONS: dict[str, str] = {
    "product": "product",
    "edition": "edition",
    "region": "region",
    "company_size_band": "company size",
    "acquisition_source": "acquisition source",
    "channel": "first channel that reached them",
}


@dataclass(frozen=True)
class Week1Activation:
    """Week-1 activation of the trials that finished week 1 in the 7 days to the score date and the 7 days
    before: the rate (None without trials) and the number of trials."""

    this_week: float | None = None
    last_week: float | None = None
    this_week_n: int = 0
    last_week_n: int = 0


def week1_activation(warehouse: Warehouse, as_of: dt.date) -> Week1Activation:
    """Week-1 activation of the trials that finished week 1 this week and last week (rate and count)."""
    if not warehouse.table_exists("activation_daily"):
        return Week1Activation()
    weeks: dict[str, float | int | None] = {}
    for _, row in warehouse.run("week1_activation_kpi", {"as_of": as_of}).iterrows():
        n = int(row["evaluators"])
        weeks[f"{row['week']}_n"] = n
        weeks[str(row["week"])] = float(row["activated"]) / n if n else None
    return Week1Activation(**weeks)


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
    add_rate(df, "rate", "activated", "evaluators")
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
