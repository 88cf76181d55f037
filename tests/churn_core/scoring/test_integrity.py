"""Score-set integrity: a real set is written and signed, then tampered with in the DuckDB file; every change to
its rows or its manifest is refused with what failed, the date and the fix, and an untouched set passes."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest
import sqlglot
from typer.testing import CliRunner

from churn_core import signing
from churn_core.cli import app
from churn_core.data.etl import run_etl
from churn_core.model.registry import Registry
from churn_core.scoring import integrity
from churn_core.scoring import score as scoring
from churn_core.scoring.integrity import ScoreSetIntegrityError, check_score_set
from churn_core.settings import Settings, SettingsError
from churn_core.warehouse import load_sql, open_warehouse
from churn_core.warehouse.athena import to_pyformat
from churn_core.warehouse.duckdb import to_duckdb
from tests.churn_core.scoring.test_score import copy_home, train_stand_in
from tests.conftest import DEMO_END, make_settings

FIX = f"churn score --as-of {DEMO_END}"


@pytest.fixture(scope="module")
def model(etl_home):
    return train_stand_in(etl_home)


@pytest.fixture(scope="module")
def signed(etl_home, model, tmp_path_factory) -> Settings:
    """A copy of the small warehouse scored once as of DEMO_END, with its own key file (treat as read-only)."""
    settings = copy_home(etl_home, tmp_path_factory.mktemp("signed"))
    scoring.score_evaluators(open_warehouse(settings), settings, model)
    return settings


@pytest.fixture()
def copy(signed, tmp_path) -> Settings:
    """A private copy of the signed home (warehouse and key) to tamper with."""
    shutil.copytree(signed.home, tmp_path / "home")
    return signed.with_overrides(home=tmp_path / "home")


def _refusal(settings: Settings) -> str:
    with pytest.raises(ScoreSetIntegrityError) as refused:
        check_score_set(open_warehouse(settings), settings, DEMO_END)
    message = str(refused.value)
    assert str(DEMO_END) in message and FIX in message
    return message


def _one_instance(settings: Settings, rank: int = 1) -> int:
    return int(
        open_warehouse(settings).query(f"SELECT instance FROM evaluator_scores WHERE risk_rank = {rank}").iloc[0, 0]
    )


def test_an_untouched_set_passes(signed) -> None:
    verified = check_score_set(open_warehouse(signed), signed, DEMO_END)
    assert verified.rows == open_warehouse(signed).count("evaluator_scores") > 300
    assert 0 <= verified.shap_gap < 1e-4
    manifest = open_warehouse(signed).run("score_set_manifest", {"as_of": DEMO_END}).iloc[0]
    values = json.loads(manifest["fingerprint"])["values"]
    assert values["row_count"] == manifest["rows"] and values["high_risk"] == manifest["high_risk"]
    assert len(manifest["signature"]) == 64


def test_the_fingerprint_in_sql_equals_the_one_in_pandas(signed, model) -> None:
    warehouse = open_warehouse(signed)
    scores = warehouse.query("SELECT * FROM evaluator_scores")
    shap = integrity.shap_columns(scores.columns)
    assert shap[0] == "shap_base" and len(shap) == len(model.pipeline.features_) + 1
    actual, gap = integrity.recompute(warehouse, DEMO_END, model.version, shap)
    assert actual == integrity.fingerprint(scores, model.version, shap)
    assert gap is not None and gap < 1e-4


TAMPERING = {
    "one probability edited": (
        "UPDATE evaluator_scores SET churn_probability = churn_probability / 2 WHERE instance = {top}",
        ["values were changed in churn_probability"],
    ),
    "two evaluators' probabilities swapped": (
        "UPDATE evaluator_scores SET churn_probability = CASE WHEN instance = {top} THEN (SELECT churn_probability "
        "FROM evaluator_scores WHERE instance = {last}) ELSE (SELECT churn_probability FROM evaluator_scores "
        "WHERE instance = {top}) END WHERE instance IN ({top}, {last})",
        ["values were changed in churn_probability"],
    ),
    "a row deleted": ("DELETE FROM evaluator_scores WHERE instance = {top}", ["rows where", "(1 removed)"]),
    "a duplicate row inserted": (
        "INSERT INTO evaluator_scores SELECT * FROM evaluator_scores WHERE instance = {top}",
        ["(1 added)", "1 evaluator row(s) appear more than once"],
    ),
    "a SHAP value edited": (
        "UPDATE evaluator_scores SET {shap} = {shap} - 0.5 WHERE instance = {top}",
        ["SHAP values no longer add up to churn_margin", "values were changed in the SHAP values"],
    ),
    "a SHAP value and the margin edited together": (
        "UPDATE evaluator_scores SET {shap} = {shap} - 0.5, churn_margin = churn_margin - 0.5 WHERE instance = {top}",
        ["values were changed in churn_margin, the SHAP values"],
    ),
    "a tier and a flag edited": (
        "UPDATE evaluator_scores SET risk_tier = 'low', worth_saving = 0 WHERE instance = {top}",
        ["risk_tier", "worth_saving"],
    ),
    "a channel edited": (
        "UPDATE evaluator_scores SET recommended_channel = CASE WHEN recommended_channel = 'phone' THEN 'email' "
        "ELSE 'phone' END WHERE instance = {top}",
        ["values were changed in recommended_channel"],
    ),
    "a reason edited": (
        "UPDATE evaluator_scores SET top_reason = 'Nothing to worry about' WHERE instance = {top}",
        ["values were changed in top_reason"],
    ),
    "the manifest's row count edited": (
        "UPDATE score_sets SET rows = rows + 1",
        ["its manifest (score_sets) was edited: rows = "],
    ),
    "the manifest's model relabelled": (
        "UPDATE score_sets SET model_version = 'v9999'",
        ["signature of its manifest (score_sets) does not match"],
    ),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_is_refused(copy, case) -> None:
    statement, expected = TAMPERING[case]
    shap = next(c for c in open_warehouse(copy).run("score_columns").columns if c.startswith("shap_n"))
    open_warehouse(copy).execute(statement.format(top=_one_instance(copy), last=_one_instance(copy, 50), shap=shap))
    message = _refusal(copy)
    assert "failed its integrity check" in message
    for words in expected:
        assert words in message, (case, message)


def test_a_fingerprint_forged_without_the_key_is_refused(copy) -> None:
    """Rows edited and the manifest's fingerprint recomputed to match, but signed without the key."""
    warehouse = open_warehouse(copy)
    warehouse.execute(f"UPDATE evaluator_scores SET churn_probability = 0.01 WHERE instance = {_one_instance(copy)}")
    manifest = warehouse.run("score_set_manifest", {"as_of": DEMO_END}).iloc[0]
    scores = warehouse.query("SELECT * FROM evaluator_scores")
    forged = integrity.seal(
        copy.with_overrides(signing_key="a guess at the key, not the key"), scores, DEMO_END, manifest["model_version"]
    )
    warehouse.execute("UPDATE score_sets SET fingerprint = :f", {"f": forged["fingerprint"]})
    assert "does not match" in _refusal(copy)
    warehouse.execute("UPDATE score_sets SET signature = :s", {"s": forged["signature"]})
    assert "does not match" in _refusal(copy)


