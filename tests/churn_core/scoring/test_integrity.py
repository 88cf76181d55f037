"""Score-set integrity: a real set is written and signed, then tampered with in the DuckDB file: every edit of
every column of every table of the set (evaluator_scores, score_drift, channel_effects and the score_sets
manifest), swaps between evaluators, deletions and insertions are refused with the date and the fix, and an
untouched set passes. The digest is the same in DuckDB and in its Trino (Athena) form: a reference written from
the canonical form's definition agrees with DuckDB on random frames, and the query uses only Trino functions."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import re
import shutil
import stat
import struct
from pathlib import Path

import pandas as pd
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from churn_core import signing
from churn_core.cli import app
from churn_core.data.etl import run_etl
from churn_core.model.registry import Registry
from churn_core.scoring import integrity
from churn_core.scoring import score as scoring
from churn_core.scoring.integrity import SET_TABLES, SKIPPED, ScoreSetIntegrityError, check_score_set
from churn_core.settings import Settings, SettingsError
from churn_core.warehouse import open_warehouse
from churn_core.warehouse.athena import to_pyformat
from churn_core.warehouse.duckdb import frame_columns, query_frames, to_duckdb
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


def _columns(settings: Settings, table: str) -> dict[str, str]:
    """The table's columns and DuckDB types, from the table itself (as the check reads them)."""
    rows = open_warehouse(settings).query(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = :t", {"t": table}
    )
    return dict(zip(rows["column_name"], rows["data_type"], strict=True))


def _changed(value: object, type_name: str) -> object:
    """A different value of the same type, as small a change as the type allows (same length for text)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return {"VARCHAR": "x", "DOUBLE": 0.5, "DATE": dt.date(2026, 1, 1)}.get(type_name, 1)
    if type_name == "DOUBLE":
        return math.nextafter(float(value), math.inf)
    if type_name == "VARCHAR":
        text = str(value)
        return (chr(ord(text[0]) ^ 1) + text[1:]) if text else " "
    if type_name == "DATE":
        return pd.Timestamp(value).date() + dt.timedelta(days=1)
    if type_name.startswith("TIMESTAMP"):
        return pd.Timestamp(value) + pd.Timedelta(milliseconds=1)
    return int(value) + 1


def _edit(settings: Settings, table: str, column: str, row: int = 0) -> None:
    """Change `column` in the `row`-th row (by rowid) of `table`'s rows of the set."""
    warehouse = open_warehouse(settings)
    found = warehouse.query(
        f"SELECT rowid AS r, {column} AS v FROM {table} WHERE as_of_date = :d ORDER BY rowid", {"d": DEMO_END}
    )
    target = found.iloc[row % len(found)]
    value = None if pd.isna(target["v"]) else target["v"]
    new = _changed(value.item() if hasattr(value, "item") else value, _columns(settings, table)[column])
    warehouse.execute(f"UPDATE {table} SET {column} = :v WHERE rowid = :r", {"v": new, "r": int(target["r"])})


def test_an_untouched_set_passes(signed) -> None:
    verified = check_score_set(open_warehouse(signed), signed, DEMO_END)
    assert verified.rows == open_warehouse(signed).count("evaluator_scores") > 300
    manifest = open_warehouse(signed).run("score_set_manifest", {"as_of": DEMO_END}).iloc[0]
    tables = json.loads(manifest["fingerprint"])["tables"]
    assert set(tables) == set(SET_TABLES) and tables["evaluator_scores"]["rows"] == manifest["rows"]
    assert tables["score_sets"]["rows"] == 1 and len(manifest["signature"]) == 64


def _every_column(signed: Settings) -> list[tuple[str, str]]:
    return [(t, c) for t in SET_TABLES for c in sorted(_columns(signed, t)) if c not in SKIPPED]


def test_every_column_of_every_table_is_covered(signed) -> None:
    """Finding 5: value_at_risk, expected_value, segment, channel_uplift, uplift_*, product, region, team_size,
    expected_annual_value, top_drivers, probability_change and the manifest's value_at_risk passed unnoticed."""
    covered = _every_column(signed)
    named = ["value_at_risk", "expected_value", "segment", "channel_uplift", "product", "region", "team_size"]
    named += ["expected_annual_value", "top_drivers", "probability_change", "top_reason", "uplift_email"]
    assert {("evaluator_scores", c) for c in named} <= set(covered)
    assert ("score_sets", "value_at_risk") in covered and ("channel_effects", "uplift") in covered
    assert len([c for t, c in covered if t == "evaluator_scores" and c.startswith("shap_")]) > 10


