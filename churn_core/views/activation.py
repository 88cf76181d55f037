"""Activation: the week-1 headline, cumulative activation curves and weekly trends by cohort or segment, and
early actions' lift.

A cohort week (trials that started Monday to Sunday) is complete once its last trial has reached day 7, 14 days
after its Monday. Until then it is partial: its rate so far counts its early starters only (Monday starters are
not like Sunday ones), so it is drawn as partial and never compared with complete weeks. The headline -- the
home page's tile and the Activation page's -- is the last complete week against the complete week before.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from churn_core.intervals import add_rate, difference_interval
from churn_core.schema import channel_label
from churn_core.views._common import natural_key
from churn_core.warehouse import Warehouse

SEGMENT_DIMENSIONS: dict[str, str] = {
    "product": "product",
    "edition": "edition",
    "region": "region",
    "company_size_band": "company size",
    "acquisition_source": "acquisition source",
    "channel": "first channel that reached them",
}
COHORT_DAYS = 14  # a cohort week is complete 14 days after its Monday: its Sunday starters have reached day 7
SEGMENT_MIN_TRIALS = 30  # a segment's week with fewer trials is too noisy to draw or compare


@dataclass(frozen=True)
class ActivationHeadline:
    """Week-1 activation of the last complete cohort week and of the complete week before (None when unknown)."""

    week: dt.date | None = None
    rate: float | None = None
    evaluators: int = 0
    activated: int = 0
    previous_week: dt.date | None = None
    previous_rate: float | None = None

    @property
    def change(self) -> float | None:
        """The change on the week before, in rate (0.01 = one percentage point)."""
        return None if self.rate is None or self.previous_rate is None else self.rate - self.previous_rate


def _progress(df: pd.DataFrame) -> pd.DataFrame:
    """Add days_so_far (of the cohort's 14) and complete (all 14 passed) from cohort_week and the data's last_day."""
    df["cohort_week"] = pd.to_datetime(df["cohort_week"]).dt.date
    days = (pd.to_datetime(df["last_day"]) - pd.to_datetime(df["cohort_week"])).dt.days + 1
    df["days_so_far"] = days.clip(upper=COHORT_DAYS).astype(int)
    df["complete"] = days >= COHORT_DAYS
    return df


def activation_curves(warehouse: Warehouse) -> pd.DataFrame:
    """Cumulative share activated by day 0..7, per cohort week, with days_so_far and complete."""
    df = _progress(warehouse.run("activation_curves"))
    df["rate"] = df["activated"] / df["evaluators"].where(df["evaluators"] > 0)
    return df


def activation_trend(warehouse: Warehouse) -> pd.DataFrame:
    """Week-1 activation rate per cohort week (trials that reached day 7), its Wilson interval, days_so_far,
    complete, and the change on the complete week before (complete weeks only)."""
    df = _progress(warehouse.run("activation_trend"))
    add_rate(df, "rate", "activated", "evaluators")
    complete = df["rate"].where(df["complete"])
    df["change"] = complete - complete.dropna().shift().reindex(df.index)
    return df


def activation_headline(trend: pd.DataFrame) -> ActivationHeadline:
    """The one headline of week-1 activation: the last complete cohort week against the complete week before."""
    complete = trend[trend["complete"]] if len(trend) else trend
    if complete.empty:
        return ActivationHeadline()
    last = complete.iloc[-1]
    before = complete.iloc[-2] if len(complete) > 1 else None
    return ActivationHeadline(
        week=last["cohort_week"],
        rate=float(last["rate"]),
        evaluators=int(last["evaluators"]),
        activated=int(last["activated"]),
        previous_week=None if before is None else before["cohort_week"],
        previous_rate=None if before is None else float(before["rate"]),
    )


def activation_by_segment(warehouse: Warehouse, dimension: str, since: dt.date) -> pd.DataFrame:
    """Activated trials per segment value (or first channel), cohort week and day 0..7, for trials started on or
    after `since`, with days_so_far and complete; segments in their natural order (1-10 before 11-50)."""
    dimension = dimension if dimension in SEGMENT_DIMENSIONS else "product"
    df = _progress(warehouse.run("activation_curves_by_segment", {"dimension": dimension, "since": since}))
    df["segment"] = df["segment"].astype(str)
    if dimension == "channel":
        df["segment"] = df["segment"].map(channel_label)
    order = sorted(df["segment"].unique(), key=natural_key)
    df["segment"] = pd.Categorical(df["segment"], categories=order, ordered=True)
    return df.sort_values(["segment", "cohort_week", "day_index"]).reset_index(drop=True)


def segment_curves(by_segment: pd.DataFrame) -> pd.DataFrame:
    """Cumulative share activated by day 0..7 per segment, over every cohort week (each day counts the trials
    that had reached it)."""
    df = by_segment.groupby(["segment", "day_index"], observed=True, as_index=False)[["evaluators", "activated"]].sum()
    df["rate"] = df["activated"] / df["evaluators"].where(df["evaluators"] > 0)
    return df


def segment_trend(by_segment: pd.DataFrame) -> pd.DataFrame:
    """Week-1 activation per segment and complete cohort week, with its interval, the week before's rate and
    trials, `enough` (at least SEGMENT_MIN_TRIALS trials) and the change (only between two weeks with enough)."""
    df = by_segment[(by_segment["day_index"] == 7) & by_segment["complete"]].copy()
    add_rate(df, "rate", "activated", "evaluators")
    before = df.groupby("segment", observed=True)[["rate", "evaluators"]].shift()
    df["previous_rate"], df["previous_evaluators"] = before["rate"], before["evaluators"]
    df["enough"] = df["evaluators"] >= SEGMENT_MIN_TRIALS
    df["change"] = (df["rate"] - df["previous_rate"]).where(
        df["enough"] & (df["previous_evaluators"] >= SEGMENT_MIN_TRIALS)
    )
    return df.reset_index(drop=True)


def segment_changes(trend: pd.DataFrame) -> pd.DataFrame:
    """Per segment: the last complete week's rate, the week before's, the change and the trials behind it."""
    columns = ["segment", "week", "rate", "previous_rate", "change", "evaluators", "previous_evaluators"]
    if trend.empty:
        return pd.DataFrame(columns=columns)
    last = trend[trend["cohort_week"] == trend["cohort_week"].max()].rename(columns={"cohort_week": "week"})
    return last[columns].reset_index(drop=True)


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
