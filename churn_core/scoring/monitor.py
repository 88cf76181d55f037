"""Drift monitoring: the population stability index (PSI) of every model feature and of the score.

Each score set is compared with the training data of the model that scored it. Features grow over the
first week of a trial, so a set full of day-2 evaluators would look "drifted" against day-7 training rows
even when nothing changed; the reference is therefore kept per day of trial (training snapshots of
resolved evaluators at days 1..7) and mixed in the set's own day-of-trial proportions before comparing.

PSI = sum over bins of (actual - expected) * ln(actual / expected), with bins cut at the reference
deciles (plus one bin for missing values). Status thresholds follow common practice (and Evidently):
below 0.1 "ok", below 0.25 "watch", otherwise "alert".
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from churn_core.warehouse import Warehouse

PSI_WATCH = 0.1
PSI_ALERT = 0.25
N_BINS = 10
SHARE_FLOOR = 1e-4  # empty bins get this share, so an empty bin costs a large but finite PSI
SCORE_FEATURE = "churn_probability"
REFERENCE_TABLE = "drift_reference"
REFERENCE_COLUMNS: tuple[str, ...] = (
    "model_version",
    "feature",
    "as_of_day",
    "bin",
    "lower",
    "upper",
    "share",
)
DRIFT_COLUMNS: tuple[str, ...] = ("as_of_date", "feature", "psi", "status")


def bin_edges(values: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Inner cut points at the quantiles of the finite reference values, duplicates removed."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.empty(0)
    return np.unique(np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1]))


def bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value: 0..len(edges) for finite values (right-closed), len(edges)+1 for missing."""
    index = np.searchsorted(edges, values, side="left")
    return np.where(np.isfinite(values), index, len(edges) + 1)


def population_stability(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI between two share vectors over the same bins."""
    e = np.maximum(np.asarray(expected, float), SHARE_FLOOR)
    a = np.maximum(np.asarray(actual, float), SHARE_FLOOR)
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def drift_status(psi: np.ndarray | pd.Series) -> np.ndarray:
    """ "ok" / "watch" / "alert" at the 0.1 / 0.25 thresholds."""
    psi = np.asarray(psi, float)
    return np.select([psi >= PSI_ALERT, psi >= PSI_WATCH], ["alert", "watch"], "ok").astype(object)


def build_reference(training: pd.DataFrame, columns: list[str], model_version: str) -> pd.DataFrame:
    """Reference bins and per-day shares from training rows (`as_of_day` plus each of `columns`).

    Rows: one per (feature, as_of_day, bin), plus as_of_day 0 holding the pooled shares over all days.
    """
    days = training["as_of_day"].to_numpy(np.int64)
    day_values = np.unique(days)
    slot = np.searchsorted(day_values, days)
    parts = []
    for name in columns:
        values = training[name].to_numpy(np.float64, na_value=np.nan)
        edges = bin_edges(values)
        n_bins = len(edges) + 2
        counts = np.bincount(slot * n_bins + bin_index(values, edges), minlength=len(day_values) * n_bins).reshape(
            len(day_values), n_bins
        )
        counts = np.vstack([counts.sum(axis=0), counts])  # day 0 = every day pooled
        shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        parts.append(
            pd.DataFrame(
                {
                    "feature": name,
                    "as_of_day": np.repeat(np.r_[0, day_values], n_bins),
                    "bin": np.tile(np.arange(n_bins), len(day_values) + 1),
                    "lower": np.tile(np.r_[-np.inf, edges, np.nan], len(day_values) + 1),
                    "upper": np.tile(np.r_[edges, np.inf, np.nan], len(day_values) + 1),
                    "share": shares.ravel(),
                }
            )
        )
    ref = pd.concat(parts, ignore_index=True)
    ref.insert(0, "model_version", model_version)
    ref["as_of_day"] = ref["as_of_day"].astype(np.int32)
    ref["bin"] = ref["bin"].astype(np.int32)
    return ref[list(REFERENCE_COLUMNS)]


def drift_table(reference: pd.DataFrame, current: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """PSI and status of every referenced feature for the score set `current`.

    The expected shares mix the per-day reference in the proportions of `current["as_of_day"]`; a day
    missing from the reference uses the pooled shares.
    """
    day_share = current["as_of_day"].value_counts(normalize=True)
    rows = []
    for name, ref in reference.groupby("feature", sort=False):
        pooled = ref[ref["as_of_day"] == 0].sort_values("bin")
        edges = pooled["upper"].to_numpy()[:-2]
        by_day = {int(d): g.sort_values("bin")["share"].to_numpy() for d, g in ref.groupby("as_of_day")}
        expected = sum(w * by_day.get(int(d), by_day[0]) for d, w in day_share.items())
        values = current[name].to_numpy(np.float64, na_value=np.nan)
        actual = np.bincount(bin_index(values, edges), minlength=len(edges) + 2) / max(len(values), 1)
        rows.append((name, population_stability(expected, actual)))
    out = pd.DataFrame(rows, columns=["feature", "psi"])
    out.insert(0, "as_of_date", pd.Series([as_of] * len(out), dtype="date32[pyarrow]"))
    out["status"] = pd.Series(drift_status(out["psi"]), dtype="str")
    return out


def stored_reference(warehouse: Warehouse, model_version: str) -> pd.DataFrame:
    """The reference bins stored for a model version (empty when none are stored yet)."""
    if not warehouse.table_exists(REFERENCE_TABLE):
        return pd.DataFrame(columns=list(REFERENCE_COLUMNS))
    return warehouse.run("drift_reference", {"model_version": model_version})
