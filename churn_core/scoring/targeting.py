"""Whom to act on: risk tiers, the expected value of acting, today's contact plan, "might swing", segments.

The rules, all driven by settings (see churn_core/settings.py, scoring section) and the model's cut-off:

* Flagged (predicted to leave): churn_probability >= the model's threshold (predicted_churn). It is the one
  definition of "at risk": the tiers and every count of flagged evaluators use it.
* Risk tier: "low" below the threshold (not flagged); "high" at or above the higher of the threshold and
  risk_tier_high; "medium" in between (flagged, not high).
* Save rate of a channel: the share of would-be churners that one campaign on it turns into buyers,
  estimated from its uplift (churn_core.scoring.channels): save rate = uplift / (1 - retention without contact).
  Where history is too thin to estimate a channel, the setting save_rate_<channel> stands in.
* Expected value of acting through a channel = churn_probability x expected_annual_value x save rate
  - channel_cost_<channel>: the expected incremental retained value of one contact.
* Today's plan (churn_core.scoring.plan): the most valuable evaluator-channel pairs outside the holdout,
  within each channel's daily capacity. "Worth saving" = in today's plan. Being flagged is not required:
  the value already weighs the risk, and below the cut-off a valuable evaluator may still be worth a call
  (on the demo, requiring it lost a tenth of the plan's true retained revenue: tests/benchmarks/bench_plan.py).
* Recommended channel: the plan's channel for those in it; otherwise the most valuable channel when acting
  through it pays (value > 0); none for the holdout.
* Might swing: predicted to retain, but within swing_margin below the threshold, or with a churn
  probability that rose by at least swing_min_rise since the evaluator's previous score.
* Segment: "held out" (the measurement holdout: never contacted), "in today's plan", "next in line" (flagged,
  acting pays, but today's capacity is taken by more valuable contacts), "no contact pays" (flagged, no
  channel's contact is worth its cost), "might swing" or "on track".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from churn_core.schema import CHANNELS
from churn_core.scoring.plan import contact_plan
from churn_core.settings import Settings

SEGMENTS: tuple[str, ...] = (
    "in today's plan",
    "next in line",
    "no contact pays",
    "might swing",
    "on track",
    "held out",
)
MIN_CHURN_BASE = 0.05  # floor on 1 - retention without contact when turning an uplift into a save rate


@dataclass(frozen=True)
class Targets:
    """Targeting decisions for a set of evaluators (arrays aligned with the input rows)."""

    recommended: np.ndarray  # channel index per row, -1 when none is recommended
    expected_value: np.ndarray  # of acting through the recommended (else the most valuable) channel; NaN held out
    worth_saving: np.ndarray  # 0/1: in today's plan
    plan_rank: np.ndarray  # position in the plan channel's list for today, 1 = first; 0 when not in the plan
    might_swing: np.ndarray  # 0/1
    segment_code: np.ndarray  # index into SEGMENTS

    @property
    def segment(self) -> np.ndarray:
        return np.asarray(SEGMENTS, dtype=object)[self.segment_code]


def risk_tier_codes(churn_probability: np.ndarray, threshold: float, settings: Settings) -> np.ndarray:
    """Index into RISK_TIERS: 0 high (>= the threshold and risk_tier_high), 1 medium (flagged: >= the model's
    threshold), 2 low (below it)."""
    p = np.asarray(churn_probability, float)
    high = max(threshold, settings.risk_tier_high)
    return np.select([p >= high, p >= threshold], [0, 1], 2).astype(np.int8)


def channel_capacities(settings: Settings, channels: tuple[str, ...] = CHANNELS) -> np.ndarray:
    """Contacts a day per channel, from settings capacity_<channel> (0 = no limit)."""
    return np.asarray([settings.channel_capacity(c) for c in channels], np.int64)


def channel_costs(settings: Settings, channels: tuple[str, ...] = CHANNELS) -> np.ndarray:
    """Cost of one campaign per channel, from settings channel_cost_<channel>."""
    return np.asarray([settings.channel_cost(c) for c in channels], float)


def default_save_rates(settings: Settings, channels: tuple[str, ...] = CHANNELS) -> np.ndarray:
    """Save rate per channel assumed when its uplift cannot be estimated (settings save_rate_<channel>)."""
    return np.asarray([float(getattr(settings, f"save_rate_{c}")) for c in channels], float)


def save_rates(uplift: np.ndarray, control_retention: np.ndarray) -> np.ndarray:
    """Share of would-be churners saved: uplift / (1 - retention without contact), within [-1, 1]."""
    base = np.maximum(1.0 - np.asarray(control_retention, float), MIN_CHURN_BASE)
    return np.clip(uplift / base[:, None], -1.0, 1.0)


def expected_values(
    churn_probability: np.ndarray, annual_value: np.ndarray, save_rate: np.ndarray, costs: np.ndarray
) -> np.ndarray:
    """Expected value of acting through each channel: risk x value x save rate - cost, shape (n, channels)."""
    p = np.asarray(churn_probability, float)[:, None]
    v = np.nan_to_num(np.asarray(annual_value, float), nan=0.0)[:, None]
    return p * v * save_rate - costs[None, :]


def choose_targets(
    churn_probability: np.ndarray,
    threshold: float,
    ev: np.ndarray,
    probability_change: np.ndarray,
    held_out: np.ndarray,
    instance: np.ndarray,
    settings: Settings,
) -> Targets:
    """Today's plan, recommended channel, might swing and segment for every row (rules in the module doc)."""
    p = np.asarray(churn_probability, float)
    held = np.asarray(held_out).astype(bool)
    filled = np.where(np.isfinite(ev), ev, -np.inf)
    best, top = filled.argmax(axis=1), filled.max(axis=1)
    best_ev = np.where(np.isfinite(top), top, np.nan)
    flagged = p >= threshold
    plan = contact_plan(ev, ~held, channel_capacities(settings)[: ev.shape[1]], instance)
    pays = ~held & (np.nan_to_num(best_ev, nan=-np.inf) > 0)
    recommended = np.where(plan.in_plan, plan.channel, np.where(pays, best, -1))
    value = np.where(plan.in_plan, plan.value, np.where(held, np.nan, best_ev))
    rise = np.nan_to_num(np.asarray(probability_change, float), nan=0.0)
    swing = ~held & ~flagged & ((p >= threshold - settings.swing_margin) | (rise >= settings.swing_min_rise))
    code = np.select([held, plan.in_plan, flagged & pays, flagged, swing], [5, 0, 1, 2, 3], 4).astype(np.int8)
    return Targets(
        recommended.astype(np.int64),
        value,
        plan.in_plan.astype(np.int32),
        plan.rank,
        swing.astype(np.int32),
        code,
    )
