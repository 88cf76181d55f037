"""Population stability index: the formula, the thresholds, and the day-of-trial mix of the reference."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from churn_core.scoring import monitor

AS_OF = dt.date(2026, 11, 26)


def test_psi_matches_the_formula_by_hand() -> None:
    expected, actual = np.array([0.5, 0.5]), np.array([0.8, 0.2])
    by_hand = (0.8 - 0.5) * np.log(0.8 / 0.5) + (0.2 - 0.5) * np.log(0.2 / 0.5)
    assert monitor.population_stability(expected, actual) == pytest.approx(by_hand)
    assert monitor.population_stability(expected, expected) == 0.0


def test_status_thresholds_are_evidently_s() -> None:
    assert list(monitor.drift_status([0.0, 0.0999, 0.1, 0.2499, 0.25, 3.0])) == [
        "ok",
        "ok",
        "watch",
        "watch",
        "alert",
        "alert",
    ]


def test_bins_are_reference_deciles_with_a_missing_bin() -> None:
    values = np.arange(1000, dtype=float)
    edges = monitor.bin_edges(values)
    assert len(edges) == 9
    index = monitor.bin_index(np.r_[values, np.nan], edges)
    assert np.bincount(index[:-1]).tolist() == [100] * 10
    assert index[-1] == len(edges) + 1


def _frame(rng: np.random.Generator, n: int, day: int, loc: float) -> pd.DataFrame:
    return pd.DataFrame({"as_of_day": day, "x": rng.normal(loc, 1.0, n), "y": rng.poisson(3.0 * day, n)})


def test_same_distribution_is_ok_and_a_shift_is_an_alert() -> None:
    rng = np.random.default_rng(3)
    training = pd.concat([_frame(rng, 20_000, 7, 0.0)])
    ref = monitor.build_reference(training, ["x", "y"], "v1")
    same = monitor.drift_table(ref, _frame(rng, 5_000, 7, 0.0), AS_OF)
    shifted = monitor.drift_table(ref, _frame(rng, 5_000, 7, 1.0), AS_OF)
    assert list(same.columns) == list(monitor.DRIFT_COLUMNS)
    assert (same["status"] == "ok").all()
    assert shifted.set_index("feature").loc["x", "status"] == "alert"
    assert shifted.set_index("feature").loc["y", "status"] == "ok"
    assert shifted["as_of_date"].tolist() == [AS_OF, AS_OF]


def test_reference_is_mixed_in_the_set_s_day_of_trial_proportions() -> None:
    rng = np.random.default_rng(4)
    training = pd.concat([_frame(rng, 10_000, 1, 0.0), _frame(rng, 10_000, 7, 0.0)])
    ref = monitor.build_reference(training, ["y"], "v1")
    shares = ref.groupby(["feature", "as_of_day"])["share"].sum()
    np.testing.assert_allclose(shares.to_numpy(), 1.0)
    early_set = _frame(rng, 5_000, 1, 0.0)  # a set of day-1 evaluators only: fewer actions, but no drift
    assert monitor.drift_table(ref, early_set, AS_OF)["status"].tolist() == ["ok"]
    pooled_only = ref[ref["as_of_day"] == 0]  # what comparing with all training days at once would say
    assert monitor.drift_table(pooled_only, early_set, AS_OF)["status"].tolist() == ["alert"]


def test_a_feature_going_missing_is_an_alert() -> None:
    rng = np.random.default_rng(5)
    ref = monitor.build_reference(_frame(rng, 10_000, 7, 0.0), ["x"], "v1")
    current = _frame(rng, 4_000, 7, 0.0)
    current.loc[: len(current) // 2, "x"] = np.nan
    assert monitor.drift_table(ref, current, AS_OF)["status"].tolist() == ["alert"]
