"""Probability calibration on held-out margins, stored as JSON parameters, so that "70% risk" means 70%.

Two methods: Platt scaling (a logistic curve on the margin: two numbers) and centred isotonic regression
(the isotonic fit's blocks joined at their centres, with logistic tails). Both are strictly increasing in
the margin, so calibration never reorders evaluators and ranking metrics (ROC AUC, lift) are unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from churn_core.model.features import ModelError

METHODS = ("platt", "isotonic", "auto")
ISOTONIC_MIN_ROWS = 1000  # below this (or with few of either class) isotonic overfits: use Platt
ISOTONIC_MIN_CLASS = 50
EPS = 1e-4


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, np.float64), -40, 40)))


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


class Calibrator:
    """Maps a booster's raw margin (log-odds) to a calibrated probability of churn."""

    def __init__(self, method: str = "auto") -> None:
        if method not in METHODS:
            raise ModelError(f"calibration method must be one of {METHODS}, not {method!r}")
        self.method = method
        self.a_ = 1.0  # Platt slope (also the slope of the isotonic tails)
        self.b_ = 0.0
        self.x_: list[float] = []  # isotonic block centres (margins), strictly increasing
        self.y_: list[float] = []  # calibrated probability at each centre, strictly increasing
        self.fitted_method_ = ""

    def fit(self, margin: np.ndarray, y: np.ndarray) -> Calibrator:
        margin, y = np.asarray(margin, np.float64), np.asarray(y, np.float64)
        if len(margin) != len(y) or len(y) == 0:
            raise ModelError("calibration needs one label per margin and at least one row")
        positives = int(y.sum())
        if positives == 0 or positives == len(y):
            raise ModelError("calibration needs both churned and retained rows in the held-out data")
        # Imported here: applying a stored calibrator (the dashboard's profile) needs no scikit-learn (~1 s).
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e6, max_iter=1000).fit(margin.reshape(-1, 1), y)
        self.a_ = max(float(lr.coef_[0, 0]), 1e-3)
        self.b_ = float(lr.intercept_[0])
        method = self.method
        if method == "auto":
            enough = len(y) >= ISOTONIC_MIN_ROWS and min(positives, len(y) - positives) >= ISOTONIC_MIN_CLASS
            method = _better_method(margin, y) if enough else "platt"
        if method == "isotonic":
            self.x_, self.y_ = _centred_isotonic(margin, y)
            if len(self.x_) < 2:
                method = "platt"
        self.fitted_method_ = method
        return self

    def __call__(self, margin: np.ndarray) -> np.ndarray:
        return self.predict(margin)

    def predict(self, margin: np.ndarray) -> np.ndarray:
        m = np.asarray(margin, np.float64)
        if self.fitted_method_ == "isotonic":
            x, y = np.asarray(self.x_), np.asarray(self.y_)
            out = np.interp(m, x, y)
            low, high = m < x[0], m > x[-1]
            out[low] = sigmoid(logit(y[0]) + self.a_ * (m[low] - x[0]))
            out[high] = sigmoid(logit(y[-1]) + self.a_ * (m[high] - x[-1]))
            return out
        if self.fitted_method_ == "platt":
            return sigmoid(self.a_ * m + self.b_)
        if self.fitted_method_ == "identity":
            return sigmoid(m)
        raise ModelError("the calibrator is not fitted")

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.fitted_method_, "a": self.a_, "b": self.b_, "x": self.x_, "y": self.y_}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibrator:
        try:
            cal = cls("auto")
            cal.fitted_method_ = str(data["method"])
            cal.a_, cal.b_ = float(data["a"]), float(data["b"])
            cal.x_, cal.y_ = [float(v) for v in data["x"]], [float(v) for v in data["y"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"the stored calibrator is malformed ({exc!r})") from None
        if cal.fitted_method_ not in ("platt", "isotonic", "identity"):
            raise ModelError(f"unknown calibration method {cal.fitted_method_!r} in the model card")
        if cal.fitted_method_ == "isotonic" and (len(cal.x_) < 2 or len(cal.x_) != len(cal.y_)):
            raise ModelError("the stored isotonic calibrator has no usable points")
        return cal

    @classmethod
    def identity(cls) -> Calibrator:
        cal = cls("auto")
        cal.fitted_method_ = "identity"
        return cal


def _better_method(margin: np.ndarray, y: np.ndarray) -> str:
    """Platt or isotonic, whichever has the lower log-loss when fitted on one half and judged on the other."""
    rng = np.random.default_rng(0)
    half = rng.permutation(len(y)) < len(y) // 2
    loss = {"platt": 0.0, "isotonic": 0.0}
    for fit_rows in (half, ~half):
        test_rows = ~fit_rows
        if y[fit_rows].min() == y[fit_rows].max():
            return "platt"
        for method in loss:
            p = np.clip(Calibrator(method).fit(margin[fit_rows], y[fit_rows])(margin[test_rows]), EPS, 1 - EPS)
            loss[method] -= float(np.mean(y[test_rows] * np.log(p) + (1 - y[test_rows]) * np.log(1 - p)))
    return "isotonic" if loss["isotonic"] < loss["platt"] else "platt"


def _centred_isotonic(margin: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]]:
    """Isotonic regression of y on margin, each constant block reduced to (mean margin, its rate)."""
    from sklearn.isotonic import isotonic_regression  # here, as in Calibrator.fit: only fitting needs it

    values, inverse, counts = np.unique(margin, return_inverse=True, return_counts=True)
    rate = np.bincount(inverse, weights=y) / counts
    fitted = isotonic_regression(rate, sample_weight=counts.astype(np.float64), increasing=True)
    starts = np.r_[0, np.flatnonzero(np.diff(fitted) > 1e-12) + 1]
    weight = np.add.reduceat(counts.astype(np.float64), starts)
    centre = np.add.reduceat(values * counts, starts) / weight
    level = np.clip(fitted[starts], EPS, 1 - EPS)
    keep = np.r_[True, np.diff(level) > 0]  # clipping may merge the extreme blocks
    return centre[keep].tolist(), level[keep].tolist()


def reliability_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    """Mean predicted vs observed churn rate in equal-width probability bins (empty bins left out)."""
    y, p = np.asarray(y, np.float64), np.asarray(p, np.float64)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    count = np.bincount(idx, minlength=bins)
    pred = np.bincount(idx, weights=p, minlength=bins)
    obs = np.bincount(idx, weights=y, minlength=bins)
    ok = count > 0
    return {
        "predicted": (pred[ok] / count[ok]).tolist(),
        "observed": (obs[ok] / count[ok]).tolist(),
        "count": count[ok].astype(int).tolist(),
        "bin_low": (np.arange(bins)[ok] / bins).tolist(),
    }


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Sum over equal-width bins of (share of rows) x |mean predicted - observed rate|."""
    curve = reliability_curve(y, p, bins)
    n = max(len(np.asarray(y)), 1)
    return float(
        sum(c / n * abs(a - b) for c, a, b in zip(curve["count"], curve["predicted"], curve["observed"], strict=True))
    )
