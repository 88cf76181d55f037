"""The model registry: every trained model is a version; the `champion` alias marks the one that scores.

Layout under settings.registry_dir (models of other tables under datasets/<name>/, the same way):

    v0001/model.ubj        the booster in XGBoost's own UBJSON format (never pickle or joblib)
    v0001/card.json        the model card: features, parameters, data, metrics, threshold, pipeline,
                           calibrator
    v0001/holdout.parquet  the held-out rows, to compare any two models on the same data at promotion
    v0001/manifest.json    sha256 of each file above, written last; a version without it is incomplete
    champion.json          the alias: which version scores, when and why it was promoted

A version is written to a staging folder and renamed into place, so a killed training never leaves half a
version; the alias is replaced by an atomic rename. Every file is checked against the manifest on load,
so a changed or damaged file fails with a clear error instead of scoring. The file I/O is behind `Storage`
(churn_core/model/registry_storage.py: a local folder, or S3 with the same layout and checks).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from churn_core.model.calibration import Calibrator
from churn_core.model.features import FeaturePipeline, ModelError
from churn_core.model.registry_storage import LocalStorage, RegistryError, S3Storage, Storage
from churn_core.settings import Settings

VERSION = re.compile(r"^v(\d{4,})$")
MODEL_FILE, CARD_FILE, HOLDOUT_FILE, MANIFEST_FILE = (
    "model.ubj",
    "card.json",
    "holdout.parquet",
    "manifest.json",
)
ALIAS_FILE = "champion.json"
MANIFEST_FORMAT = 1


# --- loaded models --------------------------------------------------------------------------------------


@dataclass
class LoadedModel:
    """A verified registry version, ready to score: everything comes from its stored files."""

    version: str
    card: dict[str, Any]
    booster: xgb.Booster
    pipeline: FeaturePipeline
    calibrator: Calibrator

    @property
    def threshold(self) -> float:
        return float(self.card["threshold"])

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
        if not re.fullmatch(r"[A-Za-z0-9_-]+", dataset):
            raise RegistryError(f"invalid dataset name {dataset!r}")
        self.settings = settings
        self.dataset = dataset
        root = settings.registry_dir if dataset == "evaluators" else settings.registry_dir / "datasets" / dataset
        if storage is None and settings.backend == "athena":  # models live next to the tables, on S3
            storage = S3Storage.for_registry(settings, root.relative_to(settings.registry_dir).as_posix())
        self.storage = storage or LocalStorage(root)

    # versions

    def versions(self) -> list[str]:
        names = [n for n in self.storage.list() if VERSION.match(n)]
        return sorted(names, key=lambda n: int(VERSION.match(n).group(1)))  # type: ignore[union-attr]

    def champion_version(self) -> str | None:
        try:
            alias = json.loads(self.storage.read_bytes(ALIAS_FILE))
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RegistryError(
                f"the champion alias {ALIAS_FILE} is damaged: promote a version again with "
                "`churn models promote VERSION`"
            ) from None
        return str(alias.get("version") or "") or None

    def register(self, model: Any) -> str:
        """Store a trained model (train.TrainedModel) as a new version and return its name (not champion)."""
        holdout = io.BytesIO()
        model.holdout.to_parquet(holdout, index=False)
        booster_bytes = bytes(model.booster.save_raw("ubj"))
        for _ in range(20):
            existing = self.versions()
            version = f"v{(int(existing[-1][1:]) + 1) if existing else 1:04d}"
            card = {"version": version, **model.card, "model_file": MODEL_FILE, "model_format": "ubj"}
            files = {
                MODEL_FILE: booster_bytes,
                CARD_FILE: _json_bytes(card),
                HOLDOUT_FILE: holdout.getvalue(),
            }
            manifest = {
                "format": MANIFEST_FORMAT,
                "version": version,
                "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
            }
            try:
                self.storage.publish(version, {**files, MANIFEST_FILE: _json_bytes(manifest)})
            except FileExistsError:
                continue  # another training took this number: take the next
            model.card = card
            return version
        raise RegistryError(
            "could not find a free version number after 20 attempts; is another process "
            "writing to the registry in a loop?"
        )

    def _resolve(self, version: str) -> str:
        if version == "champion":
            champion = self.champion_version()
            if champion is None:
                raise RegistryError(
                    "no champion model yet: run `churn train` first"
                    + (f" (dataset {self.dataset})" if self.dataset != "evaluators" else "")
                )
            return champion
        if not VERSION.match(version):
            raise RegistryError(f"{version!r} is not a version name (like v0001) or 'champion'")
        return version

    def _verified(self, version: str, names: tuple[str, ...]) -> dict[str, bytes]:
        """The requested files of a version, each checked against the manifest."""
        if version not in self.storage.list():
            known = ", ".join(self.versions()) or "none"
            raise RegistryError(f"no model version {version} in the registry (versions: {known})")
        try:
            manifest = json.loads(self.storage.read_bytes(f"{version}/{MANIFEST_FILE}"))
            listed = dict(manifest["files"])
        except FileNotFoundError:
            raise RegistryError(
                f"model version {version} is incomplete (no {MANIFEST_FILE}): it was not fully "
                "written, so it cannot be used. Train again."
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
            raise RegistryError(
                f"the manifest of model version {version} is damaged: the version cannot be trusted. Train again."
            ) from None
        if manifest.get("version") != version:
            raise RegistryError(
                f"the manifest in {version} describes {manifest.get('version')!r}: the folder was "
                "copied or renamed. Train again."
            )
        out = {}
        for name in names:
            if name not in listed:
                raise RegistryError(f"model version {version} is incomplete: its manifest lists no {name}")
            try:
                data = self.storage.read_bytes(f"{version}/{name}")
            except FileNotFoundError:
                raise RegistryError(f"model version {version} is incomplete: {name} is missing") from None
            if hashlib.sha256(data).hexdigest() != listed[name]:
                raise RegistryError(
                    f"{name} of model version {version} does not match its checksum: the file "
                    "was changed or damaged after training. Restore it or train again."
                )
            out[name] = data
        return out

    def card(self, version: str) -> dict[str, Any]:
        version = self._resolve(version)
        card = json.loads(self._verified(version, (CARD_FILE,))[CARD_FILE])
        if card.get("version") != version:
            raise RegistryError(f"the card in {version} describes {card.get('version')!r}. Train again.")
        return card

    def load(self, version: str = "champion") -> LoadedModel:
        """A verified version (or the champion) with its booster, pipeline and calibrator."""
        version = self._resolve(version)
        files = self._verified(version, (CARD_FILE, MODEL_FILE))
        card = json.loads(files[CARD_FILE])
        if card.get("version") != version:
            raise RegistryError(f"the card in {version} describes {card.get('version')!r}. Train again.")
        booster = xgb.Booster()
        try:
            booster.load_model(bytearray(files[MODEL_FILE]))
            pipeline = FeaturePipeline.from_dict(card["pipeline"])
            calibrator = Calibrator.from_dict(card["calibrator"])
        except (xgb.core.XGBoostError, ModelError, KeyError) as exc:
            raise RegistryError(f"model version {version} cannot be loaded: {exc}") from None
        if list(booster.feature_names or []) != pipeline.features_:
            raise RegistryError(f"model version {version}: the booster's features do not match its pipeline")
        return LoadedModel(version, card, booster, pipeline, calibrator)

    def holdout(self, version: str) -> pd.DataFrame:
        version = self._resolve(version)
        return pd.read_parquet(io.BytesIO(self._verified(version, (HOLDOUT_FILE,))[HOLDOUT_FILE]))

    def list(self) -> list[dict[str, Any]]:
        """Every version's card (plus `champion` and `status`), oldest first; damaged ones say why."""
        try:
            champion = self.champion_version()
        except RegistryError:
            champion = None
        out = []
        for version in self.versions():
            try:
                card = self.card(version)
                card.update(status="ok")
            except RegistryError as exc:
                card = {"version": version, "status": f"unusable: {exc}"}
            card["champion"] = version == champion
            out.append(card)
        return out

    # promotion

    def compare(self, version: str) -> Comparison:
        """Candidate `version` against the champion, both scored on the candidate's held-out rows."""
        version = self._resolve(version)
        tolerance = float(self.settings.promotion_tolerance)
        candidate = self.load(version)
        holdout = self.holdout(version)
        y = holdout["__churned"].to_numpy()
        cand_auc = _auc(y, candidate.predict_margin(holdout))
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
            champ_auc = _auc(y, current.predict_margin(holdout))
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
        history: list[dict[str, Any]] = []
        try:
            history = json.loads(self.storage.read_bytes(ALIAS_FILE)).get("history", [])
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            history = []
        entry = {
            "version": version,
            "previous": comparison.champion,
            "forced": bool(force and not comparison.allowed),
            "promoted_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "comparison": asdict(comparison),
        }
        self.storage.write_bytes(ALIAS_FILE, _json_bytes({**entry, "history": [*history, entry][-50:]}))
        return comparison


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    from churn_core.model.evaluate import _Ranked

    return _Ranked(y, score).roc_auc()


def _json_bytes(value: Any) -> bytes:
    return json.dumps(_clean(value), indent=1, default=_default, allow_nan=False).encode("utf-8")


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: None in their place (numpy scalars become Python numbers)."""
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