def test_another_key_refuses_the_set_and_says_keys_must_be_shared(signed) -> None:
    other = signed.with_overrides(signing_key="x" * 32)
    with pytest.raises(ScoreSetIntegrityError, match="CHURN_SIGNING_KEY"):
        check_score_set(open_warehouse(signed), other, DEMO_END)


def test_unsigned_and_unlisted_sets_are_refused(copy) -> None:
    warehouse = open_warehouse(copy)
    warehouse.execute("UPDATE score_sets SET fingerprint = NULL")
    message = _refusal(copy)
    assert "is unsigned" in message and "failed" not in message
    warehouse.execute("DELETE FROM score_sets")
    assert "no manifest row in score_sets" in _refusal(copy)
    warehouse.execute("DROP TABLE score_sets")  # as an early release left it
    assert "is unsigned" in _refusal(copy)


def test_a_set_written_before_signing_is_reported_unsigned(copy) -> None:
    """The score_sets table of an older release has no fingerprint or signature columns at all."""
    warehouse = open_warehouse(copy)
    warehouse.execute("ALTER TABLE score_sets DROP COLUMN signature")
    warehouse.execute("ALTER TABLE score_sets DROP COLUMN fingerprint")
    assert "is unsigned" in _refusal(copy)


def test_a_tampered_previous_set_is_ignored_and_the_new_set_is_signed(copy, model) -> None:
    warehouse = open_warehouse(copy)
    earlier = DEMO_END - dt.timedelta(days=7)
    run_etl(warehouse, copy, earlier)
    clean = scoring.score_evaluators(warehouse, copy, model, earlier)
    assert clean.notes == ()
    warehouse.execute(
        "UPDATE evaluator_scores SET churn_probability = 0.99 WHERE as_of_date = :d AND risk_rank = 1", {"d": earlier}
    )
    run_etl(warehouse, copy, DEMO_END)
    summary = scoring.score_evaluators(warehouse, copy, model, DEMO_END)
    assert len(summary.notes) == 1 and "previous score set ignored" in summary.notes[0]
    assert f"churn score --as-of {earlier}" in summary.notes[0]
    now = warehouse.query("SELECT * FROM evaluator_scores WHERE as_of_date = :d", {"d": DEMO_END})
    assert now["previous_probability"].isna().all() and now["probability_change"].isna().all()
    assert check_score_set(warehouse, copy, DEMO_END).rows == len(now)


