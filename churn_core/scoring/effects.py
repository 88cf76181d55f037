"""Drivers in probability points: how far each SHAP contribution moves a score's calibrated churn risk.

SHAP values add up in the model's margin (log-odds), a scale marketers do not read. A waterfall in risk
walks from the average evaluator's margin through the contributions in the order shown, calibrating the
running margin at each step; a contribution's points are the change of risk it makes on that walk. The
points of all contributions add up exactly to the score's calibrated risk minus the average evaluator's,
so every page that shows them agrees with the risk it shows. A point's size depends on where the walk
stands (the same push moves a 50% risk more than a 95% one), hence one order everywhere: the strongest
contribution first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Calibrate = Callable[[np.ndarray], np.ndarray]  # margin (log-odds) -> calibrated churn probability


@dataclass(frozen=True)
class RiskSteps:
    """The walk from the average evaluator's risk to this one's, strongest contribution first."""

    order: np.ndarray  # indices into the contributions, strongest (largest |SHAP|) first
    points: np.ndarray  # risk change (probability, 0..1) of each contribution, aligned with `order`


def risk_steps(base: float, shap: np.ndarray, calibrate: Calibrate) -> RiskSteps:
    """The waterfall of one score: `base` the margin of the average evaluator, `shap` its contributions."""
    shap = np.asarray(shap, np.float64)
    order = np.lexsort((np.arange(len(shap)), -np.abs(shap)))  # strongest first, ties in feature order
    margins = base + np.concatenate([[0.0], np.cumsum(shap[order])])
    risks = np.asarray(calibrate(margins), np.float64)
    return RiskSteps(order, np.diff(risks))
