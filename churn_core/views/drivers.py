"""What drives churn overall: global SHAP importance, a SHAP sample, stayers against churners per feature."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from churn_core.model.features import FeaturePipeline
from churn_core.schema import EVALUATOR_SCORES, FEATURE_SNAPSHOTS, FEATURES, feature_text
from churn_core.views._common import feature_label, render_sql
from churn_core.views.scores import score_columns
from churn_core.warehouse import Warehouse

HASH_MODULUS = 1_000_003  # shap_sample.sql's deterministic hash of the instance id
SNAPSHOT_COLUMNS = frozenset(FEATURE_SNAPSHOTS.names) - {"instance"}  # shap_sample.sql's f
SCORE_COLUMNS = frozenset(EVALUATOR_SCORES.names)  # shap_sample.sql's s


def shap_importance(warehouse: Warehouse, as_of: dt.date) -> pd.DataFrame:
    """Global importance: mean |SHAP| (and mean SHAP) of every feature over a score set, computed in SQL."""
    features, _ = score_columns(warehouse)
    if not features:
        return pd.DataFrame(columns=["feature", "label", "mean_abs_shap", "mean_shap"])
    columns = "".join(f",\n    avg(abs(shap_{f})) AS abs__{f},\n    avg(shap_{f}) AS mean__{f}" for f in features)
    row = warehouse.query(render_sql("shap_importance", columns=columns), {"as_of": as_of}).iloc[0]
    df = pd.DataFrame(
        {
            "feature": features,
            "label": [feature_label(f) for f in features],
            "mean_abs_shap": [float(row[f"abs__{f}"]) for f in features],
            "mean_shap": [float(row[f"mean__{f}"]) for f in features],
        }
    )
    return df.sort_values("mean_abs_shap", ascending=False).reset_index(drop=True)


def shap_sample(
    warehouse: Warehouse, as_of: dt.date, limit: int = 1500, scored: int = 0, pipeline: FeaturePipeline | None = None
) -> pd.DataFrame:
    """A deterministic sample of scored evaluators with `shap_<f>` and `value_<f>` columns per feature.

    `value_<f>` is the value the SHAP value explains: with the model's stored `pipeline`, every feature's
    (derived ones and category codes included) recomputed from the snapshot and the score's facts exactly
    as scoring computed it; without it, the features stored in feature_snapshots only. With the set's size
    `scored`, a hash of the instance keeps about three times `limit` rows before sorting, so a set of a
    million rows is never sorted whole."""
    features, _ = score_columns(warehouse)
    columns = "".join(f",\n    s.shap_{f}" for f in features)
    inputs = _pipeline_inputs(pipeline)
    if inputs is None:
        columns += "".join(f",\n    f.{f} AS value_{f}" for f in features if f in SNAPSHOT_COLUMNS)
    else:
        columns += "".join(f",\n    {table}.{c} AS input_{c}" for c, table in inputs.items())
    cutoff = HASH_MODULUS if scored <= 3 * limit else math.ceil(HASH_MODULUS * 3 * limit / scored)
    sample = warehouse.query(
        render_sql("shap_sample", columns=columns),
        {"as_of": as_of, "limit": int(limit), "cutoff": int(cutoff)},
    )
    if inputs is None or pipeline is None:
        return sample
    raw = sample[[f"input_{c}" for c in inputs]].rename(columns=lambda c: c.removeprefix("input_"))
    x = pipeline.transform(raw)
    values = {f"value_{f}": x[f].to_numpy(np.float64) for f in features if f in x.columns}
    return sample.drop(columns=[f"input_{c}" for c in inputs]).assign(**values)


def _pipeline_inputs(pipeline: FeaturePipeline | None) -> dict[str, str] | None:
    """Each raw column the pipeline reads and the table alias of shap_sample.sql it comes from (f: the
    snapshot, s: the score), or None when one of them is in neither."""
    if pipeline is None:
        return None
    inputs = {}
    for column in pipeline.input_columns_:
        if column in SNAPSHOT_COLUMNS and column != "as_of_day":
            inputs[column] = "f"
        elif column in SCORE_COLUMNS:
            inputs[column] = "s"
        else:
            return None
    return inputs


def feature_categories(pipeline: FeaturePipeline | None) -> dict[str, list[str]]:
    """The labels of each categorical feature's codes (the `value_<f>` of shap_sample), in words."""
    if pipeline is None:
        return {}
    return {f: [c.replace("_", " ") for c in levels] for f, levels in pipeline.categories_.items()}


def feature_by_outcome(warehouse: Warehouse) -> pd.DataFrame:
    """Stayers against churners per feature: mean and median of each group (resolved evaluators)."""
    df = warehouse.run("feature_by_outcome")
    rows = []
    by = {int(r["retained"]): r for _, r in df.iterrows() if pd.notna(r["retained"])}
    stay, churn = by.get(1), by.get(0)
    for name in FEATURES:
        text = feature_text(name)
        rows.append(
            {
                "feature": name,
                "label": text.label,
                "doc": text.doc,
                "retained_mean": _stat(stay, "mean", name),
                "churned_mean": _stat(churn, "mean", name),
                "retained_median": _stat(stay, "median", name),
                "churned_median": _stat(churn, "median", name),
            }
        )
    out = pd.DataFrame(rows)
    out["retained_n"] = int(stay["evaluators"]) if stay is not None else 0
    out["churned_n"] = int(churn["evaluators"]) if churn is not None else 0
    out["ratio"] = out["retained_mean"] / out["churned_mean"].where(out["churned_mean"] > 0)
    return out


def _stat(row: pd.Series | None, stat: str, feature: str) -> float | None:
    value = None if row is None else row[f"{stat}__{feature}"]
    return None if value is None or pd.isna(value) else float(value)
