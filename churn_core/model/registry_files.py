"""The model registry's files: the layout of a version, the champion alias, manifests and cards.

Layout under settings.registry_dir (models of other tables under datasets/<name>/, the same way):

    v0001/model.ubj        the booster in XGBoost's own UBJSON format (never pickle or joblib)
    v0001/card.json        the model card (churn_core.model.card.ModelCard)
    v0001/holdout.parquet  the held-out rows, to compare any two models on the same data at promotion
    v0001/manifest.json    sha256 of each file above, signed with the product's key (churn_core.signing, as
                           score sets are); written last, so a version without it is incomplete
    champion.json          the alias: which version scores, when and why it was promoted

A version is used (loaded, shown, listed as ok, promoted) only when its manifest's signature verifies and every
file matches it: anyone who can write the folder but lacks the key can neither edit a file and recompute the
sha256 nor remove the signature. Versions written before manifests were signed are refused the same way, with
the fix (re-run `churn train`; `churn demo` re-creates the demo's); nothing can re-sign a file it cannot trust.

Everything here reads and checks bytes through `Files` (a registry Storage, or a plain folder) and never
imports XGBoost, so the dashboard lists versions and shows cards without loading the model stack;
churn_core.model.registry adds the booster on top.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from churn_core import signing
from churn_core.errors import ChurnError
from churn_core.model.card import ModelCard
from churn_core.settings import Settings

VERSION = re.compile(r"^v(\d{4,})$")
DATASET = re.compile(r"^[A-Za-z0-9_-]+$")
MODEL_FILE, CARD_FILE, HOLDOUT_FILE, MANIFEST_FILE = "model.ubj", "card.json", "holdout.parquet", "manifest.json"
ALIAS_FILE = "champion.json"
MANIFEST_FORMAT = 2  # 1: unsigned (refused)
FIX = "re-run `churn train` to write a new version (`churn demo` re-creates the demo's)"
ALIAS_HISTORY = 50  # promotions remembered in the alias


class RegistryError(ChurnError):
    """A registry operation failed or was refused; nothing was changed. `refused` marks a promotion rule."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


class Files(Protocol):
    """Read access to a registry's files; keys are '/'-separated paths relative to its root."""

    def read_bytes(self, key: str) -> bytes:
        """The object's bytes; FileNotFoundError when absent."""
        ...

    def list(self, prefix: str = "") -> list[str]:
        """Names directly under `prefix` (files and folders), sorted."""
        ...


@dataclass(frozen=True)
class Folder:
    """A local registry folder, read only (writes go through churn_core.model.registry_storage)."""

    root: Path

    def read_bytes(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def list(self, prefix: str = "") -> list[str]:
        path = self.root / prefix
        return sorted(p.name for p in path.iterdir()) if path.is_dir() else []


@dataclass(frozen=True)
class ListedVersion:
    """One version as `churn models list` and the dashboard show it: its card, or why it is unusable."""

    version: str
    champion: bool
    card: ModelCard | None
    problem: str = ""

    @property
    def status(self) -> str:
        return "ok" if self.card is not None else f"unusable: {self.problem}"


def root(settings: Settings, dataset: str = "evaluators") -> Path:
    """The folder of a dataset's models: the registry itself for the evaluators, else datasets/<name>."""
    if not DATASET.match(dataset):
        raise RegistryError(f"invalid dataset name {dataset!r}")
    return settings.registry_dir if dataset == "evaluators" else settings.registry_dir / "datasets" / dataset


def versions(files: Files) -> list[str]:
    """The version folders, oldest first."""
    return sorted((n for n in files.list() if VERSION.match(n)), key=lambda n: int(n[1:]))


def next_version(existing: list[str]) -> str:
    return f"v{(int(existing[-1][1:]) + 1) if existing else 1:04d}"


def alias(files: Files) -> dict[str, Any] | None:
    """The champion alias as stored (None before the first promotion); RegistryError when damaged."""
    try:
        value = json.loads(files.read_bytes(ALIAS_FILE))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict):
        raise RegistryError(
            f"the champion alias {ALIAS_FILE} is damaged: promote a version again with `churn models promote VERSION`"
        )
    return value


def champion_version(files: Files) -> str | None:
    return str((alias(files) or {}).get("version") or "") or None


def alias_bytes(entry: Mapping[str, Any], previous: Mapping[str, Any] | None) -> bytes:
    """The new alias: `entry` (the promotion) with the history of the previous alias, newest last."""
    history = (previous or {}).get("history", [])
    history = history if isinstance(history, list) else []
    return json_bytes({**entry, "history": [*history, dict(entry)][-ALIAS_HISTORY:]})


def check_version(name: str) -> str:
    if not VERSION.match(name):
        raise RegistryError(f"{name!r} is not a version name (like v0001) or 'champion'")
    return name


