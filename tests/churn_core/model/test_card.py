"""The model card record and the registry's files: what card.json holds, and reading it without XGBoost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from churn_core.model import registry_files
from churn_core.model.card import DataSummary, ModelCard, Ranking, Thresholds
from churn_core.model.registry_files import (
    ALIAS_FILE,
    CARD_FILE,
    HOLDOUT_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    Folder,
    RegistryError,
)
from churn_core.settings import Settings
from tests.conftest import make_settings

STORED = {  # a card as an earlier release wrote it, plus a key from a later one
    "version": "v0003",
    "profile": "seed",
    "parent": None,
    "dataset": "evaluators",
    "features": ["w1_active_users", "as_of_day"],
    "training": {"rows": 1200, "groups": 400, "churned": 300, "churn_rate": 0.25, "date_min": "2026-01-05"},
    "threshold": 0.31,
    "thresholds": {"rule": "f2", "f2": 0.31, "capacity": None, "capacity_per_week": 500},
    "metrics": {"roc_auc": 0.81},
    "evaluation": {"time": {"split": {"test_size": 0.33}, "roc_auc": 0.8, "pr_auc": 0.6, "rows": 90}},
    "comparison": {},
    "oracle_roc_auc": 0.9,
    "explainer": {"kind": "tree"},
}


def test_a_stored_card_reads_into_sections_and_writes_back_the_same_keys() -> None:
    card = ModelCard.from_dict(STORED)
    assert card.training == DataSummary(1200, 400, 300, 0.25, date_min="2026-01-05")
    assert card.thresholds == Thresholds("f2", 0.31, None, 500)
    assert card.evaluation["time"] == Ranking({"test_size": 0.33}, 0.8, 0.6, 90)
    assert card.extra == {"explainer": {"kind": "tree"}}  # unknown keys are kept as read
    assert card.test == DataSummary() and card.metrics_by_cohort is None  # missing keys take the defaults
    written = card.to_dict()
    assert {k: written[k] for k in STORED} == STORED
    assert "metrics_by_cohort" not in written and "date_max" not in written["training"]  # absent stays absent
    assert ModelCard.from_dict(written) == card


def _registry(root: Path, card: dict[str, object], settings: Settings, model: bool = True) -> None:
    """A registry of one version (its card, and stand-ins for the model and held-out rows unless not `model`),
    written and signed as the registry writes it."""
    version = str(card["version"])
    stored = {CARD_FILE: registry_files.card_bytes(ModelCard.from_dict(card), version)}
    if model:
        stored |= {MODEL_FILE: b"a booster", HOLDOUT_FILE: b"held-out rows"}
    (root / version).mkdir(parents=True)
    for name, data in stored.items():
        (root / version / name).write_bytes(data)
    (root / version / MANIFEST_FILE).write_bytes(registry_files.manifest_bytes(settings, version, stored))
    (root / ALIAS_FILE).write_text(json.dumps({"version": version}))


def test_cards_are_checked_against_the_manifest(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    _registry(tmp_path, STORED, settings, model=False)
    files = Folder(tmp_path)
    assert registry_files.champion_version(files) == "v0003"
    card = registry_files.card(files, settings, "v0003")
    assert card.model_file == "model.ubj" and card.extra == {"explainer": {"kind": "tree"}}
    with pytest.raises(RegistryError, match="incomplete: its manifest lists no model.ubj"):
        registry_files.verified(files, settings, "v0003", (CARD_FILE, "model.ubj"))
    with pytest.raises(RegistryError, match="no model version v0004 in the registry \\(versions: v0003\\)"):
        registry_files.card(files, settings, "v0004")
    (tmp_path / "v0003" / CARD_FILE).write_text(json.dumps({**STORED, "threshold": 0.01}))
    with pytest.raises(RegistryError, match="card.json of model version v0003 does not match its checksum"):
        registry_files.card(files, settings, "v0003")
    [listed] = registry_files.listing(files, settings)
    assert listed.champion and listed.card is None and listed.status.startswith("unusable: model version v0003")
    (tmp_path / ALIAS_FILE).write_text("[1, 2]")
    with pytest.raises(RegistryError, match="champion alias champion.json is damaged"):
        registry_files.champion_version(files)


def test_the_dashboard_reads_cards_versions_and_the_champion_without_xgboost(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    _registry(settings.registry_dir, STORED, settings)
    probe = f"""
import sys
from pathlib import Path
from churn_core import views
from churn_core.settings import load_settings
home = Path({str(tmp_path)!r})
settings = load_settings(env={{}}, config=home / "absent.toml", home=home)
card = views.model_card(settings, "v0003")
versions = views.model_versions(settings)
print(card.version, card.metrics["roc_auc"], views.champion_version(settings), versions["status"].tolist())
print(sorted(m for m in ("xgboost", "sklearn", "scipy", "numba") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["v0003 0.81 v0003 ['ok']", "[]"]
