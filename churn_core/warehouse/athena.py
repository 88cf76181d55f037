"""The production warehouse: Athena runs the same .sql files; tables are Parquet on S3, registered in Glue.

Queries: `:name` placeholders become pyathena's pyformat `%(name)s` (found with sqlglot's Trino tokenizer, so
text in string literals and comments is left alone) and pyathena renders the bound values as SQL literals.
Results come back through pyathena's PandasCursor and are typed from Athena's column types. Queries are
polled up to a timeout; failed, cancelled, throttled and denied ones become clear errors, and only the
passing failures (throttling, internal errors, dropped connections) are retried, with backoff.

Writes (churn_core/warehouse/glue.py) upload to a new S3 location and then switch the Glue table or
partition to it. `build_table` runs the ETL inside Athena: CTAS into a new location under a temporary name,
then the same switch, so raw rows never travel to the client.

Cost: read queries ask Athena to reuse a recent identical result (settings `athena_result_reuse_minutes`);
every write bumps a data-version marker that read queries carry in a trailing comment, so a reused result is
never older than the data. Bytes scanned are logged per query and summed per process (`bytes_scanned`).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Sequence
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import sqlglot
from sqlglot.dialects.trino import Trino
from sqlglot.tokens import TokenType

from churn_core.settings import Settings
from churn_core.warehouse import aws
from churn_core.warehouse.athena_types import typed_result
from churn_core.warehouse.aws import call
from churn_core.warehouse.base import (
    Params,
    QueryError,
    Warehouse,
    WarehouseError,
    _ident,
    load_sql,
    sql_names,
)
from churn_core.warehouse.glue import TMP, GlueTables, new_version

log = logging.getLogger("churn_core.warehouse.athena")

_PARAM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER = re.compile(r"^\s*--\s*([a-z][a-z0-9_]*):")
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


class AthenaWarehouse(GlueTables, Warehouse):
    backend = "athena"
    # Bytes Athena scanned for this process's queries (what Athena bills), over every instance.
    bytes_scanned_total: ClassVar[int] = 0
    _total_lock: ClassVar[threading.Lock] = threading.Lock()

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

    # --- queries ----------------------------------------------------------------------------------

    def query(self, sql: str, params: Params | None = None) -> pd.DataFrame:
        return self._run(sql, params, describe_sql(sql), read=True)

    def execute(self, sql: str, params: Params | None = None) -> None:
        self._writable(describe_sql(sql))
        self._run(sql, params, describe_sql(sql), read=False).close()
        self._bump_data_version()

    def _run(self, sql: str, params: Params | None, label: str, *, read: bool, retry_failed: bool = True) -> Any:
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
                        raise QueryError(f"{exc} (gave up after {attempts} attempts; try again later)") from None
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
            if execution.state not in ("SUCCEEDED", "FAILED", "CANCELLED") and time.monotonic() - started > timeout:
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
        if aws.DENIED_WORDS.search(reason):
            return QueryError(
                f"{label}: access denied in Athena ({reason}). {aws.CREDENTIALS_HINT}; it needs "
                "read access to the Glue database and the S3 data and staging locations. Ask an "
                "AWS admin to grant it; retrying will not help."
            )
        if execution.retryable or aws.RATE_WORDS.search(reason) or "INTERNAL_ERROR" in reason.upper():
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
        version = new_version()
        key_prefix = self._key(_ident(name), version)
        location = self._url(key_prefix)
        temp = f"{name}{TMP}{uuid.uuid4().hex[:8]}"
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
