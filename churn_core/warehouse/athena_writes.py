"""Writes of the Athena warehouse: Parquet to a new S3 folder first, then one switch of the Glue catalogue.

A failure before the switch leaves the previous data in place, and a failure during a multi-table switch puts
back the tables or partitions already switched, so readers see the old or the new data, never half.
`AthenaWrites` is the write half of `AthenaWarehouse` (churn_core/warehouse/athena.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa

from churn_core.settings import Settings
from churn_core.warehouse.athena_types import arrow_type, declared_types, glue_columns, glue_type, to_arrow
from churn_core.warehouse.aws import split_s3
from churn_core.warehouse.base import Rows, WarehouseError, _ident, as_frame
from churn_core.warehouse.glue import (
    Columns,
    Definition,
    GlueCatalog,
    columns_of,
    newest_first,
    partition_input,
    partition_keys,
    partition_value,
    table_input,
    value_type,
)
from churn_core.warehouse.s3_objects import S3Objects, new_version

log = logging.getLogger("churn_core.warehouse.athena")


@dataclass(frozen=True)
class TableSwitch:
    """A table's new definition, its data uploaded, and the definition it replaces (None for a new table)."""

    name: str
    definition: Definition
    previous: Definition | None
    keys: tuple[str, ...] = ()  # the objects uploaded for it

    def switch(self, catalog: GlueCatalog) -> None:
        catalog.put_table(self.definition, self.previous)

    def undo(self, catalog: GlueCatalog) -> None:
        catalog.restore_table(self.name, self.previous)


@dataclass(frozen=True)
class PartitionPlan:
    """One table's new partition, its data uploaded, ready to be switched to or undone."""

    table: str
    value: str  # the partition value as Glue text
    key_type: str  # the Glue type of the partition key
    folder: str  # <prefix>/<table>/<column>=<value>, above the partition's version folders
    keys: tuple[str, ...]  # the objects uploaded
    definition: Definition  # the new Glue partition
    previous: Definition | None  # the partition it replaces
    table_switch: TableSwitch | None  # switched first: a new table, or new columns

    def switch(self, catalog: GlueCatalog) -> None:
        if self.table_switch is not None:
            self.table_switch.switch(catalog)
        catalog.put_partition(self.table, self.definition, self.previous)

    def undo(self, catalog: GlueCatalog) -> None:
        catalog.restore_partition(self.table, self.value, self.previous)
        if self.table_switch is not None:
            self.table_switch.undo(catalog)


Staged = TypeVar("Staged", TableSwitch, PartitionPlan)


