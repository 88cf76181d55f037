"""Hyper-parameter search: grouped, stratified k-fold CV with early stopping, until it stops improving.

Every trial trains one booster per fold (the folds in parallel), stops each on its validation fold's
log-loss, and is scored by the mean validation ROC AUC at the number of trees the final model will have.
The search starts from XGBoost's defaults, then the hand-picked starts and the seed talk's configuration,
then steps from the best configuration so far to a random neighbour. A configuration becomes the best only
by beating it by more than settings.tuning_min_gain (with few rows the CV estimate is noisy, and the best
of many draws is mostly the luckiest one); after settings.tuning_patience trials in a row without that,
the search stops. settings.tuning_max_trials and the time budget are ceilings, rarely reached: the search
costs what the data needs (seconds for a few thousand rows). The out-of-fold margins of the chosen trial
are kept: the calibrator and the decision threshold are fitted on them (held-out data that the final
model's test set never touches).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
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
# XGBoost's defaults as the reference baselines run them (learning rate 0.1 rather than the library's 0.3;
# early stopping picks the number of trees): the first trial, so the search never ends below them.
DEFAULTS: dict[str, Any] = {
    "learning_rate": 0.1,
    "max_depth": 6,
    "min_child_weight": 1.0,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
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
        "eval_metric": "auc",
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


def neighbour(params: Mapping[str, Any], rng: np.random.Generator, categorical: bool) -> dict[str, Any]:
    """A configuration one random step from `params`: each setting moves with probability one half (at
    least one moves), rates and weights by a factor, depth by one level, fractions by a few points."""
    out = {k: v for k, v in params.items() if k != "n_estimators"}
    steps: dict[str, Callable[[Any], Any]] = {
        "learning_rate": lambda v: float(np.clip(v * np.exp(rng.normal(0, 0.5)), 0.005, 0.3)),
        "max_depth": lambda v: int(np.clip(v + rng.choice([-1, 1]), 1, 10)),
        "min_child_weight": lambda v: float(np.clip(v * np.exp(rng.normal(0, 0.8)), 0.1, 200)),
        "subsample": lambda v: float(np.clip(v + rng.normal(0, 0.1), 0.4, 1.0)),
        "colsample_bytree": lambda v: float(np.clip(v + rng.normal(0, 0.15), 0.2, 1.0)),
        "reg_lambda": lambda v: float(np.clip(v * np.exp(rng.normal(0, 1.0)), 0.01, 100)),
        "gamma": lambda v: float(np.clip(v + rng.exponential(0.5) * rng.choice([-1, 1]), 0, 5)),
    }
    if categorical:
        steps["max_cat_threshold"] = lambda v: int(rng.choice([4, 8, 16, 64]))
    defaults = {"reg_lambda": 1.0, "gamma": 0.0, "max_cat_threshold": 64}
    moving = [name for name in steps if rng.random() < 0.5] or [str(rng.choice(list(steps)))]
    for name in moving:
        out[name] = steps[name](out.get(name, defaults.get(name)))
    return out


FIRST_NEIGHBOUR = 2 + len(STARTS)  # trials before it: the defaults, the starts and the seed's configuration


def candidates(
    settings: Settings, categorical: bool, best: Callable[[], Mapping[str, Any]]
) -> Iterator[tuple[dict[str, Any], bool]]:
    """(params, early stopping?) in trial order: XGBoost's defaults, the first hand-picked start, the seed's
    exact model, the other starts, then neighbours of the best configuration so far."""
    base = {"objective": "binary:logistic", "random_state": settings.random_seed}
    yield {**base, **DEFAULTS}, True
    yield {**base, **STARTS[0]}, True
    yield dict(SEED_PARAMS), False
    for start in STARTS[1:]:
        yield {**base, **start}, True
    rng = np.random.default_rng(settings.random_seed)
    while True:
        yield neighbour(best(), rng, categorical), True


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


def _fit_fold(
    params: Mapping[str, Any],
    sets: tuple[xgb.DMatrix, xgb.DMatrix],
    rounds: int,
    early_stopping: int | None,
    nthread: int,
    deadline: float,
) -> xgb.Booster | None:
    """One fold's booster, or None when the deadline passed before it finished."""
    dtrain, dvalid = sets
    stop = _Deadline(deadline)
    booster = xgb.train(
        native(params, nthread),
        dtrain,
        num_boost_round=rounds,
        evals=[(dvalid, "valid")],
        verbose_eval=False,
        callbacks=[stop],
        early_stopping_rounds=early_stopping,
    )
    return None if stop.hit else booster


