"""SQL text for Athena: `:name` placeholders as pyathena's pyformat, values as SQL literals, statements named.

Placeholders are found with sqlglot's Trino tokenizer, so text in string literals and comments is left alone;
pyathena renders the bound values as SQL literals. Errors name a statement by the .sql file it came from, and
`tables_in` says which tables a statement names (whose data versions decide whether a result may be reused).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

import numpy as np
import pandas as pd
import sqlglot
from sqlglot import exp
from sqlglot.dialects.trino import Trino
from sqlglot.tokens import TokenType

from churn_core.warehouse.base import Params, QueryError, sql_names

_PARAM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER = re.compile(r"^\s*--\s*([a-z][a-z0-9_]*):")


@lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> tuple[str, tuple[str, ...]]:
    """Athena SQL with `:name` placeholders as pyformat text (`%(name)s`, literal `%` doubled) and the names.

    Only real placeholder tokens change: `':x'` inside a string literal or a comment stays as it is.
    """
    try:
        tokens = Trino().tokenize(sql)
    except sqlglot.errors.TokenError as exc:
        raise QueryError(f"not valid Athena SQL: {str(exc).splitlines()[0]}") from None
    pieces: list[str] = []
    names: list[str] = []
    last = 0
    for colon, word in zip(tokens, tokens[1:], strict=False):
        if (
            colon.token_type == TokenType.COLON
            and word.start == colon.end + 1
            and _PARAM.fullmatch(word.text)
            and sql[word.start : word.end + 1] == word.text
        ):
            pieces.append(sql[last : colon.start].replace("%", "%%"))
            pieces.append(f"%({word.text})s")
            names.append(word.text)
            last = word.end + 1
    pieces.append(sql[last:].replace("%", "%%"))
    return "".join(pieces), tuple(dict.fromkeys(names))


@lru_cache(maxsize=1024)
def tables_in(sql: str) -> frozenset[str] | None:
    """The tables a statement names, its CTEs left out (lower case); None when sqlglot cannot tell (a statement
    it does not parse, or keeps as an opaque command)."""
    try:
        trees = [t for t in sqlglot.parse(sql, read="trino") if t is not None]
    except sqlglot.errors.SqlglotError:
        return None
    if not trees or any(isinstance(t, exp.Command) for t in trees):
        return None
    ctes = {cte.alias_or_name.lower() for tree in trees for cte in tree.find_all(exp.CTE)}
    named = {table.name.lower() for tree in trees for table in tree.find_all(exp.Table) if table.name}
    return frozenset(named - ctes)


def bind(names: Sequence[str], params: Params | None, label: str) -> dict[str, Any]:
    """The values of the parameters the statement uses, as types pyathena renders as SQL literals."""
    params = params or {}
    missing = [n for n in names if n not in params]
    if missing:
        raise QueryError(f"{label} needs a value for :{missing[0]}")
    return {n: _literal(n, params[n]) for n in names}


def _literal(name: str, value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float | str | Decimal | dt.date | bytes):
        return value
    if isinstance(value, list | tuple | set):
        return [_literal(name, v) for v in value]
    raise QueryError(f"parameter :{name} has a type ({type(value).__name__}) that cannot be bound")


def describe_sql(sql: str) -> str:
    """How an error names a statement: the .sql file it came from (from its header line), else its start."""
    match = _HEADER.match(sql)
    if match:
        name = match.group(1)
        if name in _query_names():
            return f"query {name} (churn_core/sql/queries/{name}.sql)"
        if name in _table_names():
            return f"table {name} (churn_core/sql/{name}.sql)"
    text = " ".join(sql.split())
    return f"query `{text[:80]}{'...' if len(text) > 80 else ''}`"


@cache
def _query_names() -> frozenset[str]:
    return frozenset(n.split("/", 1)[1] for n in sql_names("queries"))


@cache
def _table_names() -> frozenset[str]:
    return frozenset(sql_names())
