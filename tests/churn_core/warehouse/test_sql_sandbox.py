"""`churn sql` cannot reach beyond the warehouse: no table function, no file path, no URL, no environment, on
two levels -- the query is refused by its syntax tree (both engines), and DuckDB runs what passes on a separate
read-only connection with external access disabled and its configuration locked."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from churn_core.cli import app
from churn_core.warehouse import QueryError, open_warehouse
from churn_core.warehouse.base import check_read_only

SENTINEL = "sentinel-file-content-7f3a"
# Every table function of the installed DuckDB but UNNEST, which is SQL's own way to expand an array (both engines
# have it) and can read nothing but its argument.
with duckdb.connect() as _con:
    TABLE_FUNCTIONS = sorted(
        {
            r[0]
            for r in _con.execute(
                "SELECT function_name FROM duckdb_functions() WHERE function_type = 'table'"
            ).fetchall()
        }
        - {"unnest"}
    )
POSITIONS = (
    "SELECT * FROM {call}",
    "SELECT * FROM {call} AS t",
    "SELECT * FROM evaluators JOIN {call} ON true",
    "SELECT * FROM evaluators CROSS JOIN {call}",
    "SELECT (SELECT count(*) FROM {call})",
    "WITH x AS (SELECT * FROM {call}) SELECT * FROM x",
    "SELECT * FROM evaluators WHERE instance IN (SELECT 1 FROM {call})",
    "SELECT * FROM evaluators, LATERAL (SELECT * FROM {call})",
    "SELECT 1 UNION ALL SELECT 1 FROM {call}",
    "SELECT * FROM TABLE({call})",
)


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("outside") / "secret.csv"
    path.write_text(f"a,b\n{SENTINEL},1\n")
    return str(path)


def _refused(settings, sql: str) -> str:
    with pytest.raises(QueryError) as refused:
        open_warehouse(settings, read_only=True).read_only_query(sql)
    assert SENTINEL not in str(refused.value)
    return str(refused.value)


@pytest.mark.parametrize(
    "form",
    [
        "SELECT * FROM read_text('{f}')",
        "SELECT * FROM read_csv('{f}')",
        "SELECT * FROM read_csv_auto('{f}')",
        "SELECT * FROM read_blob('{f}')",
        "SELECT * FROM sniff_csv('{f}')",
        "SELECT * FROM '{f}'",
        'SELECT * FROM "{f}"',
        "SELECT * FROM read_json_objects('{f}')",
        "SELECT * FROM glob('{f}')",
        "SELECT * FROM query('SELECT * FROM read_text(''{f}'')')",
        "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')",
        "SELECT * FROM read_text('/proc/self/environ')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM evaluators UNION ALL SELECT * FROM read_csv('{f}')",
    ],
)
def test_files_urls_and_the_environment_are_out_of_reach(etl_home, secret_file, form) -> None:
    """Finding 3: each of these printed the file (or tried to download an extension)."""
    _refused(etl_home, form.format(f=secret_file))


@pytest.mark.parametrize("name", TABLE_FUNCTIONS)
def test_every_duckdb_table_function_is_refused(etl_home, name) -> None:
    message = _refused(etl_home, f"SELECT * FROM {name}('x')")
    assert "table function" in message or "not valid" in message, message


@pytest.mark.parametrize("position", POSITIONS)
def test_table_functions_are_refused_wherever_they_stand(position) -> None:
    with pytest.raises(QueryError):
        check_read_only(position.format(call="read_text('/etc/passwd')"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    position=st.sampled_from(POSITIONS),
    name=st.sampled_from(TABLE_FUNCTIONS),
    argument=st.sampled_from(["'/etc/passwd'", "'https://127.0.0.1:9/x'", "'~/.churn/signing.key'", "1", ""]),
)
def test_any_table_function_anywhere_is_refused(position, name, argument) -> None:
    with pytest.raises(QueryError):
        check_read_only(position.format(call=f"{name}({argument})"))


@settings(max_examples=200, deadline=None)
@given(
    path=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="'\"\x00"), min_size=1, max_size=30)
)
def test_a_table_name_that_is_not_a_plain_name_is_refused(path) -> None:
    """DuckDB reads `FROM 'file.csv'` and `FROM "file.parquet"` as files (replacement scans)."""
    plain = path.isidentifier() and path.isascii()
    for sql in (f'SELECT * FROM "{path}"', f"SELECT * FROM '{path}'"):
        try:
            check_read_only(sql)
        except QueryError:
            continue
        assert plain, sql


def test_the_engine_refuses_files_even_past_the_syntax_check(etl_home, secret_file) -> None:
    """Defence in depth: the connection user SQL runs on cannot open files, install or load extensions, or be
    reconfigured, whatever reaches it."""
    warehouse = open_warehouse(etl_home, read_only=True)
    for sql in (
        f"SELECT * FROM read_text('{secret_file}')",
        f"SELECT * FROM '{secret_file}'",
        "INSTALL httpfs",
        "SET enable_external_access = true",
        f"ATTACH '{secret_file}.db'",
        f"COPY (SELECT 1) TO '{secret_file}.out'",
    ):
        with pytest.raises(QueryError) as refused:
            warehouse.sandboxed_query(sql)
        assert SENTINEL not in str(refused.value)
    assert not os.path.exists(f"{secret_file}.out")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT region, count(*) AS n FROM evaluators GROUP BY 1 ORDER BY 1",
        "WITH r AS (SELECT region FROM evaluators) SELECT count(*) AS n FROM r",
        "SELECT x FROM UNNEST(ARRAY[1, 2, 3]) AS t(x)",
        "SELECT * FROM (VALUES (1, 'a')) AS t(n, s)",
        'SELECT count(*) AS n FROM "evaluators" e JOIN daily_usage d ON e.instance = d.instance',
        "SELECT instance, rank() OVER (ORDER BY eval_start_date) AS r FROM evaluators LIMIT 3",
    ],
)
def test_analysts_queries_still_run(etl_home, sql) -> None:
    assert not open_warehouse(etl_home, read_only=True).read_only_query(sql).empty


def test_churn_sql_prints_neither_the_key_nor_the_environment(etl_home) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHURN_")}
    env.update(CHURN_HOME=str(etl_home.home), CHURN_ALERT_WEBHOOK_URL=f"https://hooks.example.com/{SENTINEL}")
    key = etl_home.home / "signing.key"
    for sql in (f"SELECT * FROM read_text('{key}')", "SELECT * FROM read_text('/proc/self/environ')"):
        result = subprocess.run(
            [sys.executable, "-m", "churn_core.cli", "sql", sql], env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 1 and "table function" in result.stderr, result.stderr
        assert SENTINEL not in result.stdout + result.stderr
        if key.exists():
            assert key.read_text().strip() not in result.stdout + result.stderr


@pytest.mark.parametrize("text", ["[/]", "[bold red]loud[/]", "[link=https://evil.example]click[/link]"])
def test_churn_sql_prints_data_as_text_not_markup(etl_home, monkeypatch, text) -> None:
    """Also fixed: `[/]` crashed the table output (MarkupError) and other markup rendered."""
    monkeypatch.setenv("CHURN_HOME", str(etl_home.home))
    monkeypatch.setenv("COLUMNS", "200")
    quoted = text.replace("'", "''")
    result = CliRunner().invoke(app, ["sql", f"SELECT '{quoted}' AS \"{quoted}\""])
    assert result.exit_code == 0, result.output
    assert result.output.count(text) == 2, result.output  # header and cell, verbatim
