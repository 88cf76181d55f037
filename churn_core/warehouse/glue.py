"""The Glue catalogue of the Athena warehouse: which tables and partitions exist, and where their data lives.

Definitions are Glue's own request shapes (TableInput, PartitionInput): Parquet files under an S3 location.
Pointing a table or partition at a new location is the one step that switches readers to new data
(churn_core/warehouse/athena_writes.py); each switch here has an undo that puts the previous definition back.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from churn_core.warehouse.aws import AwsClients, NotFound
from churn_core.warehouse.base import WarehouseError

log = logging.getLogger("churn_core.warehouse.athena")

Definition = dict[str, Any]  # a Glue Table or Partition, as Glue returns it
Columns = list[dict[str, str]]  # Glue columns: [{"Name": ..., "Type": ...}]

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
_PARTITION_INPUT_KEYS = ("Values", "StorageDescriptor", "Parameters")
_INTEGER_TYPES = ("tinyint", "smallint", "int", "integer", "bigint")
PARTITIONS_PER_DELETE = 25  # Glue's limit for BatchDeletePartition


def table_input(
    name: str, columns: Columns, location: str, version: str, partition_keys: Columns | None = None
) -> Definition:
    """The Glue definition of an external Parquet table at `location`."""
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


def partition_input(value: str, columns: Columns, location: str, version: str) -> Definition:
    """The Glue definition of one partition (value `value`) whose Parquet files are at `location`."""
    return {
        "Values": [value],
        "StorageDescriptor": {"Columns": columns, "Location": location, **PARQUET_SERDE},
        "Parameters": {"churn_version": version},
    }


def partition_keys(table: Definition | None) -> list[str]:
    return [k["Name"] for k in (table or {}).get("PartitionKeys", [])]


def columns_of(table: Definition | None) -> Columns:
    """A table's columns as name and type only (what a new definition repeats)."""
    columns = (table or {}).get("StorageDescriptor", {}).get("Columns", [])
    return [{"Name": c["Name"], "Type": c["Type"]} for c in columns]


