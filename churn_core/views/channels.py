"""Channels and content: outcomes per channel against the control, the scoring job's uplift, content lift."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from churn_core.intervals import add_rate, difference_interval
from churn_core.warehouse import Warehouse

CONTROL_ARM = "no contact (control)"


def channel_outcomes(warehouse: Warehouse) -> pd.DataFrame:
    """Retention, activation and response rates per channel against the control, with Wilson intervals
    and the retention difference to the control (Newcombe interval)."""
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
    add_rate(df, "retention", "retained", "resolved")
    k2, n2 = (float(control.iloc[0]["retained"]), float(control.iloc[0]["resolved"])) if len(control) else (0, 0)
    df["control_retention"] = k2 / n2 if n2 else np.nan
    df["lift"] = df["retention"] - df["control_retention"]
    df["lift_low"], df["lift_high"] = difference_interval(df["retained"], df["resolved"], k2, n2)
    df["enough_data"] = df["resolved"] >= min_resolved
    df["control_resolved"] = int(n2)
    key = "lift_low" if conservative else "lift"
    return df.sort_values(["enough_data", key], ascending=[False, False]).reset_index(drop=True)
