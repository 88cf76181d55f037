"""churn_core.access.exports: formula neutralising, files a spreadsheet or CRM accepts (headers, rounding,
formats, description), file names."""

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
    ColumnFormat,
    Export,
    ExportOptions,
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


FORMATS = {
    "instance": ColumnFormat("Instance", "id"),
    "product": ColumnFormat("Product"),
    "probability_change": ColumnFormat("Change in risk", "points"),
    "segment": ColumnFormat("Segment"),
    "as_of_date": ColumnFormat("Score date", "date"),
    "churn_probability": ColumnFormat("Churn risk", "percent"),
    "expected_value": ColumnFormat("Value of contact", "money"),
    "control_group": ColumnFormat("Holdout (do not contact)", "yesno"),
    "recommended_channel": ColumnFormat("Recommended channel", "channel"),
    "previous_probability": ColumnFormat("Previous churn risk", "percent"),
}
ABOUT = (("Score date", "2026-11-26"), ("Filters", f"product: {HOSTILE[0]}"), ("Note", "=cmd|' /C calc'!A0"))


def export() -> Export:
    rows = frame().assign(
        churn_probability=[0.893987592260933, 0.25, 0.0512],
        expected_value=[1234.5678, -0.456, np.nan],
        control_group=[0, 1, 0],
        recommended_channel=["in_app", None, "phone"],
        previous_probability=np.nan,  # no previous score set: an empty column
    )
    return Export(rows, FORMATS, ABOUT)


def test_csv_for_people_has_headers_with_units_rounded_values_and_no_empty_column():
    data = to_csv_bytes(export())
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(back.columns) == [
        "Instance",
        "Product",
        "Change in risk (pts)",
        "Segment",
        "Score date",
        "Churn risk (%)",
        "Value of contact ($)",
        "Holdout (do not contact)",
        "Recommended channel",
    ]
    assert back["Churn risk (%)"].tolist() == ["89.4", "25.0", "5.1"]
    assert back["Change in risk (pts)"].tolist() == ["-25.0", "10.0", ""]
    assert back["Value of contact ($)"].tolist() == ["1234.57", "-0.46", ""]
    assert back["Holdout (do not contact)"].tolist() == ["no", "yes", "no"]
    assert back["Recommended channel"].tolist() == ["in-app", "", "phone"]
    assert back["Score date"].tolist() == ["2026-11-26"] * 3
    assert back["Product"].iloc[0] == "'" + HOSTILE[0] and back["Segment"].tolist() == ["'-risky", "ok", "'@me"]


def test_csv_for_imports_keeps_names_and_plain_values_and_may_describe_itself():
    text = to_csv_bytes(export(), ExportOptions(machine=True, comments=True)).decode("utf-8-sig")
    comments = text.splitlines()[: len(ABOUT)]
    # one field per line: the comma inside the filter value does not start a cell of its own
    assert comments == [
        "# Score date: 2026-11-26",
        '"# Filters: product: =HYPERLINK(""http://evil.example"",""x"")"',
        "# Note: '=cmd|' /C calc'!A0",
    ]
    back = pd.read_csv(io.StringIO(text), comment=None, skiprows=len(comments))
    assert list(back.columns) == list(export().rows.columns)  # stable columns, the empty one included
    assert back["churn_probability"].tolist() == [0.894, 0.25, 0.0512]
    assert back["control_group"].tolist() == [0, 1, 0] and back["recommended_channel"].iloc[0] == "in_app"
    assert not any(line.startswith("#") for line in to_csv_bytes(export()).decode("utf-8-sig").splitlines())


def test_excel_has_a_frozen_filtered_header_number_formats_and_a_description_sheet():
    df = export()
    df.rows.loc[1, "product"] = "\x01=1+1"  # a control character Excel cannot store hides a formula
    book = load_workbook(io.BytesIO(to_excel_bytes(df)))
    sheet, about = book["evaluators"], book["About this export"]
    headers = [c.value for c in sheet[1]]
    assert headers[:3] == ["Instance", "Product", "Change in risk"] and "Previous churn risk" not in headers
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:I{len(df.rows) + 1}"
    column = {h: i + 1 for i, h in enumerate(headers)}
    risk = sheet.cell(row=2, column=column["Churn risk"])
    assert (risk.value, risk.number_format) == (0.894, "0.0%")
    change = sheet.cell(row=2, column=column["Change in risk"])
    assert change.value == -25.0 and "pts" in change.number_format
    money = sheet.cell(row=2, column=column["Value of contact"])
    assert money.value == 1234.57 and "$" in money.number_format
    assert sheet.cell(row=2, column=column["Score date"]).number_format == "yyyy-mm-dd"
    products = [sheet.cell(row=r, column=2) for r in (2, 3)]
    assert [c.value for c in products] == ["'" + HOSTILE[0], "'=1+1"] and all(c.data_type == "s" for c in products)
    assert sheet.cell(row=4, column=2).value is None
    lines = {row[0].value: row[1].value for row in about.iter_rows()}
    assert lines["Score date"] == "2026-11-26" and lines["Filters"] == f"product: {HOSTILE[0]}"
    assert lines["Note"] == "'=cmd|' /C calc'!A0"  # a description cell is neutralised like any other
    assert lines["Left out (no value in any row)"] == "Previous churn risk"


def test_excel_for_imports_keeps_every_column_with_plain_values():
    sheet = load_workbook(io.BytesIO(to_excel_bytes(export(), ExportOptions(machine=True))))["evaluators"]
    assert [c.value for c in sheet[1]] == list(export().rows.columns)
    assert sheet.cell(row=2, column=list(export().rows.columns).index("churn_probability") + 1).value == 0.894


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


def _one_cell(value: str) -> Export:
    return Export(pd.DataFrame({"c": [value]}), {"c": ColumnFormat("c")})


def _csv_cell(value: str) -> str:
    text = io.BytesIO(to_csv_bytes(_one_cell(value)))
    return pd.read_csv(text, dtype=str, keep_default_na=False, encoding="utf-8-sig")["c"][0]


def _excel_cell(value: str) -> str:
    sheet = load_workbook(io.BytesIO(to_excel_bytes(_one_cell(value)))).active
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
    expected = cell.replace("\r\n", "\n").replace("\r", "\n")
    assert stored == (expected if expected.strip() else None)  # a blank column is left out of an export
