"""A model card (churn_core.model.card.ModelCard) as the health page shows it: metrics, curves and tables."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churn_core.model.card import ModelCard

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
CURVES: dict[str, tuple[str, str]] = {  # curve -> its x and y in the card
    "roc": ("fpr", "tpr"),
    "pr": ("recall", "precision"),
    "gains": ("share_contacted", "share_found"),
    "calibration": ("predicted", "observed"),
}


def card_summary(card: ModelCard) -> dict[str, Any]:
    """Version, profile, when trained, on how many rows, and the decision threshold with its rule."""
    try:
        created = dt.datetime.fromisoformat(card.created_at).replace(tzinfo=None)
    except ValueError:
        created = None
    rows = card.training.rows or card.training_rows
    return {
        "version": card.version,
        "profile": card.profile,
        "trained_at": created,
        "threshold": float(card.threshold),
        "rule": card.thresholds.rule,
        "rows": f"{rows:,} training rows" if rows else "its training data",
    }


def card_metrics(card: ModelCard) -> dict[str, float]:
    """The headline validation metrics that the card holds, by display name."""
    values = {label: card.metrics.get(key) for label, key in CARD_METRICS}
    return {label: float(v) for label, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def card_confusion(card: ModelCard) -> list[list[int]]:
    """Confusion matrix, rows actual [retained, churned], columns predicted [retained, churned]."""
    return card.confusion_matrix


def card_report(card: ModelCard) -> pd.DataFrame:
    """The classification report, one row per class (and average)."""
    report = card.classification_report
    return pd.DataFrame([{"class": k, **v} for k, v in report.items() if isinstance(v, dict)])


def card_curves(card: ModelCard) -> dict[str, pd.DataFrame]:
    """ROC, precision-recall, cumulative gains and calibration points as x/y frames."""
    out = {}
    for name, (x, y) in CURVES.items():
        points = card.curves.get(name) or {}
        out[name] = pd.DataFrame({"x": points.get(x, []), "y": points.get(y, [])})
    return out


def card_churn_rate(card: ModelCard) -> float | None:
    value = card.metrics.get("churn_rate")
    return float(value) if isinstance(value, int | float) else None


def card_lift(card: ModelCard) -> pd.DataFrame:
    return pd.DataFrame(card.lift) if card.lift else pd.DataFrame(columns=["decile", "lift"])


def card_cohorts(card: ModelCard) -> pd.DataFrame:
    """Validation metrics per cohort week (scalar columns only)."""
    return _scalars(pd.DataFrame(card.metrics_by_cohort or []))


def card_by_day(card: ModelCard) -> pd.DataFrame:
    """Validation metrics per day of trial the model scored (1..7)."""
    return _scalars(pd.DataFrame([{"day": int(k), **v} for k, v in card.metrics_by_day.items()]))


def _scalars(df: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in df.columns if not df[c].map(lambda v: isinstance(v, list | dict)).any()]
    return df[keep]


def card_threshold_table(card: ModelCard | None) -> pd.DataFrame:
    """Validation precision, recall, F1, F2 and flagged share at each cut-off."""
    if card is None or not card.threshold_table:
        return pd.DataFrame(columns=["threshold"])
    return pd.DataFrame(card.threshold_table)


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


def feature_study(card: ModelCard | None) -> FeatureStudy | None:
    """The card's feature study (correlation matrix, PCA explained variance, dropped features)."""
    if card is None:
        return None
    study = card.feature_study
    corr = study.get("correlation") or {}
    columns = corr.get("columns") or []
    matrix = pd.DataFrame(corr.get("values") or [], index=corr.get("index", columns), columns=columns)
    explained = (study.get("pca") or {}).get("explained_variance_ratio") or []
    return FeatureStudy(matrix, [float(v) for v in explained], dict(card.dropped_features))