def run_trial(
    folds: FoldData,
    params: Mapping[str, Any],
    early: bool,
    settings: Settings,
    deadline: float | None,
) -> tuple[Trial, np.ndarray]:
    """Cross-validate one configuration; returns the trial and its out-of-fold margins.

    The folds train at once, one thread each (XGBoost releases the GIL; on a few thousand rows one booster
    cannot keep several cores busy). Each fold stops early on its own validation rows, but every fold is
    then scored at one shared number of trees (the mean of their best iterations), as the final model will
    be: scoring each fold at its own best iteration flatters fast-learning configurations, whose luckiest
    round is picked on the very rows that judge them."""
    started = time.monotonic()
    cores, k = threads(settings), len(folds.folds)
    max_rounds = settings.tuning_max_rounds if early else int(params["n_estimators"])
    stopping = settings.early_stopping_rounds if early else None
    until = deadline if deadline is not None else float("inf")
    with ThreadPoolExecutor(min(k, cores)) as pool:
        fitted = list(
            pool.map(lambda sets: _fit_fold(params, sets, max_rounds, stopping, max(1, cores // k), until), folds.sets)
        )
    completed = all(booster is not None for booster in fitted)
    oof = np.zeros(len(folds.y))
    aucs: list[float] = []
    best_rounds = [b.best_iteration + 1 if early else max_rounds for b in fitted if b is not None]
    shared = int(np.ceil(np.mean(best_rounds))) if completed else 0
    if completed:
        for booster, (_, valid), (_, dvalid) in zip(fitted, folds.folds, folds.sets, strict=True):
            last = min(shared, booster.num_boosted_rounds())
            oof[valid] = booster.predict(dvalid, output_margin=True, iteration_range=(0, last))
            aucs.append(Ranked(folds.y[valid], oof[valid]).roc_auc())
    # The final model learns from all k/(k-1) times a fold's rows, which carry proportionally more trees.
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
    """The best configuration by CV ROC AUC: trials until settings.tuning_patience of them in a row add no
    more than settings.tuning_min_gain, at most `max_trials` or `budget` seconds (the first always runs).

    With `fixed`, only that configuration is cross-validated (for the seed profile: its OOF margins)."""
    started = time.monotonic()
    rows = _tuning_rows(y, groups, settings)
    folds = FoldData(x[rows], y[rows], groups[rows], names, types, settings.tuning_folds, settings.random_seed)
    trials: list[Trial] = []
    best, best_oof, since = -1, np.zeros(0), 0
    stopped_by = "max trials"
    source = (
        iter([(dict(fixed), False)])
        if fixed is not None
        else candidates(settings, "c" in types, lambda: trials[best].params)
    )
    for i, (params, early) in enumerate(source):
        if i >= max_trials:
            break
        if since >= settings.tuning_patience:
            stopped_by = "no gain"
            break
        # a trial the clock cuts off is wasted: start one only if twice the longest so far still fits
        if i > 0 and time.monotonic() - started + 2 * max(t.seconds for t in trials) > budget:
            stopped_by = "time budget"
            break
        trial, oof = run_trial(folds, params, early, settings, None if i == 0 else started + budget)
        if not trial.completed:
            stopped_by = "time budget"
            break
        trials.append(trial)
        since += i >= FIRST_NEIGHBOUR  # the starts all run; patience counts the steps from the best
        if best < 0 or trial.cv_auc > trials[best].cv_auc + settings.tuning_min_gain:
            best, best_oof, since = len(trials) - 1, oof, 0
    chosen = trials[best]
    params = {**chosen.params, "n_estimators": chosen.rounds}
    return SearchResult(params, chosen.cv_auc, best_oof, rows, trials, time.monotonic() - started, stopped_by)


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