class AthenaWrites:
    """Whole tables, partitions and appends (a mixin: AthenaWarehouse supplies the catalogue and the objects)."""

    settings: Settings
    read_only: bool
    catalog: GlueCatalog
    objects: S3Objects
    compact_after: int = 200  # files an appended-to table may have before they are merged into one

    def _writable(self, what: str) -> None:
        if self.read_only:
            raise WarehouseError(f"{what}: this warehouse handle is read-only")

    def _bump_versions(self, tables: Iterable[str]) -> None:
        """New data versions for the tables written (read queries on others keep their text, and reuse)."""
        self.objects.bump_versions(tables, self.settings.athena_result_reuse_minutes)

    def _stage_all(
        self, frames: Mapping[str, pd.DataFrame], stage: Callable[[str, pd.DataFrame], Staged]
    ) -> list[Staged]:
        """Upload every frame's data; if one upload fails, remove what the others uploaded."""
        staged: list[Staged] = []
        try:
            for name, df in frames.items():
                staged.append(stage(_ident(name), df))
        except WarehouseError:
            self.objects.delete([key for item in staged for key in item.keys])
            raise
        return staged

    def _switch_all(self, staged: Sequence[TableSwitch | PartitionPlan]) -> None:
        """Switch the catalogue to each staged write in the order given; if one switch fails, undo the ones
        done (newest first) and remove every upload."""
        done: list[TableSwitch | PartitionPlan] = []
        try:
            for item in staged:
                item.switch(self.catalog)
                done.append(item)
        except WarehouseError:
            for item in reversed(done):
                item.undo(self.catalog)
            self.objects.delete([key for item in staged for key in item.keys])
            raise

    # --- whole tables -----------------------------------------------------------------------------

    def write_tables(self, frames: dict[str, pd.DataFrame]) -> None:
        self._writable(f"writing {', '.join(frames)}")
        self.catalog.ensure_database()
        version = new_version()
        switches = self._stage_all(frames, lambda name, df: self._stage_table(name, df, version))
        self._switch_all(switches)
        self._bump_versions(frames)
        for switch in switches:
            self.objects.prune_versions(self.objects.key(switch.name), version)

    def _stage_table(self, name: str, df: pd.DataFrame, version: str) -> TableSwitch:
        table = to_arrow(df, name, declared_types(name))
        folder = self.objects.key(name, version)
        keys = self.objects.upload(name, table, folder)
        definition = table_input(name, glue_columns(table.schema), self.objects.url(folder), version)
        return TableSwitch(name, definition, self.catalog.get_table(name), tuple(keys))

    # --- partitions -------------------------------------------------------------------------------

    def write_partition(self, name: str, df: pd.DataFrame, column: str, value: Any, keep: int | None = None) -> None:
        self.write_partitions({name: df}, column, value, keep)

    def write_partitions(self, frames: Mapping[str, Rows], column: str, value: Any, keep: int | None = None) -> None:
        """Upload every table's partition first, then switch them in the order given (a failure puts back the
        ones switched), then drop partitions beyond `keep`. A stream of record batches is read whole first."""
        self._writable(f"writing {', '.join(frames)}")
        frames = {name: as_frame(rows) for name, rows in frames.items()}
        self.catalog.ensure_database()
        column = _ident(column)
        version = new_version()
        plans = self._stage_all(frames, lambda name, df: self._stage_partition(name, df, column, value, version))
        self._switch_all(plans)
        self._bump_versions(frames)
        for plan in plans:
            self.objects.prune_versions(plan.folder, version)
            if keep is not None:
                self._keep_newest(plan.table, plan.key_type, keep)

    def _stage_partition(self, name: str, df: pd.DataFrame, column: str, value: Any, version: str) -> PartitionPlan:
        """Upload one table's rows for `column` = `value` to a new version folder of that partition."""
        existing = self.catalog.get_table(name)
        keys_now = partition_keys(existing)
        if existing is not None and keys_now not in ([column], []):
            raise WarehouseError(f"{name} is partitioned by {', '.join(keys_now)}, not {column}")
        old_columns = columns_of(existing) if keys_now else []
        types = {**declared_types(name), **_types(old_columns)}
        key_type = (
            existing["PartitionKeys"][0]["Type"] if existing and keys_now else _key_type(df, column, value, types)
        )
        text = partition_value(value, key_type)
        _check_rows(name, df, column, text, key_type)
        table = to_arrow(df.drop(columns=[column], errors="ignore"), name, types)
        columns = _extended(old_columns, table)
        table_switch = None
        if not keys_now or len(columns) != len(old_columns):
            location = self.objects.url(self.objects.key(name))
            definition = table_input(name, columns, location, version, [{"Name": column, "Type": key_type}])
            table_switch = TableSwitch(name, definition, existing)
        previous = self.catalog.get_partition(name, text) if keys_now else None
        folder = self.objects.key(name, f"{column}={text}")
        keys = self.objects.upload(name, table, f"{folder}/{version}")
        definition = partition_input(text, columns, self.objects.url(f"{folder}/{version}"), version)
        return PartitionPlan(name, text, key_type, folder, tuple(keys), definition, previous, table_switch)

    def _keep_newest(self, name: str, key_type: str, keep: int) -> None:
        """Drop all but the newest `keep` partitions of `name`: from Glue, then their files."""
        locations = self.catalog.partition_locations(name)
        old = newest_first(list(locations), key_type)[max(keep, 0) :]
        self.catalog.drop_partitions(name, old)
        for value in old:
            bucket, key = split_s3(locations[value])
            folder = key.rstrip("/").rsplit("/", 1)[0]  # <table>/<column>=<value>, above its versions
            if bucket == self.objects.bucket and folder.startswith(self.objects.key(name) + "/"):
                self.objects.delete_folder(folder)

    # --- appends ----------------------------------------------------------------------------------

    def append(self, name: str, df: pd.DataFrame) -> None:
        self._writable(f"appending to {name}")
        self.catalog.ensure_database()
        name = _ident(name)
        existing = self.catalog.get_table(name)
        if partition_keys(existing):
            raise WarehouseError(f"{name} is partitioned; write it with write_partition, not append")
        old_columns = columns_of(existing)
        table = to_arrow(df, name, {**declared_types(name), **_types(old_columns)})
        columns = _extended(old_columns, table)
        version = new_version()
        if existing is None:
            location = self.objects.url(self.objects.key(name, version))
        else:
            location = existing["StorageDescriptor"]["Location"]
        bucket, folder = split_s3(location)
        if bucket != self.objects.bucket:
            raise WarehouseError(f"{name} lives in s3://{bucket}, outside CHURN_ATHENA_S3_DATA_PREFIX")
        keys = self.objects.upload(name, table, folder, stem=f"append-{version[2:]}")
        if existing is None or len(columns) != len(old_columns):
            try:
                self.catalog.put_table(table_input(name, columns, location, version), existing)
            except WarehouseError:
                self.objects.delete(keys)
                raise
        self._bump_versions([name])
        files = self.objects.keys_under(folder)
        if len(files) > self.compact_after:
            self._compact(name, columns, folder, files)

    def _compact(self, name: str, columns: Columns, folder: str, files: list[str]) -> None:
        """Rewrite an appended-to table's many small files as one new version (Athena slows down with
        thousands of small files); appends that land meanwhile are copied over after the switch."""
        frames = [self.objects.read_parquet(key, f"reading {name} to compact it") for key in files]
        merged = pa.concat_tables(frames, promote_options="permissive").to_pandas()
        table = to_arrow(merged, name, _types(columns))
        version = new_version()
        new_folder = self.objects.key(name, version)
        keys = self.objects.upload(name, table, new_folder)
        definition = table_input(name, columns, self.objects.url(new_folder), version)
        self._switch_all([TableSwitch(name, definition, self.catalog.get_table(name), tuple(keys))])
        for key in sorted(set(self.objects.keys_under(folder)) - set(files)):
            self.objects.copy(key, f"{new_folder}/{key.rsplit('/', 1)[1]}", f"carrying an append to {name} over")
        self._bump_versions([name])
        self.objects.prune_versions(self.objects.key(name), version)
        log.info("compacted %s: %d files into one", name, len(files))


def _types(columns: Columns) -> dict[str, str]:
    return {c["Name"]: c["Type"] for c in columns}


def _extended(old_columns: Columns, table: pa.Table) -> Columns:
    """The table's columns so far, then those of `table` it does not have yet (older rows read NULL there)."""
    known = {c["Name"] for c in old_columns}
    return old_columns + [c for c in glue_columns(table.schema) if c["Name"] not in known]


def _key_type(df: pd.DataFrame, column: str, value: Any, types: Mapping[str, str]) -> str:
    """The Glue type of a new partition key: declared, else that of the frame's column, else of the value."""
    if column in types:
        return glue_type(arrow_type(types[column]))
    if column in df.columns:
        return glue_columns(to_arrow(df[[column]], "partition", {}).schema)[0]["Type"]
    return value_type(value)


def _check_rows(name: str, df: pd.DataFrame, column: str, text: str, key_type: str) -> None:
    """Every row written to a partition carries its value (or leaves the partition column out)."""
    if column in df.columns:
        others = {partition_value(v, key_type) for v in df[column].dropna().unique()} - {text}
        if others:
            raise WarehouseError(f"{name}: rows for {column} = {text} include other values ({sorted(others)[0]})")
