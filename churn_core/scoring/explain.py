"""Exact SHAP values for XGBoost models, fast enough to explain every scored row.

`TreeExplainer(booster).shap_values(X)` returns what `booster.predict(DMatrix(X), pred_contribs=True)`
and `shap.TreeExplainer(booster)` (path-dependent perturbation) return, in margin (log-odds) space, with
the base value as the last column, so each row sums to the margin prediction. The trees are read from the
booster's own JSON (float32 thresholds, go left when x < threshold, missing values to the default side,
covers, leaf values, base_score) and explained by churn_core.scoring.treeshap, which does O(nodes) work per tree
and row instead of TreeSHAP's O(leaves * depth^2): well over 100x faster than pred_contribs. The kernels
are compiled once per machine and kept in `kernel_cache` (churn_core.scoring.treeshap_kernels.cache_in).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd
import xgboost

from churn_core.scoring import treeshap, treeshap_kernels

# How each objective maps learner_model_param.base_score (kept in output space) to a margin.
_LOGIT_OBJECTIVES = frozenset({"binary:logistic", "reg:logistic"})
_LOG_OBJECTIVES = frozenset({"count:poisson", "reg:gamma", "reg:tweedie", "survival:cox", "survival:aft"})


class TreeExplainer:
    """Precomputes a booster's trees once; `shap_values` then explains any number of rows.

    All the booster's trees are used, as `Booster.predict` does by default. Boosters the kernels do not
    cover -- categorical splits, gblinear or dart, several classes or targets -- are explained by xgboost
    itself, `booster.predict(DMatrix(X, enable_categorical=True), pred_contribs=True)`: exact too, only
    slower (for several outputs its result has an extra axis, and expected_value is the first output's).
    `fallback_reason` says why, or is "" when the fast kernels are used. With `kernel_cache`, the compiled
    kernels are loaded from (or, the first time on a machine, stored in) that directory.
    """

    feature_names: list[str]
    expected_value: float  # the base value, in margin space
    fallback_reason: str

    def __init__(self, booster: xgboost.Booster, kernel_cache: Path | None = None) -> None:
        if kernel_cache is not None:
            treeshap_kernels.cache_in(kernel_cache)
        self.booster = booster
        n_features = booster.num_features()
        self.feature_names = list(booster.feature_names or [f"f{i}" for i in range(n_features)])
        learner = json.loads(booster.save_raw("json"))["learner"]
        self.fallback_reason = _unsupported(learner)
        if self.fallback_reason:
            self._forest = self._tables = None
            no_values = np.full((1, n_features), np.nan, dtype=np.float32)
            self.expected_value = float(self._xgboost_contribs(no_values)[..., -1].ravel()[0])
            return
        trees = [_raw_tree(tree) for tree in learner["gradient_booster"]["model"]["trees"]]
        self._forest, self._tables = treeshap.build(trees, n_features)
        base = _base_margin(learner)
        self.expected_value = float(base + self._forest.expected.sum() + self._tables.expected.sum())

    def shap_values(self, X: np.ndarray | pd.DataFrame) -> np.ndarray:
        """SHAP values (float64), shape (n_rows, n_features + 1); the last column is the base value.

        A DataFrame's columns are taken in the booster's feature order. Runs on numba.get_num_threads()
        threads (numba.set_num_threads(1) for one).
        """
        if self.fallback_reason:
            return self._xgboost_contribs(X)
        x = self._as_float32(X)
        out = treeshap.explain(self._forest, self._tables, x, numba.get_num_threads())
        out[:, -1] = self.expected_value
        return out

    def _as_float32(self, X: np.ndarray | pd.DataFrame) -> np.ndarray:
        """Rows as one C-contiguous float32 array in the booster's feature order, NaN for missing."""
        if isinstance(X, pd.DataFrame):
            columns = self.feature_names if self.booster.feature_names else list(X.columns)
            x = X[columns].to_numpy(dtype=np.float32, na_value=np.nan)
        else:
            x = np.asarray(X, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise ValueError(f"expected rows of {len(self.feature_names)} features, got shape {x.shape}")
        return np.ascontiguousarray(x)

    def _xgboost_contribs(self, X: np.ndarray | pd.DataFrame) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            data = xgboost.DMatrix(X[self.feature_names] if self.booster.feature_names else X, enable_categorical=True)
        else:
            data = xgboost.DMatrix(X, feature_names=self.booster.feature_names)
        return self.booster.predict(data, pred_contribs=True)


def compile_kernels(kernel_cache: Path) -> None:
    """Compile the kernels into `kernel_cache` (or load them from it) without explaining anything, so that
    a caller can pay a machine's first compilation while it does other work (`churn demo` does)."""
    treeshap_kernels.cache_in(kernel_cache)
    treeshap.explain(*treeshap.build([], 1), np.zeros((1, 1), np.float32))


def _unsupported(learner: dict[str, Any]) -> str:
    """Why the kernels cannot explain this model, or '' when they can."""
    booster = learner["gradient_booster"]
    if booster["name"] != "gbtree":
        return f"{booster['name']} booster"
    param = learner["learner_model_param"]
    if int(param.get("num_class", "0")) > 1 or int(param.get("num_target", "1")) > 1:
        return "several outputs"
    for tree in booster["model"]["trees"]:
        if any(tree.get("split_type", ())) or tree.get("categories"):
            return "categorical splits"
        if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1:
            return "vector leaves"
    return ""


def _raw_tree(tree: dict[str, Any]) -> treeshap.RawTree:
    return treeshap.RawTree(
        left=np.asarray(tree["left_children"], dtype=np.int64),
        right=np.asarray(tree["right_children"], dtype=np.int64),
        feature=np.asarray(tree["split_indices"], dtype=np.int64),
        threshold=np.asarray(tree["split_conditions"], dtype=np.float32),
        default_left=np.asarray(tree["default_left"], dtype=bool),
        cover=np.asarray(tree["sum_hessian"], dtype=np.float64),
    )


def _base_margin(learner: dict[str, Any]) -> float:
    """base_score is stored in output space ("[4.07E-1]" in xgboost 3); the margin goes through the link."""
    base = float(np.float32(learner["learner_model_param"]["base_score"].strip("[]").split(",")[0]))
    objective = learner["objective"]["name"]
    if objective in _LOGIT_OBJECTIVES:
        return float(np.log(base / (1.0 - base)))
    if objective in _LOG_OBJECTIVES:
        return float(np.log(base))
    return base
