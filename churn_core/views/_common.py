"""Plumbing the read queries share: SQL text with fragments, plain values from pandas, score columns, labels."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from churn_core.schema import FEATURE_TEXT, feature_text
from churn_core.warehouse import load_sql

FEATURE_LABELS: dict[str, str] = {name: text.label for name, text in FEATURE_TEXT.items()}
SHAP_COLUMN = re.compile(r"^shap_([a-z][a-z0-9_]*)$")
UPLIFT_COLUMN = re.compile(r"^uplift_([a-z][a-z0-9_]*)$")


def render_sql(name: str, **fragments: str) -> str:
    """Text of queries/<name>.sql, each `/*marker*/` followed by its fragment (built here, never typed)."""
    text = load_sql(f"queries/{name}")
    for marker, fragment in fragments.items():
        token = f"/*{marker}*/"
        if token not in text:
            raise ValueError(f"queries/{name}.sql has no {token} marker")
        text = text.replace(token, fragment)
    return text


def as_date(value: Any) -> dt.date | None:
    """A date from whatever the warehouse returned (date, timestamp, ISO text); None if missing or unreadable."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def plain_value(value: Any) -> Any:
    """A numpy/pandas scalar as a plain Python value (None for missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def as_record(row: pd.Series) -> dict[str, Any]:
    """A result row as a dict of plain Python values."""
    return {k: plain_value(v) for k, v in row.items()}


def feature_label(feature: str) -> str:
    """A model feature in words for marketers."""
    return feature_text(feature).label


def natural_key(value: Any) -> tuple[int, float, str]:
    """Sort key that puts bands in their natural order: "1-10" < "11-50" < "1001-5000" < "5001+" by their leading
    number, then text in alphabetical order."""
    text = str(value)
    number = re.match(r"\s*(\d+(?:\.\d+)?)", text)
    return (0, float(number.group(1)), text) if number else (1, 0.0, text)
