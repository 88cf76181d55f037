"""The estimators against answers worked out by hand, and the always-valid interval under daily peeking."""

from __future__ import annotations

import math

import numpy as np
import pytest

from churn_core.plays import stats


def test_difference_in_means_has_neymans_interval() -> None:
    y = np.array([1, 0, 1, 1, 0, 0, 1, 0])
    treated = np.array([True] * 4 + [False] * 4)
    got = stats.difference_in_means(y, treated)
    se = math.sqrt(0.25 / 4 + 0.25 / 4)  # both arms: sample variance 0.25
    assert got.estimate == pytest.approx(0.5)
    assert (got.low, got.high) == pytest.approx((0.5 - 1.959964 * se, 0.5 + 1.959964 * se))
    assert math.isnan(stats.difference_in_means(y[:3], treated[:3]).estimate)


def test_cuped_removes_what_the_covariate_explains_and_keeps_the_effect() -> None:
    rng = np.random.default_rng(0)
    x = rng.random(4_000)
    treated = rng.random(4_000) < 0.5
    y = 2.0 * x + 0.1 * treated + 0.01 * rng.standard_normal(4_000)
    plain, adjusted = stats.difference_in_means(y, treated), stats.adjusted_difference(y, treated, x)
    assert stats.cuped_theta(y, x) == pytest.approx(2.0, abs=0.02)
    assert adjusted.estimate == pytest.approx(0.1, abs=0.002)
    assert adjusted.width < plain.width / 20
    assert stats.adjusted_difference(y, treated, np.ones(4_000)) == plain  # a constant covariate changes nothing


def test_the_sequence_radius_at_its_planned_size_is_the_papers_constant() -> None:
    # rho^2 n = c = -2 log(0.05) + log(1 - 2 log(0.05)) = 7.936 at n = planned: radius = 3.035 sd / sqrt(n)
    assert stats.cs_radius(2_000, 1.0) * math.sqrt(2_000) == pytest.approx(3.035, abs=0.002)
    assert stats.cs_radius(10_000, 1.0) < stats.cs_radius(2_000, 1.0) and stats.cs_radius(1, 1.0) == math.inf


def test_peeking_every_day_rarely_declares_a_null_play_a_win() -> None:
    rng = np.random.default_rng(5)
    fixed_wins = sequence_wins = 0
    runs, looks = 300, 30
    for _ in range(runs):
        n = 3_000
        x = rng.random(n)
        y = (rng.random(n) < 0.2 + 0.5 * x).astype(float)
        treated = rng.random(n) < 0.5
        ends = np.linspace(100, n, looks).astype(int)
        fixed_wins += any(stats.difference_in_means(y[:e], treated[:e]).low > 0 for e in ends)
        sequence_wins += any(stats.confidence_sequence(y[:e], treated[:e], 0.5, x[:e]).low > 0 for e in ends)
    assert sequence_wins / runs <= 0.03 < fixed_wins / runs  # peeking inflates the fixed interval's wins


def test_the_verdict_reads_the_always_valid_interval() -> None:
    assert stats.verdict(stats.Interval(0.03, 0.01, 0.05)) == stats.WORKING
    assert stats.verdict(stats.Interval(-0.03, -0.05, -0.01)) == stats.NOT_WORKING
    assert stats.verdict(stats.Interval(0.01, 0.002, 0.018), pays_from=0.02) == stats.NOT_WORKING
    assert stats.verdict(stats.Interval(0.01, -0.01, 0.03)) == stats.UNCLEAR
    assert stats.verdict(stats.NO_INTERVAL) == stats.UNCLEAR
