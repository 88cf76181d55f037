"""The local model registry: versions, integrity checks, atomic writes and the promotion rule."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import numpy as np
import pytest

from churn_core.model.datasets import Dataset
from churn_core.model.registry import LocalStorage, Registry, RegistryError
from churn_core.model.train import TrainedModel, fit_model
from churn_core.settings import Settings
from tests.churn_core.model.modeldata import evaluator_data
from tests.conftest import make_settings

FAST = {"tuning_folds": 2, "tuning_max_trials": 1, "bootstrap_samples": 10, "train_threads": 1}


@pytest.fixture(scope="module")
def data() -> Dataset:
    return evaluator_data(300, seed=4)


@pytest.fixture(scope="module")
def trained(data: Dataset, tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    return fit_model(data, make_settings(tmp_path_factory.mktemp("r"), **FAST), "seed")


@pytest.fixture(scope="module")
def worse(data: Dataset, tmp_path_factory: pytest.TempPathFactory) -> TrainedModel:
    """A model that learnt the opposite of the truth, with its held-out rows labelled truly."""
    flipped = data.subset(np.arange(len(data.y)))
    flipped.y = 1 - flipped.y
    model = fit_model(flipped, make_settings(tmp_path_factory.mktemp("w"), **FAST), "seed")
    model.holdout["__churned"] = 1 - model.holdout["__churned"]
    return model


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "home", **FAST)


def _copy(model: TrainedModel) -> TrainedModel:
    return TrainedModel(
        model.booster, model.pipeline, model.calibrator, copy.deepcopy(model.card), model.holdout.copy()
    )


def test_round_trip_scores_exactly_like_the_trained_model(settings: Settings, trained: TrainedModel) -> None:
    registry = Registry(settings)
    with pytest.raises(RegistryError, match="run `churn train` first"):
        registry.load("champion")
    version = registry.register(_copy(trained))
    assert version == "v0001" and registry.champion_version() is None
    registry.promote(version)
    model = Registry(settings).load("champion")
    frame = trained.holdout
    expected = trained.calibrator(
        trained.booster.inplace_predict(trained.pipeline.transform(frame).to_numpy(np.float32), predict_type="margin")
    )
    assert np.allclose(model.predict_proba(frame), expected)
    assert np.allclose(model.calibrate(model.predict_margin(frame)), expected)
    assert model.version == "v0001" and model.threshold == trained.card.threshold
    assert model.pipeline.features_ == trained.pipeline.features_
    files = sorted(p.name for p in (settings.registry_dir / "v0001").iterdir())
    assert files == ["card.json", "holdout.parquet", "manifest.json", "model.ubj"]  # no pickle anywhere
    card = json.loads((settings.registry_dir / "v0001" / "card.json").read_text())
    for key in (
        "version",
        "profile",
        "threshold",
        "metrics",
        "metrics_by_day",
        "oracle_roc_auc",
        "features",
        "dropped_features",
        "params",
        "training",
        "library_versions",
        "pipeline",
        "calibrator",
    ):
        assert key in card, key
    assert card["training"]["fingerprint"] and card["training"]["date_min"] <= card["training"]["date_max"]
    assert [(c.version, c.champion, c.status) for c in registry.listing()] == [("v0001", True, "ok")]
    assert model.card == registry.model_card("v0001") and model.card.to_dict() == card  # the stored card, typed


def test_a_changed_model_file_or_card_fails_to_load(settings: Settings, trained: TrainedModel) -> None:
    registry = Registry(settings)
    registry.register(_copy(trained))
    folder = settings.registry_dir / "v0001"
    model_file = folder / "model.ubj"
    original = model_file.read_bytes()
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0x01
    model_file.write_bytes(bytes(flipped))
    with pytest.raises(RegistryError, match="model.ubj of model version v0001 does not match its checksum"):
        registry.load("v0001")
    model_file.write_bytes(original)
    assert registry.load("v0001").version == "v0001"
    card = json.loads((folder / "card.json").read_text())
    card["threshold"] = 0.01
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(RegistryError, match="card.json of model version v0001 does not match"):
        registry.load("v0001")
    assert registry.listing()[0].status.startswith("unusable: card.json")


def test_an_incomplete_version_is_refused(settings: Settings, trained: TrainedModel) -> None:
    registry = Registry(settings)
    registry.register(_copy(trained))
    (settings.registry_dir / "v0001" / "manifest.json").unlink()
    with pytest.raises(RegistryError, match="v0001 is incomplete"):
        registry.load("v0001")
    registry.register(_copy(trained))
    (settings.registry_dir / "v0002" / "model.ubj").unlink()
    with pytest.raises(RegistryError, match="v0002 is incomplete: model.ubj is missing"):
        registry.load("v0002")
    with pytest.raises(RegistryError, match="v0002 is incomplete"):
        registry.promote("v0002")
    assert registry.champion_version() is None


def test_a_killed_write_leaves_no_version(
    settings: Settings, trained: TrainedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = Registry(settings)

    def killed(src: str, dst: str) -> None:
        raise KeyboardInterrupt  # the process dies between writing the files and renaming them into place

    monkeypatch.setattr(os, "rename", killed)
    with pytest.raises(KeyboardInterrupt):
        registry.register(_copy(trained))
    monkeypatch.undo()
    assert registry.versions() == [] and registry.listing() == []
    assert list((settings.registry_dir / ".staging").iterdir()) == []
    assert registry.register(_copy(trained)) == "v0001"


def test_two_writers_never_share_a_version(settings: Settings, trained: TrainedModel) -> None:
    storage = LocalStorage(settings.registry_dir)
    storage.publish("v0001", {"x": b"other training"})
    with pytest.raises(FileExistsError):
        storage.publish("v0001", {"x": b"again"})
    assert Registry(settings).register(_copy(trained)) == "v0002"


def test_a_worse_candidate_is_not_promoted_unless_forced(
    settings: Settings, trained: TrainedModel, worse: TrainedModel
) -> None:
    registry = Registry(settings)
    registry.promote(registry.register(_copy(trained)))
    bad = registry.register(_copy(worse))
    comparison = registry.compare(bad)
    assert not comparison.allowed and comparison.champion == "v0001"
    assert comparison.candidate_roc_auc < comparison.champion_roc_auc - settings.promotion_tolerance
    with pytest.raises(RegistryError, match="not promoted: candidate v0002 is worse than champion v0001") as info:
        registry.promote(bad)
    assert info.value.refused and registry.champion_version() == "v0001"
    registry.promote(bad, force=True)
    assert registry.champion_version() == "v0002"
    alias = json.loads((settings.registry_dir / "champion.json").read_text())
    assert alias["forced"] and alias["previous"] == "v0001" and len(alias["history"]) == 2
    good = registry.register(_copy(trained))
    assert registry.promote(good).allowed and registry.champion_version() == good


def test_the_champion_alias_is_switched_atomically(
    settings: Settings, trained: TrainedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = Registry(settings)
    registry.promote(registry.register(_copy(trained)))
    second = registry.register(_copy(trained))
    before = (settings.registry_dir / "champion.json").read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk went away")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        registry.promote(second)
    monkeypatch.undo()
    assert (settings.registry_dir / "champion.json").read_bytes() == before  # the old alias, whole
    assert sorted(p.name for p in settings.registry_dir.iterdir() if p.is_file()) == ["champion.json"]
    assert registry.load("champion").version == "v0001"
    registry.promote(second)
    assert registry.load("champion").version == second


def test_unknown_versions_and_names(settings: Settings) -> None:
    registry = Registry(settings)
    with pytest.raises(RegistryError, match="no model version v0042"):
        registry.load("v0042")
    with pytest.raises(RegistryError, match="not a version name"):
        registry.load("latest")
    with pytest.raises(RegistryError, match="invalid dataset name"):
        Registry(settings, "../x")