def manifest_bytes(settings: Settings, version: str, files: Mapping[str, bytes]) -> bytes:
    """The manifest of a version holding `files`: the sha256 of each, when it was written, and the signature."""
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": version,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    return json_bytes({**manifest, "signature": signing.sign(settings, _signed_text(manifest))})


def _signed_text(manifest: Mapping[str, Any]) -> str:
    """What a manifest's signature covers: every field but the signature, canonically."""
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return "churn model manifest\n" + json.dumps(body, sort_keys=True, separators=(",", ":"))


def verified(files: Files, settings: Settings, version: str, names: Iterable[str]) -> dict[str, bytes]:
    """The requested files of a version, each checked against its signed manifest."""
    if version not in files.list():
        known = ", ".join(versions(files)) or "none"
        raise RegistryError(f"no model version {version} in the registry (versions: {known})")
    listed = _manifest(files, settings, version)
    out = {}
    for name in names:
        if name not in listed:
            raise RegistryError(f"model version {version} is incomplete: its manifest lists no {name}")
        try:
            data = files.read_bytes(f"{version}/{name}")
        except FileNotFoundError:
            raise RegistryError(f"model version {version} is incomplete: {name} is missing") from None
        if hashlib.sha256(data).hexdigest() != listed[name]:
            raise RegistryError(
                f"{name} of model version {version} does not match its checksum: the file "
                f"was changed or damaged after training. Restore it, or {FIX}."
            )
        out[name] = data
    return out


def _manifest(files: Files, settings: Settings, version: str) -> dict[str, str]:
    """The manifest's sha256 per file name, after checking its signature and that it describes this version."""
    try:
        manifest = json.loads(files.read_bytes(f"{version}/{MANIFEST_FILE}"))
        listed = dict(manifest["files"])
    except FileNotFoundError:
        raise RegistryError(
            f"model version {version} is incomplete (no {MANIFEST_FILE}): it was not fully "
            "written, so it cannot be used. Train again."
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError):
        raise RegistryError(
            f"the manifest of model version {version} is damaged: the version cannot be trusted. Train again."
        ) from None
    signature = manifest.get("signature")
    if not isinstance(signature, str) or not signature:
        raise RegistryError(
            f"model version {version} is unsigned (written before model manifests were signed, or its signature "
            f"was removed), so it cannot be trusted: {FIX}"
        )
    if not signing.verify(settings, _signed_text(manifest), signature):
        raise RegistryError(
            f"the manifest of model version {version} does not match its signature: its files or manifest were "
            "edited after training, or it was signed with another key (jobs, CLI and dashboard must share "
            f"CHURN_SIGNING_KEY or $CHURN_HOME/signing.key). Do not use it: {FIX}"
        )
    if manifest.get("version") != version:
        raise RegistryError(
            f"the manifest in {version} describes {manifest.get('version')!r}: the folder was copied or renamed; {FIX}"
        )
    return listed


def parse_card(data: bytes, version: str) -> ModelCard:
    """A verified card.json of `version` as a record."""
    try:
        raw = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raw = None
    if not isinstance(raw, dict):
        raise RegistryError(f"the card of model version {version} is not a JSON object. Train again.")
    card = ModelCard.from_dict(raw)
    if card.version != version:
        raise RegistryError(f"the card in {version} describes {card.version!r}. Train again.")
    return card


def card(files: Files, settings: Settings, version: str) -> ModelCard:
    """The card of `version`, checked against its signed manifest."""
    return parse_card(verified(files, settings, version, (CARD_FILE,))[CARD_FILE], version)


def card_bytes(card: ModelCard, version: str) -> bytes:
    """The card.json of `card` registered as `version` (with the name and format of its model file)."""
    return json_bytes(dataclasses.replace(card, version=version, model_file=MODEL_FILE, model_format="ubj").to_dict())


def listing(files: Files, settings: Settings) -> list[ListedVersion]:
    """Every version with its card, oldest first, "ok" only when its signature and every file verify; damaged
    ones say why. A damaged alias marks no champion."""
    try:
        champion = champion_version(files)
    except RegistryError:
        champion = None
    out = []
    for version in versions(files):
        try:
            stored = verified(files, settings, version, (MODEL_FILE, CARD_FILE, HOLDOUT_FILE))
            out.append(ListedVersion(version, version == champion, parse_card(stored[CARD_FILE], version)))
        except RegistryError as exc:
            out.append(ListedVersion(version, version == champion, None, str(exc)))
    return out


def json_bytes(value: Any) -> bytes:
    """JSON as the registry stores it: indented, NaN and infinity as null, numpy values as plain ones."""
    return json.dumps(_clean(value), indent=1, default=_default, allow_nan=False).encode("utf-8")


def _clean(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dt.date | dt.datetime | Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a model card")
