"""Hyper-parameter search: grouped, stratified k-fold CV with early stopping, inside a time budget.

Every trial trains one booster per fold, stops each on its validation fold's log-loss, and is scored by
the mean validation ROC AUC at the number of trees the final model will have. The seed talk's exact
configuration is the first trial, then come hand-picked starts, then random draws; a start is kept unless
the seed's configuration or a draw beats it by more than the CV noise (see `choose`). The out-of-fold
margins of the chosen trial are kept: the calibrator and the decision threshold are fitted on them
(held-out data that the final model's test set never touches).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xgboost as xgb
from sklearn.model_selection import StratifiedKFold

from churn_core.model.card import TuningSummary
from churn_core.model.evaluate import Ranked
from churn_core.settings import Settings

# The seed talk's XGBClassifier, exactly (XGBClassifier names; `seed=27` is random_state).
SEED_PARAMS: dict[str, Any] = {
    "learning_rate": 0.1,
    "n_estimators": 200,
    "max_depth": 3,
    "min_child_weight": 6,
    "gamma": 0.0,
    "subsample": 0.5,
    "colsample_bytree": 1.0,
    "colsample_bylevel": 1.0,
    "objective": "binary:logistic",
    "scale_pos_weight": 1.0,
    "random_state": 27,
}
# Hand-picked starting points that often win on churn tables: a general default, shallow and additive
# models learning slowly, and deeper ones with regularised categorical splits.
STARTS: tuple[dict[str, Any], ...] = (
    {
        "learning_rate": 0.05,
        "max_depth": 4,
        "min_child_weight": 5,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "max_cat_threshold": 8,
    },
    {"learning_rate": 0.03, "max_depth": 2, "min_child_weight": 5, "subsample": 0.8, "colsample_bytree": 0.6},
    {"learning_rate": 0.05, "max_depth": 1, "min_child_weight": 5, "subsample": 0.8, "colsample_bytree": 0.6},
    {
        "learning_rate": 0.03,
        "max_depth": 5,
        "min_child_weight": 3,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "max_cat_threshold": 4,
    },
    {
        "learning_rate": 0.03,
        "max_depth": 6,
        "min_child_weight": 2,
        "subsample": 0.8,
        "colsample_bytree": 0.7,
        "gamma": 1.0,
    },
)


@dataclass
class Trial:
    params: dict[str, Any]
    cv_auc: float
    rounds: int
    seconds: float
    fold_aucs: list[float]
    completed: bool = True


@dataclass
class SearchResult:
    params: dict[str, Any]  # XGBClassifier names, n_estimators = trees to train on all rows (added ones if continued)
    cv_auc: float
    oof_margin: np.ndarray  # out-of-fold margins of the chosen trial, for rows `oof_rows`
    oof_rows: np.ndarray
    trials: list[Trial] = field(default_factory=list)
    seconds: float = 0.0
    stopped_by: str = ""

    def summary(self) -> TuningSummary:
        """The search as the model card records it."""
        return TuningSummary(
            cv_auc=self.cv_auc,
            trials=len(self.trials),
            seconds=round(self.seconds, 2),
            stopped_by=self.stopped_by,
            history=[
                {
                    "cv_auc": t.cv_auc,
                    "rounds": t.rounds,
                    "seconds": round(t.seconds, 2),
                    "completed": t.completed,
                    **{k: v for k, v in t.params.items() if k != "objective"},
                }
                for t in self.trials
            ],
        )


def threads(settings: Settings) -> int:
    return int(getattr(settings, "train_threads", 0) or os.cpu_count() or 1)


def native(params: Mapping[str, Any], nthread: int) -> dict[str, Any]:
    """XGBClassifier-style parameters as xgboost.train parameters."""
    out = {
        "objective": params.get("objective", "binary:logistic"),
        "tree_method": "hist",
        "nthread": nthread,
        "eval_metric": "logloss",
        "seed": int(params.get("random_state", 0)),
    }
    rename = {"learning_rate": "eta", "reg_lambda": "lambda", "reg_alpha": "alpha"}
    for key, value in params.items():
        if key in ("n_estimators", "random_state", "objective"):
            continue
        out[rename.get(key, key)] = value
    return out


def dmatrix(
    x: np.ndarray,
    y: np.ndarray | None,
    names: list[str],
    types: list[str],
    quantile: bool = False,
    ref: xgb.DMatrix | None = None,
) -> xgb.DMatrix:
    kind = xgb.QuantileDMatrix if quantile else xgb.DMatrix
    extra = {"ref": ref} if quantile and ref is not None else {}
    return kind(x, label=y, feature_names=names, feature_types=types, enable_categorical="c" in types, **extra)


def group_folds(y: np.ndarray, groups: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k folds in which all rows of a group fall in the same fold."""
    unique, inverse = np.unique(groups, return_inverse=True)
    if len(unique) == len(y):
        return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    label = np.zeros(len(unique), np.int8)
    np.maximum.at(label, inverse, np.asarray(y, np.int8))
    folds = []
    for _, valid_groups in StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(unique)), label):
        in_valid = np.zeros(len(unique), bool)
        in_valid[valid_groups] = True
        mask = in_valid[inverse]
        folds.append((np.flatnonzero(~mask), np.flatnonzero(mask)))
    return folds


