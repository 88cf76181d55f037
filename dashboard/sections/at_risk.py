"""The at-risk page's building blocks: KPI tiles, the evaluator table, the pager and the export panel."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from churn_core import views
from churn_core.access import actions, exports
from churn_core.access.roles import User
from churn_core.schema import channel_label
from churn_core.settings import Settings
from churn_core.views import AtRiskSummary, Filters, ScoreSet
from dashboard import auth, data, filters, ui

# What a marketer decides on, all visible on a laptop; segments (product, region, ...) are filters, and are in the
# profile and the exports. Change is left out while no evaluator on the page has a previous score.
TABLE_ORDER: tuple[str, ...] = (
    "instance",
    "plan_rank",
    "recommended_channel",
    "expected_value",
    "churn_probability",
    "risk_tier",
    "day_of_trial",
    "probability_change",
    "channel_uplift",
    "segment",
    "top_reason",
)
# A click on one of these headers sorts the whole list in the warehouse (the table's own sort would order the page)
HEADER_SORTS: dict[str, str] = {
    "plan_rank": "plan",
    "expected_value": "value",
    "churn_probability": "risk",
    "probability_change": "change",
}
DEFAULT_EXPORT: tuple[str, ...] = (
    "plan_rank",
    "recommended_channel",
    "expected_value",
    "churn_probability",
    "risk_tier",
    "segment",
    "top_reason",
    "day_of_trial",
    "probability_change",
    "product",
    "edition",
    "team_size",
    "region",
    "expected_annual_value",
    "channels_reached",
)


def kpi_tiles(settings: Settings, score_set: ScoreSet, view: Filters) -> None:
    """Evaluators, predicted to leave, high risk and the holdout (following the filters, with the change on the
    previous set), week-1 activation (all trials), and a line on today's plan."""
    previous = _previous_set(settings, score_set)
    now = data.at_risk_summary(settings, score_set.as_of, view)
    before = data.at_risk_summary(settings, previous.as_of, view) if previous else None
    since = f"since {previous.as_of:%d %b}" if previous else None
    cut = f"{score_set.threshold:.0%}" if score_set.threshold is not None else "the model's cut-off"
    high = max(settings.risk_tier_high, score_set.threshold or 0.0)
    filtered = view != Filters()
    tiles = st.columns(5)
    counts = (
        (
            "Matching evaluators" if filtered else "Evaluators in trial",
            "evaluators",
            "off",
            "Scored evaluators whose outcome is not known yet (those matching the filters, when filtered).",
        ),
        (
            "Predicted to leave",
            "flagged",
            "inverse",
            f"Churn risk at or above the model's cut-off ({cut}): the evaluators it flags (tiers medium and "
            "high). Model health's threshold explorer counts the same at that cut-off.",
        ),
        ("High risk", "high_risk", "inverse", f"Churn risk of at least {high:.0%}: the high tier."),
        (
            "Held out",
            "held_out",
            "off",
            "The measurement holdout: never contacted, in no contact list or export, so that what contact "
            "achieves can be measured against them.",
        ),
    )
    for tile, (title, field, colour, hint) in zip(tiles, counts, strict=False):
        _count_tile(
            tile, title, getattr(now, field), None if before is None else getattr(before, field), since, colour, hint
        )
    ui.activation_tile(tiles[4], data.activation_headline(settings), settings)
    st.caption(
        (
            "Matching the filters (the first four tiles follow them; week-1 activation covers every trial): "
            if filtered
            else ""
        )
        + f"**{now.worth_saving:,} in today's contact plan**, worth **{ui.money(now.plan_value)}** in expected "
        f"retained revenue · **{now.held_out:,} held out** to measure what contact achieves, never contacted · "
        f"value at risk {ui.money(now.value_at_risk)}"
    )


