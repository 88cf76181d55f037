"""Channels and content: what each channel and content item adds to retention (the scoring job's adjusted
estimates against the no-contact control group), and the raw comparisons behind them, which are not effects.

Channels are labelled for people here ("in-app"; churn_core.schema.channel_label); stored values stay codes.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from churn_core.intervals import add_rate, difference_interval
from churn_core.schema import channel_label
from churn_core.warehouse import Warehouse

CONTROL_ARM = "no contact (control)"


def _labelled(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """`df` with `label`: the channel in `column` as people read it (stored values stay as they are)."""
    df["label"] = [channel_label(v) if isinstance(v, str) else "–" for v in df[column]]
    return df


def channel_outcomes(warehouse: Warehouse) -> pd.DataFrame:
    """Raw comparisons: retention, activation and response rates per channel reached and of the control, with
    Wilson intervals and the retention difference to the control (Newcombe interval). Not effects: who gets
    reached is not random."""
    if not warehouse.table_exists("engagements"):
        return pd.DataFrame()
    df = warehouse.run("channel_outcomes")
    responses = warehouse.run("channel_responses").rename(columns={"channel": "arm"})
    df = df.merge(responses, on="arm", how="left")
    add_rate(df, "retention", "retained", "resolved")
    add_rate(df, "activation", "activated", "reached_day7")
    add_rate(df, "response", "responded", "delivered")
    control = df[df["arm"] == CONTROL_ARM]
    if len(control):
        c = control.iloc[0]
        df["retention_lift"] = df["retention"] - (c["retained"] / c["resolved"] if c["resolved"] else np.nan)
        df["retention_lift_low"], df["retention_lift_high"] = difference_interval(
            df["retained"], df["resolved"], c["retained"], c["resolved"]
        )
    df["is_control"] = df["arm"] == CONTROL_ARM
    df = _labelled(df, "arm")
    return df.sort_values(["is_control", "retention"], ascending=[True, False]).reset_index(drop=True)


def channel_uplift(warehouse: Warehouse, as_of: dt.date) -> pd.DataFrame:
    """The scoring job's adjusted uplift of each channel over no contact (channel_effects), with its 95%
    interval, for a score set; empty if none."""
    if not warehouse.table_exists("channel_effects"):
        return pd.DataFrame()
    return _labelled(warehouse.run("channel_uplift_estimates", {"as_of": as_of}), "channel")


def unestimated_channels(effects: pd.DataFrame) -> list[str]:
    """Channels the scoring job had too little history to estimate (uplift NULL), as people read them."""
    if effects.empty or "uplift" not in effects:
        return []
    return [channel_label(c) for c in effects.loc[effects["uplift"].isna(), "channel"].astype(str)]


def content_effects(
    warehouse: Warehouse, as_of: dt.date, min_sent: int = 0, conservative: bool = False
) -> pd.DataFrame:
    """The scoring job's adjusted lift of each content item (content_effects) for a score set, items sent to at
    least `min_sent` evaluators with a known outcome, best first (by the interval's lower end when
    `conservative`); empty before a score set has them."""
    if not warehouse.table_exists("content_effects"):
        return pd.DataFrame()
    df = _labelled(warehouse.run("content_effect_estimates", {"as_of": as_of}), "channel")
    df = df[df["n_sent"] >= min_sent]
    return df.sort_values("ci_low" if conservative else "lift", ascending=False, na_position="last").reset_index(
        drop=True
    )


def content_lift(warehouse: Warehouse) -> pd.DataFrame:
    """Raw comparison: retention of the evaluators who engaged with (opened or answered) each content item against
    the control group, with a Newcombe interval. Not an effect: who opens is who was engaged already."""
    if not (warehouse.table_exists("engagements") and warehouse.table_exists("content")):
        return pd.DataFrame()
    df = warehouse.run("content_retention")
    control = df[df["content_id"].isna()]
    df = df[df["content_id"].notna()].copy()
    add_rate(df, "retention", "retained", "resolved")
    k2, n2 = (float(control.iloc[0]["retained"]), float(control.iloc[0]["resolved"])) if len(control) else (0, 0)
    df["control_retention"] = k2 / n2 if n2 else np.nan
    df["lift"] = df["retention"] - df["control_retention"]
    df["lift_low"], df["lift_high"] = difference_interval(df["retained"], df["resolved"], k2, n2)
    df = _labelled(df, "channel")
    return df.sort_values("lift", ascending=False).reset_index(drop=True)
