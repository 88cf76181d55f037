"""The at-risk page's building blocks: KPI tiles, the evaluator table, the pager and the export panel."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from churn_core.access import exports
from churn_core.access.roles import User
from churn_core.settings import Settings
from churn_core.views import Filters, ScoreSet, Week1Activation
from dashboard import auth, data, ui

# What a marketer decides on, all visible on a laptop; segments (product, region, ...) are filters, and are in the
# profile and the exports. Change is left out while no evaluator on the page has a previous score.
TABLE_ORDER: tuple[str, ...] = (
    "instance",
    "churn_probability",
    "risk_tier",
    "day_of_trial",
    "probability_change",
    "expected_value",
    "recommended_channel",
    "channel_uplift",
    "segment",
    "top_reason",
)
DEFAULT_EXPORT: tuple[str, ...] = (
    "churn_probability",
    "risk_tier",
    "day_of_trial",
    "top_reason",
    "segment",
    "recommended_channel",
    "expected_value",
    "probability_change",
    "product",
    "edition",
    "team_size",
    "region",
    "channels_reached",
)


def kpi_tiles(settings: Settings, score_set: ScoreSet) -> None:
    """Evaluators in trial, high risk, value at risk (change on the previous set) and week-1 activation."""
    previous = _previous_set(settings, score_set)
    now = data.at_risk_summary(settings, score_set.as_of, Filters())
    before = data.at_risk_summary(settings, previous.as_of, Filters()) if previous else None
    since = f"since {previous.as_of:%d %b}" if previous else None
    tiles = st.columns(4)
    _count_tile(
        tiles[0],
        "Evaluators in trial",
        now.evaluators,
        None if before is None else before.evaluators,
        since,
        "off",
        "Scored evaluators whose outcome is not known yet.",
    )
    _count_tile(
        tiles[1],
        "High risk",
        now.high_risk,
        None if before is None else before.high_risk,
        since,
        "inverse",
        f"Churn probability of at least {settings.risk_tier_high:.0%} (settings risk_tier_high).",
    )
    tiles[2].metric(
        "Expected value at risk",
        ui.money(now.value_at_risk),
        None if before is None else _money_change(now.value_at_risk - before.value_at_risk),
        delta_color="inverse",
        border=True,
        delta_description=since,
        help="Sum over evaluators of churn probability × expected annual value.",
    )
    _activation_tile(tiles[3], settings, data.week1_activation(settings, score_set.as_of))


def _previous_set(settings: Settings, score_set: ScoreSet) -> ScoreSet | None:
    """The set before this one, unless it fails its integrity check (no changes against it are shown then)."""
    older = next((s for s in data.score_sets(settings) if s.as_of < score_set.as_of), None)
    if older is None or data.score_set_problem(settings, older.as_of, older.created_at):
        return None
    return older


def _count_tile(
    tile: DeltaGenerator, title: str, now: int, before: int | None, since: str | None, colour: str, hint: str
) -> None:
    change = None if before is None else f"{now - before:+,}"
    tile.metric(title, f"{now:,}", change, delta_color=colour, border=True, delta_description=since, help=hint)


def _money_change(change: float) -> str:
    text = ui.money(change)
    return text if text.startswith("-") else "+" + text


def _activation_tile(tile: DeltaGenerator, settings: Settings, activation: Week1Activation) -> None:
    this, last = activation.this_week, activation.last_week
    change = None if this is None or last is None else this - last
    tile.metric(
        "Week-1 activation",
        ui.percent(this, 1),
        ui.points(change),
        border=True,
        delta_description="vs last week" if change is not None else None,
        help="Trials that finished their first week in the last 7 days and were activated by day 7, "
        f"against the 7 days before ({activation.this_week_n:,} and {activation.last_week_n:,} trials). "
        f"Rule: at least {settings.activation_min_active_users} active users and "
        f"{settings.activation_min_sprints} sprint started.",
    )


def at_risk_table(rows: pd.DataFrame) -> int | None:
    """The page of evaluators; returns the instance of the row the user selected, if any."""
    shown = rows.assign(
        churn_probability=rows["churn_probability"] * 100,
        risk_tier=rows["risk_tier"].astype("string").str.capitalize(),
        probability_change=rows["probability_change"] * 100,
        channel_uplift=rows["channel_uplift"] * 100,
        recommended_channel=rows["recommended_channel"].astype("string").str.replace("_", "-"),
    )
    event = st.dataframe(
        shown,
        column_config=_table_columns(),
        column_order=[c for c in TABLE_ORDER if c != "probability_change" or shown[c].notna().any()],
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="at_risk_table",
        height=min(38 + 35 * max(len(shown), 1), 38 + 35 * 20),
    )
    picked = event.selection.rows if event and event.selection else []
    if picked and picked[0] < len(rows):
        return int(rows.iloc[picked[0]]["instance"])
    return None


def _table_columns() -> dict[str, object]:
    column = st.column_config
    return {
        "instance": column.NumberColumn("Instance", format="%d", help="Site instance id; select a row to open it"),
        "churn_probability": column.ProgressColumn(
            "Risk",
            min_value=0.0,
            max_value=100.0,
            format="%.0f%%",
            color="auto-inverse",
            help="Probability the evaluator will not buy (orange above 50%, blue below)",
        ),
        "risk_tier": column.TextColumn("Tier"),
        "day_of_trial": column.NumberColumn("Day", help="Day of the trial at the score date"),
        "top_reason": column.TextColumn("Top reason", width="large"),
        "segment": column.TextColumn("Segment"),
        "recommended_channel": column.TextColumn("Channel", help="Recommended channel (best uplift net of cost)"),
        "channel_uplift": column.NumberColumn(
            "Uplift", format="%+.1f pts", help="Estimated retention uplift of the recommended channel"
        ),
        "expected_value": column.NumberColumn(
            "Expected value", format="dollar", help="Risk × annual value × save rate − channel cost"
        ),
        "probability_change": column.NumberColumn(
            "Change", format="%+.1f pts", help="Change in risk since the evaluator's previous score"
        ),
    }


def pager(total: int, page: int, pages: int, page_size: int) -> None:
    """Which rows are shown, and the page chooser."""
    first = (page - 1) * page_size + 1 if total else 0
    last = min(page * page_size, total)
    left, right = st.columns([4, 1])
    left.caption(
        f"Showing {first:,}–{last:,} of **{total:,}** matching evaluators · select a row to open "
        "its profile · the view is in the address bar, so you can bookmark or share it"
    )
    right.number_input(
        "Page",
        min_value=1,
        max_value=max(1, pages),
        step=1,
        key="f_page",
        help=f"{pages:,} pages of {page_size}",
    )


def export_panel(settings: Settings, score_set: ScoreSet, view: Filters, sort: str, total: int) -> None:
    """CSV and Excel of the filtered list (same query without paging), with the columns the user picks;
    only for roles allowed to export."""
    user = auth.current_user(settings)
    if user is None or not user.can("export"):
        st.caption(":material/lock: Exports are for analysts and admins.")
        return
    panel = st.expander(
        f"Export this list (CSV or Excel, at most {exports.EXPORT_ROW_CAP:,} rows)",
        key="export_open",
        on_change="rerun",
        icon=":material/download:",
    )
    if not panel.open:  # drawn only when opened: the page paints sooner
        return
    with panel:
        available = data.export_columns(settings, score_set.as_of)
        chosen = st.multiselect(
            "Columns (instance is always included)",
            [c for c in available if c != "instance"],
            default=[c for c in DEFAULT_EXPORT if c in available],
            key="export_columns",
        )
        note = f"{min(total, exports.EXPORT_ROW_CAP):,} rows in the current sort order"
        if total > exports.EXPORT_ROW_CAP:
            note += f" — the list has {total:,}; narrow the filters to export the rest"
        st.caption(note + ". Cells that a spreadsheet would run as a formula are prefixed with a quote.")
        _download_buttons(settings, user, score_set, view, sort, tuple(chosen), total)


def _download_buttons(
    settings: Settings, user: User, score_set: ScoreSet, view: Filters, sort: str, columns: tuple[str, ...], total: int
) -> None:
    kinds = (
        ("csv", "Download CSV", exports.CSV_MIME, ":material/csv:"),
        ("xlsx", "Download Excel", exports.EXCEL_MIME, ":material/table_view:"),
    )
    described = view.described()
    for place, (kind, label, mime, icon) in zip(st.columns(2), kinds, strict=True):
        place.download_button(
            label,
            data.export_file(settings, user, score_set.as_of, view, sort, columns, kind),
            file_name=exports.export_file_name("at-risk", score_set.as_of, described, kind),
            mime=mime,
            on_click="ignore",
            icon=icon,
            key=f"export_{kind}",
            disabled=not total,
        )


def page_count(total: int, page_size: int) -> int:
    """How many pages the list has (at least one, even when empty)."""
    return max(1, math.ceil(total / max(1, page_size)))
