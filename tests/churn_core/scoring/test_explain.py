"""churn_core.scoring.explain returns the exact path-dependent TreeSHAP values of shap's own algorithm and of
xgboost's pred_contribs (which is what shap.TreeExplainer calls for an XGBoost model unless told otherwise)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pandas as pd
import pytest
import shap
import xgboost as xgb

from churn_core.scoring import treeshap
from churn_core.scoring.explain import TreeExplainer

TOL = 1e-5
N_FEATURES = 8


def _data(n: int, seed: int, missing: float = 0.04) -> tuple[np.ndarray, np.ndarray]:
    """Zero-inflated integer counts (values tie with split thresholds) with NaN, and a logistic label."""
    rng = np.random.default_rng(seed)
    x = rng.poisson(rng.gamma(0.8, 4.0, size=(n, 1)) * rng.uniform(0.3, 3.0, size=N_FEATURES)).astype(np.float32)
    x[rng.random(x.shape) < 0.4] = 0.0
    x[rng.random(x.shape) < missing] = np.nan
    filled = np.nan_to_num(x, nan=-1.0)
    logit = 0.6 * np.log1p(filled[:, 0].clip(0)) - 0.4 * np.log1p(filled[:, 1].clip(0)) + 0.8 * (filled[:, 2] < 0)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(logit - 0.5)))).astype(np.float32)
    return x, y


def _train(x: np.ndarray, y: np.ndarray, rounds: int, **params: object) -> xgb.Booster:
    base = {"objective": "binary:logistic", "eta": 0.3, "max_depth": 3, "nthread": 1, "seed": 27}
    return xgb.train({**base, **params}, xgb.DMatrix(x, y), rounds)


def shap_own_algorithm(booster: xgb.Booster, x: np.ndarray) -> np.ndarray:
    """shap's own path-dependent TreeSHAP (its C extension) instead of the pred_contribs it delegates to.

    Only the feature columns: shap's base value for an XGBoost 3 model is not the booster's (its sums miss
    the margin by the difference, so its additivity check is off)."""
    explainer = shap.TreeExplainer(booster)
    explainer.model.model_type = "internal"
    return explainer.shap_values(x, check_additivity=False)


def _assert_exact(booster: xgb.Booster, x: np.ndarray) -> np.ndarray:
    """Ours equals shap's own algorithm, pred_contribs (bias column too) and sums to the margin, within TOL."""
    ours = TreeExplainer(booster).shap_values(x)
    assert ours.shape == (len(x), booster.num_features() + 1)
    np.testing.assert_allclose(ours[:, :-1], shap_own_algorithm(booster, x), rtol=0, atol=TOL)
    data = xgb.DMatrix(x, feature_names=booster.feature_names)
    contribs = booster.predict(data, pred_contribs=True)
    np.testing.assert_allclose(ours, contribs, rtol=0, atol=TOL)
    margin = booster.predict(data, output_margin=True)
    np.testing.assert_allclose(ours.sum(axis=1), margin, rtol=0, atol=TOL)
    return ours


@pytest.mark.parametrize("depth", range(1, 9))
def test_equals_shap_and_pred_contribs_at_every_depth(depth: int) -> None:
    x, y = _data(2_000, seed=depth)
    _assert_exact(_train(x, y, 12, max_depth=depth, subsample=0.8), x)


