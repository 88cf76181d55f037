"""Load raw tables (a user's files, or the demo generator's frames) through validation into the warehouse.

Every table is validated before anything is written, and all of them plus the data-quality report are
then swapped in together, so a bad file leaves the warehouse exactly as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from churn_core.data.quality import DataQualityError, check_tables, conform, profile
from churn_core.schema import RAW_TABLES
from churn_core.warehouse import Warehouse

REQUIRED: tuple[str, ...] = ("evaluators", "daily_usage")
SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".parquet")
MAX_FILE_BYTES = 20 * 2**30


def read_file(path: Path, table: str) -> pd.DataFrame:
    """A raw file as a frame of strings (CSV) or typed columns (Parquet); clear errors for unreadable files."""
    if path.stat().st_size == 0:
        raise DataQualityError(table, None, 0, f"found: {path.name} is an empty file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise DataQualityError(table, None, 0, f"read: {path.name} is larger than 20 GiB; load it through Athena")
    try:
        if path.name.endswith(".parquet"):
            return pq.read_table(path).to_pandas()
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


def validate(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Conform every table to the schema and run the cross-table checks."""
    typed = {name: conform(frame, RAW_TABLES[name]) for name, frame in frames.items()}
    check_tables(typed)
    return typed


def load_raw(
    warehouse: Warehouse, frames: Mapping[str, pd.DataFrame], extra: Mapping[str, pd.DataFrame] | None = None
) -> dict[str, int]:
    """Validate, then write the raw tables and their data-quality report in one atomic step; rows per table."""
    typed = validate(frames)
    warehouse.write_tables({**typed, **(extra or {}), "data_quality": profile(typed)})
    return {name: len(frame) for name, frame in typed.items()}


def ingest_directory(warehouse: Warehouse, directory: Path) -> dict[str, int]:
    """`churn ingest DIR`: read one file per raw table, validate all, write all or nothing."""
    files = find_files(directory)
    return load_raw(warehouse, {table: read_file(path, table) for table, path in files.items()})
