"""Today's contact plan: the greedy allocation within capacities, computed by deferred acceptance."""

from __future__ import annotations

import numpy as np
import pytest

from churn_core.scoring.plan import contact_plan


def greedy(values: np.ndarray, eligible: np.ndarray, capacity: np.ndarray, instance: np.ndarray) -> np.ndarray:
    """The plan by its definition: every pair, most valuable first (ties: instance, channel), taken while its
    evaluator is free and its channel has room."""
    pairs = sorted(
        (-values[i, j], instance[i], j, i)
        for i in range(len(values))
        for j in range(values.shape[1])
        if eligible[i] and values[i, j] > 0
    )
    channel, used = np.full(len(values), -1), np.zeros(values.shape[1], int)
    for _, _, j, i in pairs:
        if channel[i] < 0 and (capacity[j] == 0 or used[j] < capacity[j]):
            channel[i], used[j] = j, used[j] + 1
    return channel


@pytest.mark.parametrize("seed", range(40))
def test_the_plan_is_the_greedy_allocation(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 80)), int(rng.integers(1, 6))
    values = np.round(rng.normal(0.5, 1.0, (n, k)), 1)  # rounded: ties happen
    values[rng.random((n, k)) < 0.1] = np.nan
    eligible = rng.random(n) < 0.8
    capacity = rng.integers(0, 10, k)
    instance = rng.permutation(n) + 100_000
    plan = contact_plan(values, eligible, capacity, instance)
    assert plan.channel.tolist() == greedy(values, eligible, capacity, instance).tolist()


def test_capacity_eligibility_value_and_order_within_each_channel():
    rng = np.random.default_rng(7)
    values = rng.normal(10.0, 20.0, (500, 3))
    eligible = rng.random(500) < 0.9
    plan = contact_plan(values, eligible, np.array([0, 20, 50]), np.arange(500))
    counts = np.bincount(plan.channel[plan.in_plan], minlength=3)
    assert counts[1] == 20 and counts[2] == 50 and counts[0] > 100
    assert not plan.in_plan[~eligible].any()
    assert (plan.value[plan.in_plan] > 0).all() and np.isnan(plan.value[~plan.in_plan]).all()
    assert (plan.rank[~plan.in_plan] == 0).all()
    for j in range(3):
        members = np.flatnonzero(plan.channel == j)
        by_rank = members[np.argsort(plan.rank[members])]
        assert plan.rank[members].max() == len(members)
        assert np.all(np.diff(plan.value[by_rank]) <= 0)  # the list starts with the most valuable contact
    # nobody left out of a full channel was worth more there than those it holds, unless planned elsewhere
    phone = plan.channel == 1
    worst_held = plan.value[phone].min()
    waiting = eligible & ~plan.in_plan & (values[:, 1] > worst_held)
    assert not waiting.any()


def test_nothing_eligible_or_nothing_worth_it_plans_nobody():
    values = np.array([[5.0, 3.0], [-1.0, np.nan]])
    assert not contact_plan(values, np.array([False, True]), np.array([0, 0]), np.array([1, 2])).in_plan.any()
    assert contact_plan(np.empty((0, 2)), np.empty(0, bool), np.array([1, 1]), np.empty(0, int)).channel.size == 0