@pytest.mark.parametrize("seed", range(4))
def test_equals_shap_on_models_of_varied_shape(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    x, y = _data(1_500, seed=100 + seed, missing=rng.uniform(0.0, 0.2))
    params = {
        "max_depth": int(rng.integers(2, 9)),
        "min_child_weight": float(rng.choice([0.5, 1, 6])),
        "gamma": float(rng.choice([0.0, 0.5])),
        "colsample_bynode": float(rng.uniform(0.4, 1.0)),
    }
    _assert_exact(_train(x, y, int(rng.integers(5, 30)), **params), x)


def test_missing_values_follow_the_default_side_both_ways() -> None:
    x, y = _data(3_000, seed=7, missing=0.25)
    booster = _train(x, y, 20, max_depth=4)
    splits = booster.trees_to_dataframe().query("Feature != 'Leaf'")
    assert set(splits["Missing"] == splits["Yes"]) == {True, False}  # defaults go left and right
    rows = np.isnan(x).any(axis=1)
    _assert_exact(booster, x[rows])


def test_values_equal_to_a_threshold_go_right() -> None:
    x, y = _data(2_000, seed=3, missing=0.0)
    booster = _train(x, y, 10, max_depth=5)
    splits = booster.trees_to_dataframe().query("Feature != 'Leaf'")
    probes = []
    for feature, split in zip(splits["Feature"], splits["Split"].astype(np.float32), strict=True):
        for value in (
            split,
            np.nextafter(split, np.float32(-np.inf)),
            np.nextafter(split, np.float32(np.inf)),
        ):
            row = x[len(probes) % len(x)].copy()
            row[int(feature[1:])] = value
            probes.append(row)
    _assert_exact(booster, np.asarray(probes, dtype=np.float32))


def test_a_feature_split_twice_on_one_path() -> None:
    rng = np.random.default_rng(5)
    x = rng.integers(0, 40, size=(2_000, N_FEATURES)).astype(np.float32)
    y = ((x[:, 0] % 10 < 5) ^ (x[:, 1] > 20)).astype(np.float32)  # needs many cuts of feature 0
    booster = _train(x, y, 8, max_depth=6)
    explainer = TreeExplainer(booster)
    forest = explainer._forest
    assert np.any(forest.prev_level[forest.feature >= 0] >= 0)
    _assert_exact(booster, x)


def test_base_score_estimated_from_the_labels_and_explicit() -> None:
    x, y = _data(2_000, seed=11)
    estimated = _train(x, y, 5)
    explicit = _train(x, y, 5, base_score=0.3)
    for booster in (estimated, explicit):
        contribs = _assert_exact(booster, x)
        assert TreeExplainer(booster).expected_value == pytest.approx(contribs[0, -1], abs=TOL)
    assert TreeExplainer(explicit).expected_value != pytest.approx(TreeExplainer(estimated).expected_value)


@pytest.mark.parametrize("objective", ["reg:squarederror", "count:poisson", "binary:logitraw", "reg:logistic"])
def test_base_margin_of_other_objectives(objective: str) -> None:
    x, y = _data(1_000, seed=13)
    _assert_exact(_train(x, y, 6, objective=objective, max_depth=4), x)


def test_a_stump_and_a_tree_without_splits() -> None:
    x, y = _data(1_000, seed=17)
    _assert_exact(_train(x, y, 1, max_depth=1), x)
    leaf_only = _train(x, y, 3, max_depth=2, min_child_weight=1e6)
    assert (leaf_only.trees_to_dataframe()["Feature"] == "Leaf").all()
    ours = _assert_exact(leaf_only, x)
    assert np.all(ours[:, :-1] == 0.0)


def test_tables_and_walk_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = _data(1_500, seed=19)
    booster = _train(x, y, 30, max_depth=3, min_child_weight=6, subsample=0.5, eta=0.1)
    tabled = TreeExplainer(booster)
    assert tabled._forest.n_trees == 0
    monkeypatch.setattr(treeshap, "TABLE_MAX_CELLS", 0)
    walked = TreeExplainer(booster)
    assert walked._forest.n_trees == 30
    np.testing.assert_allclose(tabled.shap_values(x), walked.shap_values(x), rtol=0, atol=1e-12)


def test_dataframe_columns_in_the_boosters_order_and_threads() -> None:
    x, y = _data(1_000, seed=23)
    names = [f"usage_{i}" for i in range(N_FEATURES)]
    booster = xgb.train(
        {"max_depth": 5, "objective": "binary:logistic", "nthread": 1},
        xgb.DMatrix(x, y, feature_names=names),
        10,
    )
    explainer = TreeExplainer(booster)
    assert explainer.feature_names == names
    frame = pd.DataFrame(x, columns=names)[names[::-1]].astype("Float64")
    from_frame = explainer.shap_values(frame)
    np.testing.assert_allclose(from_frame, _assert_exact(booster, x), rtol=0, atol=1e-12)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        np.testing.assert_array_equal(TreeExplainer(booster).shap_values(x), from_frame)
    finally:
        numba.set_num_threads(threads)


def test_categorical_splits_fall_back_to_xgboost() -> None:
    x, y = _data(1_000, seed=29)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(N_FEATURES)])
    frame["f7"] = pd.Categorical(np.where(np.isnan(x[:, 7]), None, (x[:, 7] % 3).astype(str)))
    booster = xgb.train(
        {"max_depth": 3, "objective": "binary:logistic", "nthread": 1},
        xgb.DMatrix(frame, y, enable_categorical=True),
        5,
    )
    explainer = TreeExplainer(booster)
    assert explainer.fallback_reason == "categorical splits"
    expected = booster.predict(xgb.DMatrix(frame, enable_categorical=True), pred_contribs=True)
    np.testing.assert_allclose(explainer.shap_values(frame), expected, rtol=0, atol=TOL)
    assert explainer.expected_value == pytest.approx(expected[0, -1])


def test_wrong_number_of_features_is_refused() -> None:
    x, y = _data(200, seed=31)
    with pytest.raises(ValueError, match="expected rows of 8 features"):
        TreeExplainer(_train(x, y, 2)).shap_values(x[:, :5])


def test_a_linear_booster_falls_back_to_xgboost() -> None:
    x, y = _data(500, seed=37, missing=0.0)
    booster = xgb.train({"booster": "gblinear", "objective": "binary:logistic", "nthread": 1}, xgb.DMatrix(x, y), 3)
    explainer = TreeExplainer(booster)
    assert explainer.fallback_reason == "gblinear booster"
    np.testing.assert_allclose(
        explainer.shap_values(x), booster.predict(xgb.DMatrix(x), pred_contribs=True), rtol=0, atol=TOL
    )


def test_kernels_compile_once_into_the_cache_directory_then_load(tmp_path: Path) -> None:
    """A fresh process compiles the kernels into kernel_cache; the next one loads them from there."""
    script = (
        "import sys; from pathlib import Path; import numpy as np, xgboost as xgb\n"
        "from churn_core.scoring import treeshap_kernels\n"
        "from churn_core.scoring.explain import TreeExplainer\n"
        "x = np.arange(40, dtype=np.float32).reshape(20, 2); y = (x[:, 0] > 20).astype(np.float32)\n"
        "booster = xgb.train({'max_depth': 2, 'nthread': 1}, xgb.DMatrix(x, y), 2)\n"
        "TreeExplainer(booster, kernel_cache=Path(sys.argv[1])).shap_values(x)\n"
        "stats = treeshap_kernels.run.stats\n"
        "print(stats.cache_hits and 'loaded' or 'compiled', stats.cache_path.startswith(sys.argv[1]))\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert [r.stdout.split() for r in runs] == [["compiled", "True"], ["loaded", "True"]]
    assert list(tmp_path.rglob("treeshap_kernels.run-*.nbi"))
