"""The bar a tuned pipeline must clear on a customer table: logistic regression, random forest and XGBoost
with default parameters, cross-validated on exactly the folds churn_core.model.train.cross_validate uses.

The protocol of shared/data/real/reference_baselines.py: one-hot categories, scaling for logistic
regression only, RF of 300 trees, XGBoost of 300 trees at learning rate 0.1 and depth 6 (its "defaults");
XGBoost's own library defaults (100 trees, learning rate 0.3) too, as `xgboost_library`. Missing numbers
are filled with the training fold's median for the two scikit-learn models (XGBoost routes them itself).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from xgboost import XGBClassifier

from churn_core.model.datasets import Dataset
from churn_core.model.evaluate import Ranked

BASELINES = ("logistic_regression", "random_forest", "xgboost_defaults", "xgboost_library")


def _prepare(data: Dataset, scale: bool, impute: bool) -> ColumnTransformer:
    numeric: list[object] = [SimpleImputer(strategy="median")] if impute else []
    numeric += [StandardScaler()] if scale else []
    steps = [("categories", OneHotEncoder(handle_unknown="ignore"), data.categorical)]
    steps.append(("numbers", make_pipeline(*numeric) if numeric else "passthrough", data.numeric))
    return ColumnTransformer(steps)


def models(data: Dataset, threads: int) -> dict[str, Pipeline]:
    """The baselines, each a scikit-learn pipeline from the dataset's raw frame."""
    tree = lambda: _prepare(data, scale=False, impute=False)  # noqa: E731
    estimators: dict[str, tuple[ColumnTransformer, ClassifierMixin]] = {
        "logistic_regression": (_prepare(data, scale=True, impute=True), LogisticRegression(max_iter=2000)),
        "random_forest": (
            _prepare(data, scale=False, impute=True),
            RandomForestClassifier(n_estimators=300, n_jobs=threads, random_state=0),
        ),
        "xgboost_defaults": (
            tree(),
            XGBClassifier(n_estimators=300, learning_rate=0.1, max_depth=6, n_jobs=threads, random_state=0),
        ),
        "xgboost_library": (tree(), XGBClassifier(n_jobs=threads, random_state=0)),
    }
    return {name: make_pipeline(prepare, model) for name, (prepare, model) in estimators.items()}


def raw_frame(data: Dataset) -> pd.DataFrame:
    """The dataset's input columns as scikit-learn takes them: floats with NaN, categories as objects."""
    numbers = {c: pd.to_numeric(data.frame[c]).astype(np.float64) for c in data.numeric}
    return pd.DataFrame({**numbers, **{c: data.frame[c].astype(object) for c in data.categorical}})


def folds(data: Dataset, splits: int = 5, repeats: int = 3, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The folds of cross_validate(data, splits=splits, repeats=repeats, seed=seed), in its order."""
    cv = RepeatedStratifiedKFold(n_splits=splits, n_repeats=repeats, random_state=seed)
    return list(cv.split(np.zeros(len(data.y)), data.y))


def baseline_aucs(data: Dataset, threads: int, splits: int = 5, repeats: int = 3) -> dict[str, list[float]]:
    """ROC AUC of every baseline on every held-out fold."""
    out: dict[str, list[float]] = {name: [] for name in BASELINES}
    frame = raw_frame(data)
    for train, test in folds(data, splits, repeats):
        for name, model in models(data, threads).items():
            model.fit(frame.iloc[train], data.y[train])
            out[name].append(Ranked(data.y[test], model.predict_proba(frame.iloc[test])[:, 1]).roc_auc())
    return out
