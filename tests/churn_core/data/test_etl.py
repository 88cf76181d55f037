"""The SQL ETL on a generated warehouse, checked against an independent pandas computation."""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest

from churn_core.schema import FEATURES
from churn_core.warehouse import WarehouseError, open_warehouse
from tests.conftest import DEMO_END, make_settings

SUMS = {
    "number_of_projects": "projects_created",
    "number_of_issues": "issues_created",
    "number_of_invites": "invites_sent",
    "w1_active_users": "new_active_users",
    "w1_agg_active_users": "active_users",
    "watchers_added": "watchers_added",
    "issues_updated": "issues_updated",
    "issues_commented": "issues_commented",
    "issues_assigned": "issues_assigned",
    "at_mentions": "at_mentions",
    "issues_viewed": "issues_viewed",
    "issues_completed": "issues_completed",
    "mobile_usage": "mobile_sessions",
    "sprint_started": "sprints_started",
    "sprint_finished": "sprints_finished",
}


def pandas_snapshots(evaluators: pd.DataFrame, usage: pd.DataFrame) -> pd.DataFrame:
    """feature_snapshots computed with pandas only, straight from the raw tables."""
    end = pd.Timestamp(DEMO_END)
    start = pd.to_datetime(evaluators.set_index("instance")["eval_start_date"].astype("datetime64[s]"))
    reached = (end - start).dt.days
    usage = usage[pd.to_datetime(usage["usage_date"].astype("datetime64[s]")) <= end]
    frames = []
    for d in range(1, 8):
        ids = reached.index[reached >= d]
        window = usage[(usage["day_index"] <= d) & usage["instance"].isin(ids)]
        grouped = window.groupby("instance")
        out = pd.DataFrame(index=pd.Index(ids, name="instance"))
        for feature, column in SUMS.items():
            out[feature] = grouped[column].sum(min_count=1)
        out["w1_max_active_users"] = grouped["active_users"].max()
        out["as_of_day"] = d
        frames.append(out.reset_index())
    return pd.concat(frames).sort_values(["instance", "as_of_day"]).reset_index(drop=True)


def test_feature_snapshots_match_pandas(etl_home, small_tables) -> None:
    sql = open_warehouse(etl_home).query("SELECT * FROM feature_snapshots ORDER BY instance, as_of_day")
    expected = pandas_snapshots(small_tables["evaluators"], small_tables["daily_usage"])
    assert len(sql) == len(expected) > 0
    for column in ["instance", "as_of_day", *FEATURES]:
        got = sql[column].astype("float64").to_numpy()
        want = expected[column].astype("float64").to_numpy()
        np.testing.assert_array_equal(got, want, err_msg=column)


def test_modelling_tables_split_resolved_from_unresolved(etl_home, small_tables) -> None:
    warehouse = open_warehouse(etl_home)
    ev = small_tables["evaluators"]
    resolved = ev["retained"].notna()
    modeling = warehouse.query("SELECT instance, retained FROM instances_modeling")
    assert set(modeling["instance"]) == set(ev.loc[resolved, "instance"])
    w1 = warehouse.query("SELECT instance, day_of_trial, as_of_day FROM instances_w1")
    assert set(w1["instance"]) <= set(ev.loc[~resolved, "instance"])
    assert (w1["as_of_day"] == w1["day_of_trial"].clip(upper=7)).all()
    assert modeling["retained"].isin([0, 1]).all()


def test_activation_is_monotone_within_a_trial(etl_home) -> None:
    act = open_warehouse(etl_home).query("SELECT instance, day_index, activated FROM activation_daily")
    act = act.sort_values(["instance", "day_index"])
    assert (act.groupby("instance")["activated"].diff().fillna(0) >= 0).all()
    assert 0 < act.loc[act["day_index"] == 7, "activated"].mean() < 1


def test_etl_without_raw_tables_says_what_to_do(tmp_path) -> None:
    from churn_core.data.etl import run_etl

    settings = make_settings(tmp_path)
    with pytest.raises(WarehouseError, match="churn ingest DIR"):
        run_etl(open_warehouse(settings), settings)


@pytest.mark.parametrize("day", ["2099-01-01", "1990-01-01"])
def test_an_as_of_date_outside_the_data_is_refused(etl_home, tmp_path, day) -> None:
    """Also fixed: 2099-01-01 built a set with day_of_trial 26,334 that stayed "latest"; 1990 built empty tables."""
    from churn_core.data.etl import run_etl  # noqa: PLC0415 (as the other tests of this file do)

    shutil.copytree(etl_home.home, tmp_path / "home")
    settings = etl_home.with_overrides(home=tmp_path / "home")
    with pytest.raises(WarehouseError, match="outside the data") as refused:
        run_etl(open_warehouse(settings), settings, dt.date.fromisoformat(day))
    assert "2026-11-26" in str(refused.value)  # where the data ends, to choose a date from
