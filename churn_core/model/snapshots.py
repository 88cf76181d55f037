"""The evaluators as training data: every resolved evaluator on each day 1..7 of its trial, from the warehouse.

One row per evaluator and day, with the features known that day, so one model scores an evaluator on any
day of its trial; all of an evaluator's rows form one group (never split apart).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn_core.model.datasets import Dataset, DatasetError, check_labels
from churn_core.model.features import EVALUATOR_CATEGORICAL, EVALUATOR_NUMERIC, EVALUATOR_RATIOS
from churn_core.warehouse import Warehouse

EVALUATORS = "evaluators"  # the dataset name, and the registry's default


def evaluator_dataset(warehouse: Warehouse) -> Dataset:
    """Every resolved evaluator on each day 1..7 of its trial (sql/queries/training_snapshots.sql)."""
    missing = [t for t in ("feature_snapshots", "instances_modeling") if not warehouse.table_exists(t)]
    if missing:
        raise DatasetError(
            f"table(s) {', '.join(missing)} missing: build them with `churn etl` (or `churn demo`) first"
        )
    df = warehouse.run("training_snapshots")
    if df.empty:
        raise DatasetError(
            "no resolved evaluators yet (instances_modeling is empty): wait for outcomes, or "
            "check the --as-of date of `churn etl`"
        )
    truth = None
    if warehouse.table_exists("demo_truth"):
        known = warehouse.query("SELECT instance, true_retention_prob FROM demo_truth")
        p = df["instance"].map(known.set_index("instance")["true_retention_prob"])
        truth = None if p.isna().any() else 1.0 - p.to_numpy(np.float64)
    return evaluator_frame_dataset(df, truth)


def evaluator_frame_dataset(df: pd.DataFrame, truth: np.ndarray | None = None) -> Dataset:
    """A Dataset from rows shaped like training_snapshots (label `churned`, or `retained`)."""
    churned = df["churned"] if "churned" in df.columns else 1 - df["retained"]
    if churned.isna().any():
        raise DatasetError(f"{int(churned.isna().sum())} training snapshot row(s) have no outcome")
    y = churned.to_numpy(dtype=np.int8)
    dates = pd.to_datetime(df["eval_start_date"]).to_numpy(dtype="datetime64[D]")
    frame = df.drop(columns=[c for c in ("retained", "churned") if c in df.columns])
    data = Dataset(
        EVALUATORS,
        frame,
        y,
        df["instance"].to_numpy(),
        dates,
        df["as_of_day"].to_numpy(np.int64),
        list(EVALUATOR_NUMERIC),
        list(EVALUATOR_CATEGORICAL),
        list(EVALUATOR_RATIOS),
        [],
        "codes",
        None if truth is None else np.asarray(truth, np.float64),
        {
            "kind": "warehouse",
            "query": "training_snapshots",
            "rows": len(df),
            "instances": int(df["instance"].nunique()),
        },
    )
    check_labels(y, "training_snapshots")
    return data