def todays_lists(settings: Settings, score_set: ScoreSet, view: Filters) -> None:
    """One click to today's contact list of each channel, with how many it holds under the other filters."""
    others = dataclasses.replace(view, flags=(), recommended=())
    filters.todays_list_control(view, data.plan_by_channel(settings, score_set.as_of, others))


def list_heading(view: Filters, summary: AtRiskSummary) -> None:
    """Above a contact list: whose list it is, how many to contact, and that it is in the order to contact."""
    listed = filters.todays_list(view)
    if listed is None:
        return
    channel = "every channel" if listed == filters.ALL_CHANNELS else filters.channel_name(listed)
    st.markdown(
        f"**Today's list for {channel}: {summary.evaluators:,} evaluators**, in the order to contact them (# is "
        f"the order within each channel's list) · worth {ui.money(summary.plan_value)} in expected retained revenue"
    )


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


def at_risk_table(rows: pd.DataFrame, sort: str) -> tuple[int | None, str | None]:
    """The page of evaluators: the instance of the row the user selected, if any, and the sort of the header
    the user clicked, if it is one that sorts the list (HEADER_SORTS)."""
    shown = rows.assign(
        churn_probability=rows["churn_probability"] * 100,
        risk_tier=rows["risk_tier"].astype("string").str.capitalize(),
        probability_change=rows["probability_change"] * 100,
        channel_uplift=rows["channel_uplift"] * 100,
        recommended_channel=rows["recommended_channel"].map(channel_label, na_action="ignore"),
    )
    sorted_by = next(c for c, key in HEADER_SORTS.items() if key == sort)
    event = st.dataframe(
        shown,
        column_config=_table_columns(),
        column_order=[c for c in TABLE_ORDER if c != "probability_change" or shown[c].notna().any()],
        hide_index=True,
        on_select="rerun",
        # selecting a column instead of sorting the page: a header click sorts the whole list in the warehouse
        selection_mode=["single-row", "single-column"],
        selection_default={"selection": {"rows": [], "columns": [sorted_by]}},
        key=f"at_risk_table_{sort}",
        placeholder="–",
        height=min(38 + 35 * max(len(shown), 1), 38 + 35 * 20),
    )
    selection = event.selection if event else None
    picked = selection.rows if selection else []
    headers = [c for c in (selection.columns if selection else []) if c != sorted_by]
    instance = int(rows.iloc[picked[0]]["instance"]) if picked and picked[0] < len(rows) else None
    return instance, next((HEADER_SORTS[c] for c in headers if c in HEADER_SORTS), None)


