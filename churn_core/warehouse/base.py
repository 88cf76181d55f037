"""Warehouse base class and the SQL file loader shared by every adapter."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlglot
from sqlglot import exp

from churn_core.errors import ChurnError, TransientError

Params = Mapping[str, Any]
# Rows to write: a frame, or a stream of Arrow record batches read once (a large score set, written without
# ever being whole in memory).
Rows = pd.DataFrame | pa.RecordBatchReader


class WarehouseError(ChurnError):
    """A warehouse operation failed; the message says which table or query and what to do."""


class QueryError(WarehouseError):
    """A query was refused or failed."""


class TransientWarehouseError(WarehouseError, TransientError):
    """A failure that passes (throttling, a service briefly unavailable, a lock another process holds for a
    moment) and outlived the adapter's own retries; the job runner may run the step again later."""


_NAME = re.compile(r"^[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)?$")
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def as_frame(rows: Rows) -> pd.DataFrame:
    """The rows as a frame (a stream is read whole: for adapters that need the rows at once)."""
    if isinstance(rows, pa.RecordBatchReader):
        return rows.read_all().to_pandas(types_mapper=pd.ArrowDtype)
    return rows


@cache
def load_sql(name: str) -> str:
    """Text of churn_core/sql/<name>.sql (`queries/<name>` for read queries)."""
    if not _NAME.match(name):
        raise QueryError(f"invalid SQL file name {name!r}")
    path = resources.files("churn_core").joinpath("sql", f"{name}.sql")
    if not path.is_file():
        raise QueryError(f"no SQL file churn_core/sql/{name}.sql")
    return path.read_text(encoding="utf-8")


def sql_names(folder: str = "") -> list[str]:
    """Names of the .sql files in churn_core/sql (or one of its folders)."""
    root = resources.files("churn_core").joinpath("sql", *([folder] if folder else []))
    prefix = f"{folder}/" if folder else ""
    return sorted(prefix + p.name[:-4] for p in root.iterdir() if p.name.endswith(".sql"))


def check_read_only(sql: str) -> None:
    """Refuse anything but a single SELECT (with CTEs/unions) over the warehouse's own tables before it reaches
    the engine: no writes or commands, and no table function or file path in place of a table (DuckDB reads
    files, URLs and its own state through them; `FROM 'x.csv'` and `FROM "x.parquet"` are files too)."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="trino") if s is not None]
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as exc:
        raise QueryError(f"not valid Athena SQL: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise QueryError("only one read-only SELECT statement is allowed")
    for node in statements[0].walk():
        if isinstance(node, exp.DDL | exp.DML | exp.Command):
            raise QueryError("only read-only SELECT statements are allowed")
        if isinstance(node, exp.Table):
            _check_table(node)
        if isinstance(node, exp.Lateral) and not isinstance(node.this, exp.Subquery | exp.Query):
            raise QueryError(f"a table function is not allowed here: {node.this.sql('trino')[:80]}")


def _check_table(table: exp.Table) -> None:
    """A table reference must name a table: plain identifiers only (catalog.db.table at most)."""
    parts = [table.this, *(table.args.get(k) for k in ("db", "catalog") if table.args.get(k))]
    if not all(isinstance(p, exp.Identifier) for p in parts):
        name = table.this.sql("trino") if isinstance(table.this, exp.Expression) else str(table.this)
        raise QueryError(f"a table function is not allowed in a query, only the warehouse's tables: {name[:80]}")
    for part in parts:
        if not _PLAIN.fullmatch(part.name):
            raise QueryError(
                f"{part.name[:80]!r} is not a table name (letters, digits and _ only): file paths and URLs are not "
                "allowed in a query"
            )


def in_list(column: str, prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """`column IN (:p0, :p1, ...)` with one bound parameter per value; the SQL never holds a value."""
    params = {f"{prefix}{i}": v for i, v in enumerate(values)}
    placeholders = ", ".join(f":{k}" for k in params)
    return f"{column} IN ({placeholders})", params


class Warehouse(ABC):
    """Run named Athena-dialect SQL with bound parameters; write tables so readers never see half a table."""

    backend: str = ""
    schema: str = "main"  # where information_schema lists the warehouse's tables

    @property
    def bytes_scanned(self) -> int:
        """Bytes the engine billed for scanning in this process (Athena); 0 where scanning is free."""
        return 0

    @abstractmethod
    def query(self, sql: str, params: Params | None = None) -> pd.DataFrame:
        """Run Athena-dialect SQL text with `:name` parameters; return the result."""

    @abstractmethod
    def execute(self, sql: str, params: Params | None = None) -> None:
        """Run a statement that returns nothing."""

    @abstractmethod
    def build_table(self, name: str, params: Params | None = None) -> int:
        """Materialise sql/<name>.sql (a SELECT) as table `name`, atomically; return its row count."""

    @abstractmethod
    def write_tables(self, frames: dict[str, pd.DataFrame]) -> None:
        """Replace each named table with its frame, all in one atomic step."""

    def write_table(self, name: str, df: pd.DataFrame) -> None:
        """Replace table `name` with `df`, atomically."""
        self.write_tables({name: df})

    @abstractmethod
    def write_partition(self, name: str, df: pd.DataFrame, column: str, value: Any, keep: int | None = None) -> None:
        """Replace the rows of `name` whose `column` equals `value` with `df` in one atomic step
        (creating the table if needed); with `keep`, drop all but the newest `keep` values of `column`."""

    def write_partitions(self, frames: Mapping[str, Rows], column: str, value: Any, keep: int | None = None) -> None:
        """`write_partition` for several tables keyed by the same `column` = `value`, all in one atomic step.

        Adapters that can span tables in one transaction override this. This fallback writes the tables
        one at a time in the order given, so callers put the table readers list sets from last.
        """
        for name, df in frames.items():
            self.write_partition(name, as_frame(df), column, value, keep)

    @abstractmethod
    def append(self, name: str, df: pd.DataFrame) -> None:
        """Append rows to `name`, creating it if needed (job history, audit log)."""

    @abstractmethod
    def tables(self) -> list[str]:
        """Names of the tables in the warehouse."""

    def table_exists(self, name: str) -> bool:
        return name in self.tables()

    def run(self, name: str, params: Params | None = None) -> pd.DataFrame:
        """Run the read query churn_core/sql/queries/<name>.sql."""
        return self.query(load_sql(f"queries/{name}"), params)

    def read_only_query(self, sql: str, params: Params | None = None) -> pd.DataFrame:
        """A user-typed query: one SELECT only, checked before it reaches the engine."""
        check_read_only(sql)
        return self.query(sql, params)

    def count(self, table: str) -> int:
        if not self.table_exists(table):
            return 0
        return int(self.query(f"SELECT count(*) AS n FROM {_ident(table)}").iloc[0, 0])


def _ident(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise QueryError(f"invalid table name {name!r}")
    return name
