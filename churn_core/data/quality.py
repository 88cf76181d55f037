"""Validate raw tables on the way in, and profile every column for the data-quality report.

`conform` turns a frame as it arrived (strings from a CSV, or typed from Parquet or the generator) into
the schema's types, refusing it with a `DataQualityError` that names the table, column, number of
offending rows and an example. `check_tables` adds the checks that span tables. Nothing is written
until every table has passed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churn_core.errors import ChurnError
from churn_core.schema import Column, Table

INT_RANGE = {"INTEGER": (-(2**31), 2**31 - 1), "BIGINT": (-(2**63), 2**63 - 1)}
ARROW_TYPES = {
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
    "VARCHAR": pa.string(),
}
EARLIEST_DATE = pd.Timestamp("2000-01-01")
ZONE_SUFFIX = r"\d:\d\d(?::\d\d(?:\.\d*)?)?\s*(?:[zZ]|[+-]\d\d(?::?\d\d)?)$"  # a time ending in Z or an offset
MAX_TRIAL_DAYS = 366


class DataQualityError(ChurnError):
    """Raw data that cannot be loaded; nothing was written."""

    def __init__(self, table: str, column: str | None, rows: int, problem: str, example: object = None):
        self.table, self.column, self.rows, self.problem = table, column, rows, problem
        where = f"{table}.{column}" if column else table
        shown = "" if example is None else f", e.g. {_show(example)}"
        super().__init__(
            f"{where}: {rows:,} row(s) {problem}{shown}. Fix the data and load it again; nothing was written."
        )


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _fail(table: Table, column: Column, bad: pd.Series, problem: str, values: pd.Series) -> None:
    if bad.any():
        raise DataQualityError(table.name, column.name, int(bad.sum()), problem, values[bad].iloc[0])


def datetimes(values: pd.Series) -> pd.Series:
    """numpy datetime64 values of a date/timestamp column; Arrow dates are cast in Arrow (pandas' path is slow)."""
    if isinstance(values.dtype, pd.ArrowDtype) and pa.types.is_temporal(values.dtype.pyarrow_dtype):
        chunked = pa.chunked_array(values.array._pa_array).cast(pa.timestamp("s"))
        return pd.Series(chunked.to_numpy(), index=values.index)
    return pd.to_datetime(values)


def as_date32(stamps: pd.Series) -> pd.Series:
    """datetime64 values as an Arrow date32 column, which DuckDB and Parquet store as DATE."""
    days = stamps.to_numpy(dtype="datetime64[s]").astype("datetime64[D]")
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(days, mask=np.isnat(days))), index=stamps.index)


def _as_text(values: pd.Series) -> pd.Series:
    """Text values with blanks as missing, whatever the input dtype."""
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _conform_column(table: Table, column: Column, values: pd.Series) -> pd.Series:
    """The column converted to its schema type and checked against the column's rules."""
    if column.type in INT_RANGE or column.type == "DOUBLE":
        out = _numbers(table, column, values)
    elif column.type in ("DATE", "TIMESTAMP"):
        out = _dates(table, column, values)
    else:
        out = _as_text(values).astype(object).where(lambda s: s.notna(), None)
        _fail(table, column, out.notna() & (out.str.len() > 1000), "are longer than 1,000 characters", out)
    _check_rules(table, column, values, out)
    return out


def _numbers(table: Table, column: Column, values: pd.Series) -> pd.Series:
    kind = column.type
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        raw = _as_text(values)
        numbers = pd.to_numeric(raw, errors="coerce")
        _fail(table, column, raw.notna() & numbers.isna(), "are not numbers", raw)
    else:
        numbers = values.astype("float64")
    numbers = numbers.astype("float64")
    _fail(table, column, ~np.isfinite(numbers.fillna(0)), "are infinite", values)
    if kind not in INT_RANGE:
        return numbers
    _fail(table, column, numbers.notna() & (numbers != np.floor(numbers)), "are not whole numbers", values)
    low, high = INT_RANGE[kind]
    exact = _exact_integers(values)
    if exact is None:  # some written as decimals ("12.0"): their float values, exact up to 2**53
        outside = (numbers < float(low)) | (numbers >= float(high) + 1.0)
        _fail(table, column, outside, f"do not fit in {kind}", values)
        return numbers.astype("Int32" if kind == "INTEGER" else "Int64")
    _fail(table, column, ((exact < low) | (exact > high)).fillna(False).astype(bool), f"do not fit in {kind}", values)
    return exact.astype("Int32" if kind == "INTEGER" else "Int64")


