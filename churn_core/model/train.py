"""Training (`churn train`): profiles `seed` and `tuned`, honest held-out evaluation, continued training.

* `seed` is the talk's XGBClassifier exactly (churn_core.model.tuning.SEED_PARAMS) on the seed's features.
* `tuned` searches hyper-parameters by grouped CV with early stopping within settings.tuning_budget_seconds
  (the seed's configuration is its first trial), on the seed's features plus day of trial, segment and ratios.
* Both learn churn (1 = churned) from day-of-trial snapshots, so one model scores an evaluator on any day
  1..7 with only what was known that day. The model is trained on earlier cohorts and tested on later
  ones (split by evaluation start date; all snapshots of an evaluator on one side), and also judged on the
  seed's random 0.33 split. Calibration and the decision threshold come from out-of-fold predictions of
  the training rows, so the test rows are touched only to report.
* `--continue` boosts the champion with the evaluators it has not seen (xgb_model = champion booster).
"""

from __future__ import annotations

import datetime as dt
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sklearn
import xgboost as xgb
from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split

from churn_core.model import tuning
from churn_core.model.calibration import Calibrator
from churn_core.model.datasets import Dataset, DatasetError, check_labels, frame_fingerprint
from churn_core.model.evaluate import _Ranked, binary_metrics, capacity_threshold, evaluation_report, f2_threshold
from churn_core.model.features import SEED_NUMERIC, FeaturePipeline, ModelError
from churn_core.model.study import feature_study
from churn_core.settings import Settings

PROFILES = ("seed", "tuned")
THRESHOLD_RULES = ("f2", "capacity")
SEED_TEST_SIZE = 0.33
HOLDOUT_COLUMNS = ("__churned", "__day", "__group", "__date")
Progress = Callable[[str], None]

__all__ = [
    "PROFILES",
    "ModelError",
    "TrainedModel",
    "capacity_threshold",
    "cross_validate",
    "fit_model",
    "train_candidate",
]


@dataclass
class TrainedModel:
    """A model ready to register: booster, fitted pipeline and calibrator, card, and its held-out rows."""

    booster: xgb.Booster
    pipeline: FeaturePipeline
    calibrator: Calibrator
    card: dict[str, Any]
    holdout: pd.DataFrame  # raw test rows plus HOLDOUT_COLUMNS, for comparing models at promotion
    version: str = ""

    @property
    def rows(self) -> int:
        return int(self.card["training"]["rows"])


@dataclass
class Split:
    kind: str
    train: np.ndarray
    test: np.ndarray
    detail: dict[str, Any]


# --- splits ---------------------------------------------------------------------------------------------


def time_split(data: Dataset, test_size: float) -> Split | None:
    """Later cohorts (by evaluation start date) are the test set; None when the data has no usable dates."""
    if data.dates is None:
        return None
    unique, inverse = np.unique(data.groups, return_inverse=True)
    first = np.full(len(unique), np.datetime64("9999-12-31"), dtype="datetime64[D]")
    np.minimum.at(first, inverse, data.dates)
    cutoff = np.sort(first)[int(np.floor((1 - test_size) * (len(first) - 1)))]
    test_group = first > cutoff
    if test_group.all() or not test_group.any():
        return None
    test = test_group[inverse]
    return Split(
        "time",
        np.flatnonzero(~test),
        np.flatnonzero(test),
        {
            "train_dates": [str(first.min()), str(cutoff)],
            "test_dates": [str(first[test_group].min()), str(first.max())],
            "test_size": test_size,
        },
    )


def random_split(data: Dataset, test_size: float, seed: int) -> Split:
    """The seed's split: train_test_split(test_size=0.33, random_state=27), of whole groups."""
    unique, inverse = np.unique(data.groups, return_inverse=True)
    _, test_groups = train_test_split(np.arange(len(unique)), test_size=test_size, random_state=seed)
    in_test = np.zeros(len(unique), bool)
    in_test[test_groups] = True
    test = in_test[inverse]
    return Split("random", np.flatnonzero(~test), np.flatnonzero(test), {"test_size": test_size, "random_state": seed})


def _check_split(data: Dataset, split: Split) -> None:
    check_labels(data.y[split.train], f"the training part of the {split.kind} split")
    test = data.y[split.test]
    if test.sum() == 0 or test.sum() == len(test):
        raise DatasetError(
            f"the held-out part of the {split.kind} split has only one class: add data or "
            "spread the outcomes over more cohorts"
        )


