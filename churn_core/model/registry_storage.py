"""Where the model registry's files live: a local folder, or S3 with the same layout and guarantees.

Keys are '/'-separated paths under the registry root (`v0001/model.ubj`, `champion.json`, ...). A version is
published all or nothing and a single object is replaced atomically, so readers never see half a version or a
half-written alias. The registry (churn_core/model/registry.py) checks every file against its manifest on
load, whatever the storage, so a changed object fails with a clear error.

Locally a version is written to a staging folder and renamed into place. S3 has no folder rename, so there a
version is published in three steps: a claim on its name (a conditional put that only one writer can win), the
files, then a `.published/<name>` marker. Listings show a version only once its marker exists; a claim left by
a killed training expires after an hour and the name can be taken again. With the Athena backend the registry
lives under `<athena_s3_data_prefix>/models/`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from churn_core.model.registry_files import RegistryError
from churn_core.settings import Settings
from churn_core.warehouse.aws import AwsClients, Conflict, NotFound, split_s3
from churn_core.warehouse.base import WarehouseError

STAGING, PUBLISHED = ".staging", ".published"
STALE_STAGING_SECONDS = 3600  # a staging folder or claim this old was left by a training that died


class Storage(ABC):
    """Where registry files live. Keys are '/'-separated paths relative to the registry root."""

    @abstractmethod
    def read_bytes(self, key: str) -> bytes:
        """The object's bytes; FileNotFoundError when absent."""

    @abstractmethod
    def write_bytes(self, key: str, data: bytes) -> None:
        """Replace one object atomically: readers see the old or the new bytes, never a mix."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Names directly under `prefix` (files and folders), sorted."""

    @abstractmethod
    def publish(self, prefix: str, files: Mapping[str, bytes]) -> None:
        """Create folder `prefix` holding `files`, all or nothing; FileExistsError when it exists."""

    def exists(self, key: str) -> bool:
        try:
            self.read_bytes(key)
        except FileNotFoundError:
            return False
        return True