class GlueCatalog:
    """Tables and partitions of one Glue database; every call retried and its errors made plain."""

    def __init__(self, aws: AwsClients, database: str) -> None:
        self.aws = aws
        self.database = database

    def _glue(self, action: str, what: str, **kwargs: Any) -> Any:
        return self.aws.call("glue", action, what, DatabaseName=self.database, **kwargs)

    # --- tables -----------------------------------------------------------------------------------

    def tables(self) -> list[str]:
        return sorted(t["Name"] for t in self._all_tables() if TMP not in t["Name"])

    def temporary_tables(self, name: str) -> list[Definition]:
        """The temporary tables of builds of `name` (`<name>__tmp_<id>`) that are still registered."""
        return [t for t in self._all_tables() if t["Name"].startswith(f"{name}{TMP}")]

    def _all_tables(self) -> list[Definition]:
        what = f"listing the tables of Glue database {self.database}"
        try:
            pages = list(self.aws.pages("glue", "get_tables", what, DatabaseName=self.database))
        except NotFound:
            return []
        return [t for page in pages for t in page.get("TableList", [])]

    def get_table(self, name: str) -> Definition | None:
        try:
            return self._glue("get_table", f"reading the Glue definition of {name}", Name=name)["Table"]
        except NotFound:
            return None

    def ensure_database(self) -> None:
        try:
            self.aws.call("glue", "get_database", f"reading Glue database {self.database}", Name=self.database)
        except NotFound:
            self.aws.call(
                "glue",
                "create_database",
                f"creating Glue database {self.database}",
                DatabaseInput={"Name": self.database, "Description": "Churn Prediction Unleashed warehouse"},
            )

    def put_table(self, definition: Definition, existing: Definition | None) -> None:
        """Create the table, or switch the existing one to `definition`."""
        name = definition["Name"]
        if existing is not None and partition_keys(existing) != partition_keys(definition):
            # Glue cannot change how a table is partitioned in place.
            self._glue("delete_table", f"replacing table {name} in Glue", Name=name)
            existing = None
        if existing is None:
            self._glue("create_table", f"registering table {name} in Glue", TableInput=definition)
        else:
            self._glue(
                "update_table",
                f"switching table {name} to its new data in Glue",
                TableInput=definition,
                SkipArchive=True,
            )

    def restore_table(self, name: str, previous: Definition | None) -> None:
        """Undo a switch (best effort): the previous definition back, or no table if there was none."""
        try:
            if previous is None:
                self._glue("delete_table", f"undoing table {name}", Name=name)
            else:
                self.put_table({k: previous[k] for k in _TABLE_INPUT_KEYS if k in previous}, self.get_table(name))
        except WarehouseError as exc:
            log.error("could not undo the switch of %s: %s", name, exc)

    def drop_table(self, name: str) -> None:
        """Remove a (temporary) table from the catalogue, best effort; its data stays where it is."""
        try:
            self._glue("delete_table", f"dropping temporary table {name}", Name=name)
        except NotFound:
            pass
        except WarehouseError as exc:
            log.warning("%s", exc)

    # --- partitions -------------------------------------------------------------------------------

    def get_partition(self, name: str, value: str) -> Definition | None:
        try:
            return self._glue(
                "get_partition", f"reading partition {value} of {name}", TableName=name, PartitionValues=[value]
            )["Partition"]
        except NotFound:
            return None

    def put_partition(self, name: str, definition: Definition, previous: Definition | None) -> None:
        """Register the partition, or switch the existing one to `definition`."""
        value = definition["Values"][0]
        if previous is None:
            result = self._glue(
                "batch_create_partition",
                f"registering partition {value} of {name}",
                TableName=name,
                PartitionInputList=[definition],
            )
            errors = [e.get("ErrorDetail", {}) for e in result.get("Errors", [])]
            if not errors:
                return
            if errors[0].get("ErrorCode") != "AlreadyExistsException":  # else another writer registered it
                raise WarehouseError(f"registering partition {value} of {name}: {errors[0].get('ErrorMessage')}")
        self._update_partition(name, definition, f"switching partition {value} of {name} to its new data")

    def _update_partition(self, name: str, definition: Definition, what: str) -> None:
        self._glue(
            "update_partition",
            what,
            TableName=name,
            PartitionValueList=definition["Values"],
            PartitionInput=definition,
        )

    def restore_partition(self, name: str, value: str, previous: Definition | None) -> None:
        """Undo a partition switch (best effort): the previous definition back, or no partition."""
        try:
            if previous is None:
                self._glue(
                    "delete_partition", f"undoing partition {value} of {name}", TableName=name, PartitionValues=[value]
                )
            else:
                restored = {k: previous[k] for k in _PARTITION_INPUT_KEYS if k in previous}
                self._update_partition(name, restored, f"undoing partition {value} of {name}")
        except WarehouseError as exc:
            log.error("could not undo partition %s of %s: %s", value, name, exc)

    def partition_locations(self, name: str) -> dict[str, str]:
        """{partition value: S3 location} of every partition of `name`."""
        pages = self.aws.pages(
            "glue", "get_partitions", f"listing the partitions of {name}", DatabaseName=self.database, TableName=name
        )
        return {
            p["Values"][0]: p["StorageDescriptor"]["Location"] for page in pages for p in page.get("Partitions", [])
        }

    def drop_partitions(self, name: str, values: Sequence[str]) -> None:
        for start in range(0, len(values), PARTITIONS_PER_DELETE):
            self._glue(
                "batch_delete_partition",
                f"dropping old partitions of {name}",
                TableName=name,
                PartitionsToDelete=[{"Values": [v]} for v in values[start : start + PARTITIONS_PER_DELETE]],
            )


# --- partition values ----------------------------------------------------------------------------------


def newest_first(values: Sequence[str], key_type: str) -> list[str]:
    """Partition values from the newest: numerically for integer keys, as text otherwise (dates sort so)."""
    numeric = key_type in _INTEGER_TYPES
    return sorted(values, key=(lambda v: int(v)) if numeric else str, reverse=True)


def partition_value(value: Any, key_type: str) -> str:
    """The Glue partition value text of `value` for a partition key of `key_type`."""
    if isinstance(value, np.generic):
        value = value.item()
    try:
        if key_type == "date":
            return pd.Timestamp(value).date().isoformat()
        if key_type == "timestamp":
            return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")
        if key_type in _INTEGER_TYPES:
            return str(int(value))
    except (TypeError, ValueError) as exc:
        raise WarehouseError(f"partition value {value!r} is not a {key_type} ({exc})") from None
    text = str(value)
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,100}", text):
        raise WarehouseError(f"partition value {text!r} must be short plain text (letters, digits, _ . -)")
    return text


def value_type(value: Any) -> str:
    """The Glue type of a partition key known only from its value."""
    if isinstance(value, dt.datetime | pd.Timestamp):
        return "timestamp"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return "bigint"
    return "string"
