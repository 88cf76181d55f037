"""The production warehouse: Athena runs the same .sql files; tables are Parquet on S3, registered in Glue.

Queries: `:name` placeholders become pyathena's pyformat (churn_core/warehouse/athena_sql.py) and pyathena
renders the bound values as SQL literals. Results come back through pyathena's PandasCursor and are typed from
Athena's column types. Queries are polled up to a timeout; failed, cancelled, throttled and denied ones become
clear errors. Retries: botocore retries the API calls (churn_core/warehouse/aws.py); a statement that Athena
itself ended as FAILED and marked retryable is run again here, with backoff; nothing else is.

Writes (churn_core/warehouse/athena_writes.py) upload to a new S3 location and then switch the Glue table or
partition to it. `build_table` (churn_core/warehouse/athena_builds.py) runs the ETL inside Athena: the rows
are written to a new location under a temporary name, then the same switch, so they never travel to the client.

Cost: read queries ask Athena to reuse a recent identical result (settings `athena_result_reuse_minutes`).
Each write bumps the data version of the tables it wrote (churn_core/warehouse/s3_objects.py), and a read query
carries the versions of the tables it reads in a trailing comment: a reused result is never older than its
data, and a write to an unrelated table (an audit row, a job-history row) does not change the query's text.
Athena reuses nothing for a query whose result configuration overrides the workgroup's (README). Bytes scanned
are logged per query and summed per process (`bytes_scanned`).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn

import pandas as pd
import pyathena
import tenacity
from pyathena.cursor import Cursor
from pyathena.error import Error as PyAthenaError
from pyathena.model import AthenaQueryExecution
from pyathena.pandas.cursor import PandasCursor
from pyathena.util import RetryConfig

from churn_core.settings import Settings
from churn_core.warehouse.athena_builds import AthenaBuilds
from churn_core.warehouse.athena_sql import bind, describe_sql, tables_in, to_pyformat
from churn_core.warehouse.athena_types import typed_result
from churn_core.warehouse.aws import CREDENTIALS_HINT, AwsClients, client_config, split_s3
from churn_core.warehouse.base import (
    Params,
    QueryError,
    TransientWarehouseError,
    Warehouse,
    WarehouseError,
    _ident,
)
from churn_core.warehouse.glue import TMP, GlueCatalog
from churn_core.warehouse.s3_objects import S3Objects

log = logging.getLogger("churn_core.warehouse.athena")

# Hints chosen from the reason Athena gives for a failed query (never to decide whether to retry it).
_SYNTAX = re.compile(
    r"SYNTAX_ERROR|mismatched input|line \d+:\d+|COLUMN_NOT_FOUND|FUNCTION_NOT_FOUND|"
    r"TYPE_MISMATCH|cannot be resolved",
    re.IGNORECASE,
)
_MISSING_TABLE = re.compile(r"TABLE_NOT_FOUND|Table .* does not exist|SCHEMA_NOT_FOUND", re.IGNORECASE)
_DENIED = re.compile(r"access denied|not authorized|insufficient (lake formation )?permissions", re.IGNORECASE)
_ENDED = ("SUCCEEDED", "FAILED", "CANCELLED")
_NO_PYATHENA_RETRIES = RetryConfig(attempt=1)  # botocore retries the API calls: one layer, not two
MAX_WAIT_SECONDS = 20.0


class _TimedOut(Exception):
    pass


class _RetryableFailure(TransientWarehouseError):
    """Athena ended the statement as FAILED and marked it retryable (an internal error, throttling inside)."""


@dataclass
class _Watch:
    """pyathena's poll callback: keeps the statement's latest state and stops polling past the timeout."""

    timeout: float
    started: float = field(default_factory=time.monotonic)
    execution: AthenaQueryExecution | None = None

    def __call__(self, execution: AthenaQueryExecution) -> None:
        self.execution = execution
        if execution.state not in _ENDED and self.elapsed > self.timeout:
            raise _TimedOut

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _log_retry(state: tenacity.RetryCallState) -> None:
    pause = state.next_action.sleep if state.next_action else 0.0
    log.warning(
        "%s; running it again in %.2f s (attempt %d)", state.outcome.exception(), pause, state.attempt_number + 1
    )


def _give_up(state: tenacity.RetryCallState) -> NoReturn:
    raise TransientWarehouseError(
        f"{state.outcome.exception()} (gave up after {state.attempt_number} attempts; try again later)"
    )


class AthenaWarehouse(AthenaBuilds, Warehouse):
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
        self.schema = self.database
        self.aws = AwsClients.for_settings(settings)
        self.catalog = GlueCatalog(self.aws, self.database)
        self.objects = S3Objects(self.aws, *split_s3(settings.athena_s3_data_prefix))
        self._lock = threading.Lock()
        self._connection: Any = None

    def _pyathena(self) -> Any:
        session = self.aws.session
        with self._lock:
            if self._connection is None:
                self._connection = pyathena.connect(
                    s3_staging_dir=self.settings.athena_s3_staging_dir,
                    work_group=self.settings.athena_workgroup,
                    region_name=self.settings.athena_region,
                    schema_name=self.database,
                    poll_interval=self.settings.athena_poll_seconds,
                    session=session,
                    config=client_config(self.aws.max_attempts),  # pyathena adds to it: its own copy
                    retry_config=_NO_PYATHENA_RETRIES,
                )
            return self._connection

    @property
    def bytes_scanned(self) -> int:
        return AthenaWarehouse.bytes_scanned_total

    def tables(self) -> list[str]:
        return self.catalog.tables()

    def table_exists(self, name: str) -> bool:
        return TMP not in name and self.catalog.get_table(name) is not None

    # --- queries ----------------------------------------------------------------------------------

    def _retrying(self) -> tenacity.Retrying:
        """Runs again a statement Athena failed as retryable, with exponential backoff and jitter."""
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_RetryableFailure),
            stop=tenacity.stop_after_attempt(self.settings.athena_max_attempts),
            wait=tenacity.wait_random_exponential(
                multiplier=self.settings.athena_retry_base_seconds, max=MAX_WAIT_SECONDS
            ),
            before_sleep=_log_retry,
            retry_error_callback=_give_up,
        )

    def query(self, sql: str, params: Params | None = None) -> pd.DataFrame:
        return self._retrying()(self._run, sql, params, describe_sql(sql), read=True)

    def execute(self, sql: str, params: Params | None = None) -> None:
        label = describe_sql(sql)
        self._writable(label)
        self._retrying()(self._run, sql, params, label, read=False).close()
        written = tables_in(sql)
        self._bump_versions(written if written is not None else (self.objects.table_versions() or {}))

    def _run(self, sql: str, params: Params | None, label: str, *, read: bool) -> Any:
        """Run one statement once; a DataFrame for reads, the finished pyathena cursor otherwise."""
        text, names = to_pyformat(sql)
        values = bind(names, params, label)
        versioned = self._versioned(text, sql) if read and self.settings.athena_result_reuse_minutes > 0 else None
        reuse = versioned is not None
        text = versioned or text
        cursor = self._execute(text, values, label, read=read, reuse=reuse)
        return self._result(cursor, label) if read else cursor

    def _versioned(self, text: str, sql: str) -> str | None:
        """`text` with the data versions of the tables `sql` reads, for a reusable query (Athena reuses a result
        only for identical text, so a write to one of them makes a new text); None: not reusable."""
        tables = tables_in(sql)
        if tables is None:
            return None  # what it reads is unknown, so no version could guard a reused result
        if not tables:
            return text
        versions = self.objects.table_versions()
        if versions is None:  # unreadable: reuse results for a minute at most
            versions = dict.fromkeys(tables, f"t{int(time.time() // 60)}")
        stamps = " ".join(f"{table}={versions.get(table, '0')}" for table in sorted(tables))
        return f"{text}\n-- churn data versions: {stamps}"

    def _execute(self, text: str, values: dict[str, Any], label: str, *, read: bool, reuse: bool) -> Any:
        """Start the statement and poll it to its end, stopping it past the timeout; failures as clear errors."""
        watch = _Watch(self.settings.athena_query_timeout_seconds)
        cursor = self._pyathena().cursor(PandasCursor if read else Cursor, on_poll=watch)
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
                f"{label} did not finish within {watch.timeout:g} s and was stopped. Raise "
                "CHURN_ATHENA_QUERY_TIMEOUT_SECONDS, or narrow the query (fewer days or score sets)."
            ) from None
        except PyAthenaError as exc:
            if watch.execution is None or watch.execution.state not in ("FAILED", "CANCELLED"):
                raise self.aws.failure(exc, f"{label}: Athena", QueryError) from None
            raise self._failure(watch.execution, label) from None
        finally:
            if watch.execution is not None:
                self._count_bytes(watch.execution, label, watch.elapsed)
        return cursor

    def _result(self, cursor: Any, label: str) -> pd.DataFrame:
        try:
            frame = cursor.as_pandas()
            columns = [(d[0], d[1]) for d in (cursor.description or [])]
        except PyAthenaError as exc:
            raise self.aws.failure(
                exc, f"{label}: reading its result from the S3 staging location", QueryError
            ) from None
        finally:
            cursor.close()
        return typed_result(frame, columns)

    def _failure(self, execution: AthenaQueryExecution, label: str) -> QueryError | TransientWarehouseError:
        """The error for a statement Athena ended as FAILED or CANCELLED; retryable only if Athena says so."""
        reason = (execution.state_change_reason or execution.error_message or "").strip()
        if execution.state == "CANCELLED":
            return QueryError(
                f"{label} was cancelled in Athena ({reason or 'by a user or a workgroup limit'}). "
                "Run it again; if it keeps happening, ask the workgroup owner about its limits."
            )
        if execution.retryable:
            return _RetryableFailure(f"{label} failed in Athena for a passing reason ({reason})")
        if _DENIED.search(reason):
            return QueryError(
                f"{label}: access denied in Athena ({reason}). {CREDENTIALS_HINT}; it needs "
                "read access to the Glue database and the S3 data and staging locations. Ask an "
                "AWS admin to grant it; retrying will not help."
            )
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
            self.aws.call(
                "athena", "stop_query_execution", "stopping a timed-out Athena query", QueryExecutionId=query_id
            )
        except WarehouseError as exc:
            log.warning("%s", exc)

    def _count_bytes(self, execution: AthenaQueryExecution, label: str, seconds: float) -> None:
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
