"""The feature study stored with each model for the dashboard: correlations, PCA and a data-quality profile.

This is a look at the data, not part of the model: PCA runs on standardised, median-filled features
(the model itself is never scaled or imputed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from churn_core.model.features import FeaturePipeline

STUDY_MAX_ROWS = 50_000  # a deterministic sample is plenty for correlations and PCA


def quality_profile(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Per input column: type, missing rate, non-zero rate, distinct values, min / median / max."""
    rows = []
    for col in frame.columns:
        series = frame[col]
        numeric = pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
        row: dict[str, Any] = {
            "column": str(col),
            "dtype": str(series.dtype),
            "rows": int(len(series)),
            "missing_rate": float(series.isna().mean()) if len(series) else None,
            "distinct": int(series.nunique(dropna=True)),
        }
        if numeric:
            values = pd.to_numeric(series, errors="coerce").astype("float64")
            present = values.dropna()
            row.update(
                nonzero_rate=float((present != 0).sum() / max(len(values), 1)),
                min=_num(present.min()),
                median=_num(present.median()),
                max=_num(present.max()),
            )
        else:
            top = series.astype("string").value_counts(dropna=True)
            row.update(
                nonzero_rate=None,
                min=None,
                median=None,
                max=None,
                top=str(top.index[0]) if len(top) else None,
            )
        rows.append(row)
    return rows


def feature_study(frame: pd.DataFrame, pipeline: FeaturePipeline) -> dict[str, Any]:
    """Correlation matrix and PCA of the model's numeric features, plus the quality of every input column."""
    sample = frame
    if len(frame) > STUDY_MAX_ROWS:
        sample = frame.sample(STUDY_MAX_ROWS, random_state=0)
    x = pipeline.transform(sample)
    numeric = [f for f in pipeline.features_ if f not in pipeline.categories_]
    values = x[numeric].astype("float64")
    corr = values.corr(method="pearson").round(4)
    study: dict[str, Any] = {
        "rows": int(len(sample)),
        "correlation": {
            "columns": numeric,
            "index": numeric,
            "values": [[_num(v) for v in row] for row in corr.to_numpy()],
        },
        "dropped": dict(pipeline.dropped_),
        "quality": quality_profile(sample),
    }
    usable = [c for c in numeric if values[c].notna().any() and values[c].nunique() > 1]
    if len(usable) >= 2:
        filled = values[usable].fillna(values[usable].median())
        pca = PCA().fit(StandardScaler().fit_transform(filled))
        ratio = pca.explained_variance_ratio_
        study["pca"] = {
            "features": usable,
            "explained_variance_ratio": [float(v) for v in ratio],
            "cumulative": [float(v) for v in np.cumsum(ratio)],
            "components_for_90pct": int(np.searchsorted(np.cumsum(ratio), 0.9) + 1),
            "note": "on standardised, median-filled features: a study of the data, not the model",
        }
    else:
        study["pca"] = {"features": usable, "explained_variance_ratio": [], "cumulative": []}
    return study


def _num(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None
