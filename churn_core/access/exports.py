"""Exports: CSV and Excel files of a list that a spreadsheet or a CRM accepts as they are.

A file has human headers ("Churn risk (%)"), rounded numbers and percentages, and says what it holds (score
date, model, filters, sort, who is in it): in Excel on a second sheet, in CSV optionally as leading `#`
comment lines. Excel gets a frozen header row, a filter on every column and number formats. The
machine-friendly layout keeps snake_case column names and plain values (fractions, 0/1 flags) for imports.
A column with no value in any row is left out of the human layout (the description names it).

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is read by spreadsheet programs
as a formula (CSV/formula injection, OWASP). One rule, `neutralise_cell`, makes every text cell of both
formats safe: control characters a cell cannot hold (NUL and the like) are removed first, then a cell whose
first visible character starts a formula -- after invisible ones (zero-width spaces, a byte-order mark,
spaces), and counting the full-width `＝＋－＠` that East-Asian input turns into formulas -- gets a leading
single quote, so it shows as the text it is. Numbers stay numbers: only text cells are touched.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff \u00a0"  # may stand before a formula without being seen
EXPORT_ROW_CAP = 100_000  # rows in one export; the page says so and the file name says when it was cut
EXCEL_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv"
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # characters an .xlsx cell cannot hold
_SLUG = re.compile(r"[^a-z0-9]+")
# How each kind of column is shown: (unit added to a CSV header, Excel number format). Percent and points
# columns hold fractions (0.25 = 25%, a change of 0.05 = 5 points).
KINDS: dict[str, tuple[str, str]] = {
    "text": ("", "@"),
    "id": ("", "0"),
    "integer": ("", "#,##0"),
    "percent": (" (%)", "0.0%"),
    "points": (" (pts)", '+0.0" pts";-0.0" pts";0.0" pts"'),
    "money": (" ($)", '"$"#,##0.00'),
    "decimal": ("", "0.000"),
    "date": ("", "yyyy-mm-dd"),
    "yesno": ("", "@"),
    "channel": ("", "@"),
}


@dataclass(frozen=True)
class ColumnFormat:
    """How a column is headed for people and which kind of value it holds (a key of KINDS)."""

    header: str
    kind: str = "text"


@dataclass(frozen=True)
class Export:
    """A list to hand over as a file: its rows (raw values, snake_case columns), each column's format, and
    what the file holds as (label, value) lines."""

    rows: pd.DataFrame
    formats: Mapping[str, ColumnFormat]
    about: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ExportOptions:
    """The file's layout: human (default) or machine-friendly, and for CSV the description as `#` lines."""

    machine: bool = False
    comments: bool = False


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


@dataclass(frozen=True)
class LaidOut:
    """The rows as a file shows them, the kind of each of its columns, and the columns left out as empty."""

    frame: pd.DataFrame
    kinds: tuple[str, ...]
    empty: tuple[str, ...]


def laid_out(export: Export, machine: bool = False, excel: bool = False) -> LaidOut:
    """Headers and values per the columns' formats (Excel keeps fractions and dates for its number formats),
    text neutralised; the human layout leaves out columns with no value in any row."""
    out, kinds, empty = {}, [], []
    for name in export.rows.columns:
        fmt = export.formats.get(name, ColumnFormat(str(name)))
        values = export.rows[name]
        if not machine and _is_empty(values):
            empty.append(fmt.header)
            continue
        header = str(name) if machine else fmt.header + ("" if excel else KINDS[fmt.kind][0])
        out[header] = _values(values, fmt.kind, machine, excel)
        kinds.append(fmt.kind)
    frame = neutralise_frame(pd.DataFrame(out, index=export.rows.index))
    return LaidOut(frame, tuple(kinds), tuple(empty))


def description(export: Export, empty: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The (label, value) lines that say what the file holds, neutralised like its cells."""
    left_out = ", ".join(empty)
    lines = [*export.about, *([("Left out (no value in any row)", left_out)] if left_out else [])]
    return [(label, str(neutralise_cell(str(value)))) for label, value in lines]


def to_csv_bytes(export: Export, options: ExportOptions = ExportOptions()) -> bytes:
    """UTF-8 CSV (with a byte-order mark so Excel reads the accents), optionally led by `# label: value` lines,
    each one CSV field (quoted when it holds a comma or a quote, so no part of it becomes a cell of its own)."""
    shown = laid_out(export, options.machine)
    lines = io.StringIO()
    if options.comments:
        writer = csv.writer(lines, lineterminator="\n")
        writer.writerows([f"# {label}: {value}"] for label, value in description(export, shown.empty))
    return (lines.getvalue() + shown.frame.to_csv(index=False)).encode("utf-8-sig")


def to_excel_bytes(export: Export, options: ExportOptions = ExportOptions(), sheet_name: str = "evaluators") -> bytes:
    """An .xlsx workbook (openpyxl): the list with a frozen header, a filter and number formats, and a second
    sheet saying what it holds; characters Excel cannot store are dropped."""
    from openpyxl import Workbook  # here: only an Excel export needs openpyxl (0.1 s to import)
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    shown = laid_out(export, options.machine, excel=True)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_SLUG.sub("_", sheet_name)[:31] or "sheet")
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(max(1, len(shown.kinds)))}{len(shown.frame) + 1}"
    for i, header in enumerate(shown.frame.columns, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(str(header)) + 2))
    sheet.append([str(c) for c in shown.frame.columns])
    # machine values are plain (fractions, 0/1): only their dates get a format
    formats = [KINDS[k][1] if not options.machine or k == "date" else None for k in shown.kinds]
    for row in shown.frame.itertuples(index=False, name=None):
        cells = [WriteOnlyCell(sheet, value=_excel_value(v)) for v in row]
        for cell, number_format in zip(cells, formats, strict=True):
            if number_format and cell.value is not None and not isinstance(cell.value, str):
                cell.number_format = number_format
        sheet.append(cells)
    about = workbook.create_sheet(title="About this export")
    about.column_dimensions["A"].width, about.column_dimensions["B"].width = 32, 90
    for label, value in description(export, shown.empty):
        about.append([_excel_value(label), _excel_value(value)])
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


def _is_empty(values: pd.Series) -> bool:
    return bool(values.isna().all() or values.astype("string").fillna("").str.strip().eq("").all())


def _values(values: pd.Series, kind: str, machine: bool, excel: bool) -> pd.Series:
    """A column's values for the file (see KINDS): rounded numbers, percentages, yes/no, ISO dates."""
    if kind in ("text", "channel"):
        text = values.astype("string")
        return text if machine or kind == "text" else text.str.replace("_", "-")
    if kind == "date":
        days = pd.to_datetime(values.astype("string"), errors="coerce")
        return days.dt.date.astype(object).where(days.notna(), None) if excel else days.dt.strftime("%Y-%m-%d")
    number = pd.to_numeric(values, errors="coerce").astype("float64")
    if kind == "yesno":
        flags = number.round().astype("Int64")
        return flags if machine else flags.map({1: "yes", 0: "no"}).astype("string")
    if kind in ("id", "integer"):
        return number.round().astype("Int64")
    if machine:
        return number.round({"money": 2, "decimal": 6}.get(kind, 4))
    if kind == "percent":
        return number.round(3) if excel else (number * 100).round(1)
    if kind == "points":
        return (number * 100).round(1)
    return number.round(2 if kind == "money" else 3)