class _Deadline(xgb.callback.TrainingCallback):
    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline, self.hit = deadline, False

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        self.hit = time.monotonic() > self.deadline
        return self.hit


def sample_params(rng: np.random.Generator, categorical: bool) -> dict[str, Any]:
    """One random configuration from the search space."""
    params = {
        "learning_rate": float(np.exp(rng.uniform(np.log(0.01), np.log(0.15)))),
        "max_depth": int(rng.choice([1, 2, 3, 4, 5, 6, 7, 8])),
        "min_child_weight": float(np.exp(rng.uniform(np.log(0.5), np.log(50)))),
        "subsample": float(rng.uniform(0.5, 1.0)),
        "colsample_bytree": float(rng.uniform(0.4, 1.0)),
        "reg_lambda": float(np.exp(rng.uniform(np.log(0.1), np.log(20)))),
        "reg_alpha": float(0 if rng.random() < 0.5 else np.exp(rng.uniform(np.log(0.01), np.log(5)))),
        "gamma": float(0 if rng.random() < 0.5 else rng.uniform(0, 2)),
    }
    if categorical:
        params["max_cat_threshold"] = int(rng.choice([4, 8, 16, 64]))
    return params


def candidates(settings: Settings, categorical: bool) -> Iterator[tuple[dict[str, Any], bool]]:
    """(params, early stopping?) in trial order: the seed's exact model, the starts, then random draws."""
    yield dict(SEED_PARAMS), False
    base = {"objective": "binary:logistic", "random_state": settings.random_seed}
    for start in STARTS:
        yield {**base, **start}, True
    rng = np.random.default_rng(settings.random_seed)
    while True:
        yield {**base, **sample_params(rng, categorical)}, True


class FoldData:
    """The fold matrices, built once and shared by every trial."""

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        groups: np.ndarray,
        names: list[str],
        types: list[str],
        k: int,
        seed: int,
        base_margin: np.ndarray | None = None,
    ) -> None:
        self.folds = group_folds(y, groups, k, seed)
        self.y = y
        self.sets = []
        for train, valid in self.folds:
            dtrain = dmatrix(x[train], y[train], names, types, quantile=base_margin is None)
            dvalid = dmatrix(x[valid], y[valid], names, types, quantile=base_margin is None, ref=dtrain)
            if base_margin is not None:
                dtrain.set_base_margin(base_margin[train])
                dvalid.set_base_margin(base_margin[valid])
            self.sets.append((dtrain, dvalid))


def run_trial(
    folds: FoldData,
    params: Mapping[str, Any],
    early: bool,
    settings: Settings,
    deadline: float | None,
    base: xgb.Booster | None = None,
) -> tuple[Trial, np.ndarray]:
    """Cross-validate one configuration; returns the trial and its out-of-fold margins.

    Each fold stops early on its own validation rows, but every fold is then scored at one shared number
    of trees (the mean of their best iterations), as the final model will be: scoring each fold at its own
    best iteration flatters fast-learning configurations, whose luckiest round is picked on the very rows
    that judge them."""
    started = time.monotonic()
    nthread = threads(settings)
    max_rounds = settings.tuning_max_rounds if early else int(params["n_estimators"])
    boosters, best_rounds, completed = [], [], True
    for dtrain, dvalid in folds.sets:
        stop = _Deadline(deadline if deadline is not None else float("inf"))
        booster = xgb.train(
            native(params, nthread),
            dtrain,
            num_boost_round=max_rounds,
            evals=[(dvalid, "valid")],
            verbose_eval=False,
            callbacks=[stop],
            early_stopping_rounds=settings.early_stopping_rounds if early else None,
        )
        if stop.hit:
            completed = False
            break
        boosters.append(booster)
        best_rounds.append(booster.best_iteration + 1 if early else max_rounds)
    oof = np.zeros(len(folds.y))
    aucs: list[float] = []
    shared = int(np.ceil(np.mean(best_rounds))) if best_rounds else 0
    if completed:
        for booster, (_, valid), (_, dvalid) in zip(boosters, folds.folds, folds.sets, strict=True):
            last = min(shared, booster.num_boosted_rounds())
            oof[valid] = booster.predict(dvalid, output_margin=True, iteration_range=(0, last))
            aucs.append(Ranked(folds.y[valid], oof[valid]).roc_auc())
    # The final model learns from all k/(k-1) times a fold's rows, which carry proportionally more trees.
    k = len(folds.folds)
    rounds = int(np.ceil(shared * (k / (k - 1) if early else 1.0)))
    trial = Trial(
        dict(params),
        float(np.mean(aucs)) if completed else float("nan"),
        rounds,
        time.monotonic() - started,
        aucs,
        completed,
    )
    return trial, oof


