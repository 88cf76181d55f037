"""Score-set columns in the warehouse's types, built from numpy arrays without a Python object per row.

A score set has a million rows; DATE and VARCHAR columns built through Python objects would take longer
than scoring them, so they are built as Arrow arrays and handed to pandas as Arrow-backed series.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from churn_core.schema import CHANNELS


def dates(values: Any) -> pd.Series:
    """A DATE column (Arrow date32), NULL where missing."""
    stamps = (
        pd.to_datetime(pd.Series(values), errors="coerce")
        if not isinstance(values, pd.Series) or not pd.api.types.is_datetime64_any_dtype(values)
        else values
    )
    days = stamps.to_numpy("datetime64[D]")
    missing = np.isnat(days)
    epoch = np.where(missing, 0, days.astype(np.int64)).astype(np.int32)
    return pd.Series(pa.array(epoch, pa.int32(), mask=missing).cast(pa.date32()), dtype=pd.ArrowDtype(pa.date32()))


def same_date(day: dt.date, n: int) -> pd.Series:
    """A DATE column holding `day` n times."""
    epoch = np.full(n, (day - dt.date(1970, 1, 1)).days, np.int32)
    return pd.Series(pa.array(epoch, pa.int32()).cast(pa.date32()), dtype=pd.ArrowDtype(pa.date32()))


def text(values: Any) -> pd.Series:
    """A VARCHAR column kept in Arrow."""
    if isinstance(values, pa.ChunkedArray | pa.Array):
        return pd.Series(values, dtype=pd.ArrowDtype(pa.string()))
    return pd.Series(pa.array(values, pa.string(), from_pandas=True), dtype=pd.ArrowDtype(pa.string()))


def labels(names: tuple[str, ...], codes: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """A VARCHAR column from codes into a few names, NULL where `missing`."""
    taken = pa.array(names, pa.string()).take(pa.array(codes.astype(np.int32), mask=missing))
    return pd.Series(taken, dtype=pd.ArrowDtype(pa.string()))


def counts(values: np.ndarray, missing: np.ndarray) -> pd.Series:
    """An INTEGER column, NULL where `missing`."""
    return pd.Series(pa.array(values.astype(np.int32), pa.int32(), mask=missing), dtype=pd.ArrowDtype(pa.int32()))


def typed(values: pd.Series, kind: str) -> Any:
    """A column of SQL type `kind` (INTEGER, DOUBLE, else VARCHAR) from any series."""
    if kind == "INTEGER":
        return values.to_numpy(np.int32)
    if kind == "DOUBLE":
        return values.to_numpy(np.float64, na_value=np.nan)
    return text(pa.array(values, from_pandas=True).cast(pa.string()))


def channel_lists(reached: np.ndarray) -> pd.Series:
    """Channels as text per row ("email,push"; NULL when none), looked up among the 2**5 combinations of
    the (rows, channels) bool array `reached`."""
    combos = [
        ",".join(c for j, c in enumerate(CHANNELS) if mask >> j & 1) or None for mask in range(2 ** len(CHANNELS))
    ]
    code = (reached.astype(np.int64) << np.arange(len(CHANNELS))).sum(axis=1)
    return text(pa.array(combos, pa.string()).take(pa.array(code)))
