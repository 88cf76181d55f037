"""The model manifest is signed with the product's key (as score sets are): a card or model edited and the
sha256 manifest recomputed, or an unsigned manifest, is refused with the fix; `churn models list` verifies
every file of every version before it says "ok"."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import pytest
from typer.testing import CliRunner

from churn_core.cli import app
from churn_core.model import registry_files
from churn_core.model.registry import Registry, RegistryError
from churn_core.settings import Settings
from tests.churn_core.model.test_registry import FAST, _copy, data, trained  # noqa: F401 (fixtures)
from tests.conftest import make_settings

FIX = "re-run `churn train`"


@pytest.fixture
def registered(tmp_path: Path, trained) -> Settings:  # noqa: F811
    settings = make_settings(tmp_path / "home", **FAST)
    registry = Registry(settings)
    registry.promote(registry.register(_copy(trained)))
    return settings


def _rehash(folder: Path, keep_signature: bool = True) -> None:
    """What an attacker without the key can do: recompute every sha256 in the manifest."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in manifest["files"]}
    if not keep_signature:
        manifest.pop("signature", None)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _edit_card(folder: Path, **changes: object) -> None:
    card = json.loads((folder / "card.json").read_text())
    (folder / "card.json").write_text(json.dumps({**card, **changes}))


def _listed(settings: Settings, monkeypatch) -> list[dict]:
    monkeypatch.setenv("CHURN_HOME", str(settings.home))
    result = CliRunner().invoke(app, ["models", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("keep_signature", [True, False], ids=["re-hashed", "signature removed"])
def test_an_edited_card_with_a_recomputed_manifest_is_refused(registered, keep_signature) -> None:
    """Finding 6: threshold 0.99 in card.json, sha256 manifest recomputed: `churn score` used it."""
    folder = registered.registry_dir / "v0001"
    _edit_card(folder, threshold=0.99)
    _rehash(folder, keep_signature)
    with pytest.raises(RegistryError) as refused:
        Registry(registered).load("champion")
    assert FIX in str(refused.value) and "v0001" in str(refused.value)


def test_a_manifest_signed_with_another_key_is_refused(registered) -> None:
    other = registered.with_overrides(signing_key="another key of thirty-two characters")
    with pytest.raises(RegistryError, match="signature"):
        Registry(other).load("v0001")


def test_models_list_verifies_what_it_reports(registered, trained, monkeypatch) -> None:  # noqa: F811
    """Finding 6: "ok" for a version whose model.ubj was deleted or whose manifest hash was edited."""
    registry = Registry(registered)
    registry.register(_copy(trained))  # v0002
    registry.register(_copy(trained))  # v0003
    (registered.registry_dir / "v0001" / "model.ubj").unlink()
    manifest = json.loads((registered.registry_dir / "v0002" / "manifest.json").read_text())
    manifest["files"]["holdout.parquet"] = "0" * 64
    (registered.registry_dir / "v0002" / "manifest.json").write_text(json.dumps(manifest))
    listed = {row["version"]: row["status"] for row in _listed(registered, monkeypatch)}
    assert listed["v0001"].startswith("unusable") and "model.ubj is missing" in listed["v0001"]
    assert listed["v0002"].startswith("unusable") and "signature" in listed["v0002"]
    assert listed["v0003"] == "ok"


def test_a_pickle_in_place_of_the_model_is_one_clear_line(registered) -> None:
    """Also fixed: the refusal carried XGBoost's native backtrace. (Signed here with the key, to reach the load.)"""
    folder = registered.registry_dir / "v0001"
    (folder / "model.ubj").write_bytes(pickle.dumps({"not": "a booster"}))
    registry = Registry(registered)
    stored = {n: (folder / n).read_bytes() for n in ("model.ubj", "card.json", "holdout.parquet")}
    registry.storage.write_bytes("v0001/manifest.json", registry_files.manifest_bytes(registered, "v0001", stored))
    with pytest.raises(RegistryError) as refused:
        registry.load("v0001")
    message = str(refused.value)
    assert "v0001 cannot be loaded" in message and "\n" not in message and "Stack trace" not in message, message
