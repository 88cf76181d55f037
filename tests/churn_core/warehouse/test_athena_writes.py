"""The Athena adapter's writes against a real AWS-compatible server (moto in server mode, behind a proxy).

Tables are Parquet on S3 registered in Glue; every write uploads to a new location and then switches the
Glue table or partition to it, so a write that dies half-way leaves readers on the previous complete data.
The ETL inside Athena (build_table) is in test_athena_builds.py.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from churn_core.errors import TransientError
from churn_core.warehouse import WarehouseError
from churn_core.warehouse.athena import AthenaWarehouse
from tests.churn_core.aws_fakes import (
    BUCKET,
    KILL,
    MAX_ATTEMPTS,
    AwsFake,
    Request,
    glue_table,
    json_error,
    keys_under,
    read_location,
)

D1, D2, D3 = dt.date(2026, 11, 24), dt.date(2026, 11, 25), dt.date(2026, 11, 26)


@pytest.fixture()
def warehouse(aws: AwsFake) -> AthenaWarehouse:
    return aws.warehouse()


def evaluators(n: int = 3, value: float = 1200.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "instance": pd.array(range(1, n + 1), dtype="Int32"),
            "eval_start_date": pd.to_datetime(["2026-11-01"] * n),
            "product": ["Boards"] * n,
            "edition": ["standard"] * n,
            "team_size": pd.array([4] * n, dtype="Int32"),
            "company_size_band": ["1-10"] * n,
            "region": ["EMEA"] * n,
            "acquisition_source": ["organic"] * n,
            "expected_annual_value": [value] * n,
            "control_group": pd.array([0] * n, dtype="Int32"),
            "retained": pd.array([1] + [None] * (n - 1), dtype="Int32"),
            "resolved_date": [dt.date(2026, 11, 20)] + [None] * (n - 1),
        }
    )


def content(title: str = "Welcome") -> pd.DataFrame:
    return pd.DataFrame({"content_id": ["c1"], "title": [title], "channel": ["email"], "topic": ["onboarding"]})


def scores(as_of: dt.date, n: int = 4, **extra: Any) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "instance": pd.array(range(n), dtype="Int32"),
            "as_of_date": [as_of] * n,
            "churn_probability": [0.1 * i for i in range(n)],
            "risk_tier": ["low"] * n,
            **extra,
        }
    )


# --- whole tables ----------------------------------------------------------------------------------


def test_tables_are_parquet_on_s3_registered_in_glue(aws, warehouse) -> None:
    warehouse.write_tables({"evaluators": evaluators(), "content": content()})
    assert warehouse.tables() == ["content", "evaluators"] and warehouse.table_exists("evaluators")
    table = glue_table(aws, "evaluators")
    sd = table["StorageDescriptor"]
    assert table["TableType"] == "EXTERNAL_TABLE" and table["PartitionKeys"] == []
    assert re.fullmatch(r"s3://churn-data/warehouse/evaluators/v=\d{8}T\d{12}Z-[0-9a-f]{8}/", sd["Location"])
    assert sd["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert {c["Name"]: c["Type"] for c in sd["Columns"]} == {
        "instance": "int",
        "eval_start_date": "date",
        "product": "string",
        "edition": "string",
        "team_size": "int",
        "company_size_band": "string",
        "region": "string",
        "acquisition_source": "string",
        "expected_annual_value": "double",
        "control_group": "int",
        "retained": "int",
        "resolved_date": "date",
    }
    data = read_location(aws, sd["Location"])
    assert data.schema.field("instance").type == pa.int32()
    assert data.schema.field("eval_start_date").type == pa.date32()
    assert data.column("retained").to_pylist() == [1, None, None]
    assert data.column("resolved_date").to_pylist() == [dt.date(2026, 11, 20), None, None]


def test_replacing_a_table_switches_location_and_keeps_one_previous_version(aws, warehouse) -> None:
    locations = []
    for title in ("one", "two", "three"):
        warehouse.write_table("content", content(title))
        locations.append(glue_table(aws, "content")["StorageDescriptor"]["Location"])
    assert len(set(locations)) == 3
    assert read_location(aws, locations[-1]).column("title").to_pylist() == ["three"]
    kept = {k.split("/")[2] for k in keys_under(aws, "warehouse/content/")}
    assert kept == {loc.rstrip("/").rsplit("/", 1)[1] for loc in locations[1:]}  # current and previous only


def test_a_killed_upload_leaves_every_table_on_its_previous_data(aws, warehouse) -> None:
    warehouse.write_tables({"evaluators": evaluators(value=100.0), "content": content("old")})
    before = {t: glue_table(aws, t)["StorageDescriptor"]["Location"] for t in ("evaluators", "content")}
    objects_before = keys_under(aws, "warehouse/")
    aws.proxy.rules.append(lambda r: KILL if r.method == "PUT" and "/warehouse/content/" in r.path else None)
    with pytest.raises(TransientError, match=rf"uploading content.*could not reach AWS.*gave up after {MAX_ATTEMPTS}"):
        warehouse.write_tables({"evaluators": evaluators(value=999.0), "content": content("new")})
    after = {t: glue_table(aws, t)["StorageDescriptor"]["Location"] for t in ("evaluators", "content")}
    assert after == before
    assert read_location(aws, after["evaluators"]).column("expected_annual_value").to_pylist() == [100.0] * 3
    assert read_location(aws, after["content"]).column("title").to_pylist() == ["old"]
    assert [k for k in keys_under(aws, "warehouse/") if "_churn" not in k] == [
        k for k in objects_before if "_churn" not in k
    ]  # the new evaluators upload was removed again


def test_a_failed_catalogue_switch_puts_back_the_tables_already_switched(aws, warehouse) -> None:
    warehouse.write_tables({"evaluators": evaluators(value=100.0), "content": content("old")})
    before = {t: glue_table(aws, t)["StorageDescriptor"]["Location"] for t in ("evaluators", "content")}

    def deny_content(request: Request):
        if request.target.endswith(".UpdateTable") and request.json["TableInput"]["Name"] == "content":
            return json_error("AccessDeniedException", "not authorized to perform: glue:UpdateTable")
        return None

    aws.proxy.rules.append(deny_content)
    with pytest.raises(WarehouseError, match=r"switching table content.*access denied.*will not help") as err:
        warehouse.write_tables({"evaluators": evaluators(value=999.0), "content": content("new")})
    assert not isinstance(err.value, TransientError)
    assert {t: glue_table(aws, t)["StorageDescriptor"]["Location"] for t in before} == before
    denied = [r for r in aws.proxy.calls("UpdateTable") if r.json["TableInput"]["Name"] == "content"]
    assert len(denied) == 1  # access denied is not retried


def test_frames_are_written_with_the_data_model_types(aws, warehouse) -> None:
    frame = evaluators()
    frame["team_size"] = frame["team_size"].astype("float64")  # e.g. after a merge introduced NaN
    frame["eval_start_date"] = frame["eval_start_date"].dt.strftime("%Y-%m-%d")
    warehouse.write_table("evaluators", frame)
    data = read_location(aws, glue_table(aws, "evaluators")["StorageDescriptor"]["Location"])
    assert data.schema.field("team_size").type == pa.int32()
    assert data.column("eval_start_date").to_pylist()[0] == dt.date(2026, 11, 1)


# --- partitions ------------------------------------------------------------------------------------


def test_score_sets_are_date_partitions_and_only_the_newest_are_kept(aws, warehouse) -> None:
    for day in (D1, D2, D3):
        warehouse.write_partitions(
            {
                "evaluator_scores": scores(day),
                "score_sets": pd.DataFrame({"as_of_date": [day], "scored": pd.array([4], dtype="Int32")}),
            },
            "as_of_date",
            day,
            keep=2,
        )
    glue = aws.client("glue")
    for name in ("evaluator_scores", "score_sets"):
        table = glue_table(aws, name)
        assert table["PartitionKeys"] == [{"Name": "as_of_date", "Type": "date"}]
        assert "as_of_date" not in [c["Name"] for c in table["StorageDescriptor"]["Columns"]]
        parts = glue.get_partitions(DatabaseName="churn", TableName=name)["Partitions"]
        assert sorted(p["Values"][0] for p in parts) == [D2.isoformat(), D3.isoformat()]
        assert keys_under(aws, f"warehouse/{name}/as_of_date={D1}/") == []
    [newest] = [
        p
        for p in glue.get_partitions(DatabaseName="churn", TableName="evaluator_scores")["Partitions"]
        if p["Values"] == [D3.isoformat()]
    ]
    location = newest["StorageDescriptor"]["Location"]
    assert re.fullmatch(rf"s3://churn-data/warehouse/evaluator_scores/as_of_date={D3}/v=[^/]+/", location)
    data = read_location(aws, location)
    assert data.schema.names == ["instance", "churn_probability", "risk_tier"]
    assert data.column("instance").to_pylist() == [0, 1, 2, 3]


def test_rewriting_a_partition_switches_it_and_new_columns_extend_the_table(aws, warehouse) -> None:
    warehouse.write_partition("evaluator_scores", scores(D2), "as_of_date", D2)
    warehouse.write_partition("evaluator_scores", scores(D3), "as_of_date", D3)
    glue = aws.client("glue")

    def location(day: dt.date) -> str:
        return glue.get_partition(
            DatabaseName="churn", TableName="evaluator_scores", PartitionValues=[day.isoformat()]
        )["Partition"]["StorageDescriptor"]["Location"]

    first, d2 = location(D3), location(D2)
    warehouse.write_partition("evaluator_scores", scores(D3, n=2, shap_new_feature=[0.5, -0.5]), "as_of_date", D3)
    assert location(D3) != first and location(D2) == d2
    columns = glue_table(aws, "evaluator_scores")["StorageDescriptor"]["Columns"]
    assert [c["Name"] for c in columns][-1] == "shap_new_feature" and columns[-1]["Type"] == "double"
    assert read_location(aws, location(D3)).column("shap_new_feature").to_pylist() == [0.5, -0.5]
    assert read_location(aws, d2).num_rows == 4  # older sets read NULL for the new column


def test_partition_rows_must_carry_the_partition_value(warehouse) -> None:
    mixed = pd.concat([scores(D2), scores(D3)])
    with pytest.raises(WarehouseError, match="include other values"):
        warehouse.write_partition("evaluator_scores", mixed, "as_of_date", D3)


def test_text_partitions_for_model_versions(aws, warehouse) -> None:
    ref = pd.DataFrame({"model_version": ["v0002"] * 2, "feature": ["a", "b"], "share": [0.5, 0.5]})
    warehouse.write_partition("drift_reference", ref, "model_version", "v0002")
    assert glue_table(aws, "drift_reference")["PartitionKeys"] == [{"Name": "model_version", "Type": "string"}]
    with pytest.raises(WarehouseError, match="plain text"):
        warehouse.write_partition("drift_reference", ref.assign(model_version="x/../y"), "model_version", "x/../y")


# --- appends ---------------------------------------------------------------------------------------


def test_append_adds_parquet_objects_next_to_the_old_ones(aws, warehouse) -> None:
    def run(job: str, **extra: Any) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "run_id": [job],
                "job": [job],
                "started_at": [pd.Timestamp("2026-11-26 06:00:01.5")],
                "rows_out": pd.array([10], dtype="Int32"),
                **extra,
            }
        )

    warehouse.append("job_runs", run("score"))
    location = glue_table(aws, "job_runs")["StorageDescriptor"]["Location"]
    warehouse.append("job_runs", run("train"))
    warehouse.append("job_runs", run("etl", host=["box"]))
    table = glue_table(aws, "job_runs")
    assert table["StorageDescriptor"]["Location"] == location
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == [
        "run_id",
        "job",
        "started_at",
        "rows_out",
        "host",
    ]
    assert len(keys_under(aws, location[len(f"s3://{BUCKET}/") :])) == 3
    data = read_location(aws, location)
    assert sorted(data.column("job").to_pylist()) == ["etl", "score", "train"]
    assert data.schema.field("started_at").type == pa.timestamp("ms")


def test_many_appends_are_compacted_into_one_file(aws, warehouse, monkeypatch) -> None:
    monkeypatch.setattr(AthenaWarehouse, "compact_after", 3)
    for i in range(4):
        warehouse.append("audit_log", pd.DataFrame({"action": [f"export {i}"], "row_count": pd.array([i], "Int32")}))
    location = glue_table(aws, "audit_log")["StorageDescriptor"]["Location"]
    assert len(keys_under(aws, location[len(f"s3://{BUCKET}/") :])) == 1
    assert sorted(read_location(aws, location).column("action").to_pylist()) == [f"export {i}" for i in range(4)]
    warehouse.append("audit_log", pd.DataFrame({"action": ["export 4"], "row_count": pd.array([4], "Int32")}))
    assert glue_table(aws, "audit_log")["StorageDescriptor"]["Location"] == location  # appends go on there
    assert read_location(aws, location).num_rows == 5