class LocalStorage(Storage):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        parts = [p for p in key.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise RegistryError(f"invalid registry key {key!r}")
        return self.root.joinpath(*parts)

    def read_bytes(self, key: str) -> bytes:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(str(path))
        return path.read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def write_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def list(self, prefix: str = "") -> list[str]:
        path = self._path(prefix)
        return sorted(p.name for p in path.iterdir()) if path.is_dir() else []

    def publish(self, prefix: str, files: Mapping[str, bytes]) -> None:
        target = self._path(prefix)
        if target.exists():
            raise FileExistsError(str(target))
        staging_root = self.root / STAGING
        staging_root.mkdir(parents=True, exist_ok=True)
        self._clean_staging(staging_root)
        staging = staging_root / f"{target.name}-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            for name, data in files.items():
                with open(staging / name, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(staging, target)  # atomic; fails if another writer took the name first
            except OSError:
                raise FileExistsError(str(target)) from None
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    @staticmethod
    def _clean_staging(staging_root: Path) -> None:
        """Remove what killed trainings left behind long ago (never a version: those are renamed out)."""
        now = time.time()
        for leftover in staging_root.iterdir():
            try:
                if now - leftover.stat().st_mtime > STALE_STAGING_SECONDS:
                    shutil.rmtree(leftover, ignore_errors=True)
            except OSError:
                continue


class S3Storage(Storage):
    """Registry files under s3://bucket/root/."""

    def __init__(self, url: str, aws: AwsClients) -> None:
        self.bucket, root = split_s3(url)
        self.root = root.strip("/")
        self.aws = aws

    @classmethod
    def for_registry(cls, settings: Settings, subpath: str = "") -> S3Storage:
        """The registry's storage with the Athena backend: `<athena_s3_data_prefix>/models/<subpath>`."""
        if not settings.athena_s3_data_prefix:
            raise WarehouseError(
                "the Athena backend keeps models on S3: set CHURN_ATHENA_S3_DATA_PREFIX to s3://bucket/prefix"
            )
        base = settings.athena_s3_data_prefix.rstrip("/")
        parts = [p for p in subpath.split("/") if p not in ("", ".")]
        return cls("/".join([base, "models", *parts]), AwsClients.for_settings(settings))

    def _s3(self, action: str, what: str, **kwargs: Any) -> Any:
        return self.aws.call("s3", action, what, Bucket=self.bucket, **kwargs)

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
            return self._s3("get_object", f"reading {self._where(full)}", Key=full)["Body"].read()
        except NotFound:
            raise FileNotFoundError(self._where(full)) from None

    def exists(self, key: str) -> bool:
        full = self._key(key)
        try:
            self._s3("head_object", f"checking {self._where(full)}", Key=full)
            return True
        except NotFound:
            return self._published(key)

    def write_bytes(self, key: str, data: bytes) -> None:
        full = self._key(key)
        self._s3("put_object", f"writing {self._where(full)}", Key=full, Body=data)

    def list(self, prefix: str = "") -> list[str]:
        base = self._key(prefix)
        files, folders = self._listing(f"{base}/" if base else "")
        if not base:
            folders = [f for f in folders if f not in (STAGING, PUBLISHED)]
        published = set(self._listing(self._marker(prefix) + "/")[0])
        return sorted([*files, *(f for f in folders if f in published)])

    def _listing(self, prefix: str) -> tuple[list[str], list[str]]:
        """(object names, folder names) directly under a key prefix."""
        keys, prefixes = self.aws.listing(self.bucket, prefix, folders=True)
        files = [k[len(prefix) :] for k in keys]
        return [f for f in files if f], [p[len(prefix) :].rstrip("/") for p in prefixes]

    def _marker(self, prefix: str) -> str:
        parts = [p for p in prefix.split("/") if p]
        return "/".join([*([self.root] if self.root else []), PUBLISHED, *parts])

    def _published(self, prefix: str) -> bool:
        try:
            self._s3("head_object", "checking a registry version", Key=self._marker(prefix))
            return True
        except NotFound:
            return False

    def publish(self, prefix: str, files: Mapping[str, bytes]) -> None:
        folder = self._key(prefix)
        if not folder or any("/" in name for name in files):
            raise RegistryError(f"invalid registry version {prefix!r}")
        claim = "/".join([*([self.root] if self.root else []), STAGING, f"{prefix.strip('/')}.claim"])
        self._claim(claim)
        uploaded: list[str] = []
        try:
            if self._published(prefix):
                raise FileExistsError(self._where(folder))
            self._delete([f"{folder}/{name}" for name in self._listing(f"{folder}/")[0]])  # a dead attempt's
            for name, data in files.items():
                key = f"{folder}/{name}"
                self._s3("put_object", f"writing {self._where(key)}", Key=key, Body=data)
                uploaded.append(key)
            try:
                marker = self._marker(prefix)
                self._s3("put_object", f"publishing {self._where(folder)}", Key=marker, Body=b"", IfNoneMatch="*")
            except Conflict:
                raise FileExistsError(self._where(folder)) from None
            uploaded.clear()
        finally:
            self._delete(uploaded)
            self._delete([claim])

    def _claim(self, claim: str) -> None:
        """Win the right to publish under `claim`, or FileExistsError while another writer holds it."""
        body = json.dumps({"claimed_at": dt.datetime.now(dt.UTC).isoformat()}).encode()
        for _ in range(2):  # a second time only after taking over a stale claim or seeing it released
            try:
                self._s3("put_object", f"claiming {self._where(claim)}", Key=claim, Body=body, IfNoneMatch="*")
                return
            except Conflict:
                try:
                    head = self._s3("head_object", "checking a claim", Key=claim)
                except NotFound:
                    continue  # released meanwhile: try again
                age = dt.datetime.now(dt.UTC) - head["LastModified"]
                if age.total_seconds() <= STALE_STAGING_SECONDS:
                    raise FileExistsError(self._where(claim)) from None
                self._delete([claim])  # left by a training that died an hour ago or more
        raise FileExistsError(self._where(claim))

    def _delete(self, keys: list[str]) -> None:
        self.aws.delete_keys(self.bucket, keys, "removing unpublished registry files")
