"""Targeting rules: tiers, expected value of acting, today's plan, might swing, the holdout, segments."""

from __future__ import annotations

import numpy as np
import pytest

from churn_core.schema import CHANNELS, RISK_TIERS
from churn_core.scoring import targeting
from churn_core.settings import load_settings

SETTINGS = load_settings(env={})


def test_risk_tiers_follow_the_models_cut_off_and_the_high_setting() -> None:
    p = np.array([0.0, 0.19, 0.2, 0.59, 0.6, 1.0])
    tiers = np.asarray(RISK_TIERS)  # the score set stores RISK_TIERS[code]
    # below the cut-off: low (not flagged); flagged: medium, and high from risk_tier_high
    assert tiers[targeting.risk_tier_codes(p, 0.2, SETTINGS)].tolist() == [
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]
    strict = SETTINGS.with_overrides(risk_tier_high=0.9)
    assert tiers[targeting.risk_tier_codes(p, 0.5, strict)].tolist() == [
        "low",
        "low",
        "low",
        "medium",
        "medium",
        "high",
    ]
    # a cut-off above risk_tier_high: every flagged evaluator is high
    assert tiers[targeting.risk_tier_codes(p, 0.8, SETTINGS)].tolist() == ["low", "low", "low", "low", "low", "high"]


def test_save_rate_is_the_share_of_would_be_churners_saved() -> None:
    uplift = np.array([[0.1, -0.2, 0.9]])
    rates = targeting.save_rates(uplift, np.array([0.6]))  # 40% would churn without contact
    np.testing.assert_allclose(rates, [[0.25, -0.5, 1.0]])  # clipped at 1


def test_expected_value_is_risk_times_value_times_save_rate_minus_cost() -> None:
    costs = targeting.channel_costs(SETTINGS)
    rate = np.full((1, len(CHANNELS)), 0.1)
    ev = targeting.expected_values(np.array([0.8]), np.array([1_000.0]), rate, costs)
    np.testing.assert_allclose(ev[0], 0.8 * 1_000.0 * 0.1 - costs)
    assert costs[CHANNELS.index("phone")] == SETTINGS.channel_cost_phone


def _targets(p, best_ev, change, settings=SETTINGS, held=None):
    ev = np.column_stack([np.asarray(best_ev), np.asarray(best_ev) - 1.0])
    n = len(p)
    held = np.zeros(n, int) if held is None else np.asarray(held)
    return targeting.choose_targets(np.asarray(p), 0.5, ev, np.asarray(change), held, np.arange(n), settings)


def test_todays_plan_takes_every_contact_that_pays_outside_the_holdout() -> None:
    t = _targets([0.9, 0.9, 0.3, 0.5], [10.0, -1.0, 10.0, 0.01], [np.nan] * 4)
    assert t.worth_saving.tolist() == [1, 0, 1, 1]  # below the cut-off too: the value weighs the risk already
    assert t.segment.tolist() == ["in today's plan", "no contact pays", "in today's plan", "in today's plan"]
    assert t.recommended.tolist() == [0, -1, 0, 0]  # a channel only where contacting pays
    assert t.plan_rank.tolist() == [1, 0, 2, 3]
    np.testing.assert_allclose(t.expected_value, [10.0, -1.0, 10.0, 0.01])


def test_capacity_fills_by_value_and_the_rest_is_next_in_line() -> None:
    limited = SETTINGS.with_overrides(capacity_email=2, capacity_phone=1)
    t = _targets([0.9, 0.8, 0.7, 0.6], [5.0, 50.0, 20.0, 8.0], [np.nan] * 4, limited)
    # email (channel 0) takes the two most valuable; the third goes by phone, its next best channel; the
    # least valuable finds both full and waits, recommended its best channel
    assert t.recommended.tolist() == [0, 0, 0, 1]
    assert t.worth_saving.tolist() == [0, 1, 1, 1]
    assert t.segment.tolist()[0] == "next in line"
    assert t.plan_rank.tolist() == [0, 1, 2, 1]
    np.testing.assert_allclose(t.expected_value, [5.0, 50.0, 20.0, 7.0])


def test_the_holdout_is_never_planned_recommended_or_valued() -> None:
    t = _targets([0.9, 0.9, 0.45], [10.0, 10.0, 10.0], [np.nan, np.nan, 0.2], held=[1, 0, 1])
    assert t.worth_saving.tolist() == [0, 1, 0] and t.might_swing.tolist() == [0, 0, 0]
    assert t.recommended.tolist() == [-1, 0, -1]
    assert t.segment.tolist() == ["held out", "in today's plan", "held out"]
    assert np.isnan(t.expected_value[[0, 2]]).all()


def test_might_swing_near_the_threshold_or_when_risk_rose() -> None:
    # threshold 0.5, swing_margin 0.1, swing_min_rise 0.05
    t = _targets([0.45, 0.35, 0.35, 0.35, 0.55], [-1.0] * 5, [np.nan, np.nan, 0.06, 0.01, 0.2])
    assert t.might_swing.tolist() == [1, 0, 1, 0, 0]  # predicted churners never "might swing"
    assert t.segment.tolist() == ["might swing", "on track", "might swing", "on track", "no contact pays"]
    wide = SETTINGS.with_overrides(swing_margin=0.2)
    assert _targets([0.35], [1.0], [np.nan], wide).might_swing.tolist() == [1]
    # in today's plan (contact pays) and still flagged as might swing: the segment says the plan
    both = _targets([0.45], [5.0], [np.nan])
    assert (both.might_swing.tolist(), both.worth_saving.tolist(), both.segment.tolist()) == (
        [1],
        [1],
        ["in today's plan"],
    )


def test_the_recommended_channel_changes_with_its_cost() -> None:
    rate = np.zeros((1, len(CHANNELS)))
    rate[0, CHANNELS.index("phone")] = 0.20
    rate[0, CHANNELS.index("email")] = 0.05
    args = (np.array([0.9]), np.array([1_000.0]), rate)
    cheap = targeting.expected_values(*args, targeting.channel_costs(SETTINGS))
    dear = targeting.expected_values(*args, targeting.channel_costs(SETTINGS.with_overrides(channel_cost_phone=500.0)))
    pick = [
        CHANNELS[
            targeting.choose_targets(
                args[0], 0.5, ev, np.array([np.nan]), np.zeros(1), np.zeros(1), SETTINGS
            ).recommended[0]
        ]
        for ev in (cheap, dear)
    ]
    assert pick == ["phone", "email"]
    assert cheap[0, CHANNELS.index("phone")] == pytest.approx(0.9 * 1_000 * 0.2 - SETTINGS.channel_cost_phone)


def test_no_channel_at_all_means_no_recommendation_and_no_plan() -> None:
    t = targeting.choose_targets(
        np.array([0.9]), 0.5, np.full((1, 2), np.nan), np.array([np.nan]), np.zeros(1), np.zeros(1), SETTINGS
    )
    assert t.recommended.tolist() == [-1]
    assert t.worth_saving.tolist() == [0]
    assert t.segment.tolist() == ["no contact pays"]
