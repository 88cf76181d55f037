"""Model and data health: risk histogram and cut-offs, drift, realised performance, freshness, quality, jobs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from churn_core.jobs import history
from churn_core.settings import Settings
from churn_core.views._common import as_date, as_record
from churn_core.warehouse import Warehouse


def flagged_by_threshold(histogram: pd.DataFrame) -> pd.DataFrame:
    """From the 1%-band histogram: how many evaluators (and how much value) a cut-off at each band flags."""
    bands = pd.DataFrame({"band": range(101)})
    df = bands.merge(histogram, on="band", how="left").fillna({"evaluators": 0, "value_at_risk": 0.0})
    df = df.sort_values("band", ascending=False)
    df["flagged"] = df["evaluators"].cumsum().astype(int)
    df["flagged_value_at_risk"] = df["value_at_risk"].cumsum()
    df["threshold"] = df["band"] / 100.0
    return df.sort_values("band").reset_index(drop=True)[["threshold", "flagged", "flagged_value_at_risk"]]


@dataclass(frozen=True)
class Flagged:
    """What one cut-off flags in a score set: how many evaluators, and their value at risk."""

    evaluators: int
    value_at_risk: float


def flagged_at(warehouse: Warehouse, as_of: dt.date, cutoff: float) -> Flagged:
    """Exactly how many evaluators `cutoff` flags (the histogram's 1% bands are for the chart only)."""
    row = warehouse.run("flagged_at_cutoff", {"as_of": as_of, "cutoff": float(cutoff)}).iloc[0]
    return Flagged(int(row["flagged"] or 0), float(row["value_at_risk"] or 0.0))


def risk_histogram(warehouse: Warehouse, as_of: dt.date) -> pd.DataFrame:
    return warehouse.run("risk_histogram", {"as_of": as_of})


def capacity_threshold(flagged: pd.DataFrame, capacity: int) -> float:
    """The lowest cut-off that flags no more evaluators than the team can handle."""
    fits = flagged[flagged["flagged"] <= capacity]
    return float(fits["threshold"].min()) if len(fits) else 1.0


def drift_history(warehouse: Warehouse) -> pd.DataFrame:
    if not warehouse.table_exists("score_drift"):
        return pd.DataFrame(columns=["as_of_date", "feature", "psi", "status"])
    return warehouse.run("feature_drift_history")


def realised_performance(warehouse: Warehouse) -> pd.DataFrame:
    """Past score sets against the outcomes known since: precision, recall, F1, accuracy, AUC, Brier."""
    if not warehouse.table_exists("evaluator_scores"):
        return pd.DataFrame()
    df = warehouse.run("realised_performance")
    tp, fp, fn, tn = (df[c].astype(float) for c in ("tp", "fp", "fn", "tn"))
    df["precision"] = tp / (tp + fp).where(tp + fp > 0)
    df["recall"] = tp / (tp + fn).where(tp + fn > 0)
    df["f1"] = 2 * df["precision"] * df["recall"] / (df["precision"] + df["recall"]).where(lambda s: s > 0)
    df["accuracy"] = (tp + tn) / (tp + fp + fn + tn).where(lambda s: s > 0)
    df["churn_rate"] = df["churned"] / df["resolved"]
    return df


@dataclass(frozen=True)
class DataFreshness:
    """The last day of telemetry, when the raw data was last checked (None where unknown), how many evaluators."""

    last_usage_date: dt.date | None = None
    quality_checked_at: dt.datetime | None = None
    evaluators: int = 0


def freshness(warehouse: Warehouse) -> DataFreshness:
    """How fresh the raw data is (nothing known before it is loaded and checked)."""
    if not {"daily_usage", "data_quality", "evaluators"} <= set(warehouse.tables()):
        return DataFreshness()
    row = as_record(warehouse.run("data_freshness").iloc[0])
    return DataFreshness(as_date(row["last_usage_date"]), row["quality_checked_at"], int(row["evaluators"] or 0))


def data_quality(warehouse: Warehouse) -> pd.DataFrame:
    if not warehouse.table_exists("data_quality"):
        return pd.DataFrame()
    return warehouse.run("data_quality_report")


def job_history(warehouse: Warehouse, settings: Settings, limit: int = 50) -> pd.DataFrame | None:
    """Recent scheduled job runs (one row per run), or None when no job has written job_runs yet."""
    if not warehouse.table_exists("job_runs"):
        return None
    return history.job_history(warehouse, limit, settings)
