"""Types across the Athena boundary: result columns to pandas dtypes, frames to Parquet and Glue columns.

Reads: Athena reports each result column's SQL type; integers become nullable pandas integers, dates and
timestamps datetime64, booleans the nullable boolean, decimals float64, text the string dtype, so an Athena
result looks like the same query's result from DuckDB. Writes: a frame becomes an Arrow table whose types
are those the data model declares (churn_core/schema.py) or, for a table that already exists, those its Glue
definition has, so every Parquet file of one table agrees with the catalogue.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from functools import cache

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from churn_core import schema
from churn_core.warehouse.base import WarehouseError

_INTEGERS = {"tinyint": "Int8", "smallint": "Int16", "integer": "Int32", "int": "Int32", "bigint": "Int64"}
_FLOATS = {"double", "float", "real"}
_TEXT = {"varchar", "char", "string"}
_TEMPORAL = {"date", "timestamp"}

# Data-model (Trino) and Glue (Hive) type names to Arrow types; Glue names are what Athena DDL and CTAS write.
_ARROW: dict[str, pa.DataType] = {
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "float": pa.float32(),
    "real": pa.float32(),
    "boolean": pa.bool_(),
    "varchar": pa.string(),
    "string": pa.string(),
    "char": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("ms"),
    "binary": pa.binary(),
    "varbinary": pa.binary(),
}


def _base(type_name: str) -> str:
    return re.split(r"[(<]", type_name.strip().lower(), maxsplit=1)[0].strip()


def typed_result(df: pd.DataFrame, columns: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """`df` (as pyathena read it) with each column converted to the dtype its Athena type calls for."""
    out = {}
    for position, (name, athena_type) in enumerate(columns):
        values = df.iloc[:, position]
        out[name] = _convert(values, _base(athena_type))
    frame = pd.DataFrame(out, index=df.index) if out else df
    frame.columns = [name for name, _ in columns] if columns else df.columns
    return frame.reset_index(drop=True)


def _convert(values: pd.Series, kind: str) -> pd.Series:
    if kind in _INTEGERS:
        return pd.to_numeric(values, errors="raise").astype(_INTEGERS[kind])
    if kind in _FLOATS or kind == "decimal":
        return pd.to_numeric(values.astype(object).where(values.notna(), None), errors="raise").astype("float64")
    if kind == "boolean":
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            values = values.map(
                lambda v: v if v is None or isinstance(v, bool) or v != v else str(v).lower() in ("true", "1")
            )
        return values.astype("boolean")
    if kind in _TEMPORAL:
        return pd.to_datetime(values, errors="raise").astype("datetime64[us]")
    if kind in _TEXT:
        return values.astype("str")
    if kind == "unknown":  # the type of a bare NULL
        return pd.Series([None] * len(values), index=values.index, dtype=object)
    return values


@cache
def declared_types(table: str) -> dict[str, str]:
    """Column types the data model (churn_core/schema.py) declares for `table`, if it documents it."""
    for value in vars(schema).values():
        if isinstance(value, schema.Table) and value.name == table:
            return {c.name: c.type for c in value.columns}
    return {}


def arrow_type(type_name: str) -> pa.DataType:
    """Arrow type of a data-model or Glue type name (decimal(p,s) included)."""
    base = _base(type_name)
    if base == "decimal":
        match = re.search(r"\((\d+)\s*,\s*(\d+)\)", type_name)
        precision, scale = (int(match.group(1)), int(match.group(2))) if match else (38, 9)
        return pa.decimal128(precision, scale)
    if base in _ARROW:
        return _ARROW[base]
    raise WarehouseError(f"column type {type_name!r} cannot be written by the Athena adapter")


def glue_type(dtype: pa.DataType) -> str:
    """Glue (Hive DDL) type name of an Arrow type."""
    if pa.types.is_int8(dtype):
        return "tinyint"
    if pa.types.is_int16(dtype):
        return "smallint"
    if pa.types.is_int32(dtype) or pa.types.is_uint8(dtype) or pa.types.is_uint16(dtype):
        return "int"
    if pa.types.is_integer(dtype):
        return "bigint"
    if pa.types.is_float32(dtype):
        return "float"
    if pa.types.is_floating(dtype):
        return "double"
    if pa.types.is_boolean(dtype):
        return "boolean"
    if pa.types.is_date(dtype):
        return "date"
    if pa.types.is_timestamp(dtype):
        return "timestamp"
    if pa.types.is_decimal(dtype):
        return f"decimal({dtype.precision},{dtype.scale})"
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return "binary"
    return "string"


def _target(field: pa.Field) -> pa.DataType:
    """Where nothing declares a column's type, the Athena-friendly version of what pandas gave."""
    dtype = field.type
    if pa.types.is_null(dtype) or pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return pa.string()
    if pa.types.is_dictionary(dtype):
        return _target(pa.field(field.name, dtype.value_type))
    if pa.types.is_timestamp(dtype):
        return pa.timestamp("ms")
    if pa.types.is_date(dtype):
        return pa.date32()
    if pa.types.is_unsigned_integer(dtype):
        return pa.int64() if dtype.bit_width >= 32 else pa.int32()
    if pa.types.is_float16(dtype):
        return pa.float32()
    if (
        pa.types.is_integer(dtype)
        or pa.types.is_floating(dtype)
        or pa.types.is_boolean(dtype)
        or pa.types.is_decimal(dtype)
        or pa.types.is_binary(dtype)
    ):
        return dtype
    if pa.types.is_large_binary(dtype):
        return pa.binary()
    raise WarehouseError(
        f"column {field.name!r} has type {dtype}, which the Athena adapter cannot store; "
        "convert it to numbers, text or dates first"
    )