def cohort_week(dates: np.ndarray) -> np.ndarray:
    """Monday of each date's week, as ISO text."""
    days = dates.astype("datetime64[D]").astype(np.int64)
    return (days - (days + 3) % 7).astype("datetime64[D]").astype(str)


# --- the core fit ---------------------------------------------------------------------------------------


@dataclass
class Fitted:
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
    train: Dataset, settings: Settings, profile: str, *, budget: float | None = None, base: Any | None = None
) -> Fitted:
    """Pipeline, search (or the seed's fixed model), calibration on OOF margins, final booster on all rows."""
    started = time.monotonic()
    pipeline = base.pipeline if base is not None else make_pipeline(train, profile, settings).fit(train.frame)
    x = pipeline.transform(train.frame).to_numpy(np.float32)
    names, types = pipeline.features_, pipeline.feature_types_
    if base is not None:
        params = {k: v for k, v in base.card["params"].items()}
        result = tuning.continue_search(x, train.y, train.groups, names, types, settings, base.booster, params)
    elif profile == "seed":
        result = tuning.search(
            x,
            train.y,
            train.groups,
            names,
            types,
            settings,
            budget=float("inf"),
            max_trials=1,
            fixed=tuning.SEED_PARAMS,
        )
    else:
        result = tuning.search(
            x,
            train.y,
            train.groups,
            names,
            types,
            settings,
            budget=settings.tuning_budget_seconds if budget is None else budget,
            max_trials=settings.tuning_max_trials,
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


# --- training a model for the registry --------------------------------------------------------------------


def fit_model(
    data: Dataset,
    settings: Settings,
    profile: str = "tuned",
    *,
    base: Any | None = None,
    progress: Progress | None = None,
) -> TrainedModel:
    """Train, calibrate and evaluate one model on `data`; nothing is written anywhere."""
    say = progress or (lambda _: None)
    if profile not in PROFILES:
        raise ModelError(f"unknown profile {profile!r}: choose {' or '.join(PROFILES)}")
    if settings.threshold_rule not in THRESHOLD_RULES:
        raise ModelError(
            f"setting threshold_rule must be one of {', '.join(THRESHOLD_RULES)}, not {settings.threshold_rule!r}"
        )
    check_labels(data.y, data.name)
    parent = None
    if base is not None:
        data, parent = _new_rows(data, base), base.version
    by_time = time_split(data, SEED_TEST_SIZE)
    by_random = random_split(data, SEED_TEST_SIZE, settings.random_seed)
    primary = by_time or by_random
    _check_split(data, primary)
    train, test = data.subset(primary.train), data.subset(primary.test)
    say(f"Training {'continued' if base is not None else profile} model on {len(train.y):,} rows")
    fitted = fit_core(train, settings, profile, base=base)
    threshold_f2 = f2_threshold(fitted.oof_y, fitted.oof_prob)
    capacity = _capacity(train, fitted, settings)
    rule = settings.threshold_rule
    threshold = capacity["capacity"] if rule == "capacity" and capacity["capacity"] is not None else threshold_f2
    say("Evaluating on held-out rows")
    prob = fitted.calibrator(margins(fitted.pipeline, fitted.booster, test.frame))
    weeks = cohort_week(test.dates) if test.dates is not None else None
    report = evaluation_report(test.y, prob, threshold, day=test.day, week=weeks, n_boot=settings.bootstrap_samples)
    raw_prob = 1 / (1 + np.exp(-margins(fitted.pipeline, fitted.booster, test.frame)))
    evaluation: dict[str, Any] = {primary.kind: {"split": primary.detail, **_ranking(test, prob)}}
    if by_time is not None and base is None:
        say("Checking on the seed's random split")
        evaluation["random"] = {
            "split": by_random.detail,
            **_refit_ranking(data, by_random, settings, profile, fitted.search.params),
        }
    comparison = {}
    if profile == "tuned" and base is None:
        say("Training the seed's model on the same rows for comparison")
        seed = fit_core(train, settings, "seed")
        seed_prob = seed.calibrator(margins(seed.pipeline, seed.booster, test.frame))
        comparison = {"seed": _ranking(test, seed_prob)}
    card = {
        "profile": "continued" if base is not None else profile,
        "parent": parent,
        "dataset": data.name,
        "target": "churn",
        "positive_class": "churned (1 = churned, 0 = retained)",
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "features": fitted.pipeline.features_,
        "feature_types": fitted.pipeline.feature_types_,
        "dropped_features": fitted.pipeline.dropped_,
        "params": {k: _plain(v) for k, v in fitted.search.params.items()},
        "num_boost_round": int(fitted.booster.num_boosted_rounds()),
        "tuning": fitted.search.summary(),
        "training": _describe(train, fitted),
        "training_rows": int(len(train.y)),
        "test": _describe(test),
        "split": {"primary": primary.kind, **primary.detail},
        "threshold": float(threshold),
        "thresholds": {"rule": rule, "f2": threshold_f2, **capacity},
        **report,
        "calibration": {
            "method": fitted.calibrator.fitted_method_,
            "ece_uncalibrated": binary_metrics(test.y, raw_prob, threshold)["ece"],
            "ece": report["metrics"]["ece"],
            "fitted_on": "out-of-fold predictions of training rows",
        },
        "metrics_by_day": report.get("metrics_by_day", {}),
        "evaluation": evaluation,
        "comparison": comparison,
        "feature_study": feature_study(train.frame, fitted.pipeline),
        "pipeline": fitted.pipeline.to_dict(),
        "calibrator": fitted.calibrator.to_dict(),
        "data_source": data.source,
        "data_notes": data.notes,
        "library_versions": {
            "xgboost": xgb.__version__,
            "scikit-learn": sklearn.__version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "train_seconds": round(fitted.seconds, 2),
    }
    if test.truth is not None:
        card.update(_oracle(test))
    return TrainedModel(fitted.booster, fitted.pipeline, fitted.calibrator, card, _holdout(test))


def _new_rows(data: Dataset, base: Any) -> Dataset:
    """The rows a continued model learns from: cohorts after the champion's training window (or all)."""
    if base.card.get("dataset") != data.name:
        raise ModelError(
            f"the champion {base.version} was trained on {base.card.get('dataset')!r}, not "
            f"{data.name!r}: continue training only on the same kind of data"
        )
    last = (base.card.get("training") or {}).get("date_max")
    if data.dates is None or not last:
        return data
    rows = np.flatnonzero(data.dates > np.datetime64(last))
    if len(rows) == 0:
        raise ModelError(
            f"no evaluators started after {last}, the end of champion {base.version}'s training "
            "window: nothing new to continue with (run `churn train` without --continue)"
        )
    new = data.subset(rows)
    check_labels(new.y, f"the data after {last}")
    return new


def _capacity(train: Dataset, fitted: Fitted, settings: Settings) -> dict[str, Any]:
    """The cut-off filling settings.capacity_per_week, from OOF probabilities at each evaluator's last day."""
    if train.dates is None:
        return {"capacity": None, "capacity_per_week": settings.capacity_per_week}
    rows = fitted.oof_rows
    frame = pd.DataFrame(
        {
            "group": train.groups[rows],
            "day": train.day[rows] if train.day is not None else 0,
            "date": train.dates[rows],
            "p": fitted.oof_prob,
        }
    )
    last = frame.sort_values(["group", "day"]).groupby("group").tail(1)
    weeks = max((last["date"].max() - last["date"].min()).days + 1, 7) / 7
    weekly = len(last) / weeks
    share = min(settings.capacity_per_week / weekly, 1.0)
    return {
        "capacity": capacity_threshold(last["p"].to_numpy(), int(round(share * len(last)))),
        "capacity_per_week": settings.capacity_per_week,
        "evaluators_per_week": round(weekly, 1),
    }


def _ranking(test: Dataset, prob: np.ndarray) -> dict[str, Any]:
    ranked = _Ranked(test.y, prob)
    out: dict[str, Any] = {"roc_auc": ranked.roc_auc(), "pr_auc": ranked.pr_auc(), "rows": int(len(test.y))}
    if test.day is not None:
        out["roc_auc_by_day"] = {
            str(d): _Ranked(test.y[test.day == d], prob[test.day == d]).roc_auc() for d in np.unique(test.day)
        }
    return out


def _refit_ranking(
    data: Dataset, split: Split, settings: Settings, profile: str, params: dict[str, Any]
) -> dict[str, Any]:
    """Ranking metrics of the same configuration retrained on the other split (no new search)."""
    _check_split(data, split)
    train, test = data.subset(split.train), data.subset(split.test)
    pipeline = make_pipeline(train, profile, settings).fit(train.frame)
    x = pipeline.transform(train.frame).to_numpy(np.float32)
    booster = xgb.train(
        tuning.native(params, tuning.threads(settings)),
        tuning.dmatrix(x, train.y, pipeline.features_, pipeline.feature_types_, quantile=True),
        num_boost_round=int(params["n_estimators"]),
    )
    return _ranking(test, margins(pipeline, booster, test.frame))


def _oracle(test: Dataset) -> dict[str, Any]:
    """The best any model could do: ROC AUC of the generator's true churn probability on the same rows."""
    truth = np.asarray(test.truth)
    by_day = {}
    if test.day is not None:
        by_day = {str(d): _Ranked(test.y[test.day == d], truth[test.day == d]).roc_auc() for d in np.unique(test.day)}
    return {"oracle_roc_auc": _Ranked(test.y, truth).roc_auc(), "oracle_roc_auc_by_day": by_day}


def _describe(part: Dataset, fitted: Fitted | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rows": int(len(part.y)),
        "groups": int(len(np.unique(part.groups))),
        "churned": int(part.y.sum()),
        "churn_rate": float(part.y.mean()),
    }
    if part.dates is not None:
        out.update(date_min=str(part.dates.min()), date_max=str(part.dates.max()))
    if part.day is not None:
        out["as_of_days"] = sorted(int(d) for d in np.unique(part.day))
    if fitted is not None:
        out["fingerprint"] = frame_fingerprint(part.frame, part.y)
    return out


def _holdout(test: Dataset) -> pd.DataFrame:
    frame = test.frame.copy()
    frame["__churned"] = test.y.astype(np.int8)
    frame["__day"] = test.day if test.day is not None else 0
    frame["__group"] = test.groups.astype(str)
    frame["__date"] = test.dates.astype(str) if test.dates is not None else ""
    return frame


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# --- entry points ---------------------------------------------------------------------------------------


def train_candidate(
    warehouse: Any,
    settings: Settings,
    profile: str = "tuned",
    *,
    continue_training: bool = False,
    data: Dataset | None = None,
    progress: Progress | None = None,
) -> TrainedModel:
    """Train on the warehouse's evaluators (or `data`) and register the model as a candidate version."""
    from churn_core.model.datasets import evaluator_dataset
    from churn_core.model.registry import Registry

    if data is None:
        data = evaluator_dataset(warehouse)
    registry = Registry(settings, data.name)
    base = registry.load("champion") if continue_training else None
    model = fit_model(data, settings, profile, base=base, progress=progress)
    model.version = registry.register(model)
    return model


def cross_validate(
    data: Dataset,
    settings: Settings,
    profile: str = "tuned",
    *,
    splits: int = 5,
    repeats: int = 3,
    budget: float | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Repeated stratified k-fold CV of the whole pipeline (search inside each training fold only)."""
    if profile not in PROFILES:
        raise ModelError(f"unknown profile {profile!r}: choose {' or '.join(PROFILES)}")
    check_labels(data.y, data.name)
    if min(int(data.y.sum()), int(len(data.y) - data.y.sum())) < splits:
        raise DatasetError(f"{data.name}: too few rows of the rarer class for {splits}-fold CV")
    scores, chosen, started = [], [], time.monotonic()
    folds = RepeatedStratifiedKFold(n_splits=splits, n_repeats=repeats, random_state=seed)
    for train_rows, test_rows in folds.split(np.zeros(len(data.y)), data.y):
        train, test = data.subset(train_rows), data.subset(test_rows)
        fitted = fit_core(train, settings, profile, budget=budget)
        prob = fitted.calibrator(margins(fitted.pipeline, fitted.booster, test.frame))
        m = binary_metrics(test.y, prob, 0.5)
        m["f2"] = binary_metrics(test.y, prob, f2_threshold(fitted.oof_y, fitted.oof_prob))["f2"]
        scores.append({k: m[k] for k in ("roc_auc", "pr_auc", "f1", "accuracy", "f2", "brier", "ece")})
        chosen.append(
            {
                "cv_auc": fitted.search.cv_auc,
                "trials": len(fitted.search.trials),
                **{k: _plain(v) for k, v in fitted.search.params.items() if k != "objective"},
            }
        )
    table = pd.DataFrame(scores)
    return {
        "dataset": data.name,
        "profile": profile,
        "folds": f"{splits}x{repeats}",
        "rows": int(len(data.y)),
        "seconds": round(time.monotonic() - started, 1),
        "metrics": {k: {"mean": float(table[k].mean()), "sd": float(table[k].std(ddof=0))} for k in table},
        "per_fold": scores,
        "chosen": chosen,
        "note": "f1 and accuracy at probability 0.5 (as the reference protocol); f2 at the F2 cut-off",
    }
