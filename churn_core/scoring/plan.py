"""Today's contact plan: whom to contact, through which channel, within each channel's daily capacity.

Every evaluator-channel pair has an expected incremental retained value (churn_core.scoring.targeting: churn
probability x the channel's save rate x expected annual value - the channel's cost). The plan takes the pairs
greedily, most valuable first: a pair is taken when its evaluator has no channel yet and its channel has
capacity left today (settings capacity_<channel>, 0 = no limit). Only pairs worth more than nothing, of
eligible evaluators (everyone outside the holdout), are taken. Ties go to the lower instance, then to the
channel listed first in churn_core.schema.CHANNELS.

It is computed by deferred acceptance rather than by a pass over every pair: each evaluator proposes its
channels from the most valuable down, and each channel with a capacity keeps the most valuable proposals it
has received. Both sides ranking pairs by the same value (and the same ties), the result is the unique stable
assignment, which is the greedy one, reached in at most one round per channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Plan:
    """The plan for a set of evaluators (arrays aligned with the input rows)."""

    channel: np.ndarray  # index of the plan channel, -1 when not in the plan
    value: np.ndarray  # expected incremental retained value of the planned contact, NaN when not in the plan
    rank: np.ndarray  # position in its channel's list, 1 = contact first; 0 when not in the plan

    @property
    def in_plan(self) -> np.ndarray:
        return self.channel >= 0


def contact_plan(values: np.ndarray, eligible: np.ndarray, capacity: np.ndarray, instance: np.ndarray) -> Plan:
    """The greedy plan (module doc) over `values` (rows, channels), for the `eligible` rows, with `capacity`
    contacts per channel (0 = no limit); `instance` breaks ties."""
    n, k = values.shape
    worth = np.where(np.asarray(eligible, bool)[:, None] & (np.nan_to_num(values, nan=-np.inf) > 0), values, -np.inf)
    preference = np.argsort(-worth, axis=1, kind="stable")  # each row's channels, most valuable first
    proposed = np.zeros(n, np.int64)  # how many of its channels each row has proposed to
    channel = np.full(n, -1, np.int64)
    limited = [j for j in range(k) if capacity[j] > 0]
    free = np.flatnonzero(np.isfinite(worth).any(axis=1)) if k else np.empty(0, np.int64)
    while free.size:
        choice = preference[free, proposed[free]]
        keep = np.isfinite(worth[free, choice])  # rows whose remaining channels are worth nothing drop out
        free, choice = free[keep], choice[keep]
        proposed[free] += 1
        channel[free] = choice
        rejected = [_over_capacity(channel, worth, instance, j, int(capacity[j])) for j in limited]
        free = np.concatenate([np.empty(0, np.int64), *rejected])
        channel[free] = -1
        free = free[proposed[free] < k]
    value = np.where(channel >= 0, worth[np.arange(n), np.maximum(channel, 0)], np.nan)
    return Plan(channel, value, _ranks(channel, value, instance, k))


def _over_capacity(channel: np.ndarray, worth: np.ndarray, instance: np.ndarray, j: int, capacity: int) -> np.ndarray:
    """The rows channel `j` holds beyond its capacity: the least valuable ones."""
    members = np.flatnonzero(channel == j)
    if members.size <= capacity:
        return np.empty(0, np.int64)
    order = np.lexsort((instance[members], -worth[members, j]))
    return members[order[capacity:]]


def _ranks(channel: np.ndarray, value: np.ndarray, instance: np.ndarray, k: int) -> np.ndarray:
    """1-based position of each planned row in its channel's list (most valuable first, ties by instance)."""
    rank = np.zeros(len(channel), np.int32)
    for j in range(k):
        members = np.flatnonzero(channel == j)
        order = members[np.lexsort((instance[members], -value[members]))]
        rank[order] = np.arange(1, len(order) + 1, dtype=np.int32)
    return rank
