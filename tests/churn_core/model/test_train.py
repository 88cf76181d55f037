"""Training: the seed's exact model, a tuned one that beats it, per-day evaluation, continued training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn_core.model import tuning
from churn_core.model.datasets import Dataset, DatasetError
from churn_core.model.features import SEED_NUMERIC, ModelError
from churn_core.model.registry import Registry
from churn_core.model.splits import random_split, time_split
from churn_core.model.train import cross_validate, fit_model, train_candidate
from churn_core.model.tuning import Trial
from churn_core.settings import Settings
from churn_core.warehouse import open_warehouse
from tests.churn_core.model.modeldata import evaluator_data
from tests.conftest import make_settings

FAST = {
    "tuning_budget_seconds": 20.0,
    "tuning_max_trials": 3,
    "tuning_max_rounds": 300,
    "tuning_folds": 2,
    "bootstrap_samples": 20,
    "train_threads": 1,
    "early_stopping_rounds": 20,
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "home", **FAST)


@pytest.fixture(scope="module")
def data() -> Dataset:
    return evaluator_data(500, seed=3)


@pytest.fixture(scope="module")
def seed_model(data: Dataset, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return fit_model(data, make_settings(tmp_path_factory.mktemp("seed"), **FAST), "seed")


def test_seed_profile_is_the_talks_model_exactly(seed_model) -> None:  # type: ignore[no-untyped-def]
    assert seed_model.card.params == {
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
    assert seed_model.card.split["test_size"] == 0.33 and seed_model.card.evaluation["random"].split == {
        "test_size": 0.33,
        "random_state": 27,
    }
    config = json.loads(seed_model.booster.save_config())["learner"]
    train = config["gradient_booster"]["tree_train_param"]
    assert float(train["eta"]) == pytest.approx(0.1) and int(train["max_depth"]) == 3
    assert float(train["min_child_weight"]) == 6 and float(train["subsample"]) == 0.5
    assert float(train["gamma"]) == 0 and float(train["colsample_bylevel"]) == 1
    assert config["objective"]["name"] == "binary:logistic" and int(config["generic_param"]["seed"]) == 27
    assert seed_model.booster.num_boosted_rounds() == 200
    assert set(seed_model.card.features) <= set(SEED_NUMERIC)  # the seed's features (and the day of trial)


def test_card_reports_per_day_metrics_calibration_and_thresholds(seed_model) -> None:  # type: ignore[no-untyped-def]
    card = seed_model.card
    assert sorted(card.metrics_by_day) == [str(d) for d in range(1, 8)]
    assert all(0.5 < card.metrics_by_day[str(d)]["roc_auc"] <= 1 for d in range(1, 8))
    assert card.metrics_by_day["7"]["roc_auc"] > card.metrics_by_day["1"]["roc_auc"]  # more is known
    for key in ("roc_auc", "pr_auc", "precision", "recall", "f1", "f2", "accuracy", "brier", "ece"):
        assert isinstance(card.metrics[key], float), key
    assert card.metrics_ci["roc_auc"][0] < card.metrics["roc_auc"] < card.metrics_ci["roc_auc"][1]
    assert card.thresholds.f2 == card.threshold and 0 < card.thresholds.capacity <= 1
    assert card.metrics_by_cohort and card.lift and len(card.threshold_table) == 99
    assert card.calibration.method in ("platt", "isotonic") and card.oracle_roc_auc > 0.5
    assert card.dropped_features["watchers_added"].startswith("sparse")
    assert card.feature_study["correlation"]["columns"] and card.feature_study["pca"]["explained_variance_ratio"]
    assert card.training.rows == card.training_rows > 0 and card.training.fingerprint
    json.dumps(card.to_dict(), allow_nan=True)


def test_capacity_rule_sets_the_cut_off_that_fills_the_weekly_capacity(data: Dataset, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, **FAST, threshold_rule="capacity", capacity_per_week=5)
    card = fit_model(data, settings, "seed").card
    assert card.threshold == card.thresholds.capacity > card.thresholds.f2
    assert card.thresholds.evaluators_per_week > 5  # 5 a week is a small share: a high cut-off
    with pytest.raises(ModelError, match="threshold_rule must be one of f2, capacity"):
        fit_model(data, make_settings(tmp_path, threshold_rule="top10"), "seed")


def test_time_split_keeps_evaluators_whole_and_later_cohorts_out(data: Dataset) -> None:
    split = time_split(data, 0.33)
    assert split is not None
    assert data.dates[split.train].max() < data.dates[split.test].min()
    assert not set(data.groups[split.train]) & set(data.groups[split.test])
    assert 0.25 < len(split.test) / len(data.y) < 0.4
    rnd = random_split(data, 0.33, 27)
    assert not set(data.groups[rnd.train]) & set(data.groups[rnd.test])


def test_tuned_beats_seed_on_held_out_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    n = 1000
    x = rng.normal(size=(n, 10))
    p = 1 / (1 + np.exp(-(0.8 * x[:, 0] + 0.5 * x[:, 1])))  # a weak, smooth signal: 200 fixed trees overfit it
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(10)])
    y = (rng.random(n) < p).astype(np.int8)
    data = Dataset("weak", frame, y, np.arange(n), numeric=list(frame.columns), categorical_mode="native")
    settings = make_settings(tmp_path, **{**FAST, "tuning_max_trials": 4, "tuning_budget_seconds": 120.0})
    model = fit_model(data, settings, "tuned")
    seed_auc, tuned_auc = model.card.comparison["seed"].roc_auc, model.card.metrics["roc_auc"]
    assert tuned_auc > seed_auc + 0.02, (tuned_auc, seed_auc)
    history = model.card.tuning.history
    assert len(history) == 4 and history[0]["max_depth"] == 6  # XGBoost's defaults first
    assert history[2]["learning_rate"] == 0.1 and history[2]["rounds"] == 200  # the seed's model among the starts
    assert model.card.tuning.cv_auc > history[2]["cv_auc"]


def test_search_starts_from_xgboost_defaults_and_stops_when_it_stops_improving(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every start runs; then neighbours of the best until `patience` of them in a row gain no more than
    `min_gain`. The clock is only a ceiling."""
    scripted = [0.80, 0.82, 0.81, 0.80, 0.80, 0.80, 0.80]  # the defaults, the starts and the seed's model
    scripted += [0.825, 0.8254, 0.83, 0.8301, 0.829, 0.828, 0.827, 0.99]  # neighbours; 0.99 is never reached
    tried: list[dict] = []

    def trial(folds: tuning.FoldData, params: dict, early: bool, settings: Settings, deadline: float | None):  # type: ignore[no-untyped-def]
        auc = scripted[len(tried)]
        tried.append(params)
        return Trial(dict(params), auc, 10, 0.0, [auc]), np.full(len(folds.y), auc)

    monkeypatch.setattr(tuning, "run_trial", trial)
    settings = make_settings(tmp_path, tuning_patience=4, tuning_min_gain=0.001, tuning_folds=2)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 3)).astype(np.float32), (rng.random(200) < 0.3).astype(np.int8)
    result = tuning.search(x, y, np.arange(200), ["a", "b", "c"], ["q"] * 3, settings, budget=1e9, max_trials=40)
    assert tried[0] == {"objective": "binary:logistic", "random_state": 27, **tuning.DEFAULTS}
    assert len(result.trials) == 14 and result.stopped_by == "no gain"  # 4 after the best (0.83): none gained
    assert result.cv_auc == 0.83 and result.params["learning_rate"] == tried[9]["learning_rate"]
    assert (result.oof_margin == 0.83).all()  # the chosen trial's out-of-fold margins, for calibration
    moved = [k for k in tried[10] if tried[10][k] != tried[9].get(k)]
    assert moved and tried[10]["objective"] == "binary:logistic"  # a neighbour of the best, not of the last


