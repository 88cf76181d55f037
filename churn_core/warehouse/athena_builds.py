"""ETL inside Athena: `build_table` makes a table of a .sql SELECT without its rows ever leaving Athena.

The statement writes Parquet to a new version folder of the table (`<prefix>/<table>/v=<time>-<id>/`) under a
temporary name (`<table>__tmp_<id>`, never listed); then the Glue table is switched to that folder, as every
write is (churn_core/warehouse/athena_writes.py), and the temporary name dropped.

How the statement writes there depends on the workgroup (GetWorkGroup, read once per process):
- it lets clients choose result locations: one CTAS whose `external_location` is the new folder;
- it enforces its own ("Override client-side settings"): Athena fails any CTAS that names an
  `external_location`. There a CTAS `WITH NO DATA` names none (Athena registers an empty table under the
  workgroup's location), the temporary table is pointed at the new folder in Glue, and `INSERT INTO` it
  writes the rows where it points. Against the other way (a CTAS into the workgroup's location, then the
  files copied over): one more statement, which reads no data, instead of writing every file twice and
  leaving data in a results bucket whose lifecycle rules may expire it; layout, atomic switch and clean-up
  stay those of the first way.

Leftovers: a build whose process died, or whose connection dropped while Athena ran on, can leave the
temporary table and its files once the statement finishes. The next build of the same table removes them by
name before it starts (the job lock makes it the only build).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pandas as pd
import tenacity
from botocore.exceptions import BotoCoreError, ClientError

from churn_core.warehouse.athena_writes import AthenaWrites, TableSwitch
from churn_core.warehouse.aws import AwsClients, is_denied, split_s3
from churn_core.warehouse.base import Params, QueryError, WarehouseError, _ident, load_sql
from churn_core.warehouse.glue import TMP, columns_of, table_input
from churn_core.warehouse.s3_objects import new_version

log = logging.getLogger("churn_core.warehouse.athena")

PARQUET = "format = 'PARQUET', write_compression = 'SNAPPY'"
POLICY_FILE = "churn_core/warehouse/athena-iam-policy.json"


_ENFORCED: dict[tuple[str, str], bool] = {}  # per process: (region, workgroup) -> enforces its result location
_ENFORCED_LOCK = threading.Lock()


def enforces_result_location(aws: AwsClients, workgroup: str) -> bool:
    """Whether `workgroup` ('' is Athena's default, primary) overrides the client's result location
    (EnforceWorkGroupConfiguration), read once per process.

    Without permission to read it (athena:GetWorkGroup, in POLICY_FILE), assume not: the common case, and a
    CTAS in a workgroup that does fails in Athena with a message saying so."""
    workgroup = workgroup or "primary"
    key = (aws.region, workgroup)
    with _ENFORCED_LOCK:
        if key in _ENFORCED:
            return _ENFORCED[key]
    what = f"reading the configuration of Athena workgroup {workgroup}"
    try:
        found = aws.client("athena").get_work_group(WorkGroup=workgroup)["WorkGroup"]
        enforced = bool(found.get("Configuration", {}).get("EnforceWorkGroupConfiguration"))
    except (ClientError, BotoCoreError) as exc:
        if not is_denied(exc):
            raise aws.failure(exc, what) from None
        log.warning(
            "%s; assuming it does not enforce its result location (grant athena:GetWorkGroup, see %s)",
            aws.failure(exc, what),
            POLICY_FILE,
        )
        enforced = False
    with _ENFORCED_LOCK:
        _ENFORCED[key] = enforced
    return enforced


class AthenaBuilds(AthenaWrites):
    """`build_table` (a mixin: AthenaWarehouse supplies `_run`, `_retrying`, `query` and the AWS handles)."""

    aws: AwsClients
    database: str
    # AthenaWarehouse's
    _run: Callable[..., Any]
    _retrying: Callable[[], tenacity.Retrying]
    query: Callable[..., pd.DataFrame]

    def build_table(self, name: str, params: Params | None = None) -> int:
        self._writable(f"building {name}")
        self.catalog.ensure_database()
        self._remove_leftovers(_ident(name))
        label = f"table {name} (churn_core/sql/{name}.sql)"
        return self._retrying()(self._build, name, load_sql(name), params, label)

    def _build(self, name: str, select: str, params: Params | None, label: str) -> int:
        """The SELECT's rows into a new version folder under a temporary name, then `name` switched there."""
        version = new_version()
        folder = self.objects.key(name, version)
        temp = f"{name}{TMP}{uuid.uuid4().hex[:8]}"
        try:
            rows = self._write_rows(temp, select, params, label, self.objects.url(folder), version)
            built = self.catalog.get_table(temp)
            if built is None:
                raise QueryError(f"{label}: Athena reported success but created no table {temp}")
            definition = table_input(name, columns_of(built), self.objects.url(folder), version)
            self._switch_all([TableSwitch(name, definition, self.catalog.get_table(name))])
        except WarehouseError:
            self.catalog.drop_table(temp)
            self.objects.delete_folder(folder)
            raise
        self.catalog.drop_table(temp)
        self._bump_versions([name])
        self.objects.prune_versions(self.objects.key(name), version)
        if rows < 0:  # Athena reports the rows a statement wrote; count them when it did not
            rows = int(self.query(f'SELECT count(*) AS n FROM "{name}"').iloc[0, 0])
        return rows

    def _write_rows(
        self, temp: str, select: str, params: Params | None, label: str, location: str, version: str
    ) -> int:
        """Table `temp` holding the SELECT's rows as Parquet at `location`; the rows written (-1: not said)."""
        table, select = f'"{self.database}"."{temp}"', select.rstrip()
        if not enforces_result_location(self.aws, self.settings.athena_workgroup):
            ctas = f"CREATE TABLE {table}\nWITH ({PARQUET}, external_location = '{location}')\nAS\n{select}"
            return self._statement(ctas, params, label)
        self._statement(f"CREATE TABLE {table}\nWITH ({PARQUET})\nAS\n{select}\nWITH NO DATA", params, label)
        empty = self.catalog.get_table(temp)
        if empty is None:
            raise QueryError(f"{label}: Athena reported success but created no table {temp}")
        self.catalog.put_table(table_input(temp, columns_of(empty), location, version), empty)
        return self._statement(f"INSERT INTO {table}\n{select}", params, label)

    def _statement(self, sql: str, params: Params | None, label: str) -> int:
        cursor = self._run(sql, params, label, read=False)
        rows = cursor.rowcount if isinstance(cursor.rowcount, int) else -1
        cursor.close()
        return rows

    def _remove_leftovers(self, name: str) -> None:
        """Drop the temporary tables earlier builds of `name` left, and their files when those are a version
        folder of `name` that the table does not read."""
        live = (self.catalog.get_table(name) or {}).get("StorageDescriptor", {}).get("Location")
        for temp in self.catalog.temporary_tables(name):
            location = temp.get("StorageDescriptor", {}).get("Location", "")
            if location and location != live and self._is_version_folder(location, name):
                self.objects.delete_folder(split_s3(location)[1])
            self.catalog.drop_table(temp["Name"])
            log.warning("removed %s, left by a build of %s that did not finish", temp["Name"], name)

    def _is_version_folder(self, location: str, name: str) -> bool:
        """Whether `location` is one version folder of table `name` (`<prefix>/<name>/v=.../`)."""
        bucket, key = split_s3(location)
        parent, _, leaf = key.rstrip("/").rpartition("/")
        return bucket == self.objects.bucket and parent == self.objects.key(name) and leaf.startswith("v=")
