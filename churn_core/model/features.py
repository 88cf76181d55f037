"""The feature pipeline: fitted once on training data, stored as JSON with the model, applied unchanged.

No scaling and no imputation: XGBoost splits on raw values and learns where missing values go. What is
fitted is only (a) which candidate columns to keep -- a data-driven version of the seed's "drop extremely
sparse features": a feature whose non-zero rate is below `sparse_min_nonzero_rate`, an all-missing or a
constant one is dropped, with the reason recorded -- and (b) the category list of each categorical
column, so a category first seen at scoring time maps to missing instead of to someone else's code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churn_core.errors import ChurnError
from churn_core.schema import FEATURES

FORMAT = 1
CATEGORICAL_MODES = ("native", "codes")
ID_LIKE_MIN_DISTINCT = 50  # a categorical with more distinct values than this and than half the rows is an id

# The evaluator model: the seed's 16 features, the day of trial they describe, segment attributes, and
# ratios a tree cannot form by itself. control_group is a treatment, not an attribute: never a feature.
EVALUATOR_NUMERIC: tuple[str, ...] = (*FEATURES, "as_of_day", "team_size", "expected_annual_value")
EVALUATOR_CATEGORICAL: tuple[str, ...] = (
    "product",
    "edition",
    "region",
    "company_size_band",
    "acquisition_source",
)
EVALUATOR_RATIOS: tuple[tuple[str, str, str], ...] = (
    ("active_user_share", "w1_active_users", "team_size"),
    ("user_days_per_day", "w1_agg_active_users", "as_of_day"),
    ("issues_per_user", "number_of_issues", "w1_active_users"),
    ("updates_per_issue", "issues_updated", "number_of_issues"),
)
SEED_NUMERIC: tuple[str, ...] = (*FEATURES, "as_of_day")


class ModelError(ChurnError):
    """Training or evaluation cannot go on; the message says what to fix. Nothing was registered."""


class MissingColumnsError(ModelError, KeyError):
    """The frame lacks input columns the fitted pipeline needs (a KeyError too, for callers expecting one)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Ratio:
    name: str
    numerator: str
    denominator: str


