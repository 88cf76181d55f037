"""Reading a model card (the dict the registry keeps with each version) into metrics, curves and tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

CARD_METRICS: tuple[tuple[str, str], ...] = (
    ("ROC AUC", "roc_auc"),
    ("PR AUC", "pr_auc"),
    ("Precision", "precision"),
    ("Recall", "recall"),
    ("F1", "f1"),
    ("F2", "f2"),
    ("Accuracy", "accuracy"),
    ("Brier", "brier"),
)


def _section(card: Mapping[str, Any] | None, *names: str) -> Any:
    for name in names:
        if card and name in card and card[name] is not None:
            return card[name]
    return None


def card_summary(card: Mapping[str, Any] | None) -> dict[str, Any]:
    """Version, profile, when trained, on how many rows, and the decision threshold with its rule."""
    threshold = _section(card, "threshold")
    if isinstance(threshold, Mapping):
        threshold = threshold.get("value")
    rows = _section(card, "training_rows")
    if rows is None and isinstance(_section(card, "training"), Mapping):
        rows = card["training"].get("rows")
    created = _section(card, "created_at", "trained_at")
    try:
        created = dt.datetime.fromisoformat(str(created)).replace(tzinfo=None) if created else None
    except ValueError:
        pass
    thresholds = _section(card, "thresholds")
    rule = thresholds.get("rule") if isinstance(thresholds, Mapping) else None
    return {
        "version": _section(card, "version"),
        "profile": _section(card, "profile"),
        "trained_at": created,
        "threshold": float(threshold) if threshold is not None else None,
        "rule": rule,
        "rows": f"{rows:,} training rows" if isinstance(rows, int) else "its training data",
    }


def card_metrics(card: Mapping[str, Any] | None) -> dict[str, float]:
    """The headline validation metrics that the card holds, by display name."""
    metrics = _section(card, "metrics") or {}
    out = {}
    for label, key in CARD_METRICS:
        value = metrics.get(key) if isinstance(metrics, Mapping) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[label] = float(value)
    return out


def card_confusion(card: Mapping[str, Any] | None) -> list[list[float]]:
    """Confusion matrix, rows actual [retained, churned], columns predicted [retained, churned]."""
    matrix = _section(card, "confusion_matrix")
    if isinstance(matrix, Mapping):
        matrix = matrix.get("matrix") or matrix.get("values")
    return matrix if isinstance(matrix, list) else []


def card_report(card: Mapping[str, Any] | None) -> pd.DataFrame:
    report = _section(card, "classification_report")
    if isinstance(report, Mapping):
        return pd.DataFrame([{"class": k, **v} for k, v in report.items() if isinstance(v, Mapping)])
    if isinstance(report, list):
        return pd.DataFrame(report)
    return pd.DataFrame()


def _curve(points: Any, x: str, y: str) -> pd.DataFrame:
    if isinstance(points, Mapping) and x in points and y in points:
        return pd.DataFrame({"x": points[x], "y": points[y]})
    if isinstance(points, list) and points and isinstance(points[0], Mapping):
        df = pd.DataFrame(points)
        if x in df and y in df:
            return pd.DataFrame({"x": df[x], "y": df[y]})
    return pd.DataFrame(columns=["x", "y"])


def card_curves(card: Mapping[str, Any] | None) -> dict[str, pd.DataFrame]:
    """ROC, precision-recall, cumulative gains and calibration points as x/y frames."""
    curves = _section(card, "curves") or {}
    return {
        "roc": _curve(curves.get("roc"), "fpr", "tpr"),
        "pr": _curve(curves.get("pr"), "recall", "precision"),
        "gains": _curve(curves.get("gains"), "share_contacted", "share_found"),
        "calibration": _curve(curves.get("calibration"), "predicted", "observed"),
    }


def card_churn_rate(card: Mapping[str, Any] | None) -> float | None:
    metrics = _section(card, "metrics") or {}
    value = metrics.get("churn_rate") if isinstance(metrics, Mapping) else None
    return float(value) if isinstance(value, int | float) else None


def card_lift(card: Mapping[str, Any] | None) -> pd.DataFrame:
    lift = _section(card, "lift")
    if isinstance(lift, list) and lift and isinstance(lift[0], Mapping):
        return pd.DataFrame(lift)
    return pd.DataFrame(columns=["decile", "lift"])


def card_cohorts(card: Mapping[str, Any] | None) -> pd.DataFrame:
    """Validation metrics per cohort week (scalar columns only)."""
    cohorts = _section(card, "metrics_by_cohort", "cohort_metrics")
    if isinstance(cohorts, Mapping):
        cohorts = [{"cohort": k, **v} for k, v in cohorts.items() if isinstance(v, Mapping)]
    return _scalars(pd.DataFrame(cohorts if isinstance(cohorts, list) else []))


def card_by_day(card: Mapping[str, Any] | None) -> pd.DataFrame:
    """Validation metrics per day of trial the model scored (1..7)."""
    by_day = _section(card, "metrics_by_day")
    if not isinstance(by_day, Mapping):
        return pd.DataFrame()
    return _scalars(pd.DataFrame([{"day": int(k), **v} for k, v in by_day.items() if isinstance(v, Mapping)]))


def _scalars(df: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in df.columns if not df[c].map(lambda v: isinstance(v, list | dict)).any()]
    return df[keep]


def card_threshold_table(card: Mapping[str, Any] | None) -> pd.DataFrame:
    """Validation precision, recall, F1, F2 and flagged share at each cut-off."""
    table = _section(card, "threshold_table")
    if isinstance(table, list) and table and isinstance(table[0], Mapping):
        return pd.DataFrame(table)
    if isinstance(table, Mapping) and "threshold" in table:
        return pd.DataFrame(table)
    return pd.DataFrame(columns=["threshold"])


def metrics_at(table: pd.DataFrame, threshold: float) -> dict[str, float]:
    """The validation metrics of the threshold-table row nearest to `threshold`."""
    if table.empty or "threshold" not in table:
        return {}
    row = table.iloc[int((table["threshold"] - threshold).abs().to_numpy().argmin())]
    return {k: float(v) for k, v in row.items() if isinstance(v, int | float | np.floating | np.integer)}


@dataclass(frozen=True)
class FeatureStudy:
    correlation: pd.DataFrame
    explained_variance: list[float]
    dropped: dict[str, str]


def feature_study(card: Mapping[str, Any] | None) -> FeatureStudy | None:
    """The card's feature study (correlation matrix, PCA explained variance, dropped features)."""
    if not card:
        return None
    study = card.get("feature_study") or {}
    corr = study.get("correlation") or {}
    if isinstance(corr, dict) and "columns" in corr and "values" in corr:
        matrix = pd.DataFrame(corr["values"], index=corr.get("index", corr["columns"]), columns=corr["columns"])
    elif isinstance(corr, dict):
        matrix = pd.DataFrame(corr)
    else:
        matrix = pd.DataFrame()
    pca = study.get("pca") or {}
    explained = list(pca.get("explained_variance_ratio") or pca.get("explained_variance") or [])
    dropped = card.get("dropped_features") or study.get("dropped") or {}
    if isinstance(dropped, list):
        dropped = {
            str(d.get("feature", d)) if isinstance(d, dict) else str(d): str(d.get("reason", ""))
            if isinstance(d, dict)
            else ""
            for d in dropped
        }
    return FeatureStudy(matrix, [float(v) for v in explained], dict(dropped))
