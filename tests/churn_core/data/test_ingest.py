"""Raw data validation: each kind of bad input is refused with its message and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churn_core.data.ingest import ingest_directory, load_raw
from churn_core.data.quality import DataQualityError
from churn_core.warehouse import open_warehouse
from tests.conftest import make_settings


def _raw(small_tables: dict[str, pd.DataFrame], n: int = 200) -> dict[str, pd.DataFrame]:
    """A consistent subset of the demo tables: n evaluators and everything that belongs to them."""
    ev = small_tables["evaluators"].head(n).copy()
    ids = set(ev["instance"])
    usage = small_tables["daily_usage"][small_tables["daily_usage"]["instance"].isin(ids)].copy()
    touches = small_tables["engagements"][small_tables["engagements"]["instance"].isin(ids)].copy()
    return {"evaluators": ev, "daily_usage": usage, "engagements": touches, "content": small_tables["content"].copy()}


def _write_dir(tables: dict[str, pd.DataFrame], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(directory / f"{name}.csv", index=False)
    return directory


def _snapshot(settings) -> dict[str, pd.DataFrame]:
    warehouse = open_warehouse(settings)
    frames = {t: warehouse.query(f"SELECT * FROM {t}") for t in warehouse.tables()}
    return {t: f.sort_values(list(f.columns)).reset_index(drop=True) for t, f in frames.items()}


@pytest.fixture()
def loaded(tmp_path: Path, small_tables):
    """A warehouse that already holds good data, so a bad load must leave it unchanged."""
    settings = make_settings(tmp_path / "home")
    load_raw(open_warehouse(settings), _raw(small_tables, 100))
    return settings


def test_csv_directory_round_trip(tmp_path: Path, small_tables) -> None:
    settings = make_settings(tmp_path / "home")
    tables = _raw(small_tables)
    rows = ingest_directory(open_warehouse(settings), _write_dir(tables, tmp_path / "in"))
    assert rows == {name: len(frame) for name, frame in tables.items()}
    warehouse = open_warehouse(settings)
    types = warehouse.query(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'evaluators'"
    ).set_index("column_name")["data_type"]
    assert types["eval_start_date"] == "DATE" and types["instance"] == "INTEGER"
    quality = warehouse.query("SELECT * FROM data_quality WHERE table_name = 'daily_usage'")
    assert set(quality["column_name"]) >= {"issues_viewed", "watchers_added"}
    viewed = quality.set_index("column_name").loc["issues_viewed"]
    expected = tables["daily_usage"]["issues_viewed"].isna().mean()
    assert viewed["missing_rate"] == pytest.approx(expected)


BAD_INPUTS = [
    ("evaluators", lambda t: t["evaluators"].drop(columns=["region"]), "evaluators.region", "lack required column"),
    ("evaluators", lambda t: t["evaluators"].assign(shoe_size=1), "evaluators.shoe_size", "unexpected column"),
    (
        "evaluators",
        lambda t: t["evaluators"].assign(
            team_size=t["evaluators"]["team_size"].astype(str).where(t["evaluators"].index != 3, "lots")
        ),
        "evaluators.team_size",
        "1 row(s) are not numbers, e.g. 'lots'",
    ),
    (
        "daily_usage",
        lambda t: t["daily_usage"].assign(issues_created=-t["daily_usage"]["issues_created"] - 1),
        "daily_usage.issues_created",
        "are below 0",
    ),
    (
        "evaluators",
        lambda t: pd.concat([t["evaluators"], t["evaluators"].head(2)]),
        "evaluators.instance",
        "2 row(s) repeat the key",
    ),
    (
        "evaluators",
        lambda t: t["evaluators"].assign(eval_start_date="1999-01-01"),
        "evaluators.eval_start_date",
        "before 2000-01-01",
    ),
    (
        "evaluators",
        lambda t: t["evaluators"].assign(retained=t["evaluators"]["retained"].astype("Int32") * 2 + 3),
        "evaluators.retained",
        "not one of 0, 1",
    ),
    (
        "daily_usage",
        lambda t: t["daily_usage"].assign(day_index=t["daily_usage"]["day_index"] + 1),
        "daily_usage.day_index",
        "disagree with usage_date",
    ),
    (
        "daily_usage",
        lambda t: t["daily_usage"].assign(instance=t["daily_usage"]["instance"] + 10**8),
        "daily_usage.instance",
        "missing from evaluators",
    ),
    (
        "daily_usage",
        lambda t: t["daily_usage"].assign(active_users=1e12),
        "daily_usage.active_users",
        "do not fit in INTEGER",
    ),
    ("engagements", lambda t: t["engagements"].assign(channel="fax"), "engagements.channel", "not one of email"),
    (
        "evaluators",
        lambda t: t["evaluators"].assign(eval_start_date="next tuesday"),
        "evaluators.eval_start_date",
        "not ISO dates",
    ),
]


@pytest.mark.parametrize(
    ("table", "corrupt", "where", "message"), BAD_INPUTS, ids=[f"{w}:{m[:20]}" for _, _, w, m in BAD_INPUTS]
)
def test_bad_input_is_refused_and_nothing_is_written(
    loaded, small_tables, tmp_path, table, corrupt, where, message
) -> None:
    before = _snapshot(loaded)
    tables = _raw(small_tables)
    tables[table] = corrupt(tables)
    with pytest.raises(DataQualityError) as info:
        ingest_directory(open_warehouse(loaded), _write_dir(tables, tmp_path / "bad"))
    text = str(info.value)
    assert text.startswith(where) and message in text and "nothing was written" in text
    after = _snapshot(loaded)
    assert before.keys() == after.keys()
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name])


def test_unreadable_files_get_a_clear_error(loaded, small_tables, tmp_path) -> None:
    directory = _write_dir(_raw(small_tables), tmp_path / "files")
    (directory / "content.csv").write_bytes(b"content_id,title\n\xff\xfe,caf\xe9\n")
    with pytest.raises(DataQualityError, match="content: .*not UTF-8"):
        ingest_directory(open_warehouse(loaded), directory)
    (directory / "content.csv").write_bytes(b"")
    with pytest.raises(DataQualityError, match="content: .*empty file"):
        ingest_directory(open_warehouse(loaded), directory)
    (directory / "evaluators.csv").unlink()
    with pytest.raises(DataQualityError, match="no evaluators.csv"):
        ingest_directory(open_warehouse(loaded), directory)


def test_parquet_files_are_read_with_their_types(tmp_path, small_tables) -> None:
    settings = make_settings(tmp_path / "home")
    directory = tmp_path / "pq"
    directory.mkdir()
    for name, frame in _raw(small_tables).items():
        frame.to_parquet(directory / f"{name}.parquet")
    rows = ingest_directory(open_warehouse(settings), directory)
    assert rows["evaluators"] == 200


@pytest.mark.parametrize("as_text", [True, False], ids=["csv text", "parquet int64"])
def test_bigint_ids_stay_exact(small_tables, as_text) -> None:
    """Also fixed: ids went through float64: 2**53 + 1 was stored as 2**53 (and then 'repeated'), 2**63 - 1 refused."""
    from churn_core.data.quality import conform  # noqa: PLC0415 (as the other tests of this file do)
    from churn_core.schema import RAW_TABLES  # noqa: PLC0415

    frame = small_tables["engagements"].head(3).copy()
    ids = [2**53, 2**53 + 1, 2**63 - 1]
    frame["engagement_id"] = [str(i) for i in ids] if as_text else pd.Series(ids, dtype="int64")
    if as_text:
        frame = frame.astype(str).replace({"nan": "", "None": "", "<NA>": "", "NaT": ""})
    out = conform(frame, RAW_TABLES["engagements"])
    assert [int(v) for v in out["engagement_id"]] == ids


def test_a_load_replaces_the_raw_set_so_no_table_is_left_pointing_at_gone_evaluators(tmp_path, small_tables) -> None:
    """Also fixed: loading only evaluators + daily_usage left the old engagements and demo_truth behind."""
    settings = make_settings(tmp_path / "home")
    load_raw(open_warehouse(settings), _raw(small_tables, 100), {"demo_truth": small_tables["demo_truth"]})
    tables = _raw(small_tables, 300)
    newcomers = {name: tables[name].iloc[len(tables[name]) // 2 :] for name in ("evaluators", "daily_usage")}
    newcomers["daily_usage"] = newcomers["daily_usage"][
        newcomers["daily_usage"]["instance"].isin(newcomers["evaluators"]["instance"])
    ]
    rows = ingest_directory(open_warehouse(settings), _write_dir(newcomers, tmp_path / "new"))
    assert rows["engagements"] == 0 and rows["demo_truth"] == 0
    warehouse = open_warehouse(settings)
    for table in ("engagements", "demo_truth"):
        orphans = warehouse.query(
            f"SELECT count(*) AS n FROM {table} WHERE instance NOT IN (SELECT instance FROM evaluators)"
        )
        assert orphans["n"].iloc[0] == 0, table
    assert warehouse.count("engagements") == 0 and warehouse.count("demo_truth") == 0
    assert warehouse.count("content") == len(small_tables["content"])  # a catalogue of no one's: kept


def test_engagements_are_checked_against_the_content_already_loaded(loaded, small_tables, tmp_path) -> None:
    """Also fixed: with no content file, engagements naming unknown content_ids were accepted."""
    tables = _raw(small_tables)
    del tables["content"]
    before = _snapshot(loaded)
    bad = tables | {"engagements": tables["engagements"].assign(content_id="no-such-item")}
    with pytest.raises(DataQualityError) as info:
        ingest_directory(open_warehouse(loaded), _write_dir(bad, tmp_path / "bad"))
    text = str(info.value)
    assert text.startswith("engagements.content_id") and "no-such-item" in text and "content.csv" in text
    after = _snapshot(loaded)
    assert before.keys() == after.keys()
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name])
    rows = ingest_directory(open_warehouse(loaded), _write_dir(tables, tmp_path / "good"))
    assert rows["engagements"] == len(tables["engagements"])


def test_engagements_without_any_content_are_refused(tmp_path, small_tables) -> None:
    settings = make_settings(tmp_path / "home")
    tables = _raw(small_tables)
    del tables["content"]
    with pytest.raises(DataQualityError, match=r"engagements\.content_id: .*no content.*content\.csv"):
        ingest_directory(open_warehouse(settings), _write_dir(tables, tmp_path / "in"))
    assert "engagements" not in open_warehouse(settings).tables()


def _product_as(kind: str, products: pd.Series) -> pa.Array:
    """The evaluators' product column re-typed the way a hostile or careless Parquet writer might."""
    if kind == "binary, not UTF-8":
        return pa.array([p.encode("latin-1") + b"\xe9\xff" for p in products], pa.binary())
    if kind == "struct":
        return pa.array([{"a": 1}] * len(products))
    if kind == "list":
        return pa.array([[p] for p in products])
    return pa.array([[(p, 1)] for p in products], pa.map_(pa.string(), pa.int64()))


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("binary, not UTF-8", "are bytes that are not UTF-8 text"),
        ("struct", "hold a struct"),
        ("list", "hold a list"),
        ("map", "hold a map"),
    ],
)
def test_parquet_columns_of_the_wrong_kind_are_refused(loaded, small_tables, tmp_path, kind, message) -> None:
    """Also fixed: binary text gave a UnicodeDecodeError traceback; a struct was stored as the text "{'a': 1}"."""
    before = _snapshot(loaded)
    directory = tmp_path / "pq"
    directory.mkdir()
    for name, frame in _raw(small_tables).items():
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if name == "evaluators":
            at = table.schema.get_field_index("product")
            table = table.set_column(at, "product", _product_as(kind, frame["product"]))
        pq.write_table(table.replace_schema_metadata(None), directory / f"{name}.parquet")
    with pytest.raises(DataQualityError) as info:
        ingest_directory(open_warehouse(loaded), directory)
    text = str(info.value)
    assert text.startswith("evaluators.product: ") and message in text and "nothing was written" in text
    after = _snapshot(loaded)
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name])


