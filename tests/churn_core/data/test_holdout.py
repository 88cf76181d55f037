"""The measurement holdout: balanced blocks, a pure and stable assignment, the demo's control group."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from churn_core.data import holdout
from churn_core.data.etl import run_etl
from churn_core.data.ingest import load_raw
from churn_core.settings import Settings
from churn_core.warehouse import open_warehouse
from tests.conftest import DEMO_END, make_settings

SHARE, SALT = Settings.holdout_share, Settings.holdout_salt


@pytest.mark.parametrize(("share", "shape"), [(0.10, (10, 1)), (0.15, (20, 3)), (0.5, (2, 1)), (0.005, (200, 1))])
def test_a_block_holds_out_the_share(share, shape):
    assert holdout.block_shape(share) == shape


def test_every_full_block_holds_out_exactly_its_share_and_the_salt_decides_which():
    stratum = np.array(["Boards|2026-11-23"] * 1_000 + ["Docs|2026-11-23"] * 1_000, dtype=object)
    position = np.concatenate([np.arange(1_000), np.arange(1_000)])
    held = holdout.held_out(stratum, position, 0.15, SALT)
    per_block = pd.Series(held).groupby([stratum, position // 20]).sum()
    assert (per_block == 3).all() and len(per_block) == 100
    other = holdout.held_out(stratum, position, 0.15, "another salt")
    assert (other != held).sum() > 100 and other.sum() == held.sum()


def test_an_assignment_does_not_depend_on_who_else_has_arrived():
    """Held out is a function of (stratum, position): a block half filled today gets the same answer
    as the full block tomorrow, and evaluators may arrive in any order."""
    stratum = np.array(["Desk|2026-10-05"] * 95, dtype=object)
    everyone = holdout.held_out(stratum, np.arange(95), SHARE, SALT)
    shuffled = np.random.default_rng(1).permutation(95)
    for first in (1, 7, 33):
        assert (holdout.held_out(stratum[:first], np.arange(first), SHARE, SALT) == everyone[:first]).all()
    assert (holdout.held_out(stratum, shuffled, SHARE, SALT) == everyone[shuffled]).all()


def test_strata_are_product_and_the_monday_of_the_trial_week():
    days = np.array([(dt.date(2026, 11, d) - dt.date(1970, 1, 1)).days for d in (22, 23, 29, 30)])
    assert holdout.strata(["Boards", "Boards", "Docs", "Docs"], days).tolist() == [
        "Boards|2026-11-16",
        "Boards|2026-11-23",
        "Docs|2026-11-23",
        "Docs|2026-11-30",
    ]


def test_the_demo_control_group_is_the_products_holdout(etl_home):
    warehouse = open_warehouse(etl_home, read_only=True)
    both = warehouse.query(
        "SELECT e.control_group, h.held_out, h.stratum FROM evaluators AS e JOIN holdout_assignments AS h "
        "ON h.instance = e.instance"
    )
    assert len(both) == warehouse.count("evaluators") > 2_000
    assert (both["control_group"] == both["held_out"]).all()
    per_stratum = both.groupby("stratum")["held_out"].agg(["sum", "count"])
    # blocks of 10 hold out one each: a stratum is off its share by less than one block's worth
    assert ((per_stratum["sum"] - SHARE * per_stratum["count"]).abs() < 1).all()
    modeled = warehouse.query(
        "SELECT m.control_group, h.held_out FROM instances_w1 AS m JOIN holdout_assignments AS h USING (instance)"
    )
    assert (modeled["control_group"] == modeled["held_out"]).all() and modeled["held_out"].sum() > 0


def test_assignments_never_move_once_made(small_tables, tmp_path):
    """Run after run, with new arrivals and a changed share: an assignment, once made, stays; evaluators
    already resolved when first seen keep what their source recorded."""
    settings = make_settings(tmp_path)
    raw = {k: v.copy() for k, v in small_tables.items() if k != "demo_truth"}
    resolved = raw["evaluators"]["resolved_date"].notna()
    raw["evaluators"].loc[resolved, "control_group"] = 1 - raw["evaluators"].loc[resolved, "control_group"]
    warehouse = open_warehouse(settings)
    load_raw(warehouse, raw)
    early = DEMO_END - dt.timedelta(days=30)
    run_etl(warehouse, settings, early)
    first = warehouse.query("SELECT * FROM holdout_assignments").set_index("instance")
    run_etl(warehouse, settings, early)
    assert warehouse.count("holdout_assignments") == len(first)  # a re-run assigns nobody twice
    changed = dataclasses.replace(settings, holdout_share=0.25, holdout_salt="changed")
    run_etl(warehouse, changed, DEMO_END)
    later = warehouse.query("SELECT * FROM holdout_assignments").set_index("instance")
    assert later.index.is_unique and len(later) == len(raw["evaluators"]) > len(first)
    pd.testing.assert_frame_equal(later.loc[first.index], first)
    evaluators = raw["evaluators"].set_index("instance")
    was_resolved = pd.to_datetime(evaluators["resolved_date"].astype("datetime64[s]")) <= pd.Timestamp(early)
    recorded = later.loc[first.index]
    seen_resolved = was_resolved.loc[first.index]
    assert (recorded.loc[seen_resolved, "origin"] == "recorded").all()
    assert (
        recorded.loc[seen_resolved, "held_out"] == evaluators.loc[seen_resolved[seen_resolved].index, "control_group"]
    ).all()
    new = later.drop(first.index)
    assert new["position"].min() >= 0 and (new["assigned_date"].astype(str) == str(DEMO_END)).all()
    assert 0.15 < new.loc[new["origin"] == "random", "held_out"].mean() < 0.35  # the new share, for new arrivals only
