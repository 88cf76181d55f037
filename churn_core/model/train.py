"""Training (`churn train`): honest held-out evaluation into the model card, registration, continued training.

* Profiles `seed` (the talk's model exactly) and `tuned` (searched) are fitted by churn_core.model.fit.
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
from sklearn.model_selection import RepeatedStratifiedKFold

from churn_core.model import tuning
from churn_core.model.calibration import Calibrator
from churn_core.model.card import CalibrationSummary, ModelCard, Ranking, Thresholds
from churn_core.model.datasets import Dataset, DatasetError, check_labels
from churn_core.model.evaluate import Ranked, binary_metrics, capacity_threshold, evaluation_report, f2_threshold
from churn_core.model.features import FeaturePipeline, ModelError
from churn_core.model.fit import PROFILES, Fitted, fit_core, make_pipeline, margins
from churn_core.model.registry import LoadedModel, Registry
from churn_core.model.snapshots import evaluator_dataset
from churn_core.model.splits import check_split, cohort_week, describe, holdout_frame, random_split, time_split
from churn_core.model.study import feature_study
from churn_core.settings import Settings

THRESHOLD_RULES = ("f2", "capacity")
SEED_TEST_SIZE = 0.33
Progress = Callable[[str], None]

__all__ = ["PROFILES", "TrainedModel", "cross_validate", "fit_model", "train_candidate"]


@dataclass
class TrainedModel:
    """A model ready to register: booster, fitted pipeline and calibrator, card, and its held-out rows."""

    booster: xgb.Booster
    pipeline: FeaturePipeline
    calibrator: Calibrator
    card: ModelCard
    holdout: pd.DataFrame  # raw test rows plus splits.HOLDOUT_COLUMNS, for comparing models at promotion
    version: str = ""

    @property
    def rows(self) -> int:
        return self.card.training.rows


# --- training a model for the registry --------------------------------------------------------------------


def fit_model(
    data: Dataset,
    settings: Settings,
    profile: str = "tuned",
    *,
    base: LoadedModel | None = None,
    progress: Progress | None = None,
) -> TrainedModel:
    """Train, calibrate and evaluate one model on `data`; nothing is written anywhere."""
    say = progress or (lambda _: None)
    _check_choices(profile, settings)
    check_labels(data.y, data.name)
    if base is not None:
        data = _new_rows(data, base)
    by_time = time_split(data, SEED_TEST_SIZE)
    by_random = random_split(data, SEED_TEST_SIZE, settings.random_seed)
    primary = by_time or by_random
    check_split(data, primary)
    train, test = data.subset(primary.train), data.subset(primary.test)
    say(f"Training {'continued' if base is not None else profile} model on {len(train.y):,} rows")
    fitted = fit_core(train, settings, profile, base=base)
    say("Evaluating on held-out rows")
    thresholds = _thresholds(train, fitted, settings)
    card = _card(data, train, test, fitted, thresholds, profile, base, settings.bootstrap_samples)
    card.split = {"primary": primary.kind, **primary.detail}
    card.evaluation = {primary.kind: _ranking(test, _probability(fitted, test), primary.detail)}
    if by_time is not None and base is None:
        say("Checking on the seed's random split")
        check_split(data, by_random)
        params, on_random = fitted.search.params, (data.subset(by_random.train), data.subset(by_random.test))
        card.evaluation["random"] = _refit_ranking(*on_random, settings, profile, params, by_random.detail)
    if profile == "tuned" and base is None:
        say("Training the seed's model on the same rows for comparison")
        card.comparison = {"seed": _refit_ranking(train, test, settings, "seed", tuning.SEED_PARAMS)}
    return TrainedModel(fitted.booster, fitted.pipeline, fitted.calibrator, card, holdout_frame(test))


def _check_choices(profile: str, settings: Settings) -> None:
    if profile not in PROFILES:
        raise ModelError(f"unknown profile {profile!r}: choose {' or '.join(PROFILES)}")
    if settings.threshold_rule not in THRESHOLD_RULES:
        raise ModelError(
            f"setting threshold_rule must be one of {', '.join(THRESHOLD_RULES)}, not {settings.threshold_rule!r}"
        )


def _probability(fitted: Fitted, test: Dataset) -> np.ndarray:
    return fitted.calibrator(margins(fitted.pipeline, fitted.booster, test.frame))


def _card(
    data: Dataset,
    train: Dataset,
    test: Dataset,
    fitted: Fitted,
    thresholds: Thresholds,
    profile: str,
    base: LoadedModel | None,
    n_boot: int,
) -> ModelCard:
    """The card of a freshly fitted model: its data, configuration and held-out evaluation."""
    threshold = thresholds.capacity if thresholds.rule == "capacity" and thresholds.capacity is not None else None
    threshold = float(thresholds.f2 if threshold is None else threshold)
    margin = margins(fitted.pipeline, fitted.booster, test.frame)
    prob = fitted.calibrator(margin)
    weeks = cohort_week(test.dates) if test.dates is not None else None
    report = evaluation_report(test.y, prob, threshold, day=test.day, week=weeks, n_boot=n_boot)
    card = ModelCard(
        profile="continued" if base is not None else profile,
        parent=base.version if base is not None else None,
        dataset=data.name,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        features=fitted.pipeline.features_,
        feature_types=fitted.pipeline.feature_types_,
        dropped_features=fitted.pipeline.dropped_,
        params={k: _plain(v) for k, v in fitted.search.params.items()},
        num_boost_round=int(fitted.booster.num_boosted_rounds()),
        tuning=fitted.search.summary(),
        training=describe(train, fingerprint=True),
        training_rows=int(len(train.y)),
        test=describe(test),
        threshold=threshold,
        thresholds=thresholds,
        **report,
        calibration=CalibrationSummary(
            method=fitted.calibrator.fitted_method_,
            ece_uncalibrated=binary_metrics(test.y, 1 / (1 + np.exp(-margin)), threshold)["ece"],
            ece=report["metrics"]["ece"],
            fitted_on="out-of-fold predictions of training rows",
        ),
        feature_study=feature_study(train.frame, fitted.pipeline),
        pipeline=fitted.pipeline.to_dict(),
        calibrator=fitted.calibrator.to_dict(),
        data_source=data.source,
        data_notes=data.notes,
        library_versions={
            "xgboost": xgb.__version__,
            "scikit-learn": sklearn.__version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        train_seconds=round(fitted.seconds, 2),
    )
    if test.truth is not None:  # demo data: the best any model could do on the same rows
        oracle = _ranking(test, np.asarray(test.truth))
        card.oracle_roc_auc, card.oracle_roc_auc_by_day = oracle.roc_auc, oracle.roc_auc_by_day or {}
    return card


def _new_rows(data: Dataset, base: LoadedModel) -> Dataset:
    """The rows a continued model learns from: cohorts after the champion's training window (or all)."""
    if base.card.dataset != data.name:
        raise ModelError(
            f"the champion {base.version} was trained on {base.card.dataset!r}, not "
            f"{data.name!r}: continue training only on the same kind of data"
        )
    last = base.card.training.date_max
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


