"""Every .sql file under churn_core/sql is Athena engine v3 SQL that means on Athena what it means on DuckDB.

The checker (athena_dialect.py) is static: nothing here runs SQL. Each rule is shown to fail on a deliberate
violation, so a clean pass over our files means something.
"""

from __future__ import annotations

import re

import pytest

from churn_core.warehouse import load_sql, sql_names
from tests.churn_core.sql.athena_dialect import DUCKDB_FUNCTIONS, FUNCTIONS_FILE, athena_functions, violations

SQL_FILES = sql_names() + sql_names("queries")


@pytest.mark.parametrize("name", SQL_FILES)
def test_our_sql_is_athena_engine_v3_sql(name: str) -> None:
    assert [str(v) for v in violations(load_sql(name))] == [], f"churn_core/sql/{name}.sql"


@pytest.mark.parametrize(
    ("sql", "rule", "line"),
    [
        # function: not in Athena's list (a typo, or another engine's name)
        ("SELECT approx_percentil(x, 0.5) AS m FROM t", "function", 1),
        ("SELECT a\nFROM t\nWHERE array_has(tags, 'x')", "function", 3),
        # decimal: the cohort_medians bug, and its cousins
        ("SELECT avg(CASE WHEN s.x > 0 THEN 1.0 ELSE 0.0 END) AS share FROM s", "decimal", 1),
        ("SELECT sum(CASE WHEN x > 0 THEN 1 ELSE 0.0 END) FROM t", "decimal", 1),
        ("SELECT avg(coalesce(flag, 0.0)) FROM t", "decimal", 1),
        ("SELECT avg(IF(x > 0, 1.0, 0)) FROM t", "decimal", 1),
        ("SELECT count_if(x > 0) * 1.0 / count(*) AS share FROM t", "decimal", 1),
        ("SELECT sum(-.5 * x) FROM t", "decimal", 1),
        # duckdb: syntax sqlglot's Trino parser accepts
        ("SELECT x::DOUBLE FROM t", "duckdb", 1),
        ("SELECT a FROM t WHERE a ILIKE '%x%'", "duckdb", 1),
        ("SELECT a, count(*) FROM t GROUP BY ALL", "duckdb", 1),
        ("SELECT a FROM t ORDER BY ALL", "duckdb", 1),
        ("SELECT * EXCLUDE (a) FROM t", "duckdb", 1),
        ("SELECT {'a': 1} AS s", "duckdb", 1),
        ("SELECT median(x) FROM t", "duckdb", 1),
        ("SELECT list_sum(xs) FROM t", "duckdb", 1),
        ("SELECT strftime(d, '%Y') FROM t", "duckdb", 1),
        # parse: not Trino SQL at all
        ("SELECT a FROM t QUALIFY row_number() OVER (ORDER BY a) = 1", "parse", 0),
    ],
)
def test_each_rule_refuses_its_violation(sql: str, rule: str, line: int) -> None:
    found = violations(sql)
    assert {(v.rule, v.line) for v in found} == {(rule, line)}, [str(v) for v in found]


def test_what_the_rules_let_through() -> None:
    allowed = """
        WITH b AS (SELECT d FROM (VALUES 1, 2) AS t (d))
        SELECT
            avg(CASE WHEN x > 0.5 THEN 1e0 ELSE 0e0 END) AS share,
            sum(CAST(x AS DOUBLE)) AS total,
            count_if(x > 0) / CAST(count(*) AS DOUBLE) AS rate,
            approx_percentile(coalesce(x, 0), 0.5) AS median_x,
            coalesce(sum(v), 0.0) AS v,
            date_add('day', -1, :as_of) AS yesterday,
            count(*) FILTER (WHERE x > 1) AS n
        FROM b
        JOIN t ON t.d = b.d
        WHERE t.name LIKE '%a::b%' AND t.day = :as_of  -- x::int, ILIKE and median() in a comment
        GROUP BY GROUPING SETS ((t.a), ())
        ORDER BY 1
    """
    assert [str(v) for v in violations(allowed)] == []


def test_the_function_list_names_its_source() -> None:
    header = [line for line in FUNCTIONS_FILE.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    text = "\n".join(header)
    assert "https://github.com/trinodb/trino" in text
    assert "docs/src/main/sphinx/functions/list.md" in text
    assert re.search(r"commit:\s+[0-9a-f]{40}", text)
    assert re.search(r"sha256 of the file:\s+[0-9a-f]{64}", text)
    functions = athena_functions()
    assert {"approx_percentile", "count_if", "date_diff", "coalesce", "if", "try_cast"} <= functions
    assert not (set(DUCKDB_FUNCTIONS) | {"and", "case", "between"}) & functions  # DuckDB's names are not Athena's
    body = [line for line in FUNCTIONS_FILE.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    assert all(re.fullmatch(r"[a-z_][a-z0-9_]*", name) for name in body)  # one name a line, no blanks
