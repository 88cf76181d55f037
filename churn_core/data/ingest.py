"""Load raw tables (a user's files, or the demo generator's frames) through validation into the warehouse.

Every table is validated before anything is written, and all of them plus the data-quality report are
then swapped in together, so a bad file leaves the warehouse exactly as it was.

A load replaces the evaluators and everything that describes them: `engagements`, `demo_truth` and `demo_plays`
not given are emptied in the same step, so no row is left pointing at an evaluator that is gone. `content`, a
catalogue that names no evaluator, is kept when not given, and the engagements loaded are checked against it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from churn_core.data.quality import DataQualityError, check_tables, conform, empty, profile
from churn_core.schema import ALL_TABLES, RAW_TABLES
from churn_core.warehouse import Warehouse

REQUIRED: tuple[str, ...] = ("evaluators", "daily_usage")
SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".parquet")
MAX_FILE_BYTES = 20 * 2**30
# optional tables a load empties if not given
PER_EVALUATOR: tuple[str, ...] = ("engagements", "demo_truth", "demo_plays")


def read_file(path: Path, table: str) -> pd.DataFrame:
    """A raw file as a frame of strings (CSV) or typed columns (Parquet); clear errors for unreadable files."""
    if path.stat().st_size == 0:
        raise DataQualityError(table, None, 0, f"found: {path.name} is an empty file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise DataQualityError(table, None, 0, f"read: {path.name} is larger than 20 GiB; load it through Athena")
    try:
        if path.name.endswith(".parquet"):
            return _flat(pq.read_table(path), table).to_pandas()
        return pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8-sig",
            encoding_errors="strict",
            skipinitialspace=True,
        )
    except UnicodeDecodeError as exc:
        raise DataQualityError(table, None, 0, f"read: {path.name} is not UTF-8 text (byte {exc.start})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, pa.ArrowInvalid, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataQualityError(table, None, 0, f"read: {path.name} could not be parsed ({first})") from None


def _flat(data: pa.Table, table: str) -> pa.Table:
    """Parquet columns of one plain value per cell: binary columns must hold UTF-8 text (read as text), and
    nested ones (struct, list, map) are refused rather than stored as their Python text."""
    for i, field in enumerate(data.schema):
        if pa.types.is_nested(field.type):
            kind = next((k for k in ("struct", "map", "union") if getattr(pa.types, f"is_{k}")(field.type)), "list")
            raise DataQualityError(
                table,
                field.name,
                data.num_rows,
                f"hold a {kind} ({field.type}), not one plain value; write text, a number or a date in each cell",
            )
        if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            try:
                data = data.set_column(i, field.name, pc.cast(data.column(i), pa.string()))
            except pa.ArrowInvalid:
                bad = [v for v in data.column(i).to_pylist() if v is not None and not _is_utf8(v)]
                raise DataQualityError(
                    table, field.name, len(bad), "are bytes that are not UTF-8 text; write them as text", bad[0]
                ) from None
    return data


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def find_files(directory: Path) -> dict[str, Path]:
    """One file per raw table, named after it (evaluators.csv, daily_usage.parquet, ...)."""
    if not directory.is_dir():
        raise DataQualityError("ingest", None, 0, f"found: {directory} is not a directory")
    found: dict[str, Path] = {}
    for table in RAW_TABLES:
        matches = [directory / f"{table}{s}" for s in SUFFIXES if (directory / f"{table}{s}").is_file()]
        if len(matches) > 1:
            names = ", ".join(m.name for m in matches)
            raise DataQualityError(table, None, 0, f"found: several files for one table ({names})")
        if matches:
            found[table] = matches[0]
    missing = [t for t in REQUIRED if t not in found]
    if missing:
        raise DataQualityError(
            missing[0],
            None,
            0,
            f"found: no {missing[0]}.csv or .parquet in {directory} (required: {', '.join(REQUIRED)})",
        )
    return found


def validate(frames: Mapping[str, pd.DataFrame], loaded_content: Collection[str] = ()) -> dict[str, pd.DataFrame]:
    """Conform every table to the schema and run the cross-table checks (engagements against `loaded_content`
    when no content is given)."""
    typed = {name: conform(frame, RAW_TABLES[name]) for name, frame in frames.items()}
    check_tables(typed, loaded_content)
    return typed


def _loaded_content(warehouse: Warehouse, frames: Mapping[str, pd.DataFrame]) -> set[str]:
    """The content ids already in the warehouse, which engagements loaded without a content table may name."""
    if "content" in frames or "engagements" not in frames or not warehouse.table_exists("content"):
        return set()
    return set(warehouse.query("SELECT content_id FROM content")["content_id"])


def load_raw(
    warehouse: Warehouse, frames: Mapping[str, pd.DataFrame], extra: Mapping[str, pd.DataFrame] | None = None
) -> dict[str, int]:
    """Validate, then write the raw tables and their data-quality report in one atomic step, emptying the
    tables about evaluators that were not given (see the module docstring); rows per table, 0 if emptied."""
    typed = validate(frames, _loaded_content(warehouse, frames))
    given = {**typed, **(extra or {})}
    stale = {t: empty(ALL_TABLES[t]) for t in PER_EVALUATOR if t not in given and warehouse.table_exists(t)}
    warehouse.write_tables({**given, **stale, "data_quality": profile(typed)})
    return {name: len(frame) for name, frame in {**typed, **stale}.items()}


def ingest_directory(warehouse: Warehouse, directory: Path) -> dict[str, int]:
    """`churn ingest DIR`: read one file per raw table, validate all, write all or nothing."""
    files = find_files(directory)
    return load_raw(warehouse, {table: read_file(path, table) for table, path in files.items()})
