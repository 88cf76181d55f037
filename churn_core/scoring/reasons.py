"""Drivers in words: each evaluator's strongest SHAP drivers as sentences a marketer understands.

Every sentence says which way it pushes. A driver pushing towards churn is compared with retained
evaluators of the same team size and day of trial ("Raises risk: 2 distinct active users by day 5;
retained teams of 4-6 seats had 5"); the strongest driver protecting the evaluator is compared with
churned ones ("Lowers risk: 14 issues completed by day 5; churned teams of 4-6 seats had 3"). The typical
values are medians over the training snapshots (resolved evaluators' features on each day 1..7, in SQL),
fetched once per scoring run. A value the model did not get is written as such ("no data on issue
views"), never as 0: the model routes a missing value its own way (churn_core.schema.NO_DATA).

Everything is vectorised: every sentence is a template fixed by (feature, direction, team-size band,
day, zero/one/many/missing) with the cohort median already written in, plus the evaluator's own value;
the templates are built once (a few thousand strings) and joined with the values by Arrow string kernels.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churn_core.schema import FEATURES, NO_DATA, feature_text
from churn_core.warehouse import Warehouse

TEAM_SIZE_BANDS: tuple[int, ...] = (
    1,
    3,
    6,
    12,
    25,
)  # largest team size of each band; the last band is the rest
BAND_LABELS: tuple[str, ...] = ("1 seat", "2-3 seats", "4-6 seats", "7-12 seats", "13-25 seats", "26+ seats")
TOP_CHURN_DRIVERS = 3
MIN_COHORT = 30  # fewer evaluators in a band than this: use the median over all team sizes
DAYS = 8  # as_of_day 0..7 (0 unused)
CHUNK_ROWS = 131_072  # rows per Arrow batch: bounds the temporaries, and batches run on THREADS threads
THREADS = 2

KINDS: tuple[str, ...] = ("count", "ratio", "share", "money", "category")
DIRECTIONS: tuple[str, ...] = ("Raises risk: ", "Lowers risk: ")  # how each sentence starts, by direction
ZERO, ONE, MANY, MISSING = range(4)  # the sentence variants of a value


# the features cohort_medians.sql has typical values of
MEDIAN_FEATURES: frozenset[str] = frozenset(
    (*FEATURES, "active_user_share", "user_days_per_day", "issues_per_user", "updates_per_issue")
)


def band_params() -> dict[str, int]:
    """The band edges as the bound parameters of cohort_medians.sql."""
    return {f"band_{i + 1}": edge for i, edge in enumerate(TEAM_SIZE_BANDS)}


def team_size_band(team_size: np.ndarray | pd.Series) -> np.ndarray:
    """Band index 0..5 of each team size (missing sizes fall in the first band)."""
    sizes = np.nan_to_num(np.asarray(team_size, dtype=np.float64), nan=1.0)
    return np.searchsorted(np.asarray(TEAM_SIZE_BANDS, float), sizes, side="left").astype(np.int64)


def cohort_medians(warehouse: Warehouse, as_of_day: int = 0) -> pd.DataFrame:
    """Median of every feature for retained and churned training evaluators per team-size band and day
    (of day `as_of_day` only, unless 0)."""
    if not (warehouse.table_exists("feature_snapshots") and warehouse.table_exists("instances_modeling")):
        return pd.DataFrame(columns=["team_size_band", "as_of_day", "retained", "evaluators", *FEATURES])
    return warehouse.run("cohort_medians", {**band_params(), "as_of_day": int(as_of_day)})


def median_cube(medians: pd.DataFrame, features: list[str], prefix: str = "") -> np.ndarray:
    """Column `prefix + feature` of cohort_medians as an array [retained 0/1, band, day, feature], falling
    back to the value over all team sizes where a band has fewer than MIN_COHORT evaluators."""
    cube = np.full((2, len(BAND_LABELS), DAYS, len(features)), np.nan)
    if medians.empty:
        return cube
    known = [f for f in features if f in MEDIAN_FEATURES and prefix + f in medians.columns]
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


def _typical_text(value: float, kind: str) -> str:
    """A cohort median as the sentence writes it."""
    if kind == "share":
        return f"{value:.0%}"
    if kind == "ratio":
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:,.0f}" if abs(value - round(value)) < 0.05 else f"{value:,.1f}"


def _templates(features: list[str], medians: pd.DataFrame) -> tuple[pa.Array, pa.Array]:
    """Prefix and suffix of every sentence, indexed by _template_id."""
    typical, nonzero = median_cube(medians, features), median_cube(medians, features, "nonzero_")
    prefixes, suffixes = [], []
    for j, f in enumerate(features):
        w = feature_text(f)
        for direction in (0, 1):  # 0 pushes towards churn: compare with retained (cohort 1), 1 with churned
            cohort, word = (1, "retained") if direction == 0 else (0, "churned")
            for b, label in enumerate(BAND_LABELS):
                for d in range(DAYS):
                    median, share = typical[cohort, b, d, j], nonzero[cohort, b, d, j]
                    tail = (
                        f"; {word} teams of {label} had {_typical_text(median, w.kind)}" if np.isfinite(median) else ""
                    )
                    when = f" by day {d}" if w.by_day else ""
                    for variant, noun in enumerate((w.many, w.one, w.many, "")):  # ZERO, ONE, MANY, MISSING
                        text = tail
                        if variant == ZERO and median == 0 and share > 0:  # "had 0" says nothing: the share
                            text = f"; {share:.0%} of {word} teams of {label} had at least one"
                        before = "no" if variant == ZERO and w.kind == "count" else w.before
                        if variant == MISSING:
                            before, noun = f"{NO_DATA} on ", w.label
                        prefixes.append(DIRECTIONS[direction] + before)
                        suffixes.append(f"{noun}{when}{text}")
    return pa.array(prefixes, pa.string()), pa.array(suffixes, pa.string())


def _template_id(
    feature: np.ndarray, direction: int, band: np.ndarray, day: np.ndarray, variant: np.ndarray
) -> np.ndarray:
    return (((feature * 2 + direction) * len(BAND_LABELS) + band) * DAYS + day) * 4 + variant


def _variant(kind: np.ndarray, shown: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """ZERO ("no issues", counts only), ONE (the singular noun), MANY or MISSING per value."""
    count, ratio = KINDS.index("count"), KINDS.index("ratio")
    zero = (kind == count) & ~(np.abs(shown) > 0)
    one = ((kind == count) | (kind == ratio)) & (shown == 1)
    return np.where(missing, MISSING, np.where(zero, ZERO, np.where(one, ONE, MANY)))


def explain(
    shap: np.ndarray,
    values: np.ndarray,
    features: list[str],
    team_size: np.ndarray,
    as_of_day: np.ndarray,
    predicted_churn: np.ndarray,
    medians: pd.DataFrame,
    categories: dict[str, list[str]] | None = None,
) -> Explanations:
    """Top reason and top drivers (JSON) for every row.

    shap: (n, features) SHAP values in log-odds of churn, without the base column; values: the features
    as the model sees them (counts as counted, NaN when not reported; a categorical feature as its code
    into `categories[feature]`). The drivers are the TOP_CHURN_DRIVERS largest positive SHAP values,
    then the most negative one; top_reason is the strongest driver in the direction of the prediction
    (else the other one). Each driver in the JSON has feature, value (null when the model had none), shap
    (its sign says which way it pushes) and reason (which starts by saying so).
    """
    n, k = shap.shape
    if k == 0:
        return Explanations(
            pa.chunked_array([pa.array([None] * n, pa.string())]),
            pa.chunked_array([pa.array(["[]"] * n, pa.string())]),
        )
    prefix, suffix = _templates(features, medians)
    labels = _Labels(features, categories or {})
    band = team_size_band(team_size)
    day = np.clip(np.nan_to_num(np.asarray(as_of_day, float), nan=7).astype(np.int64), 0, DAYS - 1)
    predicted = np.asarray(predicted_churn).astype(bool)
    chunks = [slice(i, min(i + CHUNK_ROWS, n)) for i in range(0, n, CHUNK_ROWS)] or [slice(0, 0)]

    def work(rows: slice) -> tuple[pa.Array, pa.Array]:
        return _explain_rows(
            shap[rows], values[rows], features, band[rows], day[rows], predicted[rows], prefix, suffix, labels
        )

    with ThreadPoolExecutor(max_workers=min(THREADS, len(chunks))) as pool:  # Arrow kernels release the GIL
        parts = list(pool.map(work, chunks))
    return Explanations(
        pa.chunked_array([p[0] for p in parts], pa.string()),
        pa.chunked_array([p[1] for p in parts], pa.string()),
    )


class _Labels:
    """Per feature: its kind, and for categorical features the labels of their codes (one flat array)."""

    def __init__(self, features: list[str], categories: dict[str, list[str]]) -> None:
        self.kind = np.asarray(
            [KINDS.index(feature_text(f).kind) if f not in categories else KINDS.index("category") for f in features],
            np.int8,
        )
        flat, offset = ["unknown"], []
        for f in features:
            offset.append(len(flat))
            flat += [str(c) for c in categories.get(f, [])]
        self.offset = np.asarray(offset, np.int64)
        self.size = np.asarray([len(categories.get(f, [])) for f in features], np.int64)
        shown = [c.replace("_", " ") for c in flat]  # paid_search -> paid search
        self.shown = pa.array(shown, pa.string())
        # labels come from the data: inside the JSON their quotes and backslashes must be escaped
        self.shown_json = pa.array([json.dumps(c, ensure_ascii=False)[1:-1] for c in shown], pa.string())
        self.raw_json = pa.array([json.dumps(c, ensure_ascii=False) for c in flat], pa.string())

    def text(self, feature: np.ndarray, codes: np.ndarray) -> tuple[pa.Array, pa.Array, pa.Array]:
        """Each code's label as written in a sentence, the same inside a JSON string, and as the JSON
        stores it (a quoted string)."""
        valid = np.isfinite(codes) & (codes >= 0) & (codes < self.size[feature])
        index = pa.array(np.where(valid, self.offset[feature] + np.nan_to_num(codes).astype(np.int64), 0))
        return pc.take(self.shown, index), pc.take(self.shown_json, index), pc.take(self.raw_json, index)


def _cast(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _patch(text: pa.Array, mask: np.ndarray, make: Any) -> pa.Array:
    """`text` with the rows in `mask` replaced by make(mask), computed for those rows only."""
    if not mask.any():
        return text
    return pc.replace_with_mask(text, pa.array(mask), make(mask))


def _top_slots(shap: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """(feature per row, direction) of the drivers: the largest SHAP values in order, then the smallest."""
    n, k = shap.shape
    top = min(TOP_CHURN_DRIVERS, k)
    best = np.argpartition(-shap, top - 1, axis=1)[:, :top] if top < k else np.tile(np.arange(k), (n, 1))
    best = np.take_along_axis(best, np.argsort(-np.take_along_axis(shap, best, axis=1), axis=1, kind="stable"), axis=1)
    return [(best[:, i], 0) for i in range(top)] + [(shap.argmin(axis=1), 1)]


def _explain_rows(
    shap: np.ndarray,
    values: np.ndarray,
    features: list[str],
    band: np.ndarray,
    day: np.ndarray,
    predicted: np.ndarray,
    prefix: pa.Array,
    suffix: pa.Array,
    labels: _Labels,
) -> tuple[pa.Array, pa.Array]:
    n = len(shap)
    rows = np.arange(n)
    heads = pa.array([f'{{"feature":"{f}","value":' for f in features], pa.string())
    null = pa.scalar(None, pa.string())
    count, ratio, share, _, category = range(len(KINDS))
    sentences, pieces = [], []
    first_valid = None
    for position, (feature, direction) in enumerate(_top_slots(shap)):
        s = shap[rows, feature].astype(np.float64)
        v = values[rows, feature].astype(np.float64)
        kind = labels.kind[feature]
        missing = ~np.isfinite(v)
        v0 = np.nan_to_num(v)
        # the value as the sentence writes it (whole numbers, percent, two decimals or a label) ...
        shown = np.where(kind == share, np.round(v0 * 100), np.where(kind == ratio, np.round(v0, 2), np.round(v0)))
        number = _cast(np.where(kind == ratio, 0, shown).astype(np.int64))
        number = _patch(number, kind == ratio, lambda m, shown=shown: _cast(shown[m]))
        # ... and as the JSON stores it (the model's value, or the category's label in quotes)
        other = (kind != count) & (kind != category)
        exact = _patch(number, other, lambda m, v0=v0: _cast(np.round(v0[m], 3)))
        number_json = number
        if (kind == category).any():
            cat = pa.array(kind == category)
            shown_label, shown_json, raw_json = labels.text(feature[kind == category], v[kind == category])
            number, number_json = (pc.replace_with_mask(number, cat, label) for label in (shown_label, shown_json))
            exact = pc.replace_with_mask(exact, cat, raw_json)
        variant = _variant(kind, shown, missing)
        tid = pa.array(_template_id(feature, direction, band, day, variant))
        no_number = pa.array((variant == ZERO) | (variant == MISSING))
        head, tail = pc.take(prefix, tid), pc.take(suffix, tid)
        sentence, sentence_json = (
            pc.binary_join_element_wise(head, pc.if_else(no_number, "", text), tail, "")
            for text in (number, number_json)
        )
        valid = s > 0 if direction == 0 else s < 0
        # churn drivers are valid in order, so a comma goes before every one but the first; the protecting
        # driver needs one when there was a churn driver
        comma = ("," if position else "") if direction == 0 else pc.if_else(pa.array(first_valid), ",", "")
        obj = pc.binary_join_element_wise(
            comma,
            pc.take(heads, pa.array(feature)),
            pc.if_else(pa.array(missing), "null", exact),
            ',"shap":',
            _cast(np.round(s, 3)),
            ',"reason":"',
            sentence_json,
            '"}',
            "",
        )
        if position == 0:
            first_valid = valid
        sentences.append(pc.if_else(pa.array(valid), sentence, null))
        pieces.append(pc.if_else(pa.array(valid), obj, null))
    drivers = pc.binary_join_element_wise("[", *pieces, "]", "", null_handling="replace", null_replacement="")
    churn_first, protect = sentences[0], sentences[-1]
    top = pc.if_else(pa.array(predicted), pc.coalesce(churn_first, protect), pc.coalesce(protect, churn_first))
    return top, drivers
