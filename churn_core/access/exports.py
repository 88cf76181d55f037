"""Exports for analysts: CSV and Excel files of a filtered list, safe to open in a spreadsheet.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is read by spreadsheet programs
as a formula (CSV/formula injection, OWASP). One rule, `neutralise_cell`, makes every text cell of both
formats safe: control characters a cell cannot hold (NUL and the like) are removed first, then a cell whose
first visible character starts a formula -- after invisible ones (zero-width spaces, a byte-order mark,
spaces), and counting the full-width `＝＋－＠` that East-Asian input turns into formulas -- gets a leading
single quote, so it shows as the text it is. Numbers stay numbers: only text cells are touched.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff \u00a0"  # may stand before a formula without being seen
EXPORT_ROW_CAP = 100_000  # rows in one export; the page says so and the file name says when it was cut
EXCEL_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv"
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # characters an .xlsx cell cannot hold
_SLUG = re.compile(r"[^a-z0-9]+")


def neutralise_cell(value: Any) -> Any:
    """Text as both export formats write it: without the control characters a cell cannot hold, and with a
    leading single quote when a spreadsheet would run it as a formula. Other values are returned as they are."""
    if not isinstance(value, str):
        return value
    text = _ILLEGAL_XML.sub("", value)  # first: removing one may expose a leading "="
    return "'" + text if text.lstrip(INVISIBLE).startswith(FORMULA_PREFIXES) else text


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` whose text cells cannot be read as formulas; numeric and date columns are unchanged."""
    out = df.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
            continue
        if pd.api.types.is_bool_dtype(series):
            continue
        out[column] = series.astype(object).map(neutralise_cell)
    return out


def _slug(text: str, limit: int = 40) -> str:
    return _SLUG.sub("-", text.lower()).strip("-")[:limit].strip("-")


def export_file_name(
    kind: str, as_of: dt.date | None, filters: Mapping[str, Iterable[Any]] | None, extension: str
) -> str:
    """`<kind>_<date>_<filter>.<ext>`: a name that says what the file holds, safe on every file system.

    `filters` maps a short filter name to its selected values; empty ones are left out.
    """
    parts = [_slug(kind) or "export", as_of.isoformat() if as_of else dt.date.today().isoformat()]
    for name, values in (filters or {}).items():
        shown = [str(v) for v in values if str(v) != ""]
        if shown:
            slug = _slug(f"{name}-{'-'.join(shown)}")
            if slug:
                parts.append(slug)
    stem = "_".join(parts)[:150].rstrip("-_")
    return f"{stem}.{_slug(extension) or 'csv'}"


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV (with a byte-order mark so Excel reads the accents) of the neutralised frame."""
    return neutralise_frame(df).to_csv(index=False).encode("utf-8-sig")


def to_excel_bytes(df: pd.DataFrame, sheet_name: str = "evaluators") -> bytes:
    """An .xlsx workbook (openpyxl) of the neutralised frame; characters Excel cannot store are dropped."""
    from openpyxl import Workbook  # here: only an Excel export needs openpyxl (0.1 s to import)
    from openpyxl.utils import get_column_letter

    safe = neutralise_frame(df)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_SLUG.sub("_", sheet_name)[:31] or "sheet")
    sheet.append([str(c) for c in safe.columns])
    for row in safe.itertuples(index=False, name=None):
        sheet.append([_excel_value(v) for v in row])
    for i, column in enumerate(safe.columns, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(str(column)) + 2))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _excel_value(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, str):  # (openpyxl stores text beginning with "=" as a formula; neutralised text never does)
        return neutralise_cell(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, dt.date):
        return value.item()  # numpy scalar
    return value