def test_train_candidate_from_the_warehouse_and_continue(etl_home: Settings, settings: Settings) -> None:
    warehouse = open_warehouse(etl_home, read_only=True)
    first = train_candidate(warehouse, settings, "seed")
    registry = Registry(settings)
    assert first.version == "v0001" and registry.versions() == ["v0001"] and registry.champion_version() is None
    card = registry.model_card("v0001")
    assert card.dataset == "evaluators" and sorted(card.metrics_by_day) == [str(d) for d in range(1, 8)]
    assert card.oracle_roc_auc > card.metrics["roc_auc"] - 0.05  # demo_truth read, never a feature
    assert not {"true_retention_prob", "control_group", "instance"} & set(card.features)
    registry.promote("v0001")
    more = train_candidate(warehouse, settings, continue_training=True)
    after = registry.model_card(more.version)
    assert after.profile == "continued" and after.parent == "v0001"
    assert after.training.date_min > card.training.date_max
    assert more.booster.num_boosted_rounds() > 200 and after.features == card.features
    loaded = registry.load(more.version)
    base = registry.load("v0001")
    assert loaded.booster.num_boosted_rounds() == 200 + after.params["n_estimators"]
    assert base.booster.num_boosted_rounds() == 200  # the champion's own file is untouched


def test_bad_training_data_changes_nothing(settings: Settings, data: Dataset) -> None:
    registry = Registry(settings)
    one_class = data.subset(np.flatnonzero(data.y == 1))
    with pytest.raises(DatasetError, match="every row of evaluators is churned"):
        train_candidate(None, settings, data=one_class)
    with pytest.raises(DatasetError, match="only 30 labelled row"):
        train_candidate(None, settings, data=data.subset(np.arange(30)))
    assert registry.versions() == []


def test_cross_validate_reports_mean_and_sd(data: Dataset, settings: Settings) -> None:
    day7 = data.subset(np.flatnonzero(data.day == 7))
    result = cross_validate(day7, settings, "seed", splits=3, repeats=1)
    assert result["folds"] == "3x1" and len(result["per_fold"]) == 3
    for key in ("roc_auc", "pr_auc", "f1", "accuracy"):
        assert 0 < result["metrics"][key]["mean"] <= 1 and result["metrics"][key]["sd"] >= 0
