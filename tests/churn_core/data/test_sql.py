"""Golden-row tests of every .sql file that builds a table: tiny inputs, hand-computed expected rows."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlglot

from churn_core.data.etl import ETL_TABLES, run_etl
from churn_core.data.ingest import load_raw
from churn_core.schema import MODEL_TABLES, SEED_COLUMNS
from churn_core.warehouse import load_sql, open_warehouse, sql_names
from tests.conftest import make_settings

AS_OF = dt.date(2026, 1, 25)
COUNTS = [
    "active_users",
    "new_active_users",
    "projects_created",
    "issues_created",
    "issues_updated",
    "issues_commented",
    "issues_assigned",
    "issues_viewed",
    "issues_completed",
    "at_mentions",
    "watchers_added",
    "invites_sent",
    "mobile_sessions",
    "sprints_started",
    "sprints_finished",
]


def _evaluator(instance: int, start: str, retained: int | None, resolved: str | None) -> dict:
    return {
        "instance": instance,
        "eval_start_date": start,
        "product": "Boards",
        "edition": "standard",
        "team_size": 4,
        "company_size_band": "1-10",
        "region": "EMEA",
        "acquisition_source": "organic",
        "expected_annual_value": 1200.0,
        "control_group": 0,
        "retained": retained,
        "resolved_date": resolved,
    }


def _day(instance: int, start: str, k: int, **counts: int | None) -> dict:
    row = {
        "instance": instance,
        "usage_date": (pd.Timestamp(start) + pd.Timedelta(days=k)).date().isoformat(),
        "day_index": k,
    }
    row.update({c: counts.get(c, 0) for c in COUNTS})
    return row


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory):
    """Three evaluators: 1 resolved (retained), 2 unresolved on day 3, 3 resolved after AS_OF (so unresolved)."""
    settings = make_settings(tmp_path_factory.mktemp("golden"))
    evaluators = pd.DataFrame(
        [
            _evaluator(1, "2026-01-01", 1, "2026-01-20"),
            _evaluator(2, "2026-01-22", None, None),
            _evaluator(3, "2026-01-05", None, None),
        ]
    )
    usage = []
    for k in range(14):  # instance 1: one new user on days 0 and 1, a sprint on day 3, 2 issues a day
        usage.append(
            _day(
                1,
                "2026-01-01",
                k,
                active_users=k % 3,
                new_active_users=1 if k < 2 else 0,
                issues_created=2,
                sprints_started=1 if k == 3 else 0,
                issues_viewed=None if k == 5 else 1,
                watchers_added=5 if k == 9 else 0,
            )
        )
    for k in range(4):  # instance 2: day 0..3 (AS_OF is its day 3), 3 users on day 0
        usage.append(
            _day(
                2,
                "2026-01-22",
                k,
                active_users=3 if k == 0 else 1,
                new_active_users=3 if k == 0 else 0,
                projects_created=1 if k == 0 else 0,
                mobile_sessions=2,
            )
        )
    for k in range(21):  # instance 3: a usage row after AS_OF must be ignored
        usage.append(
            _day(
                3,
                "2026-01-05",
                k,
                active_users=1,
                new_active_users=1 if k == 0 else 0,
                invites_sent=1,
                sprints_started=1 if k == 20 else 0,
            )
        )
    load_raw(open_warehouse(settings), {"evaluators": evaluators, "daily_usage": pd.DataFrame(usage)})
    run_etl(open_warehouse(settings), settings, AS_OF)
    return open_warehouse(settings)


def test_every_sql_file_parses_as_athena_sql() -> None:
    names = sql_names() + sql_names("queries")
    assert set(ETL_TABLES) <= set(names)
    for name in names:
        parsed = sqlglot.parse(load_sql(name), read="trino")
        assert parsed and all(p is not None for p in parsed), name


def test_every_table_file_is_documented_in_the_schema() -> None:
    for name in sql_names():
        assert name in MODEL_TABLES, f"{name}.sql builds a table missing from churn_core/schema.py"
        assert load_sql(name).startswith(f"-- {name}:"), f"{name}.sql needs a header naming its table"


def test_feature_snapshots_use_only_days_up_to_d(golden) -> None:
    snap = golden.query("SELECT * FROM feature_snapshots WHERE instance = 1 ORDER BY as_of_day")
    assert snap["as_of_day"].tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert snap["number_of_issues"].tolist() == [4, 6, 8, 10, 12, 14, 16]  # 2 a day over days 0..d
    assert snap["w1_active_users"].tolist() == [2] * 7
    assert snap["sprint_started"].tolist() == [0, 0, 1, 1, 1, 1, 1]
    assert snap["watchers_added"].tolist() == [0] * 7  # the day-9 watchers never leak into week 1
    assert snap["w1_agg_active_users"].tolist() == [1, 3, 3, 4, 6, 6, 7]  # k % 3 summed
    assert snap["w1_max_active_users"].tolist() == [1, 2, 2, 2, 2, 2, 2]
    assert snap["issues_viewed"].tolist() == [2, 3, 4, 5, 5, 6, 7]  # the NULL on day 5 is skipped


def test_feature_snapshots_stop_at_the_as_of_date(golden) -> None:
    snap = golden.query("SELECT as_of_day, mobile_usage FROM feature_snapshots WHERE instance = 2 ORDER BY 1")
    assert snap["as_of_day"].tolist() == [1, 2, 3]  # AS_OF is day 3 of instance 2
    assert snap["mobile_usage"].tolist() == [4, 6, 8]


def test_instances_modeling_has_the_seed_columns_first_and_only_resolved_rows(golden) -> None:
    df = golden.query("SELECT * FROM instances_modeling")
    assert list(df.columns[:19]) == [name for name, _ in SEED_COLUMNS]
    assert list(df.columns) == MODEL_TABLES["instances_modeling"].names
    assert df["instance"].tolist() == [1]
    row = df.iloc[0]
    assert (row["eval_start_date"], row["retained"], row["number_of_issues"]) == ("2026-01-01", 1, 16)
    types = golden.query(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'instances_modeling'"
    ).set_index("column_name")["data_type"]
    for name, kind in SEED_COLUMNS:
        assert types[name] == kind, name


def test_instances_w1_scores_unresolved_on_their_current_day(golden) -> None:
    df = golden.query("SELECT * FROM instances_w1 ORDER BY instance")
    assert list(df.columns) == MODEL_TABLES["instances_w1"].names
    assert df["instance"].tolist() == [2, 3]
    assert df["as_of_day"].tolist() == [3, 7]
    assert df["day_of_trial"].tolist() == [3, 20]
    assert df["retained"].isna().all()
    assert df["number_of_invites"].tolist() == [0, 8]  # instance 3: days 0..7 only
    assert df["sprint_started"].tolist() == [0, 0]  # its day-20 sprint is after week 1


def test_activation_daily_applies_the_rule(golden) -> None:
    act = golden.query("SELECT * FROM activation_daily WHERE instance = 1 ORDER BY day_index")
    assert act["day_index"].tolist() == list(range(8))
    assert act["active_users_to_date"].tolist() == [1, 2, 2, 2, 2, 2, 2, 2]
    assert act["activated"].tolist() == [0, 0, 0, 1, 1, 1, 1, 1]  # 2 users and a sprint by day 3
    assert str(act["cohort_week"].iloc[0])[:10] == "2025-12-29"  # Monday of the week of 2026-01-01
    never = golden.query("SELECT max(activated) AS a FROM activation_daily WHERE instance = 3")
    assert never["a"].iloc[0] == 0  # one user only


def test_rerunning_the_etl_gives_identical_tables(golden) -> None:
    before = {t: golden.query(f"SELECT * FROM {t}") for t in ETL_TABLES}
    settings = make_settings(golden.path.parent)
    run_etl(golden, settings, AS_OF)
    for table in ETL_TABLES:
        pd.testing.assert_frame_equal(before[table], golden.query(f"SELECT * FROM {table}"))