def test_an_edit_of_any_column_is_refused(signed, tmp_path) -> None:
    """Every column of every table of the set, one row each, in turn (the smallest change the type allows)."""
    passed = []
    for i, (table, column) in enumerate(_every_column(signed)):
        home = tmp_path / f"h{i}"
        shutil.copytree(signed.home, home)
        edited = signed.with_overrides(home=home)
        _edit(edited, table, column, row=i)
        try:
            check_score_set(open_warehouse(edited), edited, DEMO_END)
        except ScoreSetIntegrityError as exc:
            assert FIX in str(exc)
        else:
            passed.append(f"{table}.{column}")
        shutil.rmtree(home)
    assert not passed, f"edits that passed the check: {passed}"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_edits_are_refused_and_undone_pass(copy, data) -> None:
    """Property: any column of any row, edited, is refused; written back, the set passes again."""
    table, column = data.draw(st.sampled_from(_every_column(copy)))
    warehouse = open_warehouse(copy)
    rows = warehouse.query(f"SELECT rowid AS r FROM {table} WHERE as_of_date = :d", {"d": DEMO_END})["r"].tolist()
    rowid = data.draw(st.sampled_from(rows))
    before = warehouse.query(f"SELECT {column} AS v FROM {table} WHERE rowid = :r", {"r": rowid})["v"].iloc[0]
    before = None if pd.isna(before) else (before.item() if hasattr(before, "item") else before)
    if isinstance(before, pd.Timestamp):
        before = before.to_pydatetime()
    new = _changed(before, _columns(copy, table)[column])
    warehouse.execute(f"UPDATE {table} SET {column} = :v WHERE rowid = :r", {"v": new, "r": rowid})
    _refusal(copy)
    warehouse.execute(f"UPDATE {table} SET {column} = :v WHERE rowid = :r", {"v": before, "r": rowid})
    check_score_set(warehouse, copy, DEMO_END)


def _two_instances(settings: Settings) -> tuple[int, int]:
    """The riskiest evaluator and the next one whose probability differs (a calibrated plateau gives ties, and
    swapping equal values would test nothing)."""
    rows = open_warehouse(settings).query("SELECT instance, churn_probability FROM evaluator_scores ORDER BY risk_rank")
    first = rows.iloc[0]
    other = rows[rows["churn_probability"] != first["churn_probability"]].iloc[0]
    return int(first["instance"]), int(other["instance"])


SWAPS = {
    "tier and probability swapped between two evaluators": ["risk_tier", "churn_probability"],
    "every value swapped between two evaluators": None,
}


@pytest.mark.parametrize("case", list(SWAPS))
def test_swaps_between_evaluators_are_refused(copy, case) -> None:
    """Finding 5: swaps between evaluators of equal weight kept the old fingerprint's sums."""
    a, b = _two_instances(copy)
    columns = SWAPS[case] or [c for c in _columns(copy, "evaluator_scores") if c not in ("instance", "as_of_date")]
    warehouse = open_warehouse(copy)
    sets = ", ".join(
        f"{c} = CASE WHEN instance = {a} THEN (SELECT {c} FROM evaluator_scores WHERE instance = {b}) "
        f"ELSE (SELECT {c} FROM evaluator_scores WHERE instance = {a}) END"
        for c in columns
    )
    warehouse.execute(f"UPDATE evaluator_scores SET {sets} WHERE instance IN ({a}, {b})")
    assert "values were changed in evaluator_scores" in _refusal(copy)


