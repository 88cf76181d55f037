"""The model registry's files on S3, with the guarantees of the local folder (churn_core.model.registry.Storage).

Same layout as on disk, under `<athena_s3_data_prefix>/models/`: `v0001/model.ubj`, `card.json`,
`holdout.parquet`, `manifest.json`, and `champion.json`. The registry checks every file against its
manifest on load, whatever the storage, so a changed object fails with a clear error.

S3 has no folder rename, so a version is published in three steps: a claim on its name (a conditional put
that only one writer can win), the files, then a `.published/<name>` marker. Listings show a version only
once its marker exists, so readers never see half a version; a claim left by a killed training expires
after an hour and the name can be taken again. Single objects (the champion alias) are replaced by one
put, which S3 makes atomic.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Mapping
from typing import Any

from churn_core.model.registry import STALE_STAGING_SECONDS, RegistryError, Storage
from churn_core.settings import Settings
from churn_core.warehouse import aws
from churn_core.warehouse.aws import Backoff, call
from churn_core.warehouse.base import WarehouseError

STAGING, PUBLISHED = ".staging", ".published"


class S3Storage(Storage):
    """Registry files under s3://bucket/root/."""

    backoff: Backoff = Backoff()

    def __init__(self, url: str, region: str) -> None:
        self.bucket, root = aws.split_s3(url)
        self.root = root.strip("/")
        self.region = region
        self._client: Any = None
        self._lock = threading.Lock()

    @classmethod
    def for_registry(cls, settings: Settings, subpath: str = "") -> S3Storage:
        """The registry's storage with the Athena backend: `<athena_s3_data_prefix>/models/<subpath>`."""
        if not settings.athena_s3_data_prefix:
            raise WarehouseError(
                "the Athena backend keeps models on S3: set CHURN_ATHENA_S3_DATA_PREFIX to s3://bucket/prefix"
            )
        base = settings.athena_s3_data_prefix.rstrip("/")
        parts = [p for p in subpath.split("/") if p not in ("", ".")]
        return cls("/".join([base, "models", *parts]), settings.athena_region)

    def _s3(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = aws.new_session(self.region).client("s3", config=aws.client_config())
            return self._client

    def _key(self, key: str) -> str:
        parts = [p for p in key.split("/") if p]
        if any(p in (".", "..") for p in parts) or (parts and parts[0] in (STAGING, PUBLISHED)):
            raise RegistryError(f"invalid registry key {key!r}")
        return "/".join([self.root, *parts]) if self.root else "/".join(parts)

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def read_bytes(self, key: str) -> bytes:
        full = self._key(key)
        try:
            answer = call(
                self._s3().get_object,
                f"reading {self._where(full)}",
                self.backoff,
                Bucket=self.bucket,
                Key=full,
            )
        except aws.NotFound:
            raise FileNotFoundError(self._where(full)) from None
        return answer["Body"].read()

    def exists(self, key: str) -> bool:
        full = self._key(key)
        try:
            call(
                self._s3().head_object,
                f"checking {self._where(full)}",
                self.backoff,
                Bucket=self.bucket,
                Key=full,
            )
            return True
        except aws.NotFound:
            return self._published(key)

    def write_bytes(self, key: str, data: bytes) -> None:
        full = self._key(key)
        call(
            self._s3().put_object,
            f"writing {self._where(full)}",
            self.backoff,
            Bucket=self.bucket,
            Key=full,
            Body=data,
        )

    def list(self, prefix: str = "") -> list[str]:
        base = self._key(prefix)
        files, folders = self._listing(f"{base}/" if base else "")
        if not base:
            folders = [f for f in folders if f not in (STAGING, PUBLISHED)]
        published = set(self._listing(self._marker(prefix) + "/")[0])
        return sorted([*files, *(f for f in folders if f in published)])

    def _listing(self, prefix: str) -> tuple[list[str], list[str]]:
        """(object names, folder names) directly under a key prefix."""
        s3, files, folders, token = self._s3(), [], [], None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "Delimiter": "/"}
            if token:
                kwargs["ContinuationToken"] = token
            page = call(s3.list_objects_v2, f"listing {self._where(prefix)}", self.backoff, **kwargs)
            files += [o["Key"][len(prefix) :] for o in page.get("Contents", [])]
            folders += [p["Prefix"][len(prefix) :].rstrip("/") for p in page.get("CommonPrefixes", [])]
            token = page.get("NextContinuationToken")
            if not token:
                return [f for f in files if f], folders

    def _marker(self, prefix: str) -> str:
        parts = [p for p in prefix.split("/") if p]
        return "/".join([*([self.root] if self.root else []), PUBLISHED, *parts])

    def _published(self, prefix: str) -> bool:
        try:
            call(
                self._s3().head_object,
                "checking a registry version",
                self.backoff,
                Bucket=self.bucket,
                Key=self._marker(prefix),
            )
            return True
        except aws.NotFound:
            return False

    def publish(self, prefix: str, files: Mapping[str, bytes]) -> None:
        folder = self._key(prefix)
        if not folder or any("/" in name for name in files):
            raise RegistryError(f"invalid registry version {prefix!r}")
        claim = "/".join([*([self.root] if self.root else []), STAGING, f"{prefix.strip('/')}.claim"])
        self._claim(claim, prefix)
        uploaded: list[str] = []
        try:
            if self._published(prefix):
                raise FileExistsError(self._where(folder))
            self._delete([f"{folder}/{name}" for name in self._listing(f"{folder}/")[0]])  # a dead attempt's
            for name, data in files.items():
                key = f"{folder}/{name}"
                call(
                    self._s3().put_object,
                    f"writing {self._where(key)}",
                    self.backoff,
                    Bucket=self.bucket,
                    Key=key,
                    Body=data,
                )
                uploaded.append(key)
            try:
                call(
                    self._s3().put_object,
                    f"publishing {self._where(folder)}",
                    self.backoff,
                    Bucket=self.bucket,
                    Key=self._marker(prefix),
                    Body=b"",
                    IfNoneMatch="*",
                )
            except aws.Conflict:
                raise FileExistsError(self._where(folder)) from None
            uploaded.clear()
        finally:
            self._delete(uploaded)
            self._delete([claim])

    def _claim(self, claim: str, prefix: str) -> None:
        """Win the right to publish `prefix`, or FileExistsError while another writer holds it."""
        body = json.dumps({"claimed_at": dt.datetime.now(dt.UTC).isoformat()}).encode()
        for _ in range(2):
            try:
                call(
                    self._s3().put_object,
                    f"claiming {self._where(claim)}",
                    self.backoff,
                    Bucket=self.bucket,
                    Key=claim,
                    Body=body,
                    IfNoneMatch="*",
                )
                return
            except aws.Conflict:
                try:
                    head = call(
                        self._s3().head_object,
                        "checking a claim",
                        self.backoff,
                        Bucket=self.bucket,
                        Key=claim,
                    )
                except aws.NotFound:
                    continue  # released meanwhile: try again
                age = dt.datetime.now(dt.UTC) - head["LastModified"]
                if age.total_seconds() <= STALE_STAGING_SECONDS:
                    raise FileExistsError(self._where(claim)) from None
                self._delete([claim])  # left by a training that died an hour ago or more
        raise FileExistsError(self._where(claim))

    def _delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            try:
                call(
                    self._s3().delete_objects,
                    "removing unpublished registry files",
                    self.backoff,
                    Bucket=self.bucket,
                    Delete={"Objects": batch, "Quiet": True},
                )
            except WarehouseError as exc:
                aws.log.warning("%s", exc)
