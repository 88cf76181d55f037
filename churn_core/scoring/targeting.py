"""Whom to act on: risk tiers, the expected value of acting, "worth saving" and "might swing".

The rules, all driven by settings (see churn_core/settings.py, scoring section):

* Risk tier: "high" when churn_probability >= risk_tier_high, "medium" when >= risk_tier_medium,
  else "low".
* Save rate of a channel: the share of would-be churners that one campaign on it turns into buyers,
  estimated from its uplift (churn_core.scoring.channels): save rate = uplift / (1 - retention without contact).
  Where history is too thin to estimate a channel, the setting save_rate_<channel> stands in.
* Expected value of acting through a channel = churn_probability x expected_annual_value x save rate
  - channel_cost_<channel>. The recommended channel is the one with the highest expected value.
* Worth saving: predicted to churn (churn_probability >= the model threshold) and the expected value of
  acting through the recommended channel > 0.
* Might swing: predicted to retain, but within swing_margin below the threshold, or with a churn
  probability that rose by at least swing_min_rise since the evaluator's previous score.
* Segment: "worth saving", "might swing", "at risk, low value" (predicted to churn, acting does not
  pay) or "on track".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from churn_core.schema import CHANNELS
from churn_core.settings import Settings

SEGMENTS: tuple[str, ...] = ("worth saving", "might swing", "at risk, low value", "on track")
MIN_CHURN_BASE = 0.05  # floor on 1 - retention without contact when turning an uplift into a save rate


@dataclass(frozen=True)
class Targets:
    """Targeting decisions for a set of evaluators (arrays aligned with the input rows)."""

    recommended: np.ndarray  # channel index per row, -1 when no channel is available
    expected_value: np.ndarray  # of acting through the recommended channel
    worth_saving: np.ndarray  # 0/1
    might_swing: np.ndarray  # 0/1
    segment_code: np.ndarray  # index into SEGMENTS

    @property
    def segment(self) -> np.ndarray:
        return np.asarray(SEGMENTS, dtype=object)[self.segment_code]


def risk_tier_codes(churn_probability: np.ndarray, settings: Settings) -> np.ndarray:
    """Index into RISK_TIERS: 0 high (>= risk_tier_high), 1 medium (>= risk_tier_medium), 2 low."""
    p = np.asarray(churn_probability, float)
    return np.select([p >= settings.risk_tier_high, p >= settings.risk_tier_medium], [0, 1], 2).astype(np.int8)


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
    settings: Settings,
) -> Targets:
    """Recommended channel, worth saving, might swing and segment for every row (rules in the module doc)."""
    p = np.asarray(churn_probability, float)
    n = len(p)
    has_channel = ev.shape[1] > 0 and np.isfinite(ev).any(axis=1)
    filled = np.where(np.isfinite(ev), ev, -np.inf) if ev.shape[1] else np.full((n, 1), -np.inf)
    best = np.where(has_channel, filled.argmax(axis=1), -1)
    best_ev = np.where(has_channel, filled.max(axis=1), np.nan)
    at_risk = p >= threshold
    worth = at_risk & (np.nan_to_num(best_ev, nan=-np.inf) > 0)
    rise = np.nan_to_num(np.asarray(probability_change, float), nan=0.0)
    swing = ~at_risk & ((p >= threshold - settings.swing_margin) | (rise >= settings.swing_min_rise))
    code = np.select([worth, swing, at_risk], [0, 1, 2], 3).astype(np.int8)
    return Targets(best.astype(np.int64), best_ev, worth.astype(np.int32), swing.astype(np.int32), code)
