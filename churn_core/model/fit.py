"""Fitting one model: the profile's feature pipeline, the search (or the seed's fixed model), calibration on
out-of-fold margins, and the final booster on all training rows. Nothing is evaluated or written here.

* `seed` is the talk's XGBClassifier exactly (churn_core.model.tuning.SEED_PARAMS) on the seed's features.
* `tuned` searches hyper-parameters by grouped CV with early stopping (churn_core.model.tuning: from XGBoost's
  defaults until it stops improving, settings.tuning_budget_seconds a ceiling), on the seed's features plus
  day of trial, segment and ratios.
* With a `base` (a loaded champion) the search continues from its booster and pipeline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb

from churn_core.model import tuning
from churn_core.model.calibration import Calibrator
from churn_core.model.datasets import Dataset
from churn_core.model.features import SEED_NUMERIC, FeaturePipeline
from churn_core.model.registry import LoadedModel
from churn_core.settings import Settings

PROFILES = ("seed", "tuned")


@dataclass
class Fitted:
    """A fitted model with its search and the out-of-fold probabilities calibration and thresholds come from."""

    pipeline: FeaturePipeline
    booster: xgb.Booster
    calibrator: Calibrator
    search: tuning.SearchResult
    oof_y: np.ndarray
    oof_prob: np.ndarray
    oof_rows: np.ndarray
    seconds: float


def make_pipeline(data: Dataset, profile: str, settings: Settings) -> FeaturePipeline:
    if profile == "seed" and data.day is not None:  # the evaluator data: the seed's own features
        return FeaturePipeline(SEED_NUMERIC, (), (), settings.sparse_min_nonzero_rate, data.categorical_mode)
    return FeaturePipeline(
        data.numeric,
        data.categorical,
        data.ratios,
        settings.sparse_min_nonzero_rate,
        data.categorical_mode,
        data.sums,
    )


def fit_core(
    train: Dataset,
    settings: Settings,
    profile: str,
    *,
    budget: float | None = None,
    base: LoadedModel | None = None,
) -> Fitted:
    """Pipeline, search (or the seed's fixed model), calibration on OOF margins, final booster on all rows."""
    started = time.monotonic()
    pipeline = base.pipeline if base is not None else make_pipeline(train, profile, settings).fit(train.frame)
    x = pipeline.transform(train.frame).to_numpy(np.float32)
    names, types = pipeline.features_, pipeline.feature_types_
    if base is not None:
        params = dict(base.card.params)
        result = tuning.continue_search(x, train.y, train.groups, names, types, settings, base.booster, params)
    else:  # the seed profile cross-validates its one fixed configuration (for its out-of-fold margins)
        seed = profile == "seed"
        result = tuning.search(
            x,
            train.y,
            train.groups,
            names,
            types,
            settings,
            budget=float("inf") if seed else settings.tuning_budget_seconds if budget is None else budget,
            max_trials=1 if seed else settings.tuning_max_trials,
            fixed=tuning.SEED_PARAMS if seed else None,
        )
    oof_y = train.y[result.oof_rows]
    calibrator = Calibrator(settings.calibration_method).fit(result.oof_margin, oof_y)
    booster = xgb.train(
        tuning.native(result.params, tuning.threads(settings)),
        tuning.dmatrix(x, train.y, names, types, quantile=True),
        num_boost_round=int(result.params["n_estimators"]),
        xgb_model=base.booster if base is not None else None,
    )
    return Fitted(
        pipeline,
        booster,
        calibrator,
        result,
        oof_y,
        calibrator(result.oof_margin),
        result.oof_rows,
        time.monotonic() - started,
    )


def margins(fitted_pipeline: FeaturePipeline, booster: xgb.Booster, frame: pd.DataFrame) -> np.ndarray:
    x = fitted_pipeline.transform(frame).to_numpy(np.float32)
    return np.asarray(booster.inplace_predict(x, predict_type="margin"), np.float64)
