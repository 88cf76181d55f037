"""Tables as Parquet on S3, registered in the Glue catalogue, written so readers never see half a table.

Every write uploads its Parquet files to a new S3 location first (`<prefix>/<table>/v=<time>-<id>/`, or
`<prefix>/<table>/<column>=<value>/v=.../` for a partition) and only then points the Glue table or partition
at it; a failure before the switch leaves the previous data in place, and a failure during a multi-table
switch puts back the tables already switched. The previous version of each table or partition is kept for
queries still reading it; older ones are deleted. `GlueTables` is the write half of `AthenaWarehouse`.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from churn_core import schema
from churn_core.settings import Settings
from churn_core.warehouse import aws
from churn_core.warehouse.athena_types import arrow_type, glue_columns, glue_type, parquet_bytes, to_arrow
from churn_core.warehouse.aws import Backoff, call
from churn_core.warehouse.base import WarehouseError, _ident

log = logging.getLogger("churn_core.warehouse.athena")

TMP = "__tmp_"  # temporary tables of a CTAS in progress, never listed
PARQUET_SERDE = {
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


@cache
def declared_types(table: str) -> dict[str, str]:
    """Column types the data model (churn_core/schema.py) declares for `table`, if it documents it."""
    for value in vars(schema).values():
        if isinstance(value, schema.Table) and value.name == table:
            return {c.name: c.type for c in value.columns}
    return {}


def new_version() -> str:
    """A new version directory name; names sort by creation time."""
    now = dt.datetime.now(dt.UTC)
    return f"v={now:%Y%m%dT%H%M%S%f}Z-{uuid.uuid4().hex[:8]}"


class GlueTables:
    """Catalogue and writes of the Athena warehouse (a mixin: AthenaWarehouse supplies the clients)."""

    settings: Settings
    database: str
    bucket: str
    prefix: str
    read_only: bool
    backoff: Backoff = Backoff()
    rows_per_file: int = 1_000_000
    versions_kept: int = 2  # the current version of a table or partition, and the one before
    compact_after: int = 200  # files an appended-to table may have before they are merged into one

    def _client(self, service: str) -> Any:
        raise NotImplementedError

    def _key(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))

    def _url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key.rstrip('/')}/"

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
            names += [t["Name"] for t in page.get("TableList", []) if TMP not in t["Name"]]
            token = page.get("NextToken")
            if not token:
                return sorted(names)

    def table_exists(self, name: str) -> bool:
        return TMP not in name and self._get_table(name) is not None

    def _glue(self, action: str, what: str, **kwargs: Any) -> Any:
        """Glue's `action` on our database, retried and its errors made plain like every AWS call."""
        return call(getattr(self._client("glue"), action), what, self.backoff, DatabaseName=self.database, **kwargs)

    def _get_table(self, name: str) -> dict[str, Any] | None:
        try:
            return self._glue(
                "get_table",
                f"reading the Glue definition of {name}",
                Name=name,
            )["Table"]
        except aws.NotFound:
            return None

    def _ensure_database(self) -> None:
        glue = self._client("glue")
        try:
            call(glue.get_database, f"reading Glue database {self.database}", self.backoff, Name=self.database)
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
            "StorageDescriptor": {"Columns": columns, "Location": location, **PARQUET_SERDE},
            "PartitionKeys": partition_keys or [],
        }

    def _put_table(self, table_input: dict[str, Any], existing: dict[str, Any] | None) -> None:
        name = table_input["Name"]
        if existing is None:
            self._glue(
                "create_table",
                f"registering table {name} in Glue",
                TableInput=table_input,
            )
        elif [k["Name"] for k in existing.get("PartitionKeys", [])] != [
            k["Name"] for k in table_input.get("PartitionKeys", [])
        ]:
            # Glue cannot change how a table is partitioned in place.
            self._glue(
                "delete_table",
                f"replacing table {name} in Glue",
                Name=name,
            )
            self._glue(
                "create_table",
                f"registering table {name} in Glue",
                TableInput=table_input,
            )
        else:
            self._glue(
                "update_table",
                f"switching table {name} to its new data in Glue",
                TableInput=table_input,
                SkipArchive=True,
            )

    def _restore_table(self, name: str, previous: dict[str, Any] | None) -> None:
        """Undo a switch (best effort): the previous definition back, or no table if there was none."""
        try:
            if previous is None:
                self._glue(
                    "delete_table",
                    f"undoing table {name}",
                    Name=name,
                )
            else:
                self._put_table({k: previous[k] for k in _TABLE_INPUT_KEYS if k in previous}, self._get_table(name))
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
            page = call(s3.list_objects_v2, f"listing s3://{self.bucket}/{key_prefix}", self.backoff, **kwargs)
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
        """Changes whenever churn writes: the ETag of a marker object every write replaces."""
        try:
            head = call(
                self._client("s3").head_object,
                "reading the data version",
                Backoff(attempts=1),
                Bucket=self.bucket,
                Key=self._key("_churn", "data_version"),
            )
            return str(head.get("ETag", "")).strip('"')[:12] or "0"
        except aws.NotFound:
            return "0"  # nothing written through churn yet
        except WarehouseError:  # unreadable: reuse results for a minute at most
            return f"t{int(time.time() // 60)}"

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
        version = new_version()
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

    def _switch(self, changes: list[tuple[str, dict[str, Any], dict[str, Any] | None]], uploaded: list[str]) -> None:
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

    def write_partition(self, name: str, df: pd.DataFrame, column: str, value: Any, keep: int | None = None) -> None:
        self.write_partitions({name: df}, column, value, keep)

    def write_partitions(
        self, frames: Mapping[str, pd.DataFrame], column: str, value: Any, keep: int | None = None
    ) -> None:
        """Upload every table's partition first, then switch them in the order given (a failure puts back the
        ones switched), then drop partitions beyond `keep`."""
        self._writable(f"writing {', '.join(frames)}")
        self._ensure_database()
        column = _ident(column)
        version = new_version()
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

    def _stage_partition(self, name: str, df: pd.DataFrame, column: str, value: Any, version: str) -> dict[str, Any]:
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
                raise WarehouseError(f"{name}: rows for {column} = {text} include other values ({sorted(others)[0]})")
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
            "StorageDescriptor": {"Columns": columns, "Location": self._url(key_prefix), **PARQUET_SERDE},
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
            return self._glue(
                "get_partition",
                f"reading partition {text} of {name}",
                TableName=name,
                PartitionValues=[text],
            )["Partition"]
        except aws.NotFound:
            return None

    def _switch_partition(self, plan: dict[str, Any]) -> None:
        name, text = plan["name"], plan["text"]
        if plan["table_input"] is not None:
            self._put_table(plan["table_input"], plan["existing"])
        if plan["previous_partition"] is not None:
            self._glue(
                "update_partition",
                f"switching partition {text} of {name} to its new data",
                TableName=name,
                PartitionValueList=[text],
                PartitionInput=plan["partition"],
            )
            return
        result = self._glue(
            "batch_create_partition",
            f"registering partition {text} of {name}",
            TableName=name,
            PartitionInputList=[plan["partition"]],
        )
        for error in result.get("Errors", []):
            detail = error.get("ErrorDetail", {})
            if detail.get("ErrorCode") == "AlreadyExistsException":  # another writer registered it meanwhile
                self._glue(
                    "update_partition",
                    f"switching partition {text} of {name}",
                    TableName=name,
                    PartitionValueList=[text],
                    PartitionInput=plan["partition"],
                )
            else:
                raise WarehouseError(f"registering partition {text} of {name}: {detail.get('ErrorMessage')}")

    def _undo_partition(self, plan: dict[str, Any]) -> None:
        name, text = plan["name"], plan["text"]
        try:
            previous = plan["previous_partition"]
            if previous is None:
                self._glue(
                    "delete_partition",
                    f"undoing partition {text} of {name}",
                    TableName=name,
                    PartitionValues=[text],
                )
            else:
                restored = {k: previous[k] for k in ("Values", "StorageDescriptor", "Parameters") if k in previous}
                self._glue(
                    "update_partition",
                    f"undoing partition {text} of {name}",
                    TableName=name,
                    PartitionValueList=[text],
                    PartitionInput=restored,
                )
        except WarehouseError as exc:
            log.error("could not undo partition %s of %s: %s", text, name, exc)
        if plan["table_input"] is not None:
            self._restore_table(name, plan["existing"])

    def _keep_newest(self, name: str, key_type: str, keep: int) -> None:
        """Drop all but the newest `keep` partitions of `name`: from Glue, then their files."""
        glue, found, token = self._client("glue"), {}, None
        while True:
            kwargs: dict[str, Any] = {"DatabaseName": self.database, "TableName": name}
            if token:
                kwargs["NextToken"] = token
            page = call(glue.get_partitions, f"listing the partitions of {name}", self.backoff, **kwargs)
            found.update({p["Values"][0]: p["StorageDescriptor"]["Location"] for p in page.get("Partitions", [])})
            token = page.get("NextToken")
            if not token:
                break
        numeric = key_type in ("tinyint", "smallint", "int", "integer", "bigint")
        ordered = sorted(found, key=(lambda v: int(v)) if numeric else str, reverse=True)
        old = ordered[max(keep, 0) :]
        for start in range(0, len(old), 25):
            batch = old[start : start + 25]
            self._glue(
                "batch_delete_partition",
                f"dropping old partitions of {name}",
                TableName=name,
                PartitionsToDelete=[{"Values": [v]} for v in batch],
            )
            for value in batch:
                bucket, key = aws.split_s3(found[value])
                folder = key.rstrip("/").rsplit("/", 1)[0]  # <table>/<column>=<value>, above its versions
                if bucket == self.bucket and folder.startswith(self._key(name) + "/"):
                    self._delete_prefix(folder)

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
        version = new_version()
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
        objects = self._list(key_prefix.rstrip("/") + "/")[0]
        if len(objects) > self.compact_after:
            self._compact(name, columns, location, objects)

    def _compact(self, name: str, columns: list[dict[str, str]], location: str, objects: list[str]) -> None:
        """Rewrite an appended-to table's many small files as one new version (Athena slows down with
        thousands of small files); appends that land meanwhile are copied over after the switch."""
        s3, frames = self._client("s3"), []
        for key in objects:
            body = call(s3.get_object, f"reading {name} to compact it", self.backoff, Bucket=self.bucket, Key=key)
            frames.append(pq.read_table(io.BytesIO(body["Body"].read())))
        merged = pa.concat_tables(frames, promote_options="permissive").to_pandas()
        table = to_arrow(merged, name, {c["Name"]: c["Type"] for c in columns})
        version = new_version()
        key_prefix = self._key(name, version)
        keys = self._upload(name, table, key_prefix)
        previous = self._get_table(name)
        self._switch([(name, self._table_input(name, columns, self._url(key_prefix), version), previous)], keys)
        late = sorted(set(self._list(aws.split_s3(location)[1].rstrip("/") + "/")[0]) - set(objects))
        for key in late:
            call(
                s3.copy_object,
                f"carrying an append to {name} over",
                self.backoff,
                Bucket=self.bucket,
                Key=f"{key_prefix}/{key.rsplit('/', 1)[1]}",
                CopySource={"Bucket": self.bucket, "Key": key},
            )
        self._bump_data_version()
        self._prune_versions(self._key(name), version)
        log.info("compacted %s: %d files into one", name, len(objects))


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
    """The Glue name of a data-model type (INTEGER -> int)."""
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