class FeaturePipeline:
    """Fit on the training frame; `transform` then uses only the stored state (`to_dict`/`from_dict`)."""

    def __init__(
        self,
        numeric: Sequence[str] = EVALUATOR_NUMERIC,
        categorical: Sequence[str] = EVALUATOR_CATEGORICAL,
        ratios: Iterable[tuple[str, str, str]] = EVALUATOR_RATIOS,
        sparse_min_nonzero_rate: float = 0.01,
        categorical_mode: str = "codes",
        sums: Iterable[tuple[str, Sequence[str]]] = (),
    ) -> None:
        if categorical_mode not in CATEGORICAL_MODES:
            raise ModelError(f"categorical_mode must be one of {CATEGORICAL_MODES}, not {categorical_mode!r}")
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        self.ratios = [Ratio(*r) for r in ratios]
        self.sums = {str(name): [str(c) for c in cols] for name, cols in sums}
        self.sparse_min_nonzero_rate = float(sparse_min_nonzero_rate)
        self.categorical_mode = categorical_mode
        self.features_: list[str] = []
        self.dropped_: dict[str, str] = {}
        self.categories_: dict[str, list[str]] = {}
        self.stats_: dict[str, dict[str, float]] = {}

    # --- fitting ----------------------------------------------------------------------------------------

    def fit(self, df: pd.DataFrame) -> FeaturePipeline:
        """Choose the features and fix the categories from the training frame `df`."""
        if len(df) == 0:
            raise ModelError("cannot fit the feature pipeline on an empty frame")
        wanted = [
            *self.numeric,
            *self.categorical,
            *{c for r in self.ratios for c in (r.numerator, r.denominator)},
            *{c for cols in self.sums.values() for c in cols},
        ]
        missing = sorted({c for c in wanted if c not in df.columns})
        if missing:
            raise MissingColumnsError(f"the training data lacks column(s) {', '.join(missing)}")
        features, dropped, stats, categories = [], {}, {}, {}
        candidates = [(c, _numeric(df[c])) for c in self.numeric]
        candidates += [(r.name, _ratio(_numeric(df[r.numerator]), _numeric(df[r.denominator]))) for r in self.ratios]
        candidates += [(name, _sum(df, cols)) for name, cols in self.sums.items()]
        for name, values in candidates:
            stats[name] = _stats(values)
            reason = self._drop_reason(values, stats[name])
            if reason:
                dropped[name] = reason
            else:
                features.append(name)
        for name in self.categorical:
            text = _text(df[name])
            levels = sorted(text.dropna().unique().tolist())
            stats[name] = {"missing_rate": float(text.isna().mean()), "distinct": float(len(levels))}
            if not levels:
                dropped[name] = "all missing"
            elif len(levels) == 1 and not text.isna().any():
                dropped[name] = f"constant: every row is {levels[0]!r}"
            elif len(levels) > max(ID_LIKE_MIN_DISTINCT, len(df) // 2):
                dropped[name] = f"identifier-like: {len(levels):,} distinct values in {len(df):,} rows"
            else:
                features.append(name)
                categories[name] = levels
        if not features:
            raise ModelError(
                "no usable features: every candidate column is missing, constant or sparse ("
                + "; ".join(f"{k}: {v}" for k, v in dropped.items())
                + "). Check the input data."
            )
        self.features_, self.dropped_, self.stats_, self.categories_ = features, dropped, stats, categories
        return self

    def _drop_reason(self, values: np.ndarray, stats: Mapping[str, float]) -> str:
        present = values[~np.isnan(values)]
        if present.size == 0:
            return "all missing"
        if np.all(present == present[0]) and stats["missing_rate"] == 0:
            return f"constant: every row is {present[0]:g}"
        rate = stats["nonzero_rate"]
        if rate < self.sparse_min_nonzero_rate:
            return (
                f"sparse: non-zero in {rate:.2%} of rows, below sparse_min_nonzero_rate "
                f"{self.sparse_min_nonzero_rate:.2%}"
            )
        return ""

    # --- applying ---------------------------------------------------------------------------------------

    @property
    def fitted(self) -> bool:
        return bool(self.features_)

    @property
    def feature_types_(self) -> list[str]:
        """XGBoost feature types in feature order: 'c' for native categoricals, 'q' otherwise."""
        native = self.categorical_mode == "native"
        return ["c" if native and f in self.categories_ else "q" for f in self.features_]

    @property
    def input_columns_(self) -> list[str]:
        """The raw columns `transform` reads."""
        ratios = {r.name: r for r in self.ratios}
        cols: list[str] = []
        for f in self.features_:
            if f in ratios:
                cols += [ratios[f].numerator, ratios[f].denominator]
            else:
                cols += self.sums.get(f, [f])
        return list(dict.fromkeys(cols))

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """float32 columns in model feature order; categories unseen at fit time become missing."""
        if not self.fitted:
            raise ModelError("the feature pipeline is not fitted: call fit() or load it from a model card")
        missing = [c for c in self.input_columns_ if c not in df.columns]
        if missing:
            raise MissingColumnsError(f"the data lacks column(s) the model needs: {', '.join(missing)}")
        ratios = {r.name: r for r in self.ratios}
        out: dict[str, np.ndarray] = {}
        for f in self.features_:
            if f in self.categories_:
                out[f] = _codes(df[f], self.categories_[f])
            elif f in ratios:
                r = ratios[f]
                out[f] = _ratio(_numeric(df[r.numerator]), _numeric(df[r.denominator])).astype(np.float32)
            elif f in self.sums:
                out[f] = _sum(df, self.sums[f]).astype(np.float32)
            else:
                out[f] = _numeric(df[f]).astype(np.float32)
        return pd.DataFrame(out, index=df.index, columns=self.features_)

    def fit_transform(self, df: pd.DataFrame) -> pd.DataFrame:
        return self.fit(df).transform(df)

    # --- persistence ------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "numeric": self.numeric,
            "categorical": self.categorical,
            "ratios": [[r.name, r.numerator, r.denominator] for r in self.ratios],
            "sums": self.sums,
            "sparse_min_nonzero_rate": self.sparse_min_nonzero_rate,
            "categorical_mode": self.categorical_mode,
            "features": self.features_,
            "feature_types": self.feature_types_,
            "dropped": self.dropped_,
            "categories": self.categories_,
            "stats": self.stats_,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeaturePipeline:
        if data.get("format") != FORMAT:
            raise ModelError(f"feature pipeline format {data.get('format')!r} is not supported (expected {FORMAT})")
        try:
            pipe = cls(
                data["numeric"],
                data["categorical"],
                [tuple(r) for r in data["ratios"]],
                data["sparse_min_nonzero_rate"],
                data["categorical_mode"],
                data.get("sums", {}).items(),
            )
            pipe.features_ = list(data["features"])
            pipe.dropped_ = dict(data["dropped"])
            pipe.categories_ = {k: list(v) for k, v in data["categories"].items()}
            pipe.stats_ = dict(data.get("stats", {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"the stored feature pipeline is malformed ({exc!r})") from None
        return pipe


def _numeric(series: pd.Series) -> np.ndarray:
    """float64 values; booleans become 0/1, anything that is not a number becomes NaN."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype("float64").to_numpy()
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    out[~np.isfinite(out)] = np.nan
    return out


def _sum(df: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Row sums; missing parts count as 0 unless every part is missing."""
    parts = np.column_stack([_numeric(df[c]) for c in columns])
    out = np.nansum(parts, axis=1)
    out[np.isnan(parts).all(axis=1)] = np.nan
    return out


def _codes(series: pd.Series, categories: list[str]) -> np.ndarray:
    """float32 position of each label (as _text makes it) in `categories`, NaN when missing, blank or unseen;
    the few distinct values are made into labels and looked up once, not a million times."""
    rows, distinct = pd.factorize(series)
    lookup = pd.Index(categories).get_indexer(_text(pd.Series(distinct)).astype(object)).astype(np.float32)
    lookup[lookup < 0] = np.nan
    return (
        np.where(rows >= 0, lookup[np.maximum(rows, 0)], np.float32(np.nan))
        if len(lookup)
        else np.full(len(series), np.nan, np.float32)
    )


def _text(series: pd.Series) -> pd.Series:
    """Category labels as stripped text (so 1, '1' and ' 1' are one category); blanks are missing."""
    text = series.astype("string").str.strip()
    return text.mask(text == "")


def _stats(values: np.ndarray) -> dict[str, float]:
    n = max(len(values), 1)
    present = ~np.isnan(values)
    return {
        "missing_rate": float(1 - present.sum() / n),
        "nonzero_rate": float(np.count_nonzero(values[present]) / n),
    }
