"""The production warehouse: Athena runs the same .sql files; tables are Parquet on S3, registered in Glue.

Queries: `:name` placeholders become pyathena's pyformat `%(name)s` (found with sqlglot's Trino tokenizer, so
text in string literals and comments is left alone) and pyathena renders the bound values as SQL literals.
Results come back through pyathena's PandasCursor and are typed from Athena's column types.

Writes never expose half a table: every write uploads Parquet to a new S3 location first
(`<prefix>/<table>/v=<time>-<id>/`, or `<prefix>/<table>/<column>=<value>/v=.../` for a partition) and only
then points the Glue table or partition at it. `build_table` runs the ETL inside Athena (CTAS into a new
location, then the same switch), so raw rows never travel to the client. The previous version of each table
or partition is kept for queries still reading it; older ones are deleted.

Cost: read queries ask Athena to reuse a recent identical result (settings `athena_result_reuse_minutes`);
every write bumps a data-version marker that read queries carry in a trailing comment, so a reused result is
never older than the data. Bytes scanned are logged per query and summed per process.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlglot
from sqlglot.dialects.trino import Trino
from sqlglot.tokens import TokenType

from churn_core import schema
from churn_core.settings import Settings
from churn_core.warehouse import aws
from churn_core.warehouse.athena_types import glue_columns, parquet_bytes, to_arrow, typed_result
from churn_core.warehouse.aws import Backoff, call
from churn_core.warehouse.base import (
    Params,
    QueryError,
    Warehouse,
    WarehouseError,
    _ident,
    load_sql,
    sql_names,
)

log = logging.getLogger("churn_core.warehouse.athena")

_PARAM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER = re.compile(r"^\s*--\s*([a-z][a-z0-9_]*):")
_TMP = "__tmp_"
_PARQUET_SERDE = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}
_TABLE_INPUT_KEYS = (
    "Name",
    "Description",
    "Owner",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "TableType",
    "Parameters",
    "ViewOriginalText",
    "ViewExpandedText",
    "TargetTable",
)
_SYNTAX = re.compile(
    r"SYNTAX_ERROR|mismatched input|line \d+:\d+|COLUMN_NOT_FOUND|FUNCTION_NOT_FOUND|"
    r"TYPE_MISMATCH|cannot be resolved",
    re.IGNORECASE,
)
_MISSING_TABLE = re.compile(r"TABLE_NOT_FOUND|Table .* does not exist|SCHEMA_NOT_FOUND", re.IGNORECASE)


# --- SQL text ----------------------------------------------------------------------------------------


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


@cache
def declared_types(table: str) -> dict[str, str]:
    """Column types the data model (churn_core/schema.py) declares for `table`, if it documents it."""
    for value in vars(schema).values():
        if isinstance(value, schema.Table) and value.name == table:
            return {c.name: c.type for c in value.columns}
    return {}


def _version() -> str:
    """A new version directory name; names sort by creation time."""
    now = dt.datetime.now(dt.UTC)
    return f"v={now:%Y%m%dT%H%M%S%f}Z-{uuid.uuid4().hex[:8]}"


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


class _TimedOut(Exception):
    pass


class _Transient(QueryError):
    """A query failed for a reason that may pass (throttling inside Athena, an internal error)."""


# --- the adapter -------------------------------------------------------------------------------------


class AthenaWarehouse(Warehouse):
    backend = "athena"
    # Bytes Athena scanned for this process's queries (what Athena bills), over every instance.
    bytes_scanned_total: ClassVar[int] = 0
    _total_lock: ClassVar[threading.Lock] = threading.Lock()
    backoff: Backoff = Backoff()
    rows_per_file: int = 1_000_000
    versions_kept: int = 2  # the current version of a table or partition, and the one before

    def __init__(self, settings: Settings, *, read_only: bool = False) -> None:
        if not settings.athena_s3_data_prefix:
            raise WarehouseError(
                "the Athena backend needs a data location: set CHURN_ATHENA_S3_DATA_PREFIX "
                "to s3://bucket/prefix (tables and models live under it)"
            )
        if not settings.athena_s3_staging_dir and not settings.athena_workgroup:
            raise WarehouseError(
                "the Athena backend needs CHURN_ATHENA_S3_STAGING_DIR (s3://... for query "
                "results) or a CHURN_ATHENA_WORKGROUP that has a result location"
            )
        self.settings = settings
        self.read_only = read_only
        self.database = _ident(settings.athena_database)
        self.bucket, prefix = aws.split_s3(settings.athena_s3_data_prefix)
        self.prefix = prefix.strip("/")
        self._lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._connection: Any = None

    # --- clients ----------------------------------------------------------------------------------

    def _client(self, service: str) -> Any:
        with self._lock:
            if self._session is None:
                self._session = aws.new_session(self.settings.athena_region)
            if service not in self._clients:
                self._clients[service] = self._session.client(service, config=aws.client_config())
            return self._clients[service]

    def _pyathena(self) -> Any:
        with self._lock:
            if self._connection is None:
                import pyathena

                if self._session is None:
                    self._session = aws.new_session(self.settings.athena_region)
                self._connection = pyathena.connect(
                    s3_staging_dir=self.settings.athena_s3_staging_dir,
                    work_group=self.settings.athena_workgroup,
                    region_name=self.settings.athena_region,
                    schema_name=self.database,
                    poll_interval=self.settings.athena_poll_seconds,
                    session=self._session,
                    config=aws.client_config(),
                )
            return self._connection

    @property
    def bytes_scanned(self) -> int:
        return AthenaWarehouse.bytes_scanned_total

    def _key(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))

    def _url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key.rstrip('/')}/"

    # --- queries ----------------------------------------------------------------------------------

    def query(self, sql: str, params: Params | None = None) -> pd.DataFrame:
        return self._run(sql, params, describe_sql(sql), read=True)

    def execute(self, sql: str, params: Params | None = None) -> None:
        self._writable(describe_sql(sql))
        self._run(sql, params, describe_sql(sql), read=False).close()
        self._bump_data_version()

    def _run(
        self, sql: str, params: Params | None, label: str, *, read: bool, retry_failed: bool = True
    ) -> Any:
        """Run one statement; a DataFrame for reads, the finished pyathena cursor otherwise."""
        text, names = to_pyformat(sql)
        values = bind(names, params, label)
        reuse = read and self.settings.athena_result_reuse_minutes > 0
        if reuse:
            # Athena reuses a result only for identical text: the data version makes any write a new text.
            text = f"{text}\n-- churn data version {self._data_version()}"
        attempts = self.backoff.attempts if retry_failed else 1
        for attempt in range(1, attempts + 1):
            try:
                return self._attempt(text, values, label, read=read, reuse=reuse)
            except _Transient as exc:
                if attempt == attempts:
                    if retry_failed:
                        raise QueryError(
                            f"{exc} (gave up after {attempts} attempts; try again later)"
                        ) from None
                    raise
                pause = self.backoff.delay(attempt)
                log.warning("%s; retry %d of %d in %.2f s", exc, attempt, attempts - 1, pause)
                time.sleep(pause)
        raise AssertionError("unreachable")

    def _attempt(self, text: str, values: dict[str, Any], label: str, *, read: bool, reuse: bool) -> Any:
        from pyathena.cursor import Cursor
        from pyathena.error import Error as PyAthenaError
        from pyathena.pandas.cursor import PandasCursor
        from pyathena.util import RetryConfig

        timeout = self.settings.athena_query_timeout_seconds
        started = time.monotonic()
        seen: dict[str, Any] = {}

        def watch(execution: Any) -> None:
            seen["execution"] = execution
            if (
                execution.state not in ("SUCCEEDED", "FAILED", "CANCELLED")
                and time.monotonic() - started > timeout
            ):
                raise _TimedOut

        retry = RetryConfig(
            exceptions=aws.RETRYABLE_CODES,
            attempt=self.backoff.attempts,
            multiplier=self.backoff.base,
            max_delay=self.backoff.cap,
        )  # type: ignore[arg-type]
        cursor = self._pyathena().cursor(PandasCursor if read else Cursor, on_poll=watch, retry_config=retry)
        try:
            cursor.execute(
                text,
                values,
                result_reuse_enable=reuse,
                result_reuse_minutes=self.settings.athena_result_reuse_minutes if reuse else None,
            )
        except _TimedOut:
            self._stop(cursor.query_id)
            raise QueryError(
                f"{label} did not finish within {timeout:g} s and was stopped. Raise "
                "CHURN_ATHENA_QUERY_TIMEOUT_SECONDS, or narrow the query (fewer days or score "
                "sets)."
            ) from None
        except PyAthenaError as exc:
            execution = seen.get("execution")
            if execution is None or execution.state not in ("FAILED", "CANCELLED"):
                if aws.is_connection_error(exc):  # pyathena retries error answers, not lost connections
                    raise _Transient(f"{label}: the connection to Athena dropped ({exc})") from None
                raise aws.translate(exc, f"{label}: Athena", QueryError, self.backoff.attempts) from None
            raise self._failure(execution, label) from None
        finally:
            execution = seen.get("execution")
            if execution is not None:
                self._count_bytes(execution, label, time.monotonic() - started)
        if not read:
            return cursor
        try:
            frame = cursor.as_pandas()
            columns = [(d[0], d[1]) for d in (cursor.description or [])]
        except PyAthenaError as exc:
            raise aws.translate(
                exc,
                f"{label}: reading its result from the S3 staging location",
                QueryError,
                self.backoff.attempts,
            ) from None
        finally:
            cursor.close()
        return typed_result(frame, columns)

    def _failure(self, execution: Any, label: str) -> QueryError:
        reason = (execution.state_change_reason or execution.error_message or "").strip()
        if execution.state == "CANCELLED":
            return QueryError(
                f"{label} was cancelled in Athena ({reason or 'by a user or a workgroup limit'}). "
                "Run it again; if it keeps happening, ask the workgroup owner about its limits."
            )
        if aws._DENIED_WORDS.search(reason):
            return QueryError(
                f"{label}: access denied in Athena ({reason}). {aws.CREDENTIALS_HINT}; it needs "
                "read access to the Glue database and the S3 data and staging locations. Ask an "
                "AWS admin to grant it; retrying will not help."
            )
        if execution.retryable or aws._RATE_WORDS.search(reason) or "INTERNAL_ERROR" in reason.upper():
            return _Transient(f"{label} failed in Athena for a passing reason ({reason})")
        if _MISSING_TABLE.search(reason):
            return QueryError(
                f"{label} failed in Athena: {reason}. Build the tables first: `churn demo`, or "
                "`churn ingest DIR` then `churn etl`."
            )
        if _SYNTAX.search(reason):
            where = re.search(r"\((churn_core/sql/[^)]+)\)", label)
            fix = f"Fix the SQL in {where.group(1)}" if where else "Fix the query"
            return QueryError(f"{label} was rejected by Athena: {reason}. {fix} (Athena/Trino dialect).")
        return QueryError(f"{label} failed in Athena: {reason or 'no reason given'}")

    def _stop(self, query_id: str | None) -> None:
        if not query_id:
            return
        try:
            call(
                self._client("athena").stop_query_execution,
                "stopping a timed-out Athena query",
                self.backoff,
                QueryExecutionId=query_id,
            )
        except WarehouseError as exc:
            log.warning("%s", exc)

    def _count_bytes(self, execution: Any, label: str, seconds: float) -> None:
        scanned = int(execution.data_scanned_in_bytes or 0)
        with AthenaWarehouse._total_lock:
            AthenaWarehouse.bytes_scanned_total += scanned
            total = AthenaWarehouse.bytes_scanned_total
        log.info(
            "athena %s: %s, %s scanned in %.1f s%s; this process %s",
            label,
            execution.state,
            _human(scanned),
            seconds,
            " (reused result)" if execution.reused_previous_result else "",
            _human(total),
        )

    # --- catalogue --------------------------------------------------------------------------------

    def tables(self) -> list[str]:
        glue = self._client("glue")
        names: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "DatabaseName": self.database,
                **({"NextToken": token} if token else {}),
            }
            try:
                page = call(
                    glue.get_tables,
                    f"listing the tables of Glue database {self.database}",
                    self.backoff,
                    **kwargs,
                )
            except aws.NotFound:
                return []
            names += [t["Name"] for t in page.get("TableList", []) if _TMP not in t["Name"]]
            token = page.get("NextToken")
            if not token:
                return sorted(names)

    def table_exists(self, name: str) -> bool:
        return _TMP not in name and self._get_table(name) is not None

    def _get_table(self, name: str) -> dict[str, Any] | None:
        try:
            return call(
                self._client("glue").get_table,
                f"reading the Glue definition of {name}",
                self.backoff,
                DatabaseName=self.database,
                Name=name,
            )["Table"]
        except aws.NotFound:
            return None

    def _ensure_database(self) -> None:
        glue = self._client("glue")
        try:
            call(
                glue.get_database, f"reading Glue database {self.database}", self.backoff, Name=self.database
            )
        except aws.NotFound:
            call(
                glue.create_database,
                f"creating Glue database {self.database}",
                self.backoff,
                DatabaseInput={"Name": self.database, "Description": "Churn Prediction Unleashed warehouse"},
            )

    def _writable(self, what: str) -> None:
        if self.read_only:
            raise WarehouseError(f"{what}: this warehouse handle is read-only")

    def _table_input(
        self,
        name: str,
        columns: list[dict[str, str]],
        location: str,
        version: str,
        partition_keys: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        return {
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {
                "EXTERNAL": "TRUE",
                "classification": "parquet",
                "parquet.compression": "SNAPPY",
                "churn_version": version,
            },
            "StorageDescriptor": {"Columns": columns, "Location": location, **_PARQUET_SERDE},
            "PartitionKeys": partition_keys or [],
        }

    def _put_table(self, table_input: dict[str, Any], existing: dict[str, Any] | None) -> None:
        glue, name = self._client("glue"), table_input["Name"]
        if existing is None:
            call(
                glue.create_table,
                f"registering table {name} in Glue",
                self.backoff,
                DatabaseName=self.database,
                TableInput=table_input,
            )
        elif [k["Name"] for k in existing.get("PartitionKeys", [])] != [
            k["Name"] for k in table_input.get("PartitionKeys", [])
        ]:
            # Glue cannot change how a table is partitioned in place.
            call(
                glue.delete_table,
                f"replacing table {name} in Glue",
                self.backoff,
                DatabaseName=self.database,
                Name=name,
            )
            call(
                glue.create_table,
                f"registering table {name} in Glue",
                self.backoff,
                DatabaseName=self.database,
                TableInput=table_input,
            )
        else:
            call(
                glue.update_table,
                f"switching table {name} to its new data in Glue",
                self.backoff,
                DatabaseName=self.database,
                TableInput=table_input,
                SkipArchive=True,
            )

    def _restore_table(self, name: str, previous: dict[str, Any] | None) -> None:
        """Undo a switch (best effort): the previous definition back, or no table if there was none."""
        glue = self._client("glue")
        try:
            if previous is None:
                call(
                    glue.delete_table,
                    f"undoing table {name}",
                    self.backoff,
                    DatabaseName=self.database,
                    Name=name,
                )
            else:
                self._put_table(
                    {k: previous[k] for k in _TABLE_INPUT_KEYS if k in previous}, self._get_table(name)
                )
        except WarehouseError as exc:
            log.error("could not undo the switch of %s: %s", name, exc)

    # --- S3 objects -------------------------------------------------------------------------------

    def _upload(self, name: str, table: pa.Table, key_prefix: str, stem: str = "part") -> list[str]:
        """Parquet files of `table` under `key_prefix`; on failure, the ones written are removed again."""
        keys: list[str] = []
        s3 = self._client("s3")
        try:
            for i, start in enumerate(range(0, max(table.num_rows, 1), self.rows_per_file)):
                key = f"{key_prefix.rstrip('/')}/{stem}-{i:05d}.parquet"
                call(
                    s3.put_object,
                    f"uploading {name} to s3://{self.bucket}/{key}",
                    self.backoff,
                    Bucket=self.bucket,
                    Key=key,
                    Body=parquet_bytes(table.slice(start, self.rows_per_file)),
                )
                keys.append(key)
        except WarehouseError:
            self._delete_keys(keys)
            raise
        return keys

    def _delete_keys(self, keys: Sequence[str]) -> None:
        s3 = self._client("s3")
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            try:
                call(
                    s3.delete_objects,
                    f"deleting {len(batch)} old objects",
                    self.backoff,
                    Bucket=self.bucket,
                    Delete={"Objects": batch, "Quiet": True},
                )
            except WarehouseError as exc:
                log.warning("%s", exc)

    def _list(self, key_prefix: str, delimiter: str | None = None) -> tuple[list[str], list[str]]:
        """(object keys, sub-prefixes) under `key_prefix`."""
        s3, keys, prefixes, token = self._client("s3"), [], [], None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": key_prefix}
            if delimiter:
                kwargs["Delimiter"] = delimiter
            if token:
                kwargs["ContinuationToken"] = token
            page = call(
                s3.list_objects_v2, f"listing s3://{self.bucket}/{key_prefix}", self.backoff, **kwargs
            )
            keys += [o["Key"] for o in page.get("Contents", [])]
            prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
            token = page.get("NextContinuationToken")
            if not token:
                return keys, prefixes

    def _delete_prefix(self, key_prefix: str) -> None:
        self._delete_keys(self._list(key_prefix.rstrip("/") + "/")[0])

    def _prune_versions(self, key_prefix: str, current: str) -> None:
        """Delete version directories under `key_prefix` but the newest `versions_kept` and `current`."""
        try:
            _, prefixes = self._list(key_prefix.rstrip("/") + "/", delimiter="/")
        except WarehouseError as exc:
            log.warning("%s", exc)
            return
        versions = sorted(p for p in prefixes if p.rstrip("/").rsplit("/", 1)[-1].startswith("v="))
        for old in versions[: -self.versions_kept]:
            if current not in old:
                self._delete_prefix(old)

    def _data_version(self) -> str:
        try:
            head = self._client("s3").head_object(Bucket=self.bucket, Key=self._key("_churn", "data_version"))
            return str(head.get("ETag", "")).strip('"')[:12] or "0"
        except Exception:  # missing marker, or no permission to read it: results are still correct
            return "0"

    def _bump_data_version(self) -> None:
        try:
            call(
                self._client("s3").put_object,
                "recording the data version",
                self.backoff,
                Bucket=self.bucket,
                Key=self._key("_churn", "data_version"),
                Body=uuid.uuid4().hex.encode(),
            )
        except WarehouseError as exc:
            log.warning(
                "%s (reused query results may be stale for up to %d minutes)",
                exc,
                self.settings.athena_result_reuse_minutes,
            )

    # --- writes -----------------------------------------------------------------------------------

    def write_tables(self, frames: dict[str, pd.DataFrame]) -> None:
        self._writable(f"writing {', '.join(frames)}")
        self._ensure_database()
        version = _version()
        staged: list[tuple[str, dict[str, Any], dict[str, Any] | None, str]] = []
        uploaded: list[str] = []
        try:
            for name, df in frames.items():
                table = to_arrow(df, _ident(name), declared_types(name))
                key_prefix = self._key(name, version)
                uploaded += self._upload(name, table, key_prefix)
                staged.append(
                    (
                        name,
                        self._table_input(name, glue_columns(table.schema), self._url(key_prefix), version),
                        self._get_table(name),
                        key_prefix,
                    )
                )
        except WarehouseError:
            self._delete_keys(uploaded)
            raise
        self._switch([(name, table_input, previous) for name, table_input, previous, _ in staged], uploaded)
        self._bump_data_version()
        for name, _, _, _ in staged:
            self._prune_versions(self._key(name), version)

    def _switch(
        self, changes: list[tuple[str, dict[str, Any], dict[str, Any] | None]], uploaded: list[str]
    ) -> None:
        """Point each Glue table at its new data; if one switch fails, put the ones done back."""
        done: list[tuple[str, dict[str, Any] | None]] = []
        try:
            for name, table_input, previous in changes:
                self._put_table(table_input, previous)
                done.append((name, previous))
        except WarehouseError:
            for name, previous in reversed(done):
                self._restore_table(name, previous)
            self._delete_keys(uploaded)
            raise

    def build_table(self, name: str, params: Params | None = None) -> int:
        self._writable(f"building {name}")
        self._ensure_database()
        select = load_sql(name)
        label = f"table {name} (churn_core/sql/{name}.sql)"
        for attempt in range(1, self.backoff.attempts + 1):
            try:
                return self._build(name, select, params, label)
            except _Transient as exc:
                if attempt == self.backoff.attempts:
                    raise QueryError(f"{exc} (gave up after {attempt} attempts; try again later)") from None
                pause = self.backoff.delay(attempt)
                log.warning("%s; retry %d of %d in %.2f s", exc, attempt, self.backoff.attempts - 1, pause)
                time.sleep(pause)
        raise AssertionError("unreachable")

    def _build(self, name: str, select: str, params: Params | None, label: str) -> int:
        """CTAS into a new location under a temporary name, then switch `name` to that location."""
        version = _version()
        key_prefix = self._key(_ident(name), version)
        location = self._url(key_prefix)
        temp = f"{name}{_TMP}{uuid.uuid4().hex[:8]}"
        ctas = (
            f'CREATE TABLE "{self.database}"."{temp}"\n'
            f"WITH (format = 'PARQUET', write_compression = 'SNAPPY', external_location = '{location}')\nAS\n"
            f"{select}"
        )
        try:
            cursor = self._run(ctas, params, label, read=False, retry_failed=False)
            built = self._get_table(temp)
            if built is None:
                raise QueryError(f"{label}: Athena reported success but created no table {temp}")
            previous = self._get_table(name)
            columns = [{"Name": c["Name"], "Type": c["Type"]} for c in built["StorageDescriptor"]["Columns"]]
            self._switch([(name, self._table_input(name, columns, location, version), previous)], [])
        except WarehouseError:
            self._drop_temp(temp)
            self._delete_prefix(key_prefix)
            raise
        self._drop_temp(temp)
        self._bump_data_version()
        self._prune_versions(self._key(name), version)
        rows = cursor.rowcount if isinstance(cursor.rowcount, int) else -1
        cursor.close()
        if rows < 0:  # Athena reports the rows a CTAS wrote; count them when it did not
            rows = int(self.query(f'SELECT count(*) AS n FROM "{name}"').iloc[0, 0])
        return rows

    def _drop_temp(self, temp: str) -> None:
        try:
            call(
                self._client("glue").delete_table,
                f"dropping temporary table {temp}",
                self.backoff,
                DatabaseName=self.database,
                Name=temp,
            )
        except aws.NotFound:
            pass
        except WarehouseError as exc:
            log.warning("%s", exc)

    def write_partition(
        self, name: str, df: pd.DataFrame, column: str, value: Any, keep: int | None = None
    ) -> None:
        self.write_partitions({name: df}, column, value, keep)

    def write_partitions(
        self, frames: Mapping[str, pd.DataFrame], column: str, value: Any, keep: int | None = None
    ) -> None:
        """Upload every table's partition first, then switch them in the order given (a failure puts back the
        ones switched), then drop partitions beyond `keep`."""
        self._writable(f"writing {', '.join(frames)}")
        self._ensure_database()
        column = _ident(column)
        version = _version()
        staged, uploaded = [], []
        try:
            for name, df in frames.items():
                plan = self._stage_partition(_ident(name), df, column, value, version)
                uploaded += plan["keys"]
                staged.append(plan)
        except WarehouseError:
            self._delete_keys(uploaded)
            raise
        done: list[dict[str, Any]] = []
        try:
            for plan in staged:
                self._switch_partition(plan)
                done.append(plan)
        except WarehouseError:
            for plan in reversed(done):
                self._undo_partition(plan)
            self._delete_keys(uploaded)
            raise
        self._bump_data_version()
        for plan in staged:
            self._prune_versions(plan["partition_prefix"], version)
            if keep is not None:
                self._keep_newest(plan["name"], plan["key_type"], keep)

    def _stage_partition(
        self, name: str, df: pd.DataFrame, column: str, value: Any, version: str
    ) -> dict[str, Any]:
        existing = self._get_table(name)
        keys_now = [k["Name"] for k in (existing or {}).get("PartitionKeys", [])]
        if existing is not None and keys_now not in ([column], []):
            raise WarehouseError(f"{name} is partitioned by {', '.join(keys_now)}, not {column}")
        old_columns = (existing or {}).get("StorageDescriptor", {}).get("Columns", []) if keys_now else []
        types = {**declared_types(name), **{c["Name"]: c["Type"] for c in old_columns}}
        if keys_now:
            key_type = existing["PartitionKeys"][0]["Type"]
        else:
            key_type = _partition_type(df, column, value, types)
        text = _partition_value(value, key_type)
        if column in df.columns:
            others = {_partition_value(v, key_type) for v in df[column].dropna().unique()} - {text}
            if others:
                raise WarehouseError(
                    f"{name}: rows for {column} = {text} include other values ({sorted(others)[0]})"
                )
        table = to_arrow(df.drop(columns=[column], errors="ignore"), name, types)
        new_columns = glue_columns(table.schema)
        known = {c["Name"] for c in old_columns}
        columns = [{"Name": c["Name"], "Type": c["Type"]} for c in old_columns] + [
            c for c in new_columns if c["Name"] not in known
        ]
        partition_prefix = self._key(name, f"{column}={text}")
        key_prefix = f"{partition_prefix}/{version}"
        table_input = None
        if not keys_now or len(columns) != len(old_columns):
            table_input = self._table_input(
                name, columns, self._url(self._key(name)), version, [{"Name": column, "Type": key_type}]
            )
        keys = self._upload(name, table, key_prefix)
        previous_partition = self._get_partition(name, text) if keys_now else None
        partition_input = {
            "Values": [text],
            "StorageDescriptor": {"Columns": columns, "Location": self._url(key_prefix), **_PARQUET_SERDE},
            "Parameters": {"churn_version": version},
        }
        return {
            "name": name,
            "existing": existing,
            "table_input": table_input,
            "partition": partition_input,
            "previous_partition": previous_partition,
            "keys": keys,
            "partition_prefix": partition_prefix,
            "key_type": key_type,
            "text": text,
        }

    def _get_partition(self, name: str, text: str) -> dict[str, Any] | None:
        try:
            return call(
                self._client("glue").get_partition,
                f"reading partition {text} of {name}",
                self.backoff,
                DatabaseName=self.database,
                TableName=name,
                PartitionValues=[text],
            )["Partition"]
        except aws.NotFound:
            return None

    def _switch_partition(self, plan: dict[str, Any]) -> None:
        glue, name, text = self._client("glue"), plan["name"], plan["text"]
        if plan["table_input"] is not None:
            self._put_table(plan["table_input"], plan["existing"])
        if plan["previous_partition"] is not None:
            call(
                glue.update_partition,
                f"switching partition {text} of {name} to its new data",
                self.backoff,
                DatabaseName=self.database,
                TableName=name,
                PartitionValueList=[text],
                PartitionInput=plan["partition"],
            )
            return
        result = call(
            glue.batch_create_partition,
            f"registering partition {text} of {name}",
            self.backoff,
            DatabaseName=self.database,
            TableName=name,
            PartitionInputList=[plan["partition"]],
        )
        for error in result.get("Errors", []):
            detail = error.get("ErrorDetail", {})
            if detail.get("ErrorCode") == "AlreadyExistsException":  # another writer registered it meanwhile
                call(
                    glue.update_partition,
                    f"switching partition {text} of {name}",
                    self.backoff,
                    DatabaseName=self.database,
                    TableName=name,
                    PartitionValueList=[text],
                    PartitionInput=plan["partition"],
                )
            else:
                raise WarehouseError(f"registering partition {text} of {name}: {detail.get('ErrorMessage')}")

    def _undo_partition(self, plan: dict[str, Any]) -> None:
        glue, name, text = self._client("glue"), plan["name"], plan["text"]
        try:
            previous = plan["previous_partition"]
            if previous is None:
                call(
                    glue.delete_partition,
                    f"undoing partition {text} of {name}",
                    self.backoff,
                    DatabaseName=self.database,
                    TableName=name,
                    PartitionValues=[text],
                )
            else:
                restored = {
                    k: previous[k] for k in ("Values", "StorageDescriptor", "Parameters") if k in previous
                }
                call(
                    glue.update_partition,
                    f"undoing partition {text} of {name}",
                    self.backoff,
                    DatabaseName=self.database,
                    TableName=name,
                    PartitionValueList=[text],
                    PartitionInput=restored,
                )
        except WarehouseError as exc:
            log.error("could not undo partition %s of %s: %s", text, name, exc)
        if plan["table_input"] is not None:
            self._restore_table(name, plan["existing"])

    def _keep_newest(self, name: str, key_type: str, keep: int) -> None:
        glue, values, token = self._client("glue"), [], None
        while True:
            kwargs: dict[str, Any] = {
                "DatabaseName": self.database,
                "TableName": name,
                **({"NextToken": token} if token else {}),
            }
            page = call(glue.get_partitions, f"listing the partitions of {name}", self.backoff, **kwargs)
            values += [p["Values"][0] for p in page.get("Partitions", [])]
            token = page.get("NextToken")
            if not token:
                break
        numeric = key_type in ("tinyint", "smallint", "int", "integer", "bigint")
        ordered = sorted(values, key=(lambda v: int(v)) if numeric else str, reverse=True)
        old = ordered[max(keep, 0) :]
        column = glue.get_table(DatabaseName=self.database, Name=name)["Table"]["PartitionKeys"][0]["Name"]
        for start in range(0, len(old), 25):
            batch = old[start : start + 25]
            call(
                glue.batch_delete_partition,
                f"dropping old partitions of {name}",
                self.backoff,
                DatabaseName=self.database,
                TableName=name,
                PartitionsToDelete=[{"Values": [v]} for v in batch],
            )
            for v in batch:
                self._delete_prefix(self._key(name, f"{column}={v}"))

    def append(self, name: str, df: pd.DataFrame) -> None:
        self._writable(f"appending to {name}")
        self._ensure_database()
        name = _ident(name)
        existing = self._get_table(name)
        if existing is not None and existing.get("PartitionKeys"):
            raise WarehouseError(f"{name} is partitioned; write it with write_partition, not append")
        old_columns = (existing or {}).get("StorageDescriptor", {}).get("Columns", [])
        table = to_arrow(df, name, {**declared_types(name), **{c["Name"]: c["Type"] for c in old_columns}})
        known = {c["Name"] for c in old_columns}
        columns = [{"Name": c["Name"], "Type": c["Type"]} for c in old_columns] + [
            c for c in glue_columns(table.schema) if c["Name"] not in known
        ]
        version = _version()
        if existing is None:
            location = self._url(self._key(name, version))
        else:
            location = existing["StorageDescriptor"]["Location"]
        bucket, key_prefix = aws.split_s3(location)
        if bucket != self.bucket:
            raise WarehouseError(f"{name} lives in s3://{bucket}, outside CHURN_ATHENA_S3_DATA_PREFIX")
        keys = self._upload(name, table, key_prefix, stem=f"append-{version[2:]}")
        if existing is None or len(columns) != len(old_columns):
            try:
                self._put_table(self._table_input(name, columns, location, version), existing)
            except WarehouseError:
                self._delete_keys(keys)
                raise
        self._bump_data_version()


def _partition_type(df: pd.DataFrame, column: str, value: Any, types: Mapping[str, str]) -> str:
    if column in types:
        return to_glue_name(types[column])
    if column in df.columns:
        return glue_columns(to_arrow(df[[column]], "partition", {}).schema)[0]["Type"]
    if isinstance(value, dt.datetime | pd.Timestamp):
        return "timestamp"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return "bigint"
    return "string"


def to_glue_name(type_name: str) -> str:
    from churn_core.warehouse.athena_types import arrow_type, glue_type

    return glue_type(arrow_type(type_name))


def _partition_value(value: Any, key_type: str) -> str:
    """The Glue partition value text of `value` for a partition key of `key_type`."""
    if isinstance(value, np.generic):
        value = value.item()
    try:
        if key_type == "date":
            return pd.Timestamp(value).date().isoformat()
        if key_type == "timestamp":
            return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")
        if key_type in ("tinyint", "smallint", "int", "bigint"):
            return str(int(value))
    except (TypeError, ValueError) as exc:
        raise WarehouseError(f"partition value {value!r} is not a {key_type} ({exc})") from None
    text = str(value)
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,100}", text):
        raise WarehouseError(f"partition value {text!r} must be short plain text (letters, digits, _ . -)")
    return text
