"""The model registry: every trained model is a version; the `champion` alias marks the one that scores.

The files of a version and their checks are churn_core.model.registry_files (no XGBoost there); this adds
the booster: registering a trained model, loading a version to score, and the promotion rule. A version
is written to a staging folder and renamed into place, so a killed training never leaves half a version;
the alias is replaced by an atomic rename. Every file is checked against the manifest on load, so a
changed or damaged file fails with a clear error instead of scoring. The file I/O is behind `Storage`
(churn_core/model/registry_storage.py: a local folder, or S3 with the same layout and checks).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import xgboost as xgb

from churn_core.model import registry_files as files
from churn_core.model.calibration import Calibrator
from churn_core.model.card import ModelCard
from churn_core.model.evaluate import Ranked
from churn_core.model.features import FeaturePipeline, ModelError
from churn_core.model.registry_files import (
    ALIAS_FILE,
    CARD_FILE,
    HOLDOUT_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    ListedVersion,
    RegistryError,
)
from churn_core.model.registry_storage import LocalStorage, S3Storage, Storage
from churn_core.settings import Settings

VERSION_ATTEMPTS = 20
_NATIVE_PREFIX = re.compile(r"^\[[\d:]+\] [^:]+:\d+: ")  # "[12:00:00] /src/learner.cc:123: " of XGBoost's errors
__all__ = ["Comparison", "LoadedModel", "LocalStorage", "Registry", "RegistryError", "Storage"]


# --- loaded models --------------------------------------------------------------------------------------


@dataclass
class LoadedModel:
    """A verified registry version, ready to score: everything comes from its stored files."""

    version: str
    card: ModelCard
    booster: xgb.Booster
    pipeline: FeaturePipeline
    calibrator: Calibrator

    @property
    def threshold(self) -> float:
        return float(self.card.threshold)

    @property
    def features(self) -> list[str]:
        return list(self.pipeline.features_)

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        return self.pipeline.transform(df)

    def predict_margin(self, df: pd.DataFrame) -> np.ndarray:
        """Raw log-odds of churn per row, through the stored pipeline."""
        x = self.pipeline.transform(df).to_numpy(np.float32, na_value=np.nan)
        return np.asarray(self.booster.inplace_predict(x, predict_type="margin"), np.float64)

    def calibrate(self, margin: np.ndarray) -> np.ndarray:
        return self.calibrator(np.asarray(margin, np.float64))

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of churn per row."""
        return self.calibrate(self.predict_margin(df))


class Trained(Protocol):
    """What registering needs of a trained model (churn_core.model.train.TrainedModel)."""

    booster: xgb.Booster
    card: ModelCard
    holdout: pd.DataFrame


@dataclass(frozen=True)
class Comparison:
    """Candidate vs champion ROC AUC on the candidate's held-out rows, and whether promotion is allowed."""

    candidate: str
    champion: str | None
    candidate_roc_auc: float | None
    champion_roc_auc: float | None
    rows: int
    tolerance: float
    allowed: bool
    reason: str

    def __str__(self) -> str:
        return self.reason


# --- the registry ---------------------------------------------------------------------------------------


