"""The demo data generator: deterministic, typed exactly as churn_core.schema, realistic enough to model."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churn_core.data.ingest import load_raw
from churn_core.data.synthetic import DEFAULT_END_DATE, TABLE_NAMES, TRIAL_DAYS, generate
from churn_core.schema import ALL_TABLES, CHANNELS, USAGE_COUNTS
from churn_core.warehouse.duckdb import DuckDBWarehouse

END = DEFAULT_END_DATE
COUNTS = [c.name for c in USAGE_COUNTS]


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return generate(20_000, seed=11)


@pytest.fixture(scope="module")
def small() -> dict[str, pd.DataFrame]:
    return generate(3_000, seed=3)


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.astype("datetime64[s]"))


def _expected_dtype(column) -> str:
    if column.type == "INTEGER":
        return "Int32" if column.nullable else "int32"
    return {"BIGINT": "int64", "DOUBLE": "float64", "DATE": "date32[day][pyarrow]", "TIMESTAMP": "datetime64[us]"}.get(
        column.type, "string"
    )


def test_same_seed_same_frames_and_different_seed_differs(small):
    again = generate(3_000, seed=3)
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(small[name], again[name])
    other = generate(3_000, seed=4)
    assert not small["evaluators"].equals(other["evaluators"])
    assert not small["daily_usage"].equals(other["daily_usage"])
    assert not small["engagements"].equals(other["engagements"])


def test_columns_and_types_match_the_schema(small, tmp_path):
    for name in TABLE_NAMES:
        frame, table = small[name], ALL_TABLES[name]
        assert list(frame.columns) == table.names, name
        for column in table.columns:
            want = _expected_dtype(column)
            if want == "string":
                assert pd.api.types.is_string_dtype(frame[column.name]), (name, column.name)
            else:
                assert str(frame[column.name].dtype) == want, (name, column.name, frame[column.name].dtype)
            if not column.nullable:
                assert frame[column.name].notna().all(), (name, column.name)
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    raw = {name: frame for name, frame in small.items() if name != "demo_truth"}
    load_raw(warehouse, raw, {"demo_truth": small["demo_truth"]})  # as `churn demo` loads them
    for name in TABLE_NAMES:
        described = warehouse.query(f"DESCRIBE {name}")
        assert list(zip(described["column_name"], described["column_type"], strict=True)) == [
            (c.name, c.type) for c in ALL_TABLES[name].columns
        ], name
        assert warehouse.count(name) == len(small[name])


def test_instances_are_unique_positive_and_not_a_range(tables):
    ids = tables["evaluators"]["instance"].to_numpy()
    assert len(np.unique(ids)) == len(ids) and ids.min() > 0
    assert not np.array_equal(ids, np.arange(len(ids)))
    assert tables["demo_truth"]["instance"].tolist() == ids.tolist()


def test_segments_are_skewed_and_value_follows_team_size(tables):
    ev = tables["evaluators"]
    assert ev["team_size"].between(1, 500).all()
    assert 2 <= ev["team_size"].median() <= 20 and ev["team_size"].max() > 100
    assert set(ev["edition"]) == {"standard", "premium", "enterprise"}
    assert ev["edition"].value_counts().idxmax() == "standard"
    assert ev["region"].value_counts().idxmax() == "AMER"
    assert np.corrcoef(np.log(ev["team_size"]), np.log(ev["expected_annual_value"]))[0, 1] > 0.7
    assert (ev["expected_annual_value"] > 0).all()


def test_sign_ups_are_fewer_at_weekends(tables):
    weekday = _dates(tables["evaluators"]["eval_start_date"]).dt.day_of_week
    per_day = weekday.value_counts()
    assert per_day[[5, 6]].mean() < 0.7 * per_day[[0, 1, 2, 3, 4]].mean()


def test_retention_rate_and_true_probability_auc(tables):
    ev, truth = tables["evaluators"], tables["demo_truth"]
    resolved = ev["retained"].notna().to_numpy()
    y = ev["retained"].to_numpy(dtype="float64", na_value=np.nan)[resolved]
    p = truth["true_retention_prob"].to_numpy()[resolved]
    assert 0.2 <= y.mean() <= 0.4
    assert 0.80 <= roc_auc_score(y, p) <= 0.90
    assert truth["true_retention_prob"].between(0, 1).all()
    assert truth["engagement_propensity"].between(0, 1).all()


def test_unresolved_evaluators_are_the_recent_ones(tables):
    ev = tables["evaluators"]
    start, resolved = _dates(ev["eval_start_date"]), _dates(ev["resolved_date"])
    unresolved = ev["retained"].isna()
    assert (unresolved == resolved.isna()).all()
    end = pd.Timestamp(END)
    lag = (resolved - start).dt.days
    assert lag[~unresolved].between(14, 30).all()
    assert (resolved[~unresolved] <= end).all()
    assert unresolved[start + pd.Timedelta(days=14) > end].all()
    assert not unresolved[start + pd.Timedelta(days=30) <= end].any()
    assert unresolved.sum() > 0 and (~unresolved).sum() > 0


def test_one_usage_row_per_instance_and_reached_day(tables):
    ev, du = tables["evaluators"], tables["daily_usage"]
    assert not du.duplicated(["instance", "day_index"]).any()
    usage_date = _dates(du["usage_date"])
    assert usage_date.max() <= pd.Timestamp(END)
    starts = _dates(ev.set_index("instance")["eval_start_date"])
    assert ((usage_date - starts.loc[du["instance"]].to_numpy()).dt.days == du["day_index"]).all()
    assert du["day_index"].between(0, TRIAL_DAYS - 1).all()
    expected = np.minimum(TRIAL_DAYS, (pd.Timestamp(END) - starts).dt.days + 1)
    rows = du.groupby("instance").size().reindex(starts.index, fill_value=0)
    assert (rows == expected).all()


def test_missing_values_and_sparse_columns(tables):
    du = tables["daily_usage"]
    for name in ("issues_viewed", "mobile_sessions", "at_mentions"):
        assert 0.01 <= du[name].isna().mean() <= 0.05, name
    for name in ("active_users", "new_active_users", "issues_created"):
        assert du[name].notna().all(), name
    for name in ("watchers_added", "mobile_sessions"):
        nonzero = (du[name].fillna(0) > 0).mean()
        assert 0.002 < nonzero < 0.06, name
    assert (du[COUNTS].fillna(0) >= 0).all().all()
    assert du["sprints_started"].sum() < 0.1 * du["issues_created"].sum()
    assert (du["sprints_finished"].fillna(0) > 0).mean() < (du["issues_created"].fillna(0) > 0).mean()
    projects = du.groupby("day_index")["projects_created"].sum()
    assert projects[[0, 1]].sum() > 0.7 * projects.sum()


def test_weekend_usage_is_lower(tables):
    du = tables["daily_usage"]
    weekend = _dates(du["usage_date"]).dt.day_of_week >= 5
    assert du.loc[weekend, "active_users"].mean() < 0.7 * du.loc[~weekend, "active_users"].mean()
    assert du.loc[weekend, "issues_created"].mean() < 0.7 * du.loc[~weekend, "issues_created"].mean()


def test_distinct_users_never_exceed_the_team(tables):
    ev, du = tables["evaluators"], tables["daily_usage"].sort_values(["instance", "day_index"])
    distinct = du.groupby("instance")["new_active_users"].cumsum()
    team = ev.set_index("instance")["team_size"].loc[du["instance"]].to_numpy()
    assert (distinct.to_numpy() <= team).all()
    assert (du["active_users"] >= du["new_active_users"]).all()
    assert (du["active_users"].to_numpy() <= distinct.to_numpy()).all()


def test_control_group_gets_no_touches(tables):
    ev, en = tables["evaluators"], tables["engagements"]
    control = ev["control_group"] == 1
    assert 0.07 <= control.mean() <= 0.13
    assert not en["instance"].isin(ev.loc[control, "instance"]).any()
    reached = ev.loc[~control & (_dates(ev["eval_start_date"]) <= pd.Timestamp(END) - pd.Timedelta(days=14))]
    assert reached["instance"].isin(en["instance"]).mean() > 0.95


def test_engagements_are_consistent(tables):
    ev, en, content = tables["evaluators"], tables["engagements"], tables["content"]
    assert en["engagement_id"].is_unique and (en["engagement_id"] > 0).all()
    assert (en["responded"] <= en["opened"]).all() and (en["opened"] <= en["delivered"]).all()
    assert set(en["channel"]) == set(CHANNELS)
    counts = en["channel"].value_counts()
    assert counts.idxmax() == "email" and counts.idxmin() == "phone"
    assert 20 <= len(content) <= 40 and content["content_id"].is_unique
    channel_of = content.set_index("content_id")["channel"]
    assert (channel_of.loc[en["content_id"]].to_numpy() == en["channel"].to_numpy()).all()
    starts = _dates(ev.set_index("instance")["eval_start_date"]).loc[en["instance"]].to_numpy()
    sent = en["sent_at"]
    day = (sent.dt.normalize() - starts).dt.days
    assert day.between(1, TRIAL_DAYS - 1).all()
    assert (sent.dt.normalize() <= pd.Timestamp(END)).all()
    assert sent.dt.hour.between(8, 19).all()
    rates = en.groupby("channel")[["delivered", "opened", "responded"]].mean()
    assert rates["delivered"].nunique() == len(CHANNELS)


def test_phone_goes_to_high_value_and_helps_them(tables):
    ev, en, truth = tables["evaluators"], tables["engagements"], tables["demo_truth"]
    value = ev.set_index("instance")["expected_annual_value"]
    phoned = value.index.isin(en.loc[en["channel"] == "phone", "instance"])
    assert value[phoned].median() > 2 * value[~phoned].median()
    effect = truth.set_index("instance")["effect_phone"]
    assert np.corrcoef(np.log(value), effect.loc[value.index])[0, 1] > 0.5
    for channel in CHANNELS:
        assert truth[f"effect_{channel}"].abs().max() < 0.2


def test_default_end_date_and_custom_window():
    out = generate(500, days=20, seed=5, end_date=dt.date(2025, 3, 31))
    start = _dates(out["evaluators"]["eval_start_date"])
    assert start.min() >= pd.Timestamp("2025-03-12") and start.max() <= pd.Timestamp("2025-03-31")
    assert _dates(out["daily_usage"]["usage_date"]).max() <= pd.Timestamp("2025-03-31")
    assert END == dt.date(2026, 11, 26)
