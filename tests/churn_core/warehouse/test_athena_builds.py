"""The Athena adapter's ETL inside Athena (build_table) against moto in server mode, behind a proxy.

moto runs no SQL, so `FakeEngine` (tests/churn_core/aws_fakes.py) plays Athena's part from the statements the
adapter sends. Checked: what the adapter sends in both kinds of
workgroup, where the rows land, that readers switch only to a complete table, and the clean-up of what a
build that did not finish leaves behind.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

import pandas as pd
import pytest
import sqlglot

from churn_core.data.etl import ETL_TABLES, run_etl
from churn_core.errors import TransientError
from churn_core.warehouse import QueryError, load_sql
from churn_core.warehouse.athena import AthenaWarehouse
from tests.churn_core.aws_fakes import (
    BUCKET,
    KILL,
    ROWS,
    AwsFake,
    FakeEngine,
    glue_table,
    json_error,
    keys_under,
    read_location,
)

D3 = dt.date(2026, 11, 26)
PARAMS = {"as_of": D3, "min_active_users": 2, "min_sprints": 1}
WORKGROUP_RESULTS = f"s3://{BUCKET}/workgroup-results/"
PARQUET = "format = 'PARQUET', write_compression = 'SNAPPY'"


def select_text(name: str) -> str:
    """sql/<name>.sql as Athena receives it, its parameters bound."""
    return "\n".join(
        line if line.startswith("--") else line.replace(":as_of", "DATE '2026-11-26'")
        for line in load_sql(name).strip().splitlines()
    )


def statements(aws: AwsFake) -> list[str]:
    return [r.json["QueryString"] for r in aws.proxy.calls("StartQueryExecution")]


def seed_statements(aws: AwsFake, n: int, count: int = 2) -> None:
    """Results for `n` statements that return nothing, then a count."""
    aws.seed(*[([("rows", "bigint")], [])] * n, ([("n", "bigint")], [[count]]))


def enforcing_warehouse(aws: AwsFake) -> AthenaWarehouse:
    aws.client("athena").create_work_group(
        Name="enforced",
        Configuration={
            "ResultConfiguration": {"OutputLocation": WORKGROUP_RESULTS},
            "EnforceWorkGroupConfiguration": True,
        },
    )
    return AthenaWarehouse(aws.settings(athena_workgroup="enforced"))


# --- a workgroup that lets the client choose --------------------------------------------------------


def test_build_table_runs_the_sql_inside_athena_as_ctas_then_switches(aws) -> None:
    aws.client("athena").create_work_group(
        Name="open",
        Configuration={
            "ResultConfiguration": {"OutputLocation": WORKGROUP_RESULTS},
            "EnforceWorkGroupConfiguration": False,
        },
    )
    warehouse = AthenaWarehouse(aws.settings(athena_workgroup="open"))
    warehouse.write_table("instances_modeling", pd.DataFrame({"instance": [9]}))
    engine = FakeEngine(aws)
    seed_statements(aws, 1)
    assert warehouse.build_table("instances_modeling", PARAMS) == 2
    # only the CTAS and a count run: the rows never travel to the client
    ctas, count = statements(aws)
    [temp] = engine.created
    location = glue_table(aws, "instances_modeling")["StorageDescriptor"]["Location"]
    assert re.fullmatch(r"s3://churn-data/warehouse/instances_modeling/v=[^/]+/", location)
    assert ctas == (
        f'CREATE TABLE "churn"."{temp}"\nWITH ({PARQUET}, external_location = \'{location}\')\nAS\n'
        f"{select_text('instances_modeling')}"
    )
    assert sqlglot.parse_one(ctas, read="trino") is not None
    assert count.startswith('SELECT count(*) AS n FROM "instances_modeling"')
    assert warehouse.tables() == ["instances_modeling"]  # the temporary table is gone
    assert [c["Name"] for c in glue_table(aws, "instances_modeling")["StorageDescriptor"]["Columns"]] == [
        "instance",
        "retained",
    ]
    assert [r.json["WorkGroup"] for r in aws.proxy.calls("GetWorkGroup")] == ["open"]


# --- a workgroup that enforces its result location ---------------------------------------------------


def test_where_the_workgroup_enforces_its_location_ctas_names_none_and_inserts_into_our_folder(aws) -> None:
    warehouse = enforcing_warehouse(aws)
    warehouse.write_table("instances_modeling", pd.DataFrame({"instance": [9]}))
    before = glue_table(aws, "instances_modeling")["StorageDescriptor"]["Location"]
    engine = FakeEngine(aws, enforced_location=WORKGROUP_RESULTS)
    seed_statements(aws, 2)
    assert warehouse.build_table("instances_modeling", PARAMS) == 2
    ctas, insert, count = statements(aws)
    [temp] = engine.created
    select = select_text("instances_modeling")
    assert ctas == f'CREATE TABLE "churn"."{temp}"\nWITH ({PARQUET})\nAS\n{select}\nWITH NO DATA'
    assert insert == f'INSERT INTO "churn"."{temp}"\n{select}'
    assert all(sqlglot.parse_one(s, read="trino") is not None for s in (ctas, insert))
    assert count.startswith('SELECT count(*) AS n FROM "instances_modeling"')
    # the rows were written once, straight into the table's own layout, and the table switched there
    location = glue_table(aws, "instances_modeling")["StorageDescriptor"]["Location"]
    assert re.fullmatch(r"s3://churn-data/warehouse/instances_modeling/v=[^/]+/", location) and location != before
    assert read_location(aws, location).to_pydict() == ROWS.to_pydict()
    assert keys_under(aws, "workgroup-results/") == []
    # the temporary table pointed at that folder, with our Parquet definition, before the INSERT ran
    pointed = [r for r in aws.proxy.requests if r.target.endswith(".UpdateTable")]
    assert pointed[0].json["TableInput"]["Name"] == temp
    assert pointed[0].json["TableInput"]["StorageDescriptor"]["Location"] == location
    assert pointed[0].json["TableInput"]["Parameters"]["parquet.compression"] == "SNAPPY"
    assert aws.proxy.requests.index(pointed[0]) < aws.proxy.requests.index(aws.proxy.calls("StartQueryExecution")[1])
    assert warehouse.tables() == ["instances_modeling"]
    # the workgroup is read once per process
    seed_statements(aws, 2)
    warehouse.build_table("instances_w1", {"as_of": D3})
    assert len(aws.proxy.calls("GetWorkGroup")) == 1


def test_without_leave_to_read_the_workgroup_a_ctas_there_fails_with_athenas_reason(aws, caplog) -> None:
    """What every CTAS did before the adapter read the workgroup, and still does if it may not."""
    warehouse = enforcing_warehouse(aws)
    aws.proxy.rules.append(
        lambda r: (
            json_error("AccessDeniedException", "not authorized to perform: athena:GetWorkGroup")
            if r.target.endswith(".GetWorkGroup")
            else None
        )
    )
    FakeEngine(aws, enforced_location=WORKGROUP_RESULTS)
    with caplog.at_level(logging.WARNING, logger="churn_core.warehouse.athena"):
        with pytest.raises(QueryError, match=r"instances_w1.* failed in Athena: external_location may not be"):
            warehouse.build_table("instances_w1", {"as_of": D3})
    assert "grant athena:GetWorkGroup" in caplog.text
    assert warehouse.tables() == [] and keys_under(aws, "warehouse/instances_w1/") == []


# --- failures and leftovers -------------------------------------------------------------------------


def test_a_failed_ctas_keeps_the_previous_table_and_cleans_up(aws) -> None:
    warehouse = aws.warehouse()
    warehouse.write_table("instances_w1", pd.DataFrame({"instance": pd.array([9], dtype="Int32")}))
    before = glue_table(aws, "instances_w1")["StorageDescriptor"]["Location"]
    FakeEngine(aws, fail="COLUMN_NOT_FOUND: line 12:5: Column 's.nope' cannot be resolved")
    with pytest.raises(QueryError, match=r"instances_w1.*rejected by Athena.*churn_core/sql/instances_w1.sql"):
        warehouse.build_table("instances_w1", {"as_of": D3})
    assert glue_table(aws, "instances_w1")["StorageDescriptor"]["Location"] == before
    assert warehouse.tables() == ["instances_w1"]
    assert [
        k for k in keys_under(aws, "warehouse/instances_w1/") if not k.startswith(before[len("s3://churn-data/") :])
    ] == []
    assert read_location(aws, before).column("instance").to_pylist() == [9]


def test_a_ctas_that_finishes_after_its_build_gave_up_is_removed_by_the_next_build(aws) -> None:
    warehouse = aws.warehouse()
    for n in (7, 8):  # two versions: the live one and the one before, kept for queries still reading it
        warehouse.write_table("instances_w1", pd.DataFrame({"instance": pd.array([n], dtype="Int32")}))
    live = glue_table(aws, "instances_w1")["StorageDescriptor"]["Location"]
    kept = {k.split("/")[2] for k in keys_under(aws, "warehouse/instances_w1/")}
    # Athena starts the CTAS, then every poll's connection drops: the build gives up while Athena runs on...
    engine = FakeEngine(aws, deferred=True)
    aws.proxy.rules.append(lambda r: KILL if r.target.endswith(".GetQueryExecution") else None)
    with pytest.raises(TransientError, match="could not reach AWS"):
        warehouse.build_table("instances_w1", {"as_of": D3})
    aws.proxy.rules.clear()
    engine.finish()  # ...and finishes later: a hidden table and its files are left behind
    [leftover] = engine.created
    orphan = glue_table(aws, leftover)["StorageDescriptor"]["Location"]
    assert keys_under(aws, orphan[len(f"s3://{BUCKET}/") :])
    assert warehouse.tables() == ["instances_w1"]  # hidden, but there
    # the next build removes them by name before it starts
    engine.deferred = False
    seed_statements(aws, 1)
    assert warehouse.build_table("instances_w1", {"as_of": D3}) == 2
    tables = aws.client("glue").get_tables(DatabaseName="churn")["TableList"]
    assert [t["Name"] for t in tables] == ["instances_w1"]
    assert keys_under(aws, orphan[len(f"s3://{BUCKET}/") :]) == []
    new = glue_table(aws, "instances_w1")["StorageDescriptor"]["Location"]
    versions = {k.split("/")[2] for k in keys_under(aws, "warehouse/instances_w1/")}
    assert versions == {live.rstrip("/").rsplit("/", 1)[1], new.rstrip("/").rsplit("/", 1)[1]}  # not the orphan
    assert live.rstrip("/").rsplit("/", 1)[1] in kept


@pytest.mark.slow
def test_churn_etl_runs_unchanged_on_athena(aws) -> None:
    warehouse = aws.warehouse()
    warehouse.write_tables(
        {
            "evaluators": pd.DataFrame({"instance": pd.array([1], dtype="Int32")}),
            "daily_usage": pd.DataFrame({"instance": pd.array([1], dtype="Int32"), "usage_date": [D3]}),
        }
    )
    engine = FakeEngine(aws)
    arrivals = [("instance", "integer"), ("eval_start_date", "date"), ("product", "varchar")]
    arrivals += [("control_group", "integer"), ("resolved", "integer")]
    aws.seed(([("first_day", "date"), ("last_day", "date")], [["2026-11-01", D3.isoformat()]]))  # the data's span
    aws.seed((arrivals, [[i, "2026-11-01", "Boards", 0, int(i == 1)] for i in (1, 2, 3)]))  # the holdout's read
    for _ in ETL_TABLES:
        seed_statements(aws, 1)
    assert run_etl(warehouse, aws.settings(), D3) == {"holdout_assignments": 3, **dict.fromkeys(ETL_TABLES, 2)}
    assert [t.split("__tmp_")[0] for t in engine.created] == list(ETL_TABLES)
    assert set(warehouse.tables()) == {"evaluators", "daily_usage", "holdout_assignments", *ETL_TABLES}
