"""The embedded warehouse: one DuckDB file, Athena-dialect SQL transpiled by sqlglot.

Connections are short-lived so that the dashboard (a reader) and the scheduled jobs (writers, in other
processes) can share the file: DuckDB lets one process write or many read, so each side waits briefly
for the other's lock instead of holding the file, and past that wait reports a TransientWarehouseError.
Every write is one transaction, so a job killed half-way leaves the previous table in place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import sqlglot
import tenacity

from churn_core.warehouse.base import (
    Params,
    QueryError,
    Rows,
    TransientWarehouseError,
    Warehouse,
    WarehouseError,
    _ident,
    check_read_only,
    load_sql,
)

LOCK_WAIT_SECONDS = 30.0
LOCK_POLL_SECONDS = 0.05
WRITE_MEMORY_LIMIT = "256MB"  # DuckDB's memory while it writes partitions (see write_partitions)
# The connection user-typed SQL (`churn sql`) runs on: no file, URL or extension beyond the warehouse itself
# (the database file is opened before the switch), and no statement can turn that back on.
SANDBOX: dict[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}


@lru_cache(maxsize=512)
def to_duckdb(sql: str) -> str:
    """Transpile Athena (Trino) SQL to DuckDB; `:name` placeholders become `$name`."""
    try:
        statements = [s.transform(_trino_only) for s in sqlglot.parse(sql, read="trino") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise QueryError(f"not valid Athena SQL: {str(exc).splitlines()[0]}") from None
    return ";\n".join(s.sql(dialect="duckdb") for s in statements)


def _trino_only(node: sqlglot.exp.Expression) -> sqlglot.exp.Expression:
    """Trino functions DuckDB lacks, in DuckDB terms: to_ieee754_64(x), the big-endian IEEE bits of a double as
    VARBINARY, is DuckDB's BIT cast of the double taken as a BLOB (the same eight bytes)."""
    if isinstance(node, sqlglot.exp.Anonymous) and node.name.lower() == "to_ieee754_64":
        value = sqlglot.exp.cast(node.expressions[0], "DOUBLE")
        return sqlglot.exp.cast(sqlglot.exp.cast(value, "BIT"), "BLOB")
    return node


def query_frames(sql: str, frames: Mapping[str, Rows], params: Params | None = None) -> pd.DataFrame:
    """Athena SQL over DataFrames or Arrow streams as tables, in a private in-memory DuckDB (e.g. a score set's
    digests before it is written: the same SQL that checks it in the warehouse later). A stream is read once."""
    text = to_duckdb(sql)
    with duckdb.connect(config=SANDBOX) as con:
        for name, rows in frames.items():
            table = rows if isinstance(rows, pa.RecordBatchReader) else pa.Table.from_pandas(rows, preserve_index=False)
            con.register(_ident(name), table)
        try:
            return con.execute(text, _bind(text, params)).df()
        except duckdb.Error as exc:
            raise QueryError(_explain(exc)) from None


def frame_columns(rows: Rows) -> dict[str, str]:
    """The column types of a frame or stream as Arrow names them when it is written (name -> type name)."""
    schema = (
        rows.schema if isinstance(rows, pa.RecordBatchReader) else pa.Schema.from_pandas(rows, preserve_index=False)
    )
    return {str(f.name): str(f.type) for f in schema}


def _bind(sql: str, params: Params | None) -> dict[str, Any]:
    """Only the parameters the statement uses (DuckDB refuses unused named parameters)."""
    if not params:
        return {}
    return {k: v for k, v in params.items() if f"${k}" in sql}