def test_an_intact_previous_set_still_feeds_the_changes(copy, model) -> None:
    warehouse = open_warehouse(copy)
    earlier = DEMO_END - dt.timedelta(days=7)
    run_etl(warehouse, copy, earlier)
    scoring.score_evaluators(warehouse, copy, model, earlier)
    run_etl(warehouse, copy, DEMO_END)
    assert scoring.score_evaluators(warehouse, copy, model, DEMO_END).notes == ()
    now = warehouse.query("SELECT * FROM evaluator_scores WHERE as_of_date = :d", {"d": DEMO_END})
    assert now["previous_probability"].notna().sum() > 50


def test_the_cli_warns_when_it_ignores_a_tampered_previous_set(copy, model, monkeypatch) -> None:
    warehouse = open_warehouse(copy)
    earlier = DEMO_END - dt.timedelta(days=7)
    run_etl(warehouse, copy, earlier)
    scoring.score_evaluators(warehouse, copy, model, earlier)
    warehouse.execute("DELETE FROM evaluator_scores WHERE as_of_date = :d AND risk_rank = 1", {"d": earlier})
    run_etl(warehouse, copy, DEMO_END)
    for key in [k for k in os.environ if k.startswith("CHURN_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("CHURN_HOME", str(copy.home))
    monkeypatch.setattr(Registry, "load", lambda self, version="champion": model)
    result = CliRunner().invoke(app, ["score"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "warning: previous score set ignored" in said and f"churn score --as-of {earlier}" in said


# --- the key ------------------------------------------------------------------------------------------------


def test_the_key_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    assert signing.signing_key(settings, create=False) is None
    key = signing.signing_key(settings)
    assert key and len(key) >= 32
    assert stat.S_IMODE(settings.signing_key_file.stat().st_mode) == 0o600
    assert signing.signing_key(settings) == key
    assert signing.verify(settings, "m", signing.sign(settings, "m"))
    assert not signing.verify(settings, "m2", signing.sign(settings, "m"))
    assert [p.name for p in settings.home.iterdir()] == ["signing.key"]  # no drafts left behind


def test_the_key_setting_wins_and_must_be_long_enough(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home", signing_key="k" * 20)
    assert signing.signing_key(settings) == b"k" * 20 and not settings.signing_key_file.exists()
    with pytest.raises(SettingsError, match="at least 16 characters") as refused:
        make_settings(tmp_path / "home", signing_key="short-key-12")
    assert "short-key-12" not in str(refused.value)
    assert "k" * 20 not in repr(settings)


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home")
    signing.signing_key(settings)
    settings.signing_key_file.chmod(0o644)
    with pytest.raises(signing.SigningKeyError, match="chmod 600"):
        signing.signing_key(settings)


# --- SQL on both engines -----------------------------------------------------------------------------------


def test_the_integrity_query_is_athena_sql_and_transpiles_to_duckdb() -> None:
    sql = load_sql("queries/score_set_integrity").replace(
        "/*shap_terms*/", integrity._shap_terms(["shap_base", "shap_number_of_issues", "shap_team_size"])
    )
    parsed = sqlglot.parse(sql, read="trino")
    assert len(parsed) == 1 and parsed[0] is not None
    assert "$as_of" in to_duckdb(sql) and "$channels" in to_duckdb(sql)
    _, names = to_pyformat(sql)
    assert set(names) == {"as_of", "model_version", "channels"}
    manifest = load_sql("queries/score_set_manifest")
    assert to_pyformat(manifest)[1] == ("as_of",)


def test_shap_column_names_are_checked_before_they_reach_sql() -> None:
    assert integrity.shap_columns(["instance", "shap_b", "shap_base", "shap_a", "uplift_email"]) == [
        "shap_base",
        "shap_b",
        "shap_a",
    ]
    assert integrity.shap_columns(["shap_x; DROP TABLE t", "shap_X"]) == []
    with pytest.raises(Exception, match="invalid"):
        integrity._shap_terms(["shap_x) FROM t; --"])


def test_the_fingerprint_ties_values_to_evaluators() -> None:
    frame = pd.DataFrame(
        {
            "instance": [1, 2],
            "model_version": ["v1", "v1"],
            "churn_probability": [0.9, 0.1],
            "churn_margin": [2.0, -2.0],
            "risk_rank": [1, 2],
            "risk_tier": ["high", "low"],
            "predicted_churn": [1, 0],
            "worth_saving": [1, 0],
            "might_swing": [0, 0],
            "recommended_channel": ["email", None],
            "top_reason": ["a", "bb"],
            "shap_base": [0.5, 0.5],
        }
    )
    swapped = frame.assign(churn_probability=[0.1, 0.9])
    one, two = (integrity.fingerprint(f, "v1", ["shap_base"]) for f in (frame, swapped))
    assert one["probability"] == two["probability"] and one["probability_w"] != two["probability_w"]
