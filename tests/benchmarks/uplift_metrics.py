"""How well estimated channel uplift ranks evaluators, against the demo generator's true effects.

Evaluation only (tests and benchmarks): production never knows the true effects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn_core.schema import CHANNELS
from churn_core.scoring.targeting import channel_costs
from churn_core.settings import Settings


def uplift_quality(scores: pd.DataFrame, truth: pd.DataFrame, settings: Settings, top: float = 0.2) -> dict[str, float]:
    """How well the estimated uplift ranks evaluators, against the demo generator's true effects.

    `scores` needs instance, expected_annual_value, recommended_channel and uplift_<channel>; `truth` the
    demo_truth table. Per channel: the Qini coefficient (area between the cumulative true uplift of the
    model's ranking and random targeting, over the same area for the perfect ranking) and uplift@top
    (mean true effect of the top share ranked by the model over the mean of everyone). Overall: the
    share of evaluators whose recommended channel is truly best net of cost (true effect x value - cost),
    next to the share a single best-on-average channel would get right.
    """
    merged = scores.merge(truth, on="instance", how="inner")
    out: dict[str, float] = {"evaluators": float(len(merged))}
    qinis = []
    for c in CHANNELS:
        pred = merged[f"uplift_{c}"].to_numpy(np.float64)
        true = merged[f"effect_{c}"].to_numpy(np.float64)
        q = qini_coefficient(pred, true)
        out[f"qini_{c}"] = q
        qinis.append(q)
        k = max(1, int(round(top * len(pred))))
        best = np.argsort(-pred, kind="stable")[:k]
        out[f"uplift_at_{int(top * 100)}_{c}"] = float(true[best].mean() / true.mean()) if true.mean() else np.nan
    out["qini_mean"] = float(np.nanmean(qinis))
    value = merged["expected_annual_value"].to_numpy(np.float64)[:, None]
    net = merged[[f"effect_{c}" for c in CHANNELS]].to_numpy(np.float64) * value - channel_costs(settings)[None, :]
    truly_best = np.asarray(CHANNELS, dtype=object)[net.argmax(axis=1)]
    recommended = merged["recommended_channel"].astype(object).to_numpy()
    out["share_truly_best"] = float(np.mean(recommended == truly_best))
    out["share_best_single_channel"] = float(pd.Series(truly_best).value_counts(normalize=True).iloc[0])
    return out


def qini_coefficient(predicted: np.ndarray, true_effect: np.ndarray) -> float:
    """Normalised Qini coefficient of ranking by `predicted` when each row's true effect is known:
    1 = the perfect ranking, 0 = random, negative = worse than random."""
    n = len(predicted)
    if n < 2 or np.ptp(true_effect) < 1e-12:  # the same effect for everyone: no ranking to judge
        return float("nan")
    total = true_effect.sum()
    random = total * np.arange(1, n + 1) / n
    model = np.cumsum(true_effect[np.argsort(-predicted, kind="stable")])
    perfect = np.cumsum(np.sort(true_effect)[::-1])
    denom = (perfect - random).sum()
    return float((model - random).sum() / denom) if denom > 0 else float("nan")
