"""Content effects: what each content item adds to retention, adjusted the way the channel uplift is.

Who is sent what is not random (phone goes to big accounts, in-app messages to people who log in) and who opens
an item is even less so, so the retention of an item's recipients minus the control group's is a comparison,
not an effect. The adjusted lift uses the channel uplift's own control outcome model mu_0 (same covariates:
week-1 behaviour, segment, value; churn_core.scoring.channels) as a regression adjustment: the mean residual
Y - mu_0(x) of the evaluators an item was sent to (intention to treat, as the channel uplift counts touches)
minus the control group's, i.e. the raw difference less what mu_0 expects from who was sent the item. Its 95%
interval is normal, from both groups' residual variances. Written with each score set (table content_effects).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from churn_core.intervals import Z95, difference_interval
from churn_core.scoring import columns
from churn_core.scoring.channels import UpliftModel
from churn_core.warehouse import Warehouse

CONTENT_EFFECT_COLUMNS: tuple[str, ...] = (
    "as_of_date",
    "content_id",
    "n_sent",
    "retained_sent",
    "n_control",
    "retained_control",
    "raw_lift",
    "raw_low",
    "raw_high",
    "lift",
    "ci_low",
    "ci_high",
    "estimated",
)


def content_history(warehouse: Warehouse) -> pd.DataFrame:
    """(instance, content_id): the items each resolved evaluator outside the control group was sent."""
    if not warehouse.table_exists("engagements"):
        return pd.DataFrame({"instance": pd.Series([], dtype="int64"), "content_id": pd.Series([], dtype="str")})
    return warehouse.run("content_history")


def estimate_content_effects(history: pd.DataFrame, sent: pd.DataFrame, model: UpliftModel) -> pd.DataFrame:
    """Per content item sent to resolved evaluators: the raw retention difference to the control group (Newcombe
    interval) and the lift adjusted by the control outcome model (NaN, estimated 0, without one)."""
    if history.empty or sent.empty:
        return _typed(pd.DataFrame({c: [] for c in CONTENT_EFFECT_COLUMNS[1:]}))
    y = history["retained"].to_numpy(np.float64)
    control = history["control_group"].to_numpy() == 1
    if model.control is not None:
        residual = y - model.control.inplace_predict(model.design(history)).astype(np.float64)
    else:
        residual = np.full(len(y), np.nan)
    row = pd.Series(np.arange(len(history)), index=history["instance"].to_numpy())
    sent = sent[sent["instance"].isin(row.index)]
    at = row.loc[sent["instance"].to_numpy()].to_numpy()
    items = (
        pd.DataFrame({"content_id": sent["content_id"].to_numpy(), "y": y[at], "r": residual[at]})
        .groupby("content_id", sort=True)
        .agg(n_sent=("y", "size"), retained_sent=("y", "sum"), mean_r=("r", "mean"), var_r=("r", "var"))
    )
    n_c, k_c = int(control.sum()), float(y[control].sum())
    out = pd.DataFrame({"content_id": items.index.astype(str)})
    out["n_sent"], out["retained_sent"] = items["n_sent"].to_numpy(), items["retained_sent"].to_numpy()
    out["n_control"], out["retained_control"] = n_c, k_c
    with np.errstate(divide="ignore", invalid="ignore"):
        out["raw_lift"] = out["retained_sent"] / out["n_sent"] - (k_c / n_c if n_c else np.nan)
        out["raw_low"], out["raw_high"] = difference_interval(out["retained_sent"], out["n_sent"], k_c, n_c)
        lift = items["mean_r"].to_numpy() - (residual[control].mean() if n_c else np.nan)
        spread = items["var_r"].to_numpy() / items["n_sent"].to_numpy() + _variance(residual[control]) / max(n_c, 1)
    half = Z95 * np.sqrt(spread)
    out["lift"], out["ci_low"], out["ci_high"] = lift, lift - half, lift + half
    out["estimated"] = int(model.control is not None)
    return _typed(out)


def _variance(values: np.ndarray) -> float:
    return float(np.var(values, ddof=1)) if len(values) > 1 else np.nan


def _typed(effects: pd.DataFrame) -> pd.DataFrame:
    """The table's column types, also when it has no rows (the first write creates the table)."""
    counts = ("n_sent", "retained_sent", "n_control", "retained_control", "estimated")
    shares = ("raw_lift", "raw_low", "raw_high", "lift", "ci_low", "ci_high")
    return effects.astype({"content_id": "str", **dict.fromkeys(counts, np.int32), **dict.fromkeys(shares, np.float64)})


def content_effect_rows(
    warehouse: Warehouse, as_of: dt.date, history: pd.DataFrame, model: UpliftModel
) -> pd.DataFrame:
    """The content_effects rows of a score set."""
    effects = estimate_content_effects(history, content_history(warehouse), model)
    effects.insert(0, "as_of_date", columns.same_date(as_of, len(effects)))
    return effects