def test_binary_parquet_text_that_is_utf8_is_read_as_text(tmp_path, small_tables) -> None:
    settings = make_settings(tmp_path / "home")
    directory = tmp_path / "pq"
    directory.mkdir()
    for name, frame in _raw(small_tables).items():
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if name == "evaluators":
            encoded = pa.array([p.encode() for p in frame["product"]], pa.binary())
            table = table.set_column(table.schema.get_field_index("product"), "product", encoded)
        pq.write_table(table.replace_schema_metadata(None), directory / f"{name}.parquet")
    ingest_directory(open_warehouse(settings), directory)
    stored = open_warehouse(settings).query("SELECT product FROM evaluators ORDER BY instance")["product"]
    assert stored.tolist() == _raw(small_tables)["evaluators"].sort_values("instance")["product"].tolist()


def test_times_with_and_without_a_time_zone_are_refused(loaded, small_tables, tmp_path) -> None:
    """Also fixed: a CSV time column mixing zones was a pandas 'Mixed timezones detected' traceback."""
    before = _snapshot(loaded)
    tables = _raw(small_tables)
    sent = pd.to_datetime(tables["engagements"]["sent_at"]).dt.strftime("%Y-%m-%dT%H:%M:%S")
    tables["engagements"] = tables["engagements"].assign(sent_at=sent.where(sent.index % 2 == 0, sent + "+02:00"))
    with pytest.raises(DataQualityError) as info:
        ingest_directory(open_warehouse(loaded), _write_dir(tables, tmp_path / "bad"))
    text = str(info.value)
    assert text.startswith("engagements.sent_at: ") and "no time zone while others do" in text and "UTC" in text
    after = _snapshot(loaded)
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name])


def test_times_in_several_zones_are_stored_in_utc(tmp_path, small_tables) -> None:
    """Offsets that differ (summer and winter time, or two offices) are unambiguous: each is converted to UTC."""
    settings = make_settings(tmp_path / "home")
    tables = _raw(small_tables)
    utc = pd.to_datetime(tables["engagements"]["sent_at"])
    local = (utc + pd.Timedelta(hours=2)).dt.strftime("%Y-%m-%dT%H:%M:%S+02:00")
    zoned = utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ").where(utc.index % 2 == 0, local)
    tables["engagements"] = tables["engagements"].assign(sent_at=zoned)
    ingest_directory(open_warehouse(settings), _write_dir(tables, tmp_path / "in"))
    stored = open_warehouse(settings).query("SELECT engagement_id, sent_at FROM engagements ORDER BY engagement_id")
    expected = tables["engagements"].assign(sent_at=utc).sort_values("engagement_id")["sent_at"]
    assert stored["sent_at"].tolist() == expected.tolist()
