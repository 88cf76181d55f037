"""Drivers in words: each evaluator's strongest SHAP drivers as sentences a marketer understands.

A driver pushing towards churn is compared with retained evaluators of the same team size and day of
trial ("2 distinct active users by day 5; retained teams of 4-6 seats had 5"); the strongest driver
protecting the evaluator is compared with churned ones ("14 issues completed by day 7; churned teams of
4-6 seats had 3"). The typical values are medians over the training snapshots (resolved evaluators'
features on each day 1..7, in SQL), fetched once per scoring run.

Everything is vectorised: every sentence is a template fixed by (feature, direction, team-size band,
day, zero/one/many) with the cohort median already written in, plus the evaluator's own value; the
templates are built once (a few thousand strings) and joined with the values by Arrow string kernels.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churn_core.schema import FEATURES
from churn_core.warehouse import Warehouse

TEAM_SIZE_BANDS: tuple[int, ...] = (1, 3, 6, 12, 25)  # largest team size of each band; the last band is the rest
BAND_LABELS: tuple[str, ...] = ("1 seat", "2-3 seats", "4-6 seats", "7-12 seats", "13-25 seats", "26+ seats")
TOP_CHURN_DRIVERS = 3
MIN_COHORT = 30  # fewer evaluators in a band than this: use the median over all team sizes
DAYS = 8  # as_of_day 0..7 (0 unused)
CHUNK_ROWS = 131_072  # rows per Arrow batch: bounds the temporaries, and batches run on THREADS threads
THREADS = 2

# What each feature counts, (one, many), and an optional word before the number.
PHRASES: dict[str, tuple[str, str, str]] = {
    "number_of_projects": ("project created", "projects created", ""),
    "number_of_issues": ("issue created", "issues created", ""),
    "number_of_invites": ("invitation sent", "invitations sent", ""),
    "w1_active_users": ("distinct active user", "distinct active users", ""),
    "w1_agg_active_users": ("user-day of activity", "user-days of activity", ""),
    "w1_max_active_users": ("user active on any one day", "users active on any one day", "at most "),
    "watchers_added": ("watcher added", "watchers added", ""),
    "issues_updated": ("issue update", "issue updates", ""),
    "issues_commented": ("issue comment", "issue comments", ""),
    "issues_assigned": ("issue assigned", "issues assigned", ""),
    "at_mentions": ("@-mention", "@-mentions", ""),
    "issues_viewed": ("issue view", "issue views", ""),
    "issues_completed": ("issue completed", "issues completed", ""),
    "mobile_usage": ("mobile session", "mobile sessions", ""),
    "sprint_started": ("sprint started", "sprints started", ""),
    "sprint_finished": ("sprint finished", "sprints finished", ""),
}


def band_params() -> dict[str, int]:
    """The band edges as the bound parameters of cohort_medians.sql."""
    return {f"band_{i + 1}": edge for i, edge in enumerate(TEAM_SIZE_BANDS)}


def team_size_band(team_size: np.ndarray | pd.Series) -> np.ndarray:
    """Band index 0..5 of each team size (missing sizes fall in the first band)."""
    sizes = np.nan_to_num(np.asarray(team_size, dtype=np.float64), nan=1.0)
    return np.searchsorted(np.asarray(TEAM_SIZE_BANDS, float), sizes, side="left").astype(np.int64)


def cohort_medians(warehouse: Warehouse) -> pd.DataFrame:
    """Median of every feature for retained and churned training evaluators per team-size band and day."""
    if not (warehouse.table_exists("feature_snapshots") and warehouse.table_exists("instances_modeling")):
        return pd.DataFrame(columns=["team_size_band", "as_of_day", "retained", "evaluators", *FEATURES])
    return warehouse.run("cohort_medians", band_params())


def median_cube(medians: pd.DataFrame, features: list[str], prefix: str = "") -> np.ndarray:
    """Column `prefix + feature` of cohort_medians as an array [retained 0/1, band, day, feature], falling
    back to the value over all team sizes where a band has fewer than MIN_COHORT evaluators."""
    cube = np.full((2, len(BAND_LABELS), DAYS, len(features)), np.nan)
    if medians.empty:
        return cube
    known = [f for f in features if prefix + f in medians.columns]
    cols = [features.index(f) for f in known]
    names = [prefix + f for f in known]
    band = medians["team_size_band"]
    pooled = medians[band.isna()]
    for _, row in pooled.iterrows():  # at most 14 rows
        cube[int(row["retained"]), :, int(row["as_of_day"])][:, cols] = row[names].to_numpy(np.float64)[None, :]
    banded = medians[band.notna() & (medians["evaluators"] >= MIN_COHORT)]
    r, b, d = (banded[c].to_numpy(np.int64) for c in ("retained", "team_size_band", "as_of_day"))
    for j, name in zip(cols, names, strict=True):
        cube[r, b, d, j] = banded[name].to_numpy(np.float64)
    return cube


@dataclass(frozen=True)
class Explanations:
    top_reason: pa.ChunkedArray  # string per row
    top_drivers: pa.ChunkedArray  # JSON list per row


def _count_text(value: float) -> str:
    return f"{value:,.0f}" if abs(value - round(value)) < 0.05 else f"{value:,.1f}"


def _templates(features: list[str], medians: pd.DataFrame) -> tuple[pa.Array, pa.Array]:
    """Prefix and suffix of every sentence, indexed by _template_id."""
    typical, nonzero = median_cube(medians, features), median_cube(medians, features, "nonzero_")
    prefixes, suffixes = [], []
    for j, f in enumerate(features):
        one, many, before = PHRASES.get(f, (f.replace("_", " "), f.replace("_", " "), ""))
        for direction in (0, 1):  # 0 pushes towards churn: compare with retained (cohort 1), 1 with churned
            cohort, word = (1, "retained") if direction == 0 else (0, "churned")
            for b, label in enumerate(BAND_LABELS):
                for d in range(DAYS):
                    median, share = typical[cohort, b, d, j], nonzero[cohort, b, d, j]
                    tail = f"; {word} teams of {label} had {_count_text(median)}" if np.isfinite(median) else ""
                    for variant, noun in enumerate((many, one, many)):  # zero, one, many
                        text = tail
                        if variant == 0 and median == 0 and share > 0:  # "had 0" says nothing: give the share
                            text = f"; {share:.0%} of {word} teams of {label} had at least one"
                        prefixes.append("no" if variant == 0 else before)
                        suffixes.append(f" {noun} by day {d}{text}")
    return pa.array(prefixes, pa.string()), pa.array(suffixes, pa.string())


def _template_id(feature: np.ndarray, direction: int, band: np.ndarray, day: np.ndarray,
                 value: np.ndarray) -> np.ndarray:
    variant = np.where(~(np.abs(value) > 0), 0, np.where(value == 1, 1, 2))
    return (((feature * 2 + direction) * len(BAND_LABELS) + band) * DAYS + day) * 3 + variant


def explain(shap: np.ndarray, values: np.ndarray, features: list[str], team_size: np.ndarray,
            as_of_day: np.ndarray, predicted_churn: np.ndarray, medians: pd.DataFrame) -> Explanations:
    """Top reason and top drivers (JSON) for every row.

    shap: (n, features) SHAP values in log-odds of churn, without the base column; values: the same
    features as the evaluator has them (raw counts, NaN when not reported). The drivers are the
    TOP_CHURN_DRIVERS largest positive SHAP values, then the most negative one; top_reason is the
    strongest driver in the direction of the prediction (else the other one).
    """
    n, k = shap.shape
    if k == 0:
        return Explanations(pa.array([None] * n, pa.string()), pa.array(["[]"] * n, pa.string()))
    prefix, suffix = _templates(features, medians)
    band = team_size_band(team_size)
    day = np.clip(np.nan_to_num(np.asarray(as_of_day, float), nan=7).astype(np.int64), 0, DAYS - 1)
    predicted = np.asarray(predicted_churn).astype(bool)
    chunks = [slice(i, min(i + CHUNK_ROWS, n)) for i in range(0, n, CHUNK_ROWS)] or [slice(0, 0)]

    def work(rows: slice) -> tuple[pa.Array, pa.Array]:
        return _explain_rows(shap[rows], values[rows], features, band[rows], day[rows], predicted[rows],
                             prefix, suffix)

    with ThreadPoolExecutor(max_workers=min(THREADS, len(chunks))) as pool:  # Arrow kernels release the GIL
        parts = list(pool.map(work, chunks))
    return Explanations(pa.chunked_array([p[0] for p in parts], pa.string()),
                        pa.chunked_array([p[1] for p in parts], pa.string()))


def _number_text(values: np.ndarray, whole: np.ndarray) -> pa.Array:
    """Values as text: whole numbers without decimals, others with two at most."""
    finite = np.nan_to_num(values)
    if whole.all():
        return pc.cast(pa.array(np.round(finite).astype(np.int64)), pa.string())
    return pc.cast(pa.array(np.where(whole, np.round(finite), np.round(finite, 2))), pa.string())


def _explain_rows(shap: np.ndarray, values: np.ndarray, features: list[str], band: np.ndarray, day: np.ndarray,
                  predicted: np.ndarray, prefix: pa.Array, suffix: pa.Array) -> tuple[pa.Array, pa.Array]:
    n, k = shap.shape
    order = np.argsort(-shap, axis=1, kind="stable")
    slots = [(order[:, i], 0) for i in range(min(TOP_CHURN_DRIVERS, k))] + [(order[:, -1], 1)]
    names = pa.array(features, pa.string())
    is_count = np.asarray([f in FEATURES for f in features])
    rows = np.arange(n)
    null = pa.scalar(None, pa.string())
    sentences, objects = [], []
    for feature, direction in slots:
        s = shap[rows, feature].astype(np.float64)
        v = values[rows, feature].astype(np.float64)
        missing = ~np.isfinite(v)
        shown = np.where(is_count[feature], np.round(v), np.round(v, 2))
        number = _number_text(shown, is_count[feature])
        zero = ~(np.abs(np.nan_to_num(shown)) > 0)
        tid = pa.array(_template_id(feature, direction, band, day, np.nan_to_num(shown)))
        sentence = pc.binary_join_element_wise(
            pc.take(prefix, tid), pc.if_else(pa.array(zero), "", number), pc.take(suffix, tid), "")
        obj = pc.binary_join_element_wise(
            '{"feature": "', pc.take(names, pa.array(feature)), '", "value": ',
            pc.if_else(pa.array(missing), "null", number),
            ', "shap": ', pc.cast(pa.array(np.round(s, 4)), pa.string()),
            ', "direction": "', "churn" if direction == 0 else "retain", '", "reason": "', sentence, '"}', "")
        invalid = pa.array(~(s > 0) if direction == 0 else ~(s < 0))
        sentences.append(pc.if_else(invalid, null, sentence))
        objects.append(pc.if_else(invalid, null, obj))
    joined = pc.binary_join_element_wise(*objects, ",", null_handling="skip")
    drivers = pc.binary_join_element_wise("[", joined, "]", "")
    churn_first, protect = sentences[0], sentences[-1]
    top = pc.if_else(pa.array(predicted), pc.coalesce(churn_first, protect), pc.coalesce(protect, churn_first))
    return top, drivers