def search(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    names: list[str],
    types: list[str],
    settings: Settings,
    *,
    budget: float,
    max_trials: int,
    fixed: Mapping[str, Any] | None = None,
) -> SearchResult:
    """Find the configuration with the best CV ROC AUC within `budget` seconds (the first trial always runs).

    With `fixed`, only that configuration is cross-validated (for the seed profile: its OOF margins)."""
    started = time.monotonic()
    rows = _tuning_rows(y, groups, settings)
    folds = FoldData(x[rows], y[rows], groups[rows], names, types, settings.tuning_folds, settings.random_seed)
    trials: list[Trial] = []
    margins: list[np.ndarray] = []
    stopped_by = "max trials"
    source = iter([(dict(fixed), False)]) if fixed is not None else candidates(settings, "c" in types)
    for i, (params, early) in enumerate(source):
        if i >= max_trials:
            break
        elapsed = time.monotonic() - started
        if i > 0 and elapsed + np.mean([t.seconds for t in trials]) > budget:
            stopped_by = "time budget"
            break
        deadline = None if i == 0 else started + budget
        trial, oof = run_trial(folds, params, early, settings, deadline)
        if not trial.completed:
            stopped_by = "time budget"
            break
        trials.append(trial)
        margins.append(oof)
    chosen = choose(trials, settings.tuning_min_gain)
    trial, oof = trials[chosen], margins[chosen]
    params = {**trial.params, "n_estimators": trial.rounds}
    return SearchResult(params, trial.cv_auc, oof, rows, trials, time.monotonic() - started, stopped_by)


def choose(trials: list[Trial], min_gain: float) -> int:
    """Index of the chosen trial: the best hand-picked start, unless the seed's configuration or a random
    draw beats it clearly -- by more than the CV noise (standard error of the start's fold AUCs) and at
    least `min_gain`. With few rows the CV estimate is noisy, and the best of many draws is mostly the
    luckiest one."""
    starts = [i for i in range(1, len(trials)) if i <= len(STARTS)]
    best = max(range(len(trials)), key=lambda i: trials[i].cv_auc)
    if not starts:
        return best
    start = max(starts, key=lambda i: trials[i].cv_auc)
    folds = trials[start].fold_aucs
    noise = float(np.std(folds, ddof=1) / np.sqrt(len(folds))) if len(folds) > 1 else 0.0
    return best if trials[best].cv_auc > trials[start].cv_auc + max(min_gain, noise) else start


def continue_search(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    names: list[str],
    types: list[str],
    settings: Settings,
    base: xgb.Booster,
    params: Mapping[str, Any],
) -> SearchResult:
    """How many trees to add to `base` on new data: CV with early stopping from the base model's margins."""
    started = time.monotonic()
    rows = _tuning_rows(y, groups, settings)
    base_margin = base.predict(dmatrix(x[rows], None, names, types), output_margin=True)
    folds = FoldData(
        x[rows],
        y[rows],
        groups[rows],
        names,
        types,
        settings.tuning_folds,
        settings.random_seed,
        base_margin=base_margin,
    )
    trial, oof = run_trial(folds, params, True, settings, None)
    out = {**trial.params, "n_estimators": max(trial.rounds, 1)}
    return SearchResult(out, trial.cv_auc, oof, rows, [trial], time.monotonic() - started, "continued")


def _tuning_rows(y: np.ndarray, groups: np.ndarray, settings: Settings) -> np.ndarray:
    """All rows, or whole groups drawn at random up to settings.tuning_max_rows (search speed only)."""
    if len(y) <= settings.tuning_max_rows:
        return np.arange(len(y))
    unique = np.unique(groups)
    rng = np.random.default_rng(settings.random_seed)
    share = settings.tuning_max_rows / len(y)
    keep = rng.choice(unique, size=max(int(len(unique) * share), 1), replace=False)
    return np.flatnonzero(np.isin(groups, keep))
