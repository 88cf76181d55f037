"""What the demo generator's parts share: the trial's calendar, random draws and columns typed per the schema."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

TRIAL_DAYS = 14  # usage rows for days 0..13
WEEK1_LAST_DAY = 7  # retention depends on days 0..7


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def choice(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row from a (rows, k) probability matrix (rows need not be normalised)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return np.minimum((cum < u[:, None]).sum(axis=1), probs.shape[1] - 1).astype(np.int8)


def text(values: tuple[str, ...], codes: np.ndarray) -> pd.Series:
    return pd.Series(pd.Categorical.from_codes(codes, categories=list(values))).astype("str")


def date(epoch_days: np.ndarray, null: np.ndarray | None = None) -> pd.Series:
    arr = pa.array(epoch_days.astype(np.int32), type=pa.int32(), mask=null).cast(pa.date32())
    return pd.Series(arr, dtype=pd.ArrowDtype(pa.date32()))


def nullable(values: np.ndarray, null: np.ndarray | None = None) -> pd.arrays.IntegerArray:
    values = values.astype(np.int32, copy=False)
    return pd.arrays.IntegerArray(values, np.zeros(len(values), bool) if null is None else null)


def epoch(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def weekday(epoch_day: int) -> int:
    """Day of the week of a day counted from 1970-01-01 (a Thursday), Monday = 0."""
    return (epoch_day + 3) % 7