def _table_columns() -> dict[str, object]:
    column = st.column_config
    return {
        "instance": column.NumberColumn("Instance", format="%d", help="Site instance id; select a row to open it"),
        "plan_rank": column.NumberColumn(
            "#",
            format="%d",
            help="Order to contact in today's list for the recommended channel (blank: not in today's plan). "
            "Click a header marked ↕ to sort the whole list by it.",
        ),
        "churn_probability": column.ProgressColumn(
            "Risk ↕",
            min_value=0.0,
            max_value=100.0,
            format="%.0f%%",
            color="auto-inverse",
            help="Probability the evaluator will not buy (orange above 50%, blue below)",
        ),
        "risk_tier": column.TextColumn("Tier", help="Low: below the model's cut-off. Medium and high: flagged"),
        "day_of_trial": column.NumberColumn("Day", help="Day of the trial at the score date"),
        "top_reason": column.TextColumn("Top reason", width="large"),
        "segment": column.TextColumn("Segment"),
        "recommended_channel": column.TextColumn(
            "Channel", help="Today's plan channel, else the channel whose contact is worth most, when one pays"
        ),
        "channel_uplift": column.NumberColumn(
            "Uplift", format="%+.1f pts", help="Estimated retention uplift of the recommended channel"
        ),
        "expected_value": column.NumberColumn(
            "Value of contact ↕",
            format="dollar",
            help="Expected retained revenue of contacting through the channel: risk × annual value × save rate "
            "− the channel's cost",
        ),
        "probability_change": column.NumberColumn(
            "Change ↕", format="%+.1f pts", help="Change in risk since the evaluator's previous score"
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


AUDIENCES: dict[str, str] = {"contact": "Contact list (holdout left out)", "holdout": "Holdout only (do not contact)"}
FILE_KINDS: dict[str, str] = {"contact": "at-risk", "holdout": "holdout-do-not-contact"}
LAYOUTS: dict[bool, str] = {
    False: "For people: readable headers, rounded numbers",
    True: "For imports: snake_case columns, plain values",
}


def export_panel(settings: Settings, score_set: ScoreSet, view: Filters, sort: str, summary: AtRiskSummary) -> None:
    """CSV and Excel of the filtered list (same query without paging) with the columns the user picks: a contact
    list without the holdout, or (a separate, audited choice) the holdout alone; only for roles allowed to."""
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
        offered = [a for a in AUDIENCES if user.can(actions.EXPORT_PERMISSIONS[a])]
        audience = st.radio(
            "Who is in the file", offered, key="export_audience", horizontal=True, format_func=AUDIENCES.get
        )
        available = [
            c for c in data.export_columns(settings, score_set.as_of) if c not in ("instance", "control_group")
        ]
        chosen = st.multiselect(
            "Columns (instance and the holdout flag are always included)",
            available,
            default=[c for c in DEFAULT_EXPORT if c in available],
            key="export_columns",
            format_func=lambda c: views.column_format(c).header,
        )
        left, right = st.columns(2)
        machine = left.radio("Layout", tuple(LAYOUTS), key="export_machine", format_func=LAYOUTS.get)
        comments = right.checkbox(
            "CSV: describe the list in comment lines (#) at the top",
            key="export_comments",
            help="Score date, model, filters, sort and what each column means. Excel files always carry them on "
            "a second sheet. Some imports do not accept comment lines.",
        )
        rows = summary.held_out if audience == "holdout" else summary.evaluators - summary.held_out
        st.caption(_export_note(audience, rows, summary.held_out))
        options = exports.ExportOptions(machine=machine, comments=comments)
        _download_buttons(settings, user, score_set, view, sort, tuple(chosen), rows, audience, options)


def _export_note(audience: str, rows: int, held_out: int) -> str:
    note = f"{min(rows, exports.EXPORT_ROW_CAP):,} rows in the current sort order"
    if rows > exports.EXPORT_ROW_CAP:
        note += f" — the list has {rows:,}; narrow the filters to export the rest"
    if audience == "holdout":
        note += ". **Do not contact these evaluators**: the file is for measuring what contact achieves"
    elif held_out:
        note += f"; the {held_out:,} held-out evaluators matching the filters are left out"
    return note + ". Cells that a spreadsheet would run as a formula are prefixed with a quote."


def _download_buttons(
    settings: Settings,
    user: User,
    score_set: ScoreSet,
    view: Filters,
    sort: str,
    columns: tuple[str, ...],
    rows: int,
    audience: str,
    options: exports.ExportOptions,
) -> None:
    kinds = (
        ("csv", "Download CSV", exports.CSV_MIME, ":material/csv:"),
        ("xlsx", "Download Excel", exports.EXCEL_MIME, ":material/table_view:"),
    )
    described = view.described()
    for place, (kind, label, mime, icon) in zip(st.columns(2), kinds, strict=True):
        place.download_button(
            label,
            data.export_file(settings, user, score_set, view, sort, columns, kind, audience, options),
            file_name=exports.export_file_name(FILE_KINDS[audience], score_set.as_of, described, kind),
            mime=mime,
            on_click="ignore",
            icon=icon,
            key=f"export_{kind}",
            disabled=not rows,
        )


def page_count(total: int, page_size: int) -> int:
    """How many pages the list has (at least one, even when empty)."""
    return max(1, math.ceil(total / max(1, page_size)))
