"""The Athena adapter's queries against a real AWS-compatible server (moto in server mode, behind a proxy).

Checked here: the exact SQL and parameters Athena receives, polling through QUEUED/RUNNING with a timeout,
result typing, clear errors for failed, cancelled, throttled and denied queries, retries for the passing
failures only, result reuse and the bytes-scanned count. Writes are in test_athena_writes.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import socket
from typing import Any

import pandas as pd
import pytest
import sqlglot
from pyathena.formatter import DefaultParameterFormatter

from churn_core import views
from churn_core.data.etl import ETL_TABLES
from churn_core.errors import TransientError
from churn_core.warehouse import (
    QueryError,
    TransientWarehouseError,
    WarehouseError,
    load_sql,
    open_warehouse,
    sql_names,
)
from churn_core.warehouse.athena import AthenaWarehouse
from churn_core.warehouse.athena_sql import describe_sql, tables_in, to_pyformat
from tests.churn_core.aws_fakes import KILL, MAX_ATTEMPTS, first, json_error, protocol_mismatch
from tests.conftest import make_settings

SAMPLE: dict[str, Any] = {
    "as_of": dt.date(2026, 11, 26),
    "since": dt.date(2026, 9, 1),
    "stale_before": dt.datetime(2026, 11, 26, 6),
    "dimension": "product",
    "sort": "risk",
    "model_version": "v0001",
    "run_id": "r1",
    "running_run_id": "",
}


@pytest.fixture()
def warehouse(aws) -> AthenaWarehouse:
    return aws.warehouse()


def _statement(query: dict[str, Any]) -> str:
    return query["Query"].split("\n-- churn data versions:")[0].strip()


# --- SQL text --------------------------------------------------------------------------------------


def test_placeholders_become_pyformat_but_literals_and_comments_stay() -> None:
    sql = (
        "SELECT ':as_of', a % 7, b LIKE '%x%' -- :not_a_param 100%\n"
        "FROM t WHERE d = :as_of AND e = CAST(:as_of AS DATE) LIMIT :limit OFFSET :offset /* :z */"
    )
    text, names = to_pyformat(sql)
    assert names == ("as_of", "limit", "offset")
    assert text == (
        "SELECT ':as_of', a %% 7, b LIKE '%%x%%' -- :not_a_param 100%%\n"
        "FROM t WHERE d = %(as_of)s AND e = CAST(%(as_of)s AS DATE) LIMIT %(limit)s OFFSET %(offset)s "
        "/* :z */"
    )
    rendered = DefaultParameterFormatter().format(text, {"as_of": "DATE '2026-01-01'", "limit": 5, "offset": 0})
    assert rendered.startswith("SELECT ':as_of', a % 7, b LIKE '%x%' -- :not_a_param 100%")


def test_every_sql_file_parses_as_athena_sql_after_binding() -> None:
    formatter = DefaultParameterFormatter()
    for name in sql_names() + sql_names("queries"):
        text, names = to_pyformat(load_sql(name))
        values = {n: SAMPLE.get(n, 3) for n in names}
        rendered = formatter.format(text, values)
        parsed = sqlglot.parse(rendered, read="trino")
        assert parsed and all(p is not None for p in parsed), name
        assert ":" + (names[0] if names else "x") not in re.sub(r"--[^\n]*|'[^']*'", "", rendered), name
    for name in ETL_TABLES:  # the CTAS the adapter wraps around each ETL file
        ctas = (
            f'CREATE TABLE "churn"."{name}__tmp_1" WITH (format = \'PARQUET\', '
            f"external_location = 's3://b/p/{name}/v=1/') AS\n{load_sql(name)}"
        )
        assert sqlglot.parse_one(ctas, read="trino") is not None


def test_errors_name_the_sql_file() -> None:
    assert describe_sql(load_sql("queries/risk_histogram")) == (
        "query risk_histogram (churn_core/sql/queries/risk_histogram.sql)"
    )
    assert (
        describe_sql(load_sql("feature_snapshots")) == "table feature_snapshots (churn_core/sql/feature_snapshots.sql)"
    )
    assert describe_sql("SELECT 1") == "query `SELECT 1`"


# --- what Athena receives --------------------------------------------------------------------------


def test_named_query_reaches_athena_with_bound_literals_and_result_reuse(aws, warehouse) -> None:
    aws.seed(([("band", "integer"), ("evaluators", "bigint"), ("value_at_risk", "double")], [[12, 3, 4.5]]))
    df = warehouse.run("risk_histogram", {"as_of": dt.date(2026, 11, 26), "unused": 1})
    assert df.to_dict("records") == [{"band": 12, "evaluators": 3, "value_at_risk": 4.5}]
    [query] = aws.queries()
    expected = load_sql("queries/risk_histogram").replace("= :as_of", "= DATE '2026-11-26'").strip()
    assert _statement(query) == expected
    assert query["Query"].endswith("\n-- churn data versions: evaluator_scores=0")  # never written by churn
    assert query["QueryExecutionContext"]["Database"] == "churn"
    assert query["WorkGroup"] == "primary"
    assert query["ResultConfiguration"]["OutputLocation"].startswith("s3://churn-data/athena-results/")
    [start] = aws.proxy.calls("StartQueryExecution")
    assert start.json["ResultReuseConfiguration"] == {
        "ResultReuseByAgeConfiguration": {"Enabled": True, "MaxAgeInMinutes": 60}
    }
    assert "ExecutionParameters" not in start.json


def test_text_parameters_are_escaped_as_trino_reads_them_in_comment_led_sql(aws, warehouse) -> None:
    """Every churn .sql file starts with a `-- name:` comment. pyathena up to 3.35.3 chose its escaper by the
    statement's first word and used Hive's backslash escaper for anything not starting with SELECT or WITH, so
    in our files a quote in a value ended the literal (`'O\\'Brien'`) and the rest ran as SQL."""
    region = "O'Brien\\' OR 1 = 1; DROP TABLE evaluators; --"
    sql = (
        "-- evaluators_in_region: how many evaluators a region has (led by a comment, as our .sql files are)\n"
        "SELECT count(*) AS n FROM evaluators WHERE region = :region AND team_size > :seats "
        "AND resolved_date < :when AND retained IS :nothing"
    )
    aws.seed(([("n", "bigint")], [[0]]))
    warehouse.query(sql, {"region": region, "seats": 5, "when": pd.Timestamp("2026-11-26 06:30:00"), "nothing": None})
    statement = _statement(aws.queries()[0])
    assert statement == sql.replace(":region", "'O''Brien\\'' OR 1 = 1; DROP TABLE evaluators; --'").replace(
        ":seats", "5"
    ).replace(":when", "TIMESTAMP '2026-11-26 06:30:00.000'").replace(":nothing", "null")
    [parsed] = sqlglot.parse(statement, read="trino")  # one statement, whose region literal is the value
    [compared] = [eq for eq in parsed.find_all(sqlglot.exp.EQ) if eq.this.name == "region"]
    assert compared.expression.this == region and not list(parsed.find_all(sqlglot.exp.Or))


def test_a_missing_parameter_is_refused_before_athena(aws, warehouse) -> None:
    with pytest.raises(QueryError, match=r"risk_histogram.*needs a value for :as_of"):
        warehouse.run("risk_histogram")
    assert aws.proxy.calls("StartQueryExecution") == []


def test_user_typed_query_must_be_one_select(aws, warehouse) -> None:
    with pytest.raises(QueryError, match="read-only"):
        warehouse.read_only_query("DROP TABLE evaluators")
    assert aws.proxy.calls("StartQueryExecution") == []


def test_write_statements_do_not_reuse_results(aws, warehouse) -> None:
    warehouse.execute("ALTER TABLE evaluators SET TBLPROPERTIES ('note' = :note)", {"note": "50% done"})
    [start] = aws.proxy.calls("StartQueryExecution")
    assert start.json["QueryString"] == "ALTER TABLE evaluators SET TBLPROPERTIES ('note' = '50% done')"
    assert "ResultReuseConfiguration" not in start.json


# --- results ---------------------------------------------------------------------------------------


def test_results_are_typed_from_athena_column_types(aws, warehouse) -> None:
    columns = [
        ("instance", "integer"),
        ("engagement_id", "bigint"),
        ("p", "double"),
        ("day", "date"),
        ("sent_at", "timestamp"),
        ("segment", "varchar"),
        ("flag", "boolean"),
        ("auc", "decimal(10,4)"),
        ("small", "smallint"),
        ("nothing", "unknown"),
    ]
    aws.seed(
        (
            columns,
            [
                [
                    7,
                    12345678901,
                    0.25,
                    "2026-11-26",
                    dt.datetime(2026, 11, 26, 6, 30),
                    "worth saving",
                    True,
                    "0.8125",
                    2,
                    None,
                ],
                [None, None, None, None, None, None, None, None, None, None],
                [8, 2, -1.5e-3, "2026-01-02", dt.datetime(2026, 1, 2), "on track, low", False, "1", 0, None],
            ],
        )
    )
    df = warehouse.query("SELECT * FROM whatever")
    assert list(df.columns) == [n for n, _ in columns]
    assert df.dtypes.astype(str).to_dict() == {
        "instance": "Int32",
        "engagement_id": "Int64",
        "p": "float64",
        "day": "datetime64[us]",
        "sent_at": "datetime64[us]",
        "segment": "str",
        "flag": "boolean",
        "auc": "float64",
        "small": "Int16",
        "nothing": "object",
    }
    assert df["instance"].tolist() == [7, pd.NA, 8]
    assert df["engagement_id"].iloc[0] == 12345678901
    assert df["p"].iloc[2] == -0.0015 and pd.isna(df["p"].iloc[1])
    assert df["day"].iloc[0] == pd.Timestamp("2026-11-26") and pd.isna(df["day"].iloc[1])
    assert df["sent_at"].iloc[0] == pd.Timestamp("2026-11-26 06:30")
    assert df["segment"].tolist()[::2] == ["worth saving", "on track, low"] and pd.isna(df["segment"].iloc[1])
    assert df["flag"].tolist() == [True, pd.NA, False]
    assert df["auc"].iloc[0] == 0.8125
    assert df["nothing"].isna().all()


def test_an_empty_result_keeps_its_columns_and_types(aws, warehouse) -> None:
    aws.seed(([("instance", "integer"), ("as_of_date", "date"), ("segment", "varchar")], []))
    df = warehouse.run("score_columns")
    assert df.empty and list(df.columns) == ["instance", "as_of_date", "segment"]
    assert df.dtypes.astype(str).tolist() == ["Int32", "datetime64[us]", "str"]


def test_polling_follows_the_query_through_queued_and_running(aws, warehouse) -> None:
    states: list[str] = []

    def record(request, data):
        if request.target.endswith(".GetQueryExecution"):
            states.append(data["QueryExecution"]["Status"]["State"])
        return data

    aws.proxy.rewrites.append(record)
    aws.moto_api(
        "/moto-api/state-manager/set-transition",
        {"model_name": "athena::execution", "transition": {"progression": "manual", "times": 3}},
    )
    aws.seed(([("n", "bigint")], [[42]]))
    assert warehouse.query("SELECT count(*) AS n FROM evaluators")["n"].tolist() == [42]
    assert states[0] == "QUEUED" and "RUNNING" in states and states[-1] == "SUCCEEDED"
    assert states.index("RUNNING") >= 2 and len(states) >= 5


def test_a_query_that_runs_too_long_is_stopped(aws) -> None:
    warehouse = AthenaWarehouse(aws.settings(athena_query_timeout_seconds=0.3))
    aws.moto_api(
        "/moto-api/state-manager/set-transition",
        {"model_name": "athena::execution", "transition": {"progression": "manual", "times": 10**6}},
    )
    with pytest.raises(QueryError, match=r"did not finish within 0.3 s.*CHURN_ATHENA_QUERY_TIMEOUT_SECONDS"):
        warehouse.query("SELECT count(*) FROM daily_usage")
    [stop] = aws.proxy.calls("StopQueryExecution")
    assert stop.json["QueryExecutionId"] == aws.proxy.calls("GetQueryExecution")[0].json["QueryExecutionId"]


# --- failures and retries --------------------------------------------------------------------------


def _fail_executions(aws, state: str, reason: str, retryable: bool = False, times: int = 10**6) -> None:
    """Make moto report the first `times` query executions as ended in `state`."""
    failed: set[str] = set()

    def rewrite(request, data):
        if request.target.endswith(".GetQueryExecution"):
            query_id = data["QueryExecution"]["QueryExecutionId"]
            if query_id in failed or len(failed) < times:
                failed.add(query_id)
                data["QueryExecution"]["Status"].update(
                    State=state,
                    StateChangeReason=reason,
                    AthenaError={
                        "ErrorCategory": 2,
                        "ErrorType": 1001,
                        "Retryable": retryable,
                        "ErrorMessage": reason,
                    },
                )
        return data

    aws.proxy.rewrites.append(rewrite)


def test_a_syntax_error_names_the_sql_file_and_is_not_retried(aws, warehouse) -> None:
    _fail_executions(aws, "FAILED", "line 5:5: mismatched input 'FORM'. Expecting: <expression>")
    with pytest.raises(
        QueryError,
        match=r"risk_histogram.*rejected by Athena: line 5:5.*"
        r"Fix the SQL in churn_core/sql/queries/risk_histogram.sql",
    ):
        warehouse.run("risk_histogram", {"as_of": dt.date(2026, 11, 26)})
    assert len(aws.proxy.calls("StartQueryExecution")) == 1


def test_a_missing_table_says_how_to_build_it(aws, warehouse) -> None:
    _fail_executions(
        aws, "FAILED", "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.churn.score_sets' does not exist"
    )
    with pytest.raises(QueryError, match=r"does not exist\. Build the tables first: `churn demo`"):
        warehouse.run("score_set_catalogue")


def test_a_cancelled_query_is_reported(aws, warehouse) -> None:
    _fail_executions(aws, "CANCELLED", "Query cancelled by user")
    with pytest.raises(QueryError, match="was cancelled in Athena"):
        warehouse.query("SELECT 1 AS one")
    assert len(aws.proxy.calls("StartQueryExecution")) == 1


def test_a_query_failing_for_a_passing_reason_is_run_again(aws, warehouse) -> None:
    _fail_executions(
        aws,
        "FAILED",
        "Rate exceeded (Service: Amazon S3; Status Code: 503; Error Code: SlowDown)",
        retryable=True,
        times=2,
    )
    aws.seed(([("one", "integer")], [[1]]), ([("one", "integer")], [[1]]), ([("one", "integer")], [[1]]))
    assert warehouse.query("SELECT 1 AS one")["one"].tolist() == [1]
    assert len(aws.proxy.calls("StartQueryExecution")) == 3


def test_a_passing_failure_that_persists_is_left_to_the_job_runner(aws, warehouse) -> None:
    _fail_executions(aws, "FAILED", "Amazon Athena experienced an internal error", retryable=True)
    with pytest.raises(TransientError, match=rf"failed in Athena for a passing reason.*gave up after {MAX_ATTEMPTS}"):
        warehouse.query("SELECT 1 AS one")
    assert len(aws.proxy.calls("StartQueryExecution")) == MAX_ATTEMPTS


def test_failed_access_inside_athena_is_not_retried(aws, warehouse) -> None:
    _fail_executions(
        aws,
        "FAILED",
        "Access denied when writing output to url 's3://churn-data/athena-results/' "
        "(Service: Amazon S3; Status Code: 403)",
    )
    with pytest.raises(QueryError, match=r"access denied in Athena.*retrying will not help"):
        warehouse.query("SELECT 1 AS one")
    assert len(aws.proxy.calls("StartQueryExecution")) == 1


@pytest.mark.parametrize("code", ["ThrottlingException", "TooManyRequestsException"])
def test_throttled_starts_are_retried_with_backoff(aws, warehouse, code: str) -> None:
    aws.proxy.rules.append(first(2, "StartQueryExecution", json_error(code, "Rate exceeded")))
    aws.seed(([("one", "integer")], [[1]]))
    assert warehouse.query("SELECT 1 AS one")["one"].tolist() == [1]
    assert len(aws.proxy.calls("StartQueryExecution")) == 3


def test_throttling_that_does_not_stop_gives_a_clear_error(aws, warehouse) -> None:
    aws.proxy.rules.append(first(100, "StartQueryExecution", json_error("ThrottlingException", "Rate exceeded")))
    with pytest.raises(TransientWarehouseError, match=rf"throttling.*gave up after {MAX_ATTEMPTS} attempts.*Try again"):
        warehouse.query("SELECT 1 AS one")
    assert len(aws.proxy.calls("StartQueryExecution")) == MAX_ATTEMPTS  # one retry layer, not one per library


def test_transient_server_errors_while_polling_are_retried(aws, warehouse) -> None:
    aws.proxy.rules.append(first(2, "GetQueryExecution", json_error("InternalServerException", "oops", 500)))
    aws.seed(([("one", "integer")], [[1]]))
    assert warehouse.query("SELECT 1 AS one")["one"].tolist() == [1]
    assert len(aws.proxy.calls("StartQueryExecution")) == 1


def test_access_denied_is_clear_and_not_retried(aws, warehouse) -> None:
    aws.proxy.rules.append(
        first(
            100,
            "StartQueryExecution",
            json_error(
                "AccessDeniedException",
                "User: arn:aws:iam::123456789012:user/dash is not authorized to perform: athena:StartQueryExecution",
            ),
        )
    )
    with pytest.raises(
        QueryError, match=r"risk_histogram.*access denied.*default chain.*retrying will not help"
    ) as err:
        warehouse.run("risk_histogram", {"as_of": dt.date(2026, 11, 26)})
    assert not isinstance(err.value, TransientError)
    assert len(aws.proxy.calls("StartQueryExecution")) == 1


def test_an_invalid_request_is_not_retried(aws, warehouse) -> None:
    aws.proxy.rules.append(
        first(
            100,
            "StartQueryExecution",
            json_error("InvalidRequestException", "line 1:8: Column 'nope' cannot be resolved"),
        )
    )
    with pytest.raises(QueryError, match="cannot be resolved") as err:
        warehouse.query("SELECT nope FROM evaluators")
    assert not isinstance(err.value, TransientError)
    assert len(aws.proxy.calls("StartQueryExecution")) == 1


def test_missing_credentials_are_explained(aws, warehouse, monkeypatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(WarehouseError, match="no AWS credentials found.*AWS_PROFILE"):
        AthenaWarehouse(aws.settings()).tables()


# --- cost ------------------------------------------------------------------------------------------


def test_bytes_scanned_are_logged_and_summed_per_process(aws, warehouse, caplog) -> None:
    def scanned(request, data):
        if request.target.endswith(".GetQueryExecution"):
            data["QueryExecution"]["Statistics"]["DataScannedInBytes"] = 1_500_000
        return data

    aws.proxy.rewrites.append(scanned)
    aws.seed(([("one", "integer")], [[1]]), ([("one", "integer")], [[1]]))
    with caplog.at_level(logging.INFO, logger="churn_core.warehouse.athena"):
        warehouse.query("SELECT 1 AS one")
        AthenaWarehouse(aws.settings()).query("SELECT 2 AS one")
    assert AthenaWarehouse.bytes_scanned_total == 3_000_000 == warehouse.bytes_scanned
    lines = [r.getMessage() for r in caplog.records if r.name == "churn_core.warehouse.athena"]
    assert any("1.4 MB scanned" in line and "this process 2.9 MB" in line for line in lines)
    assert not any("testing" in line for line in lines)  # the (fake) credentials never reach the log


def test_duckdb_scans_nothing_billable(tmp_path) -> None:
    assert open_warehouse(make_settings(tmp_path)).bytes_scanned == 0


def test_result_reuse_survives_writes_to_other_tables_but_never_outlives_its_own(aws, warehouse) -> None:
    """Athena reuses a result only for identical text; the at-risk query carries the data version of the one
    table it reads, so an audit row leaves its text (and reuse) alone and a new score set changes it."""
    day = dt.date(2026, 11, 26)
    for _ in range(3):
        aws.seed(([("instance", "integer")], [[1]]))
    views.at_risk_page(warehouse, day, views.Filters())
    warehouse.append("audit_log", pd.DataFrame({"action": ["export"], "row_count": pd.array([3], dtype="Int32")}))
    views.at_risk_page(warehouse, day, views.Filters())
    scores = pd.DataFrame({"instance": pd.array([1], dtype="Int32"), "churn_probability": [0.4]})
    warehouse.write_partition("evaluator_scores", scores, "as_of_date", day)
    views.at_risk_page(warehouse, day, views.Filters())
    starts = [r.json for r in aws.proxy.calls("StartQueryExecution")]
    texts = [start["QueryString"] for start in starts]
    assert texts[0] == texts[1] != texts[2]
    assert texts[0].endswith("\n-- churn data versions: evaluator_scores=0")
    assert re.search(r"\n-- churn data versions: evaluator_scores=[0-9a-f]{12}$", texts[2])
    assert all(start["ResultReuseConfiguration"]["ResultReuseByAgeConfiguration"]["Enabled"] for start in starts)


def test_a_query_carries_the_versions_of_the_tables_it_reads_not_of_its_ctes() -> None:
    sql = (
        "WITH base AS (SELECT * FROM evaluator_scores WHERE as_of_date = :as_of) "
        "SELECT b.instance FROM base AS b JOIN Evaluators AS e ON e.instance = b.instance"
    )
    assert tables_in(sql) == {"evaluator_scores", "evaluators"}
    assert tables_in("SELECT 1 AS one") == frozenset()  # nothing a write could make stale
    assert tables_in("SHOW TABLES") is None  # unknown: not reused


def test_a_query_whose_tables_are_unknown_is_not_reused(aws, warehouse) -> None:
    aws.seed(([("tab_name", "varchar")], [["evaluators"]]))
    warehouse.query("SHOW TABLES")
    [start] = aws.proxy.calls("StartQueryExecution")
    assert start.json["QueryString"] == "SHOW TABLES" and "ResultReuseConfiguration" not in start.json


def test_reuse_can_be_switched_off(aws, monkeypatch) -> None:
    warehouse = AthenaWarehouse(aws.settings(athena_result_reuse_minutes=0))
    aws.seed(([("one", "integer")], [[1]]))
    warehouse.query("SELECT 1 AS one")
    [start] = aws.proxy.calls("StartQueryExecution")
    assert start.json["QueryString"] == "SELECT 1 AS one" and "ResultReuseConfiguration" not in start.json


# --- configuration ---------------------------------------------------------------------------------


def test_the_backend_setting_selects_athena(aws) -> None:
    assert isinstance(open_warehouse(aws.settings()), AthenaWarehouse)


def test_missing_locations_are_explained(aws) -> None:
    with pytest.raises(WarehouseError, match="CHURN_ATHENA_S3_DATA_PREFIX"):
        AthenaWarehouse(aws.settings(athena_s3_data_prefix=""))
    with pytest.raises(WarehouseError, match="s3://bucket/prefix"):
        AthenaWarehouse(aws.settings(athena_s3_data_prefix="churn-data/warehouse"))


def test_an_endpoint_nobody_listens_on_is_not_called_throttling(aws, monkeypatch) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]  # nobody listens on it once the socket is closed
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(TransientWarehouseError, match=r"could not reach AWS.*gave up after.*AWS_ENDPOINT_URL") as err:
        AthenaWarehouse(aws.settings()).tables()
    assert "throttling" not in str(err.value)


def test_a_dropped_connection_is_retried(aws, warehouse) -> None:
    drops = [1]

    def drop_once(request):
        if request.target.endswith(".StartQueryExecution") and drops[0]:
            drops[0] -= 1
            return KILL
        return None

    aws.proxy.rules.append(drop_once)
    aws.seed(([("one", "integer")], [[1]]))
    assert warehouse.query("SELECT 1 AS one")["one"].tolist() == [1]


def test_the_emulator_speaks_the_clients_athena_protocol(moto_server: tuple[str, int]) -> None:
    """The lock holds botocore and moto at versions that agree; a refresh that breaks that says so here."""
    assert protocol_mismatch(f"http://{moto_server[0]}:{moto_server[1]}") is None