def to_arrow(df: pd.DataFrame, table: str, types: Mapping[str, str] | None = None) -> pa.Table:
    """`df` as an Arrow table: columns in `types` (data-model or Glue type names) cast to those types."""
    types = {k.lower(): v for k, v in (types or {}).items()}
    bad = [c for c in df.columns if not isinstance(c, str) or not re.fullmatch(r"[a-z_][a-z0-9_]*", c)]
    if bad:
        raise WarehouseError(
            f"{table}: column names must be lower-case letters, digits and _ for Athena; got {bad[:3]}"
        )
    try:
        source = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise WarehouseError(f"{table}: cannot convert the frame to Parquet ({exc})") from None
    arrays, fields = [], []
    for field, column in zip(source.schema, source.columns, strict=True):
        target = arrow_type(types[field.name]) if field.name in types else _target(field)
        arrays.append(_cast(column, target, table, field.name))
        fields.append(pa.field(field.name, target))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _cast(column: pa.ChunkedArray, target: pa.DataType, table: str, name: str) -> pa.ChunkedArray:
    if column.type == target:
        return column
    try:
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_null(column.type):
            return pa.chunked_array([pa.nulls(len(column), target)])
        if pa.types.is_timestamp(column.type) and pa.types.is_date(target):
            column = column.cast(pa.timestamp("s"), safe=False)
        if (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)) and (
            pa.types.is_date(target) or pa.types.is_timestamp(target)
        ):
            column = column.cast(pa.timestamp("ms"))
        if pa.types.is_timestamp(column.type) and pa.types.is_timestamp(target):
            return column.cast(target, safe=False)  # drop sub-millisecond digits Athena does not keep
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise WarehouseError(
            f"{table}.{name}: values do not fit its type {target} ({exc}); the table's other "
            "files use that type, so fix the values or write the whole table anew"
        ) from None


def glue_columns(schema: pa.Schema) -> list[dict[str, str]]:
    return [{"Name": f.name, "Type": glue_type(f.type)} for f in schema]


def parquet_bytes(table: pa.Table) -> bytes:
    """One Snappy-compressed Parquet file; millisecond timestamps, which every Athena engine reads."""
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy", coerce_timestamps="ms", allow_truncated_timestamps=True)
    return sink.getvalue()