def _exact_integers(values: pd.Series) -> pd.Series | None:
    """The column as exact 64-bit integers (never through float64, which rounds ids past 2**53) when every value
    is an integer or integer text; None otherwise."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_float_dtype(values):
        return None
    try:
        if pd.api.types.is_integer_dtype(values):
            return values.astype("Int64")
        text = pa.array(_as_text(values).astype(object), pa.string(), from_pandas=True)
        return pd.Series(pc.cast(text, pa.int64()), dtype=pd.ArrowDtype(pa.int64())).astype("Int64")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError, TypeError, ValueError):
        return None  # past 64 bits, or not all integer text: the float path says what is wrong


def _dates(table: Table, column: Column, values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values) or (
        isinstance(values.dtype, pd.ArrowDtype) and pa.types.is_temporal(values.dtype.pyarrow_dtype)
    ):
        stamps = datetimes(values)
        raw = values
    else:
        raw = _as_text(values)
        try:
            stamps = pd.to_datetime(raw, errors="coerce", format="ISO8601")
        except ValueError:  # pandas' "Mixed timezones detected": offsets differ, or some times have none
            stamps = _in_utc(table, column, raw)
        _fail(table, column, raw.notna() & stamps.isna(), "are not ISO dates (yyyy-mm-dd)", raw)
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    _fail(table, column, stamps.notna() & (stamps < EARLIEST_DATE), "are dates before 2000-01-01", raw)
    _fail(
        table,
        column,
        stamps.notna() & (stamps > pd.Timestamp.now() + pd.Timedelta(days=366)),
        "are dates more than a year in the future",
        raw,
    )
    if column.type == "DATE":
        _fail(table, column, stamps.notna() & (stamps != stamps.dt.normalize()), "carry a time of day", raw)
        return as_date32(stamps)
    return stamps.astype("datetime64[us]")


def _in_utc(table: Table, column: Column, raw: pd.Series) -> pd.Series:
    """Times written with different offsets (summer and winter time, two offices) in UTC; refused when some have
    no zone, since nothing says which zone those are in."""
    _fail(
        table,
        column,
        raw.notna() & ~raw.str.contains(ZONE_SUFFIX, na=False),
        "have no time zone while others do; write every time in UTC (2026-10-01T09:30:00Z) or with its offset",
        raw,
    )
    return pd.to_datetime(raw, errors="coerce", format="ISO8601", utc=True)


def _check_rules(table: Table, column: Column, values: pd.Series, out: pd.Series) -> None:
    """Required, minimum, maximum and allowed values."""
    missing = out.isna()
    if not column.nullable:
        _fail(table, column, missing, "are missing but the column is required", values)
    if column.min is not None and column.type != "VARCHAR":
        _fail(table, column, (out < column.min).fillna(False).astype(bool), f"are below {column.min:g}", out)
    if column.max is not None:
        _fail(table, column, (out > column.max).fillna(False).astype(bool), f"are above {column.max:g}", out)
    if column.allowed is not None and (~missing).any():
        bad = ~missing & ~out.isin(list(column.allowed))
        _fail(table, column, bad, f"are not one of {', '.join(map(str, column.allowed))}", out)


def conform(df: pd.DataFrame, table: Table) -> pd.DataFrame:
    """The frame with exactly the schema's columns, in order and typed; DataQualityError otherwise."""
    if df.empty or len(df.columns) == 0:
        raise DataQualityError(table.name, None, 0, "found: the table is empty")
    columns = [str(c).strip() for c in df.columns]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise DataQualityError(table.name, dupes[0], len(df), "have a column name that appears twice")
    df = df.set_axis(columns, axis=1)
    missing = [c for c in table.names if c not in df.columns]
    if missing:
        raise DataQualityError(
            table.name,
            missing[0],
            len(df),
            f"lack required column(s) {', '.join(missing)} (expected: {', '.join(table.names)})",
        )
    extra = [c for c in df.columns if c not in table.names]
    if extra:
        raise DataQualityError(
            table.name,
            extra[0],
            len(df),
            f"have unexpected column(s) {', '.join(extra)}; remove them or rename to the schema's",
        )
    out = pd.DataFrame({c.name: _conform_column(table, c, df[c.name].reset_index(drop=True)) for c in table.columns})
    if table.key:
        dup = out.duplicated(list(table.key), keep="first")
        if dup.any():
            example = out.loc[dup, list(table.key)].iloc[0].tolist()
            raise DataQualityError(
                table.name,
                ", ".join(table.key),
                int(dup.sum()),
                "repeat the key of an earlier row",
                example[0] if len(example) == 1 else example,
            )
    return out


def empty(table: Table) -> pd.DataFrame:
    """The table with its schema's column types and no rows: what a load leaves of a table it was not given."""
    return pd.DataFrame({c.name: pd.Series([], dtype=pd.ArrowDtype(ARROW_TYPES[c.type])) for c in table.columns})


