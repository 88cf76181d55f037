"""The Athena warehouse's objects on S3: one folder per version of a table or partition, and data versions.

Every write uploads to a new folder (`<prefix>/<table>/v=<time>-<id>/`, or `<prefix>/<table>/<column>=<value>/
v=.../` for a partition) before the Glue catalogue is switched to it, so readers never see half a table. The
folder of the version before is kept for queries still reading it; older ones are deleted.

Data versions: each table has a marker object (`<prefix>/_churn/versions/<table>`) that every write of that
table replaces, and only that table's. A read query carries the versions of the tables it reads, so a reused
Athena result is never older than its data, and a write to one table (an audit row) leaves the text of queries
on the others, and so their reuse, alone. One listing reads every marker; a marker is written whole, so two
writers of different tables never race.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import uuid
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from churn_core.warehouse.athena_types import parquet_bytes
from churn_core.warehouse.aws import AwsClients
from churn_core.warehouse.base import WarehouseError

log = logging.getLogger("churn_core.warehouse.athena")

VERSIONS_KEPT = 2  # the current version of a table or partition, and the one before
VERSIONS = ("_churn", "versions")  # the folder of the data-version markers, one per table


def new_version() -> str:
    """A new version folder name; names sort by creation time."""
    now = dt.datetime.now(dt.UTC)
    return f"v={now:%Y%m%dT%H%M%S%f}Z-{uuid.uuid4().hex[:8]}"


class S3Objects:
    """Keys under the data prefix, Parquet uploads, listings and clean-up in one bucket."""

    rows_per_file: int = 1_000_000

    def __init__(self, aws: AwsClients, bucket: str, prefix: str) -> None:
        self.aws = aws
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def key(self, *parts: str) -> str:
        """`<prefix>/<part>/...`, the key prefix of a table, partition or version folder."""
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key.rstrip('/')}/"

    def upload(self, name: str, table: pa.Table, folder: str, stem: str = "part") -> list[str]:
        """Parquet files of `table` under `folder`; on failure, the ones written are removed again."""
        keys: list[str] = []
        try:
            for i, start in enumerate(range(0, max(table.num_rows, 1), self.rows_per_file)):
                key = f"{folder.rstrip('/')}/{stem}-{i:05d}.parquet"
                body = parquet_bytes(table.slice(start, self.rows_per_file))
                self.aws.call(
                    "s3",
                    "put_object",
                    f"uploading {name} to s3://{self.bucket}/{key}",
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                )
                keys.append(key)
        except WarehouseError:
            self.delete(keys)
            raise
        return keys

    def read_parquet(self, key: str, what: str) -> pa.Table:
        body = self.aws.call("s3", "get_object", what, Bucket=self.bucket, Key=key)["Body"].read()
        return pq.read_table(io.BytesIO(body))

    def copy(self, source: str, target: str, what: str) -> None:
        copy_from = {"Bucket": self.bucket, "Key": source}
        self.aws.call("s3", "copy_object", what, Bucket=self.bucket, Key=target, CopySource=copy_from)

    def delete(self, keys: list[str]) -> None:
        """Delete objects, best effort (a failure leaves clutter, never wrong data)."""
        self.aws.delete_keys(self.bucket, keys, f"deleting {len(keys)} old objects")

    def keys_under(self, folder: str) -> list[str]:
        return self.aws.listing(self.bucket, folder.rstrip("/") + "/")[0]

    def delete_folder(self, folder: str) -> None:
        self.delete(self.keys_under(folder))

    def prune_versions(self, folder: str, current: str) -> None:
        """Delete the version folders under `folder` but the newest VERSIONS_KEPT and `current`."""
        try:
            _, prefixes = self.aws.listing(self.bucket, folder.rstrip("/") + "/", folders=True)
        except WarehouseError as exc:
            log.warning("%s", exc)
            return
        versions = sorted(p for p in prefixes if p.rstrip("/").rsplit("/", 1)[-1].startswith("v="))
        for old in versions[:-VERSIONS_KEPT]:
            if current not in old:
                self.delete_folder(old)

    def table_versions(self) -> dict[str, str] | None:
        """{table: version} of every table churn has written (the ETags of their markers, one listing);
        None when S3 cannot be read."""
        folder = self.key(*VERSIONS) + "/"
        try:
            pages = self.aws.pages(
                "s3", "list_objects_v2", "reading the tables' data versions", Bucket=self.bucket, Prefix=folder
            )
            return {
                o["Key"][len(folder) :]: o["ETag"].strip('"')[:12] for page in pages for o in page.get("Contents", [])
            }
        except WarehouseError as exc:
            log.warning("%s", exc)
            return None

    def bump_versions(self, tables: Iterable[str], reuse_minutes: int) -> None:
        """A new data version for each of `tables` (and no other)."""
        for table in sorted(set(tables)):
            try:
                self.aws.call(
                    "s3",
                    "put_object",
                    f"recording a new data version of {table}",
                    Bucket=self.bucket,
                    Key=self.key(*VERSIONS, table),
                    Body=uuid.uuid4().hex.encode(),
                )
            except WarehouseError as exc:
                log.warning("%s (reused query results may be stale for up to %d minutes)", exc, reuse_minutes)
