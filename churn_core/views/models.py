"""The registered models for the dashboard: the versions, a card, the champion, and a model to score with.

Versions, cards and the champion alias are read and checked by churn_core.model.registry_files, which
does not import XGBoost: on a local registry, the pages that only show cards do not load XGBoost,
scikit-learn and SciPy (~1 s, ~200 MB). A model to score with needs them, and so does a registry on S3
(its storage comes with churn_core.model.registry).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from churn_core.errors import ChurnError
from churn_core.model import registry_files
from churn_core.model.card import ModelCard
from churn_core.model.registry_files import Files
from churn_core.settings import Settings

if TYPE_CHECKING:
    from churn_core.model.registry import LoadedModel, Registry

# What reading a registry raises when a version or the alias is missing, damaged or out of reach.
UNREADABLE = (ChurnError, OSError)


def load_model(settings: Settings, version: str | None = None) -> LoadedModel | None:
    """Registry model `version` (falling back to the champion when that version is gone), or None when
    nothing has been trained yet."""
    registry = _registry(settings)
    for wanted in [version, "champion"] if version else ["champion"]:
        try:
            return registry.load(wanted)
        except UNREADABLE:
            continue
    return None


def model_versions(settings: Settings) -> pd.DataFrame:
    """Every registered model version with its profile, held-out ROC AUC and whether it is the champion."""
    columns = ["version", "profile", "trained_at", "roc_auc", "champion", "status"]
    rows = [
        (
            item.version,
            item.card.profile if item.card else None,
            item.card.created_at if item.card else None,
            item.card.metrics.get("roc_auc") if item.card else None,
            item.champion,
            item.status,
        )
        for item in registry_files.listing(_files(settings), settings)
    ]
    return pd.DataFrame(rows, columns=columns)


def model_card(settings: Settings, version: str | None = None) -> ModelCard | None:
    """The card of model `version` (else the champion's), checked against its manifest; None when there
    is no usable one."""
    files = _files(settings)
    for wanted in [version, None] if version else [None]:
        try:
            wanted = wanted or registry_files.champion_version(files)
            if wanted:
                return registry_files.card(files, settings, registry_files.check_version(wanted))
        except UNREADABLE:
            continue
    return None


def champion_version(settings: Settings) -> str | None:
    try:
        return registry_files.champion_version(_files(settings))
    except UNREADABLE:
        return None


def _files(settings: Settings) -> Files:
    """The registry's files: the local folder read directly, else the registry's own storage (S3)."""
    if settings.backend == "duckdb":
        return registry_files.Folder(registry_files.root(settings))
    return _registry(settings).storage


def _registry(settings: Settings) -> Registry:
    # Imported here: churn_core.model.registry loads XGBoost (~1 s, ~200 MB), which only loading a model
    # (or reaching the S3 registry) needs; the card pages stay without it.
    from churn_core.model.registry import Registry

    return Registry(settings)