def check_tables(tables: Mapping[str, pd.DataFrame], loaded_content: Collection[str] = ()) -> None:
    """Checks that span tables: labels and dates agree, every row belongs to a known evaluator, every touch to
    known content (the content given with it or, when none is given, `loaded_content`: the warehouse's)."""
    ev = tables["evaluators"]
    starts = _check_outcomes(ev)
    for name in ("daily_usage", "engagements"):
        if name in tables:
            _check_belongs(name, tables[name], starts)
    if "engagements" in tables:
        _check_engagements(tables["engagements"], tables.get("content"), loaded_content)


def _check_outcomes(ev: pd.DataFrame) -> pd.Series:
    """An outcome comes with its resolved_date, not before the trial starts; each evaluator's start date."""
    start = datetimes(ev["eval_start_date"])
    resolved = datetimes(ev["resolved_date"])
    mismatch = ev["retained"].notna() != resolved.notna()
    if mismatch.any():
        raise DataQualityError(
            "evaluators",
            "resolved_date",
            int(mismatch.sum()),
            "have a retained outcome without a resolved_date or the reverse",
            int(ev.loc[mismatch, "instance"].iloc[0]),
        )
    early = resolved.notna() & (resolved < start)
    if early.any():
        raise DataQualityError(
            "evaluators",
            "resolved_date",
            int(early.sum()),
            "resolve before the trial starts",
            int(ev.loc[early, "instance"].iloc[0]),
        )
    return pd.Series(start.to_numpy(), index=ev["instance"].astype("int64").to_numpy())


def _check_belongs(name: str, frame: pd.DataFrame, starts: pd.Series) -> None:
    """Every row names a known evaluator; a usage row's day_index matches its date and the trial."""
    ids = frame["instance"].astype("int64")
    orphan = ~ids.isin(starts.index)
    if orphan.any():
        raise DataQualityError(
            name, "instance", int(orphan.sum()), "name an instance missing from evaluators", int(ids[orphan].iloc[0])
        )
    if name != "daily_usage":
        return
    days = (datetimes(frame["usage_date"]) - starts.loc[ids].to_numpy()).dt.days
    wrong = days.to_numpy() != frame["day_index"].astype("int64").to_numpy()
    if wrong.any():
        raise DataQualityError(
            name,
            "day_index",
            int(wrong.sum()),
            "disagree with usage_date - eval_start_date",
            int(ids[wrong].iloc[0]),
        )
    outside = (days < 0) | (days > MAX_TRIAL_DAYS)
    if outside.any():
        raise DataQualityError(
            name, "usage_date", int(outside.sum()), "fall outside the evaluation (before its start or a year after)"
        )


def _check_engagements(e: pd.DataFrame, content: pd.DataFrame | None, loaded: Collection[str]) -> None:
    """Touches name known content, and are opened only if delivered, responded to only if opened."""
    unknown = ~e["content_id"].isin(set(loaded if content is None else content["content_id"]))
    if unknown.any():
        if content is not None:
            problem = "name content missing from content"
        elif loaded:
            problem = "name content missing from the content already loaded (give a content.csv listing every item)"
        else:
            problem = "name content, but no content was given or loaded (give a content.csv listing every item)"
        raise DataQualityError(
            "engagements", "content_id", int(unknown.sum()), problem, e.loc[unknown, "content_id"].iloc[0]
        )
    order = ((e["responded"] > e["opened"]) | (e["opened"] > e["delivered"])).fillna(False).astype(bool)
    if order.any():
        raise DataQualityError(
            "engagements",
            "responded",
            int(order.sum()),
            "respond without being opened, or open without being delivered",
            int(e.loc[order, "engagement_id"].iloc[0]),
        )


def profile(tables: Mapping[str, pd.DataFrame], checked_at: dt.datetime | None = None) -> pd.DataFrame:
    """The data-quality report: per table and column, rows, missing rate, non-zero rate and range."""
    checked_at = checked_at or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    rows = []
    for name, frame in tables.items():
        n = len(frame)
        for column in frame.columns:
            values = frame[column]
            numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
            present = values.dropna()
            stats = present.astype("float64").describe(percentiles=[0.5]) if numeric and len(present) else None
            rows.append(
                {
                    "table_name": name,
                    "column_name": column,
                    "row_count": n,
                    "missing_rate": float(values.isna().mean()) if n else 0.0,
                    "nonzero_rate": float((present != 0).sum() / n) if numeric and n else None,
                    "distinct_count": int(present.nunique()),
                    "min_value": None if stats is None else float(stats["min"]),
                    "median_value": None if stats is None else float(stats["50%"]),
                    "max_value": None if stats is None else float(stats["max"]),
                    "checked_at": checked_at,
                }
            )
    return pd.DataFrame(rows)