TAMPERING = {
    "a reason changed to other text of the same length": (
        "UPDATE evaluator_scores SET top_reason = upper(top_reason) WHERE instance = {a}",
        "values were changed in evaluator_scores",
    ),
    "a row deleted": ("DELETE FROM evaluator_scores WHERE instance = {a}", "(1 removed)"),
    "a duplicate row inserted": (
        "INSERT INTO evaluator_scores SELECT * FROM evaluator_scores WHERE instance = {a}",
        "(1 added)",
    ),
    "a row deleted and another's duplicate inserted": (
        "DELETE FROM evaluator_scores WHERE instance = {a}; "
        "INSERT INTO evaluator_scores SELECT * FROM evaluator_scores WHERE instance = {b}",
        "values were changed in evaluator_scores",
    ),
    "a drift row deleted": (
        "DELETE FROM score_drift WHERE rowid = (SELECT min(rowid) FROM score_drift)",
        "score_drift",
    ),
    "the manifest's value at risk edited": (
        "UPDATE score_sets SET value_at_risk = value_at_risk * 2",
        "its manifest (score_sets) was edited",
    ),
    "the manifest's model relabelled": (
        "UPDATE score_sets SET model_version = 'v9999'",
        "signature of its manifest (score_sets) does not match",
    ),
    "a column added and filled for this set": (
        "ALTER TABLE evaluator_scores ADD COLUMN note VARCHAR; UPDATE evaluator_scores SET note = 'call now'",
        "values were changed in evaluator_scores",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_is_refused(copy, case) -> None:
    statements, expected = TAMPERING[case]
    a, b = _two_instances(copy)
    for statement in statements.split("; "):
        open_warehouse(copy).execute(statement.format(a=a, b=b))
    message = _refusal(copy)
    assert "failed its integrity check" in message and expected in message, (case, message)


def test_a_column_added_for_later_sets_leaves_this_one_intact(copy) -> None:
    open_warehouse(copy).execute("ALTER TABLE evaluator_scores ADD COLUMN note VARCHAR")
    assert check_score_set(open_warehouse(copy), copy, DEMO_END).rows > 300


def test_a_fingerprint_forged_without_the_key_is_refused(copy) -> None:
    """Rows edited and the manifest's digests recomputed to match, but signed without the key."""
    warehouse = open_warehouse(copy)
    warehouse.execute("UPDATE evaluator_scores SET churn_probability = 0.01 WHERE risk_rank = 1")
    manifest = warehouse.run("score_set_manifest", {"as_of": DEMO_END}).iloc[0]
    forged = integrity.seal_digests(
        copy.with_overrides(signing_key="a guess at the key, not the key"),
        DEMO_END,
        manifest["model_version"],
        integrity.recompute(warehouse, DEMO_END),
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


def test_a_set_signed_with_the_old_counts_fingerprint_is_unsigned(copy) -> None:
    """Sets signed by the previous release (counts and sums, version 1) are refused with the fix."""
    warehouse = open_warehouse(copy)
    manifest = warehouse.run("score_set_manifest", {"as_of": DEMO_END}).iloc[0]
    text = json.dumps({"version": 1, "shap_columns": [], "values": {"row_count": 1}}, sort_keys=True)
    signature = signing.sign(copy, integrity._message(DEMO_END, manifest["model_version"], text))
    warehouse.execute("UPDATE score_sets SET fingerprint = :f, signature = :s", {"f": text, "s": signature})
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
    assert check_score_set(warehouse, copy, earlier).rows > 300


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


# --- the same digest in DuckDB and Athena (Trino) ---------------------------------------------------------


def reference_cell(name: str, letter: str, value: object) -> str | None:
    """A cell of the canonical row text from its definition (what Trino's functions give, as documented)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None  # (pandas' NaN is written as NULL)
    if letter == "S":
        text = str(value)
        return f"{name}=S{len(text)}:{text}"
    if letter == "D":
        return f"{name}=D{struct.pack('>d', float(value)).hex().upper()}"
    if letter == "I":
        return f"{name}=I{int(value)}"
    if letter == "A":
        return f"{name}=A{pd.Timestamp(value).date().isoformat()}"
    if letter == "Z":
        return f"{name}=Z{pd.Timestamp(value).strftime('%Y-%m-%d %H:%M:%S.%f')}"
    return f"{name}=B{str(bool(value)).lower()}"


def reference_digest(frame: pd.DataFrame) -> str:
    types = frame_columns(frame)
    names = sorted(c for c in frame.columns if c not in SKIPPED)
    hashes = []
    for row in frame.to_dict("records"):
        cells = [reference_cell(c, integrity.kind(types[c]), row[c]) for c in names]
        text = ";".join(c for c in cells if c is not None)
        hashes.append(hashlib.sha256(text.encode()).hexdigest())
    if not hashes:
        return ""
    buckets: dict[str, list[str]] = {}
    for h in hashes:
        buckets.setdefault(h[:2], []).append(h)
    digests = sorted(b + hashlib.sha256("".join(sorted(v)).encode()).hexdigest() for b, v in buckets.items())
    return hashlib.sha256("".join(digests).encode()).hexdigest()


def _digest(frame: pd.DataFrame) -> integrity.Digest:
    framed = frame.assign(as_of_date=pd.Series([DEMO_END] * len(frame), dtype="object"))
    sql = integrity.digest_sql({"score_drift": frame_columns(framed)})
    return integrity._digests(query_frames(sql, {"score_drift": framed}, {"as_of": DEMO_END}))["score_drift"]


doubles = st.floats(allow_nan=False, width=64) | st.sampled_from([0.0, -0.0, 5e-324, 1e308, math.inf, -math.inf])
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.none() | doubles, st.none() | texts, st.integers(-(2**62), 2**62), st.booleans()),
        max_size=8,
    )
)
def test_duckdb_computes_the_digest_as_defined(rows) -> None:
    frame = pd.DataFrame(
        {
            "psi": pd.Series([r[0] for r in rows], dtype="float64"),
            "feature": pd.Series([r[1] for r in rows], dtype="object"),
            "n": pd.Series([r[2] for r in rows], dtype="int64"),
            "flag": pd.Series([r[3] for r in rows], dtype="bool"),
            "day": pd.Series([dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(len(rows))], dtype="object"),
            "at": pd.Series([pd.Timestamp("2026-11-26 06:00:00.123")] * len(rows), dtype="datetime64[us]"),
        }
    )
    found = _digest(frame)
    assert found.rows == len(rows) and found.digest == reference_digest(frame)
    if len(rows) > 1:  # the order of the rows does not matter
        assert _digest(frame.iloc[::-1].reset_index(drop=True)).digest == found.digest


@settings(max_examples=60, deadline=None)
@given(a=texts, b=texts, c=texts)
def test_moving_text_between_columns_changes_the_digest(a, b, c) -> None:
    """Length prefixes keep cells apart whatever the text holds (';', ':', '=' or a cell's look)."""
    one = pd.DataFrame({"feature": [a + c], "status": [b]})
    two = pd.DataFrame({"feature": [a], "status": [c + b]})
    assert (_digest(one).digest == _digest(two).digest) == (c == "")


# Every function the digest query calls, each one Athena's engine (Trino) documents with these semantics:
# to_ieee754_64(double) -> varbinary (big-endian IEEE bits), to_hex -> upper-case hex, sha256(varbinary),
# length(varchar) in characters, date_format with MySQL-style %i/%s/%f, concat_ws skipping NULLs.
TRINO_FUNCTIONS = {"lower", "to_hex", "sha256", "to_utf8", "concat_ws", "length", "to_ieee754_64", "date_format"}
TRINO_FUNCTIONS |= {"array_join", "array_sort", "array_agg", "substr", "count", "sum", "coalesce", "cast"}


def test_the_digest_query_is_athena_sql_with_trino_functions_only() -> None:
    types = {"instance": "integer", "as_of_date": "date", "churn_probability": "double", "segment": "varchar"}
    types |= {"created_at": "timestamp(3)", "flag": "boolean"}
    sql = integrity.digest_sql({"evaluator_scores": types, "score_sets": {"rows": "integer", "fingerprint": "varchar"}})
    assert len(sqlglot.parse(sql, read="trino")) == 1
    code = re.sub(r"'[^']*'|--[^\n]*", "", sql)  # calls only, not strings or comments
    called = {name.lower() for name in re.findall(r"\b([a-z_0-9]+)\s*\(", code, flags=re.IGNORECASE)}
    assert called - {"as", "from"} <= TRINO_FUNCTIONS, called
    assert "fingerprint" not in code and "as_of_date=" not in sql
    _, names = to_pyformat(sql)
    assert set(names) == {"as_of"} and "$as_of" in to_duckdb(sql)
    assert to_pyformat(integrity.load_sql("queries/score_set_manifest"))[1] == ("as_of",)


def test_column_names_are_checked_before_they_reach_sql() -> None:
    with pytest.raises(Exception, match="invalid"):
        integrity.digest_sql({"evaluator_scores": {"x) FROM t; --": "varchar"}})
    with pytest.raises(Exception, match="invalid"):
        integrity.digest_sql({"t; DROP TABLE x": {"a": "varchar"}})
    with pytest.raises(Exception, match="no canonical form"):
        integrity.kind("STRUCT(a INTEGER)")
