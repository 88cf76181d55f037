"""The registered models: load one, list the versions, read a card (cheaply when local), the champion."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from churn_core.errors import ChurnError
from churn_core.settings import Settings


def load_model(settings: Any, version: str | None = None) -> Any | None:
    """Registry model `version` (falling back to the champion when that version is gone), or None when
    nothing has been trained yet."""
    return _from_registry(settings, version, lambda registry, wanted: registry.load(wanted))


def model_versions(settings: Settings) -> pd.DataFrame:
    """Every registered model version with its profile, held-out ROC AUC and whether it is the champion."""
    from churn_core.model.registry import Registry

    columns = ["version", "profile", "trained_at", "roc_auc", "champion", "status"]
    rows = [
        {
            "version": c.get("version"),
            "profile": c.get("profile"),
            "trained_at": c.get("created_at"),
            "roc_auc": (c.get("metrics") or {}).get("roc_auc"),
            "champion": bool(c.get("champion")),
            "status": c.get("status"),
        }
        for c in Registry(settings).list()
    ]
    return pd.DataFrame(rows, columns=columns)


def model_card(settings: Any, version: str | None = None) -> dict[str, Any] | None:
    """The card of model `version` (else the champion's), or None when there is no registry yet.

    A local registry's card is read as the JSON it is (checked against the version's manifest), so the
    pages that only show the card do not load XGBoost, scikit-learn and SciPy (~120 MB).
    """
    for wanted in [version, None] if version else [None]:
        card = _local_card(settings, wanted)
        if card is not None:
            return card
    return _from_registry(settings, version, _registry_card)


def _registry_card(registry: Any, version: str) -> dict[str, Any] | None:
    card = registry.card(version)
    return card if isinstance(card, dict) else None


def _from_registry(settings: Any, version: str | None, read: Callable[[Any, str], Any]) -> Any | None:
    """`read(registry, version)`, else `read(registry, "champion")`: the first that succeeds and is not None."""
    try:
        from churn_core.model.registry import Registry
    except ImportError:
        return None
    registry = Registry(settings)
    for wanted in ([version] if version else []) + ["champion"]:
        try:
            found = read(registry, wanted)
        except (ChurnError, FileNotFoundError, KeyError, LookupError, ValueError):
            continue
        if found is not None:
            return found
    return None


def _local_alias(settings: Any) -> str | None:
    root = Path(settings.registry_dir)
    try:
        version = json.loads((root / "champion.json").read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError, AttributeError):
        return None
    return str(version) if isinstance(version, str) and re.fullmatch(r"v\d{4,}", version) else None


def _local_card(settings: Any, version: str | None) -> dict[str, Any] | None:
    """A version's card.json from the local registry layout, verified by sha256; None if anything is off."""
    if getattr(settings, "backend", "duckdb") != "duckdb":
        return None
    version = version or _local_alias(settings)
    if not version or not re.fullmatch(r"v\d{4,}", version):
        return None
    folder = Path(settings.registry_dir) / version
    try:
        data = (folder / "card.json").read_bytes()
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if hashlib.sha256(data).hexdigest() != manifest["files"]["card.json"]:
            return None
        card = json.loads(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return card if isinstance(card, dict) and card.get("version") == version else None


def champion_version(settings: Any) -> str | None:
    if getattr(settings, "backend", "duckdb") == "duckdb":
        return _local_alias(settings)
    try:
        from churn_core.model.registry import Registry

        return Registry(settings).champion_version()
    except (ImportError, ChurnError, FileNotFoundError, ValueError):
        return None
