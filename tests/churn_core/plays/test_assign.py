"""Assignment: deterministic, balanced within risk tier, within capacity, never the measurement holdout,
never two active plays at once, and a re-run of the day changes nothing."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from churn_core.plays.assign import assign_play, assign_plays
from churn_core.plays.spec import parse_play
from churn_core.plays.store import create_play, set_status
from churn_core.settings import Settings
from churn_core.warehouse import open_warehouse
from tests.churn_core.plays.conftest import SPEC
from tests.conftest import DEMO_END

DAY = DEMO_END - dt.timedelta(days=1)


def _scores(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "instance": rng.permutation(n) + 1_000,
            "risk_tier": rng.choice(["high", "medium", "low"], n),
            "churn_probability": rng.random(n),
            "expected_annual_value": rng.uniform(1_000, 20_000, n),
            "uplift_phone": rng.normal(0.02, 0.01, n),
        }
    )


def test_arms_are_a_pure_function_of_the_inputs_and_every_block_holds_out_the_share() -> None:
    play = parse_play({**SPEC, "daily_capacity": 10_000, "holdout_share": 0.25, "eligibility": {}})
    scores = _scores(4_000)
    first = assign_play(play, scores, DAY, Settings(), set(), {})
    again = assign_play(play, scores.sample(frac=1.0, random_state=3), DAY, Settings(), set(), {})
    pd.testing.assert_frame_equal(first, again)
    assert set(first["arm"]) == {"treatment", "holdout"}
    blocks = first.assign(block=first["position"] // 4, held=first["arm"] == "holdout").groupby(["stratum", "block"])
    full = blocks.size() == 4
    assert (blocks["held"].sum()[full] == 1).all()  # a quarter of every full block, in every risk tier
    salted = assign_play(play, scores, DAY, Settings(holdout_salt="another"), set(), {})
    assert (salted["arm"] != first["arm"]).sum() > 500 and (salted["arm"] == "holdout").sum() == 1_000


def test_capacity_treats_the_best_ranked_and_records_the_rest_not_assigned() -> None:
    play = parse_play({**SPEC, "daily_capacity": 30, "eligibility": {"risk_tier": ["high", "medium"]}})
    scores = _scores(1_000)
    rows = assign_play(play, scores, DAY, Settings(), {int(scores["instance"].iloc[0])}, {})
    assert set(rows["risk_tier"]) == {"high", "medium"} and int(scores["instance"].iloc[0]) not in set(rows["instance"])
    arms = rows.groupby("arm")["rank"].agg(["count", "max", "min"])
    assert arms.loc["treatment", "count"] == 30
    assert arms.loc["not_assigned", "min"] > max(arms.loc["treatment", "max"], arms.loc["holdout", "max"])
    assert rows.loc[rows["arm"] == "not_assigned", "position"].isna().all()
    value = rows["contact_value"].to_numpy()
    assert (np.diff(value) <= 0).all() and rows["rank"].tolist() == list(range(1, len(rows) + 1))
    expected = rows["churn_probability"].to_numpy()
    by_instance = scores.set_index("instance").loc[rows["instance"], "churn_probability"].to_numpy()
    np.testing.assert_array_equal(expected, by_instance)  # the covariate is the score at assignment


def test_the_daily_run_is_append_only_keeps_the_holdout_out_and_plays_apart(home) -> None:
    warehouse = open_warehouse(home)
    first = parse_play({**SPEC, "daily_capacity": 60, "eligibility": {}})
    second = parse_play({**SPEC, "name": "email everyone", "channel": "email", "content_id": "EM-02"})
    for play in (first, second):
        create_play(warehouse, play, "ana@example.com")
    summary = assign_plays(warehouse, home, DAY)
    assert [(s.play, s.treatment) for s in summary] == [(first.name, 60), (second.name, 40)]
    rows = warehouse.query("SELECT * FROM play_assignments ORDER BY play, instance")
    held = warehouse.query("SELECT instance FROM holdout_assignments WHERE held_out = 1")["instance"]
    assert not rows["instance"].isin(held).any()
    final = rows[rows["arm"] != "not_assigned"]
    assert not final["instance"].duplicated().any()  # nobody in two plays
    assert assign_plays(warehouse, home, DAY) == []
    pd.testing.assert_frame_equal(warehouse.query("SELECT * FROM play_assignments ORDER BY play, instance"), rows)

    set_status(warehouse, second.name, "paused", "ana@example.com")
    [later] = assign_plays(warehouse, home, DEMO_END)
    assert later.play == first.name and later.treatment <= 60
    day2 = warehouse.query("SELECT * FROM play_assignments WHERE assigned_date = DATE '2026-11-26'")
    again = rows[(rows["play"] == first.name) & (rows["arm"] != "not_assigned")]["instance"]
    assert not day2["instance"].isin(again).any()  # final arms are never assigned twice
    paused = rows[(rows["play"] == second.name) & (rows["arm"] != "not_assigned")]["instance"]
    assert not day2["instance"].isin(paused).any()  # a paused play still measures: its arms stay its own
    positions = warehouse.query(
        "SELECT stratum, count(*) AS n, max(position) + 1 AS top FROM play_assignments "
        "WHERE arm <> 'not_assigned' GROUP BY stratum"
    )
    assert (positions["n"] == positions["top"]).all()  # positions stay contiguous across days


def test_a_play_that_allows_overlap_may_share_evaluators(home) -> None:
    warehouse = open_warehouse(home)
    create_play(warehouse, parse_play({**SPEC, "daily_capacity": 500, "eligibility": {}}), "ana@example.com")
    sharing = parse_play({**SPEC, "name": "also", "daily_capacity": 500, "eligibility": {}, "allow_overlap": True})
    create_play(warehouse, sharing, "ana@example.com")
    assign_plays(warehouse, home, DAY)
    final = warehouse.query("SELECT play, instance FROM play_assignments WHERE arm <> 'not_assigned'")
    assert final["instance"].duplicated().any()