class DuckDBWarehouse(Warehouse):
    backend = "duckdb"

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def connect(self, *, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one operation, waiting up to LOCK_WAIT_SECONDS for another process's lock."""
        if write and self.read_only:
            raise WarehouseError(f"{self.path} is opened read-only")
        if not write and not self.path.exists():
            raise WarehouseError(f"no warehouse at {self.path}: run `churn demo` or `churn ingest DIR` first")
        con = self._open(read_only=not write and self.read_only)
        try:
            yield con
        finally:
            con.close()

    def _open(self, *, read_only: bool, config: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        """Open the file, waiting up to LOCK_WAIT_SECONDS while another process holds its lock."""
        waiting = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Locked),
            stop=tenacity.stop_after_delay(LOCK_WAIT_SECONDS),
            wait=tenacity.wait_fixed(LOCK_POLL_SECONDS),
            reraise=True,
        )
        try:
            return waiting(_connect, self.path, read_only, config)
        except _Locked as exc:
            raise TransientWarehouseError(
                f"cannot open the warehouse {self.path}: another process holds it ({exc}); waited "
                f"{LOCK_WAIT_SECONDS:g} s. Try again when that process (a job or a `churn` command) has finished."
            ) from None

    def query(self, sql: str, params: Params | None = None) -> pd.DataFrame:
        text = to_duckdb(sql)
        with self.connect() as con:
            try:
                return con.execute(text, _bind(text, params)).df()
            except duckdb.Error as exc:
                raise QueryError(_explain(exc)) from None

    def read_only_query(self, sql: str, params: Params | None = None) -> pd.DataFrame:
        """A user-typed query: checked (one SELECT over tables, no table functions), then run sandboxed."""
        check_read_only(sql)
        return self.sandboxed_query(to_duckdb(sql), params)

    def sandboxed_query(self, text: str, params: Params | None = None) -> pd.DataFrame:
        """DuckDB SQL on a read-only connection of its own that cannot reach files, URLs or extensions (SANDBOX)."""
        if not self.path.exists():
            raise WarehouseError(f"no warehouse at {self.path}: run `churn demo` or `churn ingest DIR` first")
        con = self._open(read_only=True, config=SANDBOX)
        try:
            return con.execute(text, _bind(text, params)).df()
        except duckdb.Error as exc:
            raise QueryError(_explain(exc)) from None
        finally:
            con.close()

    def execute(self, sql: str, params: Params | None = None) -> None:
        text = to_duckdb(sql)
        with self.connect(write=True) as con:
            try:
                con.execute(text, _bind(text, params))
            except duckdb.Error as exc:
                raise QueryError(_explain(exc)) from None

    def tables(self) -> list[str]:
        if not self.path.exists():
            return []
        with self.connect() as con:
            rows = con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1"
            ).fetchall()
        return [r[0] for r in rows if not r[0].endswith("__staging")]

    def build_table(self, name: str, params: Params | None = None) -> int:
        select = to_duckdb(load_sql(name))
        return self._swap(
            {name: lambda con, staging: con.execute(f"CREATE TABLE {staging} AS {select}", _bind(select, params))}
        )[name]

    def write_tables(self, frames: dict[str, pd.DataFrame]) -> None:
        def create(df: pd.DataFrame) -> Any:
            def run(con: duckdb.DuckDBPyConnection, staging: str) -> None:
                con.register("_incoming", df)
                con.execute(f"CREATE TABLE {staging} AS SELECT * FROM _incoming")
                con.unregister("_incoming")

            return run

        self._swap({name: create(df) for name, df in frames.items()})

    def _swap(self, creators: dict[str, Any]) -> dict[str, int]:
        """Create each new table under a staging name, then swap them all in, in one transaction."""
        rows: dict[str, int] = {}
        with self.connect(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                for name, create in creators.items():
                    table, staging = _ident(name), _ident(f"{name}__staging")
                    con.execute(f"DROP TABLE IF EXISTS {staging}")
                    create(con, staging)
                    con.execute(f"DROP TABLE IF EXISTS {table}")
                    con.execute(f"ALTER TABLE {staging} RENAME TO {table}")
                    rows[name] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                con.execute("COMMIT")
            except duckdb.Error as exc:
                con.execute("ROLLBACK")
                raise QueryError(f"writing {', '.join(creators)}: {_explain(exc)}") from None
        return rows

    def write_partition(self, name: str, df: pd.DataFrame, column: str, value: Any, keep: int | None = None) -> None:
        self.write_partitions({name: df}, column, value, keep)

    def write_partitions(self, frames: Mapping[str, Rows], column: str, value: Any, keep: int | None = None) -> None:
        """Replace the `column` = `value` rows of every table in one transaction; columns new to a table
        are added to it (older rows read NULL there), so a model with other features can still write.
        A stream of record batches is read as it is written, with DuckDB's own memory capped meanwhile."""
        col = _ident(column)
        with self.connect(write=True) as con:
            views = {name: f"_incoming_{i}" for i, name in enumerate(frames)}
            for name, df in frames.items():  # as Arrow: DuckDB reads it twice as fast as a DataFrame
                stream = isinstance(df, pa.RecordBatchReader)
                con.register(views[name], df if stream else pa.Table.from_pandas(df, preserve_index=False))
            # Unbounded, DuckDB keeps every block of a large insert cached until the connection closes
            # (a million-row score set: another 1.2 GB); past the cap it writes them out as it goes.
            con.execute(f"SET memory_limit = '{WRITE_MEMORY_LIMIT}'")
            # Rows need no order (a partition is a set); this lets a large insert be written once, in
            # parallel, instead of again at the checkpoint -- half the time for a million-row score set.
            con.execute("SET preserve_insertion_order = false")
            con.execute("BEGIN TRANSACTION")
            try:
                for name in frames:
                    _replace_rows(con, _ident(name), views[name], col, value, keep)
                con.execute("COMMIT")
            except duckdb.Error as exc:
                con.execute("ROLLBACK")
                raise QueryError(f"writing {', '.join(frames)} ({column} = {value}): {_explain(exc)}") from None
            finally:
                for view in views.values():
                    con.unregister(view)

    def append(self, name: str, df: pd.DataFrame) -> None:
        table = _ident(name)
        with self.connect(write=True) as con:
            con.register("_incoming", df)
            try:
                con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM _incoming LIMIT 0")
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
            except duckdb.Error as exc:
                raise QueryError(f"appending to {name}: {_explain(exc)}") from None
            finally:
                con.unregister("_incoming")


def _replace_rows(
    con: duckdb.DuckDBPyConnection, table: str, view: str, col: str, value: Any, keep: int | None
) -> None:
    """Within the caller's transaction: `table`'s `col` = `value` rows become those of `view`."""
    existing = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ?",
            [table],
        ).fetchall()
    }
    if existing:
        for new_col, kind, *_ in con.execute(f"DESCRIBE {view}").fetchall():
            if new_col not in existing:
                con.execute(f'ALTER TABLE {table} ADD COLUMN "{_column(new_col)}" {kind}')
        con.execute(f"DELETE FROM {table} WHERE {col} = ?", [value])
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {view}")
    else:
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM {view}")
    if keep is not None:
        con.execute(
            f"DELETE FROM {table} WHERE {col} NOT IN (SELECT DISTINCT {col} FROM {table} ORDER BY {col} DESC LIMIT ?)",
            [keep],
        )


class _Locked(Exception):
    """Another process holds the database file's lock."""


def _connect(path: Path, read_only: bool, config: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=read_only, config=config or {})
    except duckdb.IOException as exc:
        # DuckDB gives no error code for a file another process has locked: the message is the only sign,
        # and this is the one place that reads it.
        text = str(exc)
        if "Could not set lock on file" in text or "Conflicting lock" in text:
            raise _Locked(text.splitlines()[0]) from None
        raise WarehouseError(f"cannot open the warehouse {path}: {text.splitlines()[0]}") from None


def _column(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise QueryError(f"invalid column name {name!r}")
    return name


def _explain(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0]
    if "does not exist" in text and "Table" in text:
        return f"{text}. Build the tables first: `churn demo`, or `churn ingest DIR` then `churn etl`."
    return text
