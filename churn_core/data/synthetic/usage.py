"""Daily product usage over the 14-day trial: who is active, how many distinct users, and what they do.

Each day has an activity gate (with a weekday/weekend rhythm) and Poisson-lognormal volumes; distinct users
accumulate through returning users plus new ones (helped by invitations), so the running sum of
new_active_users is the number of distinct users so far and never exceeds team_size. A few percent of
issues_viewed, mobile_sessions and at_mentions are missing (telemetry gaps).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn_core.data.synthetic.common import TRIAL_DAYS, date, nullable, sigmoid
from churn_core.data.synthetic.evaluators import Segments, Traits
from churn_core.schema import DAILY_USAGE

COUNTS = [c.name for c in DAILY_USAGE.columns[3:]]
MISSING_RATE = {"issues_viewed": 0.03, "mobile_sessions": 0.025, "at_mentions": 0.015}


class _Trial:
    """The simulation's state from one trial day to the next: distinct users so far, invitations not yet
    turned into users, sprints open."""

    def __init__(self, rng: np.random.Generator, s: Segments, t: Traits) -> None:
        n = len(s.ids)
        self.rng, self.s, self.t = rng, s, t
        self.distinct = np.zeros(n, np.int32)
        self.pending = np.zeros(n, np.float32)
        self.open_sprints = np.zeros(n, np.int32)
        self.sprint_rate = (0.16 * (1.0 + 0.25 * np.log(s.team))).astype(np.float32)

    def users(self, d: int, weekend: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Day d's activity gate, and the returning and new users of each active evaluator."""
        rng, n, team, z = self.rng, len(self.s.ids), self.s.team, self.t.z
        shock = 0.6 * rng.standard_normal(n, dtype=np.float32)
        gate = 0.3 + 1.2 * z + self.t.slope * d - 2.1 * weekend + shock
        gate = gate + 4.0 if d == 0 else gate - 3.0 * self.t.ghost
        active = rng.random(n, dtype=np.float32) < sigmoid(gate)
        remaining = team - self.distinct
        if d == 0:
            returning = np.zeros(n, np.int64)
            new = 1 + rng.binomial(team - 1, sigmoid(-2.0 + 0.8 * z + 0.5 * shock))
        else:
            p_return = sigmoid(-0.1 + 0.9 * z + 0.5 * self.t.slope * d - 1.3 * weekend + shock)
            returning = rng.binomial(self.distinct, p_return)
            boost = 1.2 * np.minimum(1.0, self.pending / (remaining + 0.5))
            new = rng.binomial(remaining, sigmoid(-2.7 + 0.7 * z - 0.12 * d - 1.0 * weekend + shock + boost))
        returning = np.where(active, returning, 0)
        new = np.where(active, new, 0)
        nobody = active & (returning + new == 0)
        returning = np.where(nobody & (self.distinct > 0), 1, returning)
        new = np.where(nobody & (self.distinct == 0), 1, new)
        self.distinct += new.astype(np.int32)
        self.pending = np.maximum(0.0, self.pending - new)
        return active, returning + new, new

    def volumes(self, d: int, weekend: np.ndarray, idx: np.ndarray, users: np.ndarray) -> dict[str, np.ndarray]:
        """Day d's counts (but user counts) for the active evaluators `idx`."""
        rng, s, t = self.rng, self.s, self.t
        m = len(idx)
        a = users[idx].astype(np.float64)
        wk = weekend[idx]
        lam = np.exp(t.intensity[idx] + 0.5 * rng.standard_normal(m) - 0.35 * wk)
        vol = a * lam
        team_i, z_i, distinct_i = s.team[idx], t.z[idx], self.distinct[idx]
        remaining_i = (team_i - distinct_i).astype(np.float64)
        invites = rng.poisson(remaining_i**0.8 * 0.25 * np.exp(0.6 * z_i - 0.3 * d) * (1 - 0.5 * wk))
        self.pending[idx] += invites
        created = rng.poisson(1.4 * vol * t.product_volume[idx])
        commented = rng.poisson(0.7 * vol * np.where(distinct_i > 1, 1.0, 0.4))
        ramp = min(1.0, 0.2 + d / 5)
        cols = {
            "projects_created": rng.poisson(1.3 * np.exp(-1.0 * d) * np.exp(0.3 * t.intensity[idx]))
            + (d == 0) * (rng.random(m) < 0.8),
            "issues_created": created,
            "issues_updated": rng.poisson(2.2 * vol + 0.7 * created),
            "issues_commented": commented,
            "issues_assigned": rng.poisson(0.45 * created + 0.2 * vol * (team_i > 1)),
            "issues_viewed": rng.poisson(8.0 * vol),
            "issues_completed": rng.poisson(0.7 * vol * ramp * t.product_volume[idx]),
            "at_mentions": rng.poisson(0.3 * commented * (distinct_i >= 2)),
            "watchers_added": rng.poisson(0.6 * vol) * (t.watcher[idx] & (rng.random(m) < 0.3)),
            "invites_sent": invites,
            "mobile_sessions": rng.poisson(0.8 * a**0.7) * (t.mobile_user[idx] & (rng.random(m) < 0.45)),
        }
        started = rng.poisson(self.sprint_rate[idx] * min(1.0, 0.4 + 0.3 * d) * (1 - 0.7 * wk)) * t.agile[idx]
        finished = rng.binomial(self.open_sprints[idx], min(0.5, 0.08 + 0.03 * d) * (1 - 0.6 * wk))
        self.open_sprints[idx] += (started - finished).astype(np.int32)
        cols["sprints_started"] = started
        cols["sprints_finished"] = finished
        return cols


def simulate_usage(rng: np.random.Generator, s: Segments, t: Traits, first_weekday: int) -> dict[str, np.ndarray]:
    """Every count for every evaluator and trial day 0..13, as (n, 14) int32 arrays (beyond end_date too)."""
    out = {name: np.zeros((len(s.ids), TRIAL_DAYS), np.int32) for name in COUNTS}
    trial = _Trial(rng, s, t)
    for d in range(TRIAL_DAYS):
        weekend = ((first_weekday + s.start + d) % 7 >= 5).astype(np.float32)
        active, users, new = trial.users(d, weekend)
        out["active_users"][:, d] = users
        out["new_active_users"][:, d] = new
        idx = np.flatnonzero(active)
        for name, values in trial.volumes(d, weekend, idx, users).items():
            out[name][idx, d] = values
    return out


def usage_frame(
    rng: np.random.Generator, usage: dict[str, np.ndarray], s: Segments, days: int, first_epoch: int
) -> pd.DataFrame:
    """The rows reached by end_date, with telemetry gaps, typed per the schema (frees `usage` as it goes)."""
    reached = (s.start[:, None] + np.arange(TRIAL_DAYS)[None, :] <= days - 1).ravel()
    rows = np.flatnonzero(reached)
    evaluator, day = np.divmod(rows, TRIAL_DAYS)
    frame = {
        "instance": s.ids[evaluator],
        "usage_date": date(first_epoch + s.start[evaluator] + day),
        "day_index": day.astype(np.int32),
    }
    del reached
    for name in COUNTS:
        values = usage[name].ravel()[rows]
        usage[name] = np.empty((0, 0), np.int32)  # free as we go
        rate = MISSING_RATE.get(name)
        null = rng.random(len(rows), dtype=np.float32) < rate if rate else None
        frame[name] = nullable(values, null)
    return pd.DataFrame(frame, copy=False)
