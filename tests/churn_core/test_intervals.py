"""Confidence intervals: the z of a two-sided 95% interval, Wilson's interval, Newcombe's difference."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from churn_core.intervals import Z95, add_rate, difference_interval, wilson_interval


def test_z_is_the_normal_quantile_of_a_two_sided_95_percent_interval():
    assert Z95 == pytest.approx(NormalDist().inv_cdf(0.975), abs=1e-12)


def test_wilson_interval_known_values():
    low, high = wilson_interval([0, 5, 10], [10, 10, 10])
    assert low[0] == 0 and high[0] == pytest.approx(0.2775, abs=1e-4)
    assert low[1] == pytest.approx(0.2366, abs=1e-4) and high[1] == pytest.approx(0.7634, abs=1e-4)
    assert high[2] == pytest.approx(1)
    low, high = wilson_interval([0], [0])
    assert np.isnan(low[0]) and np.isnan(high[0])


def test_difference_interval_contains_the_difference_and_is_wider_for_small_samples():
    low, high = difference_interval(30, 100, 20, 100)
    assert low < 0.1 < high
    small = difference_interval(3, 10, 2, 10)
    assert small[1] - small[0] > high - low


def test_add_rate_adds_the_rate_and_its_interval():
    df = pd.DataFrame({"k": [5, 0], "n": [10, 0]})
    add_rate(df, "rate", "k", "n")
    assert df["rate"].iloc[0] == 0.5 and np.isnan(df["rate"].iloc[1])
    assert df["rate_low"].iloc[0] == pytest.approx(0.2366, abs=1e-4) and np.isnan(df["rate_high"].iloc[1])
