"""Honest evaluation of churn probabilities on held-out rows, as plain dicts for the model card.

Positive class = churned (1). Every figure the card shows is computed here: thresholded metrics,
ROC AUC and PR AUC with bootstrap confidence intervals, lift and cumulative gains by decile,
calibration (reliability curve, Brier, ECE), downsampled ROC/PR curves, a threshold table for the
dashboard's threshold explorer, and all of it per day of trial and per cohort week.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import classification_report, confusion_matrix, precision_recall_curve, roc_curve

from churn_core.model.calibration import expected_calibration_error, reliability_curve

CLASS_NAMES = ["retained", "churned"]
THRESHOLD_GRID = np.round(np.arange(1, 100) / 100, 2)
CURVE_POINTS = 100


# --- ranking metrics that take bootstrap weights -----------------------------------------------------


class Ranked:
    """Rows grouped by distinct score, so AUCs for any row weights are O(rows) numpy operations."""

    def __init__(self, y: np.ndarray, p: np.ndarray) -> None:
        self.y = np.asarray(y, np.int64)
        _, self.group = np.unique(np.asarray(p, np.float64), return_inverse=True)  # ascending scores
        self.n_groups = int(self.group.max()) + 1 if len(self.group) else 0

    def _by_group(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.bincount(self.group, weights=w * self.y, minlength=self.n_groups)
        neg = np.bincount(self.group, weights=w * (1 - self.y), minlength=self.n_groups)
        return pos, neg

    def roc_auc(self, w: np.ndarray | None = None) -> float:
        return self._roc_auc(*self._by_group(np.ones(len(self.y)) if w is None else w))

    def pr_auc(self, w: np.ndarray | None = None) -> float:
        """Average precision (sklearn's definition), scores taken from the highest down."""
        return self._pr_auc(*self._by_group(np.ones(len(self.y)) if w is None else w))

    def both(self, w: np.ndarray) -> tuple[float, float]:
        """(ROC AUC, PR AUC) for row weights `w`, grouping the rows once."""
        pos, neg = self._by_group(w)
        return self._roc_auc(pos, neg), self._pr_auc(pos, neg)

    @staticmethod
    def _roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
        total_pos, total_neg = pos.sum(), neg.sum()
        if total_pos == 0 or total_neg == 0:
            return float("nan")
        below = np.cumsum(neg) - neg
        return float(np.sum(pos * (below + 0.5 * neg)) / (total_pos * total_neg))

    @staticmethod
    def _pr_auc(pos: np.ndarray, neg: np.ndarray) -> float:
        pos, neg = pos[::-1], neg[::-1]
        total_pos = pos.sum()
        if total_pos == 0:
            return float("nan")
        tp, flagged = np.cumsum(pos), np.cumsum(pos + neg)
        precision = np.divide(tp, flagged, out=np.zeros_like(tp), where=flagged > 0)
        return float(np.sum(pos / total_pos * precision))


def bootstrap_ci(
    y: np.ndarray, p: np.ndarray, n_boot: int = 200, seed: int = 0, level: float = 0.95
) -> dict[str, list[float]]:
    """Percentile bootstrap intervals of ROC AUC and PR AUC (rows resampled with replacement)."""
    if n_boot <= 0 or len(y) == 0:
        return {}
    ranked = Ranked(y, p)
    rng = np.random.default_rng(seed)
    n = len(y)
    stats = np.empty((n_boot, 2))
    for i in range(n_boot):
        w = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        stats[i] = ranked.both(w)
    alpha = (1 - level) / 2
    out = {}
    for j, key in enumerate(("roc_auc", "pr_auc")):
        col = stats[:, j][~np.isnan(stats[:, j])]
        out[key] = [float(np.quantile(col, alpha)), float(np.quantile(col, 1 - alpha))] if len(col) else []
    return out


# --- thresholded metrics -----------------------------------------------------------------------------


def _fbeta(precision: np.ndarray, recall: np.ndarray, beta: float) -> np.ndarray:
    b2 = beta * beta
    den = b2 * precision + recall
    return np.divide((1 + b2) * precision * recall, den, out=np.zeros_like(den, dtype=np.float64), where=den > 0)


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """Thresholded and threshold-free metrics of churn probabilities `p` against labels `y` (1 = churned)."""
    y, p = np.asarray(y, np.int64), np.asarray(p, np.float64)
    flag = p >= threshold
    tp, fp = int(np.sum(flag & (y == 1))), int(np.sum(flag & (y == 0)))
    fn, tn = int(np.sum(~flag & (y == 1))), int(np.sum(~flag & (y == 0)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    ranked = Ranked(y, p)
    return {
        "roc_auc": ranked.roc_auc(),
        "pr_auc": ranked.pr_auc(),
        "precision": precision,
        "recall": recall,
        "f1": float(_fbeta(np.array([precision]), np.array([recall]), 1.0)[0]),
        "f2": float(_fbeta(np.array([precision]), np.array([recall]), 2.0)[0]),
        "accuracy": (tp + tn) / max(len(y), 1),
        "brier": float(np.mean((p - y) ** 2)) if len(y) else float("nan"),
        "ece": expected_calibration_error(y, p),
        "churn_rate": float(y.mean()) if len(y) else float("nan"),
        "mean_predicted": float(p.mean()) if len(y) else float("nan"),
        "flagged_share": float(flag.mean()) if len(y) else float("nan"),
        "threshold": float(threshold),
        "rows": int(len(y)),
        "churned": int(y.sum()),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


def threshold_table(y: np.ndarray, p: np.ndarray, grid: np.ndarray = THRESHOLD_GRID) -> list[dict[str, float]]:
    """For each cut-off on the grid: precision, recall, F1, F2 and the share of evaluators flagged."""
    y, p = np.asarray(y, np.int64), np.asarray(p, np.float64)
    order = np.sort(p)
    pos_sorted = np.sort(p[y == 1])
    n, total_pos = len(p), int(y.sum())
    flagged = n - np.searchsorted(order, grid, side="left")
    tp = total_pos - np.searchsorted(pos_sorted, grid, side="left")
    precision = np.divide(tp, flagged, out=np.zeros(len(grid)), where=flagged > 0)
    recall = tp / total_pos if total_pos else np.zeros(len(grid))
    f1, f2 = _fbeta(precision, recall, 1.0), _fbeta(precision, recall, 2.0)
    return [
        {
            "threshold": float(t),
            "precision": float(a),
            "recall": float(b),
            "f1": float(c),
            "f2": float(d),
            "flagged_share": float(s / n) if n else 0.0,
            "flagged": int(s),
        }
        for t, a, b, c, d, s in zip(grid, precision, recall, f1, f2, flagged, strict=True)
    ]


def f2_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The cut-off that maximises F2 (recall weighted four times precision: missing a churner costs more)."""
    y, p = np.asarray(y, np.int64), np.asarray(p, np.float64)
    if len(y) == 0 or y.sum() == 0:
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y, p)
    f2 = _fbeta(precision[:-1], recall[:-1], 2.0)
    return float(thresholds[int(np.argmax(f2))])


def capacity_threshold(probabilities: np.ndarray, capacity: int) -> float:
    """The lowest cut-off that flags at most `capacity` of `probabilities` (ties never overfill it)."""
    p = np.sort(np.asarray(probabilities, np.float64))[::-1]
    if len(p) == 0:
        return 1.0
    if capacity >= len(p):
        return float(p[-1])
    if capacity <= 0:
        return float(np.nextafter(p[0], np.inf))
    cut = p[capacity - 1]
    if p[capacity] == cut:  # a tie straddles the capacity: step up to the next distinct value
        above = p[:capacity][p[:capacity] > cut]
        return float(above[-1]) if len(above) else float(np.nextafter(cut, np.inf))
    return float(cut)


# --- curves and tables -------------------------------------------------------------------------------


def _downsample(n: int, points: int = CURVE_POINTS) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, points + 1)).round().astype(int))


def curves(y: np.ndarray, p: np.ndarray) -> dict[str, dict[str, list[float]]]:
    """ROC, precision-recall, cumulative gains and reliability curves, about 100 points each."""
    fpr, tpr, roc_t = roc_curve(y, p)
    precision, recall, pr_t = precision_recall_curve(y, p)
    i, j = _downsample(len(fpr)), _downsample(len(precision))
    order = np.argsort(-np.asarray(p), kind="stable")
    found = np.cumsum(np.asarray(y)[order]) / max(int(np.sum(y)), 1)
    k = _downsample(len(order))
    return {
        "roc": {
            "fpr": fpr[i].tolist(),
            "tpr": tpr[i].tolist(),
            "threshold": np.minimum(roc_t[i], 1.0).tolist(),
        },
        "pr": {
            "recall": recall[j].tolist(),
            "precision": precision[j].tolist(),
            "threshold": np.r_[pr_t, 1.0][j].tolist(),
        },
        "gains": {
            "share_contacted": np.r_[0.0, (k + 1) / len(order)].tolist(),
            "share_found": np.r_[0.0, found[k]].tolist(),
        },
        "calibration": reliability_curve(y, p),
    }


def lift_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Deciles from the riskiest down: churn rate, lift over the base rate, cumulative gains and lift."""
    y = np.asarray(y, np.float64)
    order = np.argsort(-np.asarray(p), kind="stable")
    parts = np.array_split(order, bins)
    base, total = y.mean() if len(y) else 0.0, max(y.sum(), 1.0)
    rows, found, seen = [], 0.0, 0
    for d, idx in enumerate(parts, start=1):
        churned = float(y[idx].sum())
        found, seen = found + churned, seen + len(idx)
        rate = churned / len(idx) if len(idx) else 0.0
        rows.append(
            {
                "decile": d,
                "rows": int(len(idx)),
                "churned": int(churned),
                "churn_rate": rate,
                "min_probability": float(np.min(np.asarray(p)[idx])) if len(idx) else float("nan"),
                "lift": rate / base if base else float("nan"),
                "cumulative_gain": found / total,
                "cumulative_lift": (found / seen) / base if base and seen else float("nan"),
            }
        )
    return rows


def _finite(value: Any) -> Any:
    """JSON has no NaN: None in its place."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def group_metrics(
    y: np.ndarray, p: np.ndarray, keys: np.ndarray, threshold: float, n_boot: int = 0
) -> dict[str, dict[str, Any]]:
    """binary_metrics (with confusion matrix, lift and CIs) for each distinct key, keyed by str(key)."""
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(pd.unique(keys)):
        mask = keys == key
        m = binary_metrics(y[mask], p[mask], threshold)
        m["confusion_matrix"] = [[m["tn"], m["fp"]], [m["fn"], m["tp"]]]
        m["lift_top_decile"] = lift_table(y[mask], p[mask])[0]["lift"] if mask.sum() >= 10 else None
        if n_boot:
            m["ci"] = bootstrap_ci(y[mask], p[mask], n_boot)
        out[str(key)] = m
    return _finite(out)


def evaluation_report(
    y: np.ndarray,
    p: np.ndarray,
    threshold: float,
    *,
    day: np.ndarray | None = None,
    week: np.ndarray | None = None,
    n_boot: int = 200,
) -> dict[str, Any]:
    """Everything the card shows about held-out probabilities `p` at cut-off `threshold`."""
    y, p = np.asarray(y, np.int64), np.asarray(p, np.float64)
    metrics = binary_metrics(y, p, threshold)
    pred = (p >= threshold).astype(int)
    report = classification_report(y, pred, labels=[0, 1], target_names=CLASS_NAMES, output_dict=True, zero_division=0)
    out: dict[str, Any] = {
        "metrics": metrics,
        "metrics_ci": bootstrap_ci(y, p, n_boot),
        "confusion_matrix": confusion_matrix(y, pred, labels=[0, 1]).tolist(),
        "confusion_labels": {
            "rows": "actual [retained, churned]",
            "columns": "predicted [retained, churned]",
        },
        "classification_report": report,
        "curves": curves(y, p),
        "lift": lift_table(y, p),
        "threshold_table": threshold_table(y, p),
    }
    if day is not None:
        out["metrics_by_day"] = group_metrics(y, p, np.asarray(day), threshold, n_boot)
    if week is not None:
        by_week = group_metrics(y, p, np.asarray(week), threshold, n_boot)
        out["metrics_by_cohort"] = [{"cohort": k, **v} for k, v in by_week.items()]
    return _finite(out)


def summary(
    metrics: Mapping[str, Any],
    keys: tuple[str, ...] = ("roc_auc", "pr_auc", "f1", "f2", "accuracy", "brier", "ece"),
) -> dict[str, Any]:
    return {k: metrics.get(k) for k in keys}