def _thresholds(train: Dataset, fitted: Fitted, settings: Settings) -> Thresholds:
    """The F2 cut-off, and the one filling settings.capacity_per_week, both from out-of-fold probabilities
    (the capacity one at each evaluator's last day)."""
    thresholds = Thresholds(
        rule=settings.threshold_rule,
        f2=f2_threshold(fitted.oof_y, fitted.oof_prob),
        capacity_per_week=settings.capacity_per_week,
    )
    if train.dates is None:
        return thresholds
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
    thresholds.capacity = capacity_threshold(last["p"].to_numpy(), int(round(share * len(last))))
    thresholds.evaluators_per_week = round(weekly, 1)
    return thresholds


def _ranking(test: Dataset, score: np.ndarray, split: dict[str, Any] | None = None) -> Ranking:
    """ROC and PR AUC of `score` on the test rows, overall and per day of trial."""
    ranked = Ranked(test.y, score)
    by_day = None
    if test.day is not None:
        by_day = {str(d): Ranked(test.y[test.day == d], score[test.day == d]).roc_auc() for d in np.unique(test.day)}
    return Ranking(split, ranked.roc_auc(), ranked.pr_auc(), int(len(test.y)), by_day)


def _refit_ranking(
    train: Dataset,
    test: Dataset,
    settings: Settings,
    profile: str,
    params: dict[str, Any],
    split: dict[str, Any] | None = None,
) -> Ranking:
    """Ranking of one configuration trained on `train` (no search, no calibration: ranks need neither)."""
    pipeline = make_pipeline(train, profile, settings).fit(train.frame)
    x = pipeline.transform(train.frame).to_numpy(np.float32)
    booster = xgb.train(
        tuning.native(params, tuning.threads(settings)),
        tuning.dmatrix(x, train.y, pipeline.features_, pipeline.feature_types_, quantile=True),
        num_boost_round=int(params["n_estimators"]),
    )
    return _ranking(test, margins(pipeline, booster, test.frame), split)


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
