"""churn_core.access.exports: formula neutralising, CSV and Excel bytes, file names."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from churn_core.access.exports import (
    FORMULA_PREFIXES,
    INVISIBLE,
    export_file_name,
    neutralise_cell,
    neutralise_frame,
    to_csv_bytes,
    to_excel_bytes,
)

HOSTILE = [
    '=HYPERLINK("http://evil.example","x")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "=cmd|' /C calc'!A0",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_text_gets_a_leading_quote(text):
    assert neutralise_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["Boards", "", "a=b", "'=already", 3, -2.5, None, np.nan, dt.date(2026, 1, 1)])
def test_other_values_are_untouched(value):
    out = neutralise_cell(value)
    assert out is value or (isinstance(value, float) and np.isnan(out))


@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cc",)), max_size=30))
def test_no_neutralised_text_starts_a_formula(text):
    out = neutralise_cell(text)
    assert not out.lstrip(INVISIBLE).startswith(FORMULA_PREFIXES)
    assert out.removeprefix("'") == text or out == text


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "instance": [1, 2, 3],
            "product": [HOSTILE[0], "Boards", None],
            "probability_change": [-0.25, 0.1, np.nan],
            "segment": pd.Series(["-risky", "ok", "@me"], dtype="string"),
            "as_of_date": pd.to_datetime(["2026-11-26"] * 3),
        }
    )


def test_neutralise_frame_touches_text_columns_only():
    out = neutralise_frame(frame())
    assert out["product"].tolist()[:2] == ["'" + HOSTILE[0], "Boards"]
    assert out["segment"].tolist() == ["'-risky", "ok", "'@me"]
    assert out["probability_change"].iloc[0] == -0.25
    assert pd.api.types.is_datetime64_any_dtype(out["as_of_date"])


def test_csv_round_trip_keeps_numbers_and_neutralises_text():
    data = to_csv_bytes(frame())
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert back["product"].iloc[0] == "'" + HOSTILE[0]
    assert back["probability_change"].iloc[0] == -0.25
    assert len(back) == 3


def test_excel_cells_are_text_not_formulas():
    df = frame()
    df.loc[1, "product"] = "\x01=1+1"  # a control character Excel cannot store hides a formula
    book = load_workbook(io.BytesIO(to_excel_bytes(df)))
    sheet = book.active
    assert [c.value for c in sheet[1]] == list(df.columns)
    cells = [sheet.cell(row=r, column=2) for r in (2, 3)]
    assert [c.value for c in cells] == ["'" + HOSTILE[0], "'=1+1"]
    assert all(c.data_type == "s" for c in cells)
    assert sheet.cell(row=2, column=3).value == -0.25
    assert sheet.cell(row=4, column=2).value is None


def test_file_names_carry_date_and_filters_and_are_safe():
    name = export_file_name(
        "at-risk",
        dt.date(2026, 11, 26),
        {"tier": ("high", "medium"), "product": ("Boards",), "region": ()},
        "csv",
    )
    assert name == "at-risk_2026-11-26_tier-high-medium_product-boards.csv"
    hostile = export_file_name("at-risk", dt.date(2026, 11, 26), {"product": ("../../etc/passwd", "=CMD()")}, "xlsx")
    assert "/" not in hostile and ".." not in hostile and hostile.endswith(".xlsx")
    assert hostile.startswith("at-risk_2026-11-26_product-etc-passwd-cmd")
    long = export_file_name("at-risk", dt.date(2026, 11, 26), {"product": tuple("x" * 60 for _ in range(20))}, "csv")
    assert len(long) <= 160


# --- one rule for CSV and Excel -------------------------------------------------------------------------------

DISGUISED = [
    "\x01=1+1",  # a control character before the formula: Excel's path stripped it and quoted, CSV kept it
    "=1+1\x00",
    "\x00=1+1",
    "\u200b=1+1",  # a zero-width space, invisible in the cell
    "\ufeff=1+1",
    " =1+1",
    "\uff1d1+1",  # a full-width equals sign, which East-Asian input turns into a formula
    "\uff0b1",
    "\uff20SUM(A1)",
]


def _csv_cell(value: str) -> str:
    return pd.read_csv(io.BytesIO(to_csv_bytes(pd.DataFrame({"c": [value]}))), dtype=str, keep_default_na=False)["c"][0]


def _excel_cell(value: str) -> str:
    sheet = load_workbook(io.BytesIO(to_excel_bytes(pd.DataFrame({"c": [value]})))).active
    return sheet.cell(row=2, column=1).value


@pytest.mark.parametrize("text", DISGUISED, ids=repr)
def test_csv_and_excel_neutralise_disguised_formulas_alike(text) -> None:
    """Also fixed: `\\x01=1+1` or a NUL kept its formula prefix in CSV; zero-width and full-width prefixes are
    neutralised too (they are invisible, or become `=` when typed or pasted in some locales)."""
    csv_cell, excel_cell = _csv_cell(text), _excel_cell(text)
    assert csv_cell == excel_cell and csv_cell.startswith("'"), (csv_cell, excel_cell)
    assert "\x00" not in csv_cell and "\x01" not in csv_cell


@given(st.text(max_size=20))
def test_csv_and_excel_hold_the_same_text(text) -> None:
    cell = neutralise_cell(text)
    assert not cell.lstrip(INVISIBLE).startswith(FORMULA_PREFIXES) or cell.startswith("'")
    stored = _excel_cell(text)  # (XML reads a carriage return back as a line feed)
    assert stored == (cell.replace("\r\n", "\n").replace("\r", "\n") or None)
