"""A play's results from its outcomes: the effect, among the reached, saves, money and the verdict."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from churn_core.plays.assign import assign_plays
from churn_core.plays.results import play_results, summarise
from churn_core.plays.spec import parse_play
from churn_core.plays.store import PlayRecord, create_play
from churn_core.warehouse import open_warehouse
from tests.churn_core.plays.conftest import SPEC
from tests.conftest import SCORE_DATES


def _outcomes(n: int, effect: float, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    churn = rng.random(n)
    treated = rng.random(n) < 0.5
    reached = treated & (rng.random(n) < 0.5)
    retained = rng.random(n) < 0.95 - 0.9 * churn + 2 * effect * reached  # half reached: ITT = effect
    return pd.DataFrame(
        {
            "play": "p",
            "instance": np.arange(n),
            "arm": np.where(treated, "treatment", "holdout"),
            "churn_probability": churn,
            "expected_annual_value": 1_000.0,
            "retained": np.where(np.arange(n) < n - 100, retained.astype(float), np.nan),  # the last 100 unresolved
            "activated_w1": rng.random(n) < 0.3,
            "reached": reached.astype(int),
        }
    )


def test_a_working_play_reads_working_with_its_saves_and_money() -> None:
    record = PlayRecord(parse_play(SPEC), "active", dt.datetime(2026, 11, 1), "ana")
    rows = _outcomes(20_000, effect=0.08)
    got = summarise(record, rows, cost_per_contact=40.0, day=dt.date(2026, 11, 20))
    assert got.resolved_treatment + got.resolved_holdout == 19_900 and got.treatment + got.holdout == 20_000
    assert got.itt.low < 0.08 < got.itt.high and got.adjusted.low < 0.08 < got.adjusted.high
    assert got.adjusted.width < 0.9 * got.itt.width  # the churn probability explains much of retention
    assert got.always_valid.width > got.adjusted.width
    assert got.reach_rate == pytest.approx(0.5, abs=0.02)
    assert got.among_reached.estimate == pytest.approx(got.adjusted.estimate / got.reach_rate)
    assert got.saves == pytest.approx(got.adjusted.estimate * got.treatment)
    assert got.revenue == pytest.approx(got.saves * 1_000.0) and got.cost == 40.0 * got.treatment
    assert got.return_on_cost == pytest.approx((got.revenue - got.cost) / got.cost)
    assert got.verdict == "working" and got.status == "active"
    null = summarise(record, _outcomes(20_000, effect=0.0), 40.0, dt.date(2026, 11, 20))
    assert null.verdict == "not working"  # sure to be below the 4-point effect that pays for a $40 call


def test_results_come_from_the_warehouse_for_every_play(home) -> None:
    warehouse = open_warehouse(home)
    create_play(warehouse, parse_play({**SPEC, "start_date": dt.date(2026, 10, 1), "daily_capacity": 200}), "ana")
    for day in SCORE_DATES:
        assign_plays(warehouse, home, day)
    [result] = play_results(warehouse, home, SCORE_DATES[-1])
    assert result.treatment > 200 and result.holdout > 100 and result.resolved_treatment > 0
    assert result.verdict in {"working", "not yet clear", "not working"}
    assert 0 <= result.retention_treatment <= 1 and np.isfinite(result.itt.estimate)
