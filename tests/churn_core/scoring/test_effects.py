"""Drivers in probability points: the waterfall's steps add up to the calibrated risk, strongest first."""

from __future__ import annotations

import numpy as np
import pytest

from churn_core.model.calibration import Calibrator, sigmoid
from churn_core.scoring import effects


def test_points_add_up_to_the_calibrated_risk_in_the_order_shown() -> None:
    calibrator = Calibrator.from_dict({"method": "platt", "a": 0.8, "b": -0.3, "x": [], "y": []})
    shap = np.array([0.2, -1.5, 0.9, 0.0, -0.05])
    steps = effects.risk_steps(0.4, shap, calibrator)
    assert steps.order.tolist() == [1, 2, 0, 4, 3]  # by |SHAP|, strongest first
    start, end = calibrator(np.array([0.4, 0.4 + shap.sum()]))
    assert steps.points.sum() == pytest.approx(end - start)
    assert np.sign(steps.points).tolist() == np.sign(shap[steps.order]).tolist()  # the direction is kept
    assert steps.points[-1] == 0.0


def test_the_same_push_moves_a_saturated_risk_less() -> None:
    steps = effects.risk_steps(0.0, np.array([3.0, 3.0 - 1e-9]), sigmoid)
    first, second = steps.points
    assert first == pytest.approx(sigmoid(3.0) - 0.5) and 0 < second < first / 5