class Registry:
    """Versions of the models of one dataset ("evaluators" by default) and their champion alias."""

    def __init__(self, settings: Settings, dataset: str = "evaluators", storage: Storage | None = None) -> None:
        self.settings = settings
        self.dataset = dataset
        root = files.root(settings, dataset)
        if storage is None and settings.backend == "athena":  # models live next to the tables, on S3
            storage = S3Storage.for_registry(settings, root.relative_to(settings.registry_dir).as_posix())
        self.storage = storage or LocalStorage(root)

    # versions

    def versions(self) -> list[str]:
        return files.versions(self.storage)

    def champion_version(self) -> str | None:
        return files.champion_version(self.storage)

    def register(self, model: Trained) -> str:
        """Store a trained model as a new version and return its name (not champion); sets model.card."""
        card = model.card
        holdout = io.BytesIO()
        model.holdout.to_parquet(holdout, index=False)
        booster = bytes(model.booster.save_raw("ubj"))
        for _ in range(VERSION_ATTEMPTS):
            version = files.next_version(self.versions())
            card_bytes = files.card_bytes(card, version)
            version_files = {MODEL_FILE: booster, CARD_FILE: card_bytes, HOLDOUT_FILE: holdout.getvalue()}
            try:
                self.storage.publish(
                    version,
                    {**version_files, MANIFEST_FILE: files.manifest_bytes(self.settings, version, version_files)},
                )
            except FileExistsError:
                continue  # another training took this number: take the next
            model.card = files.parse_card(card_bytes, version)
            return version
        raise RegistryError(
            f"could not find a free version number after {VERSION_ATTEMPTS} attempts; is another process "
            "writing to the registry in a loop?"
        )

    def _resolve(self, version: str) -> str:
        if version != "champion":
            return files.check_version(version)
        champion = self.champion_version()
        if champion is None:
            raise RegistryError(
                "no champion model yet: run `churn train` first"
                + (f" (dataset {self.dataset})" if self.dataset != "evaluators" else "")
            )
        return champion

    def model_card(self, version: str) -> ModelCard:
        """The card of a version (or of the champion), checked against the version's manifest."""
        return files.card(self.storage, self.settings, self._resolve(version))

    def load(self, version: str = "champion") -> LoadedModel:
        """A verified version (or the champion) with its booster, pipeline and calibrator."""
        version = self._resolve(version)
        stored = files.verified(self.storage, self.settings, version, (CARD_FILE, MODEL_FILE))
        card = files.parse_card(stored[CARD_FILE], version)
        booster = xgb.Booster()
        try:
            booster.load_model(bytearray(stored[MODEL_FILE]))
            pipeline = FeaturePipeline.from_dict(card.pipeline)
            calibrator = Calibrator.from_dict(card.calibrator)
        except (xgb.core.XGBoostError, ModelError, KeyError, TypeError, ValueError) as exc:
            raise RegistryError(f"model version {version} cannot be loaded: {_first_line(exc)}; {files.FIX}") from None
        if list(booster.feature_names or []) != pipeline.features_:
            raise RegistryError(f"model version {version}: the booster's features do not match its pipeline")
        return LoadedModel(version, card, booster, pipeline, calibrator)

    def holdout(self, version: str) -> pd.DataFrame:
        version = self._resolve(version)
        stored = files.verified(self.storage, self.settings, version, (HOLDOUT_FILE,))
        return pd.read_parquet(io.BytesIO(stored[HOLDOUT_FILE]))

    def listing(self) -> list[ListedVersion]:
        """Every version with its card, oldest first; damaged ones say why."""
        return files.listing(self.storage, self.settings)

    # promotion

    def compare(self, version: str) -> Comparison:
        """Candidate `version` against the champion, both scored on the candidate's held-out rows."""
        version = self._resolve(version)
        tolerance = float(self.settings.promotion_tolerance)
        candidate = self.load(version)
        holdout = self.holdout(version)
        y = holdout["__churned"].to_numpy()
        cand_auc = Ranked(y, candidate.predict_margin(holdout)).roc_auc()
        champion = self.champion_version()

        def result(allowed: bool, reason: str, champ_auc: float | None = None) -> Comparison:
            return Comparison(version, champion, cand_auc, champ_auc, len(y), tolerance, allowed, reason)

        if champion is None:
            return result(True, f"no champion yet: {version} (ROC AUC {cand_auc:.4f}) can become champion")
        if champion == version:
            return result(True, f"{version} is already the champion")
        try:
            current = self.load(champion)
        except RegistryError as exc:
            return result(True, f"the champion {champion} cannot be loaded ({exc}); {version} may replace it")
        try:
            champ_auc = Ranked(y, current.predict_margin(holdout)).roc_auc()
        except (ModelError, KeyError, ValueError) as exc:
            return result(
                False,
                f"champion {champion} cannot score {version}'s held-out rows ({exc}): the two "
                "models were trained on different data; promote with --force if intended",
            )
        allowed = cand_auc >= champ_auc - tolerance
        verdict = "not worse than" if allowed else "worse than"
        return result(
            allowed,
            f"candidate {version} is {verdict} champion {champion} on {len(y):,} held-out rows "
            f"of {version}: ROC AUC {cand_auc:.4f} vs {champ_auc:.4f} "
            f"(tolerance {tolerance:g})",
            champ_auc,
        )

    def promote(self, version: str, force: bool = False) -> Comparison:
        """Make `version` the champion if it is not worse than the current one (or with force=True)."""
        version = self._resolve(version)
        comparison = self.compare(version)
        if not comparison.allowed and not force:
            raise RegistryError(
                f"not promoted: {comparison.reason}. The champion stays; use --force to promote anyway.",
                refused=True,
            )
        if comparison.champion == version:
            return comparison
        try:
            previous = files.alias(self.storage)
        except RegistryError:
            previous = None  # a damaged alias is replaced, its history lost
        entry = {
            "version": version,
            "previous": comparison.champion,
            "forced": bool(force and not comparison.allowed),
            "promoted_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "comparison": asdict(comparison),
        }
        self.storage.write_bytes(ALIAS_FILE, files.alias_bytes(entry, previous))
        return comparison


def _first_line(exc: Exception) -> str:
    """An error's first line without XGBoost's native source prefix and backtrace (a user cannot act on them)."""
    return _NATIVE_PREFIX.sub("", (str(exc).strip().splitlines() or [type(exc).__name__])[0])
