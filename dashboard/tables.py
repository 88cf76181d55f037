"""The at-risk page's building blocks: KPI tiles, the evaluator table, the pager and the export panel."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from churn_core.access import exports
from churn_core.settings import Settings
from churn_core.views import Filters, ScoreSet
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
    sets = data.score_sets(settings)
    older = [s for s in sets if s.as_of < score_set.as_of][:1]
    # no deltas against a previous set that fails its integrity check
    older = [s for s in older if not data.score_set_problem(settings, s.as_of, s.created_at)]
    now = data.at_risk_summary(settings, score_set.as_of, Filters())
    before = data.at_risk_summary(settings, older[0].as_of, Filters()) if older else None
    activation = data.week1_activation(settings, score_set.as_of)
    since = f"since {older[0].as_of:%d %b}" if older else None

    def delta(key: str) -> str | None:
        return None if before is None else f"{now[key] - before[key]:+,.0f}"

    tiles = st.columns(4)
    tiles[0].metric(
        "Evaluators in trial",
        f"{now['evaluators']:,.0f}",
        delta("evaluators"),
        delta_color="off",
        border=True,
        delta_description=since,
        help="Scored evaluators whose outcome is not known yet.",
    )
    tiles[1].metric(
        "High risk",
        f"{now['high_risk']:,.0f}",
        delta("high_risk"),
        delta_color="inverse",
        border=True,
        delta_description=since,
        help=f"Churn probability of at least {settings.risk_tier_high:.0%} (settings risk_tier_high).",
    )
    var_delta = None if before is None else ui.money(now["value_at_risk"] - before["value_at_risk"])
    if var_delta and not var_delta.startswith("-"):
        var_delta = "+" + var_delta
    tiles[2].metric(
        "Expected value at risk",
        ui.money(now["value_at_risk"]),
        var_delta,
        delta_color="inverse",
        border=True,
        delta_description=since,
        help="Sum over evaluators of churn probability × expected annual value.",
    )
    this, last = activation["this_week"], activation["last_week"]
    change = None if this is None or last is None else this - last
    tiles[3].metric(
        "Week-1 activation",
        ui.percent(this, 1),
        ui.points(change),
        border=True,
        delta_description="vs last week" if change is not None else None,
        help="Trials that finished their first week in the last 7 days and were activated by day 7, "
        f"against the 7 days before ({activation['this_week_n']:,} and "
        f"{activation['last_week_n']:,} trials). Rule: at least "
        f"{settings.activation_min_active_users} active users and "
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
    column = st.column_config
    config = {
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
    event = st.dataframe(
        shown,
        column_config=config,
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
    cap = exports.EXPORT_ROW_CAP
    panel = st.expander(
        f"Export this list (CSV or Excel, at most {cap:,} rows)",
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
        rows = min(total, cap)
        note = f"{rows:,} rows in the current sort order"
        if total > cap:
            note += f" — the list has {total:,}; narrow the filters to export the rest"
        st.caption(note + ". Cells that a spreadsheet would run as a formula are prefixed with a quote.")
        described = view.described()
        columns = tuple(chosen)
        kinds = (
            ("csv", "Download CSV", exports.CSV_MIME, ":material/csv:"),
            ("xlsx", "Download Excel", exports.EXCEL_MIME, ":material/table_view:"),
        )
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
    return max(1, math.ceil(total / max(1, page_size)))


# --- activation, channels, drivers -------------------------------------------------------------------------


def activation_tiles(trend: pd.DataFrame) -> None:
    """The last complete week's week-1 activation with its change, and the week in progress so far."""
    complete = trend[trend["complete"] == 1]
    partial = trend[trend["complete"] == 0]
    tiles = st.columns(3)
    if len(complete):
        last = complete.iloc[-1]
        change = last["rate"] - complete.iloc[-2]["rate"] if len(complete) > 1 else None
        tiles[0].metric(
            f"Week-1 activation, week of {last['cohort_week']:%d %b}",
            ui.percent(last["rate"], 1),
            ui.points(change),
            border=True,
            delta_description="on the week before",
            help=f"{int(last['activated']):,} of {int(last['evaluators']):,} trials activated by day 7",
        )
        best = complete.loc[complete["rate"].idxmax()]
        tiles[2].metric(
            "Best week so far",
            ui.percent(best["rate"], 1),
            border=True,
            delta_description=f"week of {best['cohort_week']:%d %b}",
            delta=None,
        )
    if len(partial):
        now = partial.iloc[-1]
        tiles[1].metric(
            f"Week of {now['cohort_week']:%d %b} (in progress)",
            ui.percent(now["rate"], 1),
            border=True,
            help=f"{int(now['evaluators']):,} trials have reached day 7 so far",
        )


def _percent_columns(names: dict[str, str], signed: tuple[str, ...] = ()) -> dict[str, object]:
    """Columns holding shares shown as percentages with one decimal (the frame is scaled by _scaled)."""
    return {
        k: st.column_config.NumberColumn(v, format="%+.1f pts" if k in signed else "%.1f%%") for k, v in names.items()
    }


def _scaled(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return df.assign(**{c: df[c] * 100 for c in columns if c in df})


def early_actions_table(actions: pd.DataFrame) -> None:
    columns = [
        "action",
        "reach",
        "activation_doers",
        "activation_others",
        "activation_lift",
        "retention_doers",
        "retention_others",
        "retention_lift",
        "impact",
        "doers",
        "doers_resolved",
    ]
    config = {
        "action": st.column_config.TextColumn("Action in days 0-2"),
        "doers": st.column_config.NumberColumn("Trials that did it", format="localized"),
        "doers_resolved": st.column_config.NumberColumn("…with known outcome", format="localized"),
        **_percent_columns(
            {
                "reach": "Reach",
                "activation_doers": "Activated (doers)",
                "activation_others": "Activated (others)",
                "activation_lift": "Activation lift",
                "retention_doers": "Retained (doers)",
                "retention_others": "Retained (others)",
                "retention_lift": "Retention lift",
            },
            signed=("activation_lift", "retention_lift"),
        ),
        "impact": st.column_config.NumberColumn("Impact", format="%.3f", help="reach × retention lift"),
    }
    shares = [
        "reach",
        "activation_doers",
        "activation_others",
        "activation_lift",
        "retention_doers",
        "retention_others",
        "retention_lift",
    ]
    st.dataframe(_scaled(actions[columns], shares), column_config=config, hide_index=True)


def channel_table(outcomes: pd.DataFrame) -> None:
    if outcomes.empty:
        return
    shown = outcomes.assign(
        retention_ci=[
            _interval(lo, hi) for lo, hi in zip(outcomes["retention_low"], outcomes["retention_high"], strict=True)
        ],
        lift_ci=[
            _interval(lo, hi, signed=True)
            for lo, hi in zip(
                outcomes.get("retention_lift_low", pd.Series(float("nan"), index=outcomes.index)),
                outcomes.get("retention_lift_high", pd.Series(float("nan"), index=outcomes.index)),
                strict=True,
            )
        ],
    )
    config = {
        "arm": st.column_config.TextColumn("Channel"),
        "evaluators": st.column_config.NumberColumn("Evaluators", format="localized"),
        "resolved": st.column_config.NumberColumn("Outcome known", format="localized"),
        **_percent_columns(
            {
                "retention": "Retention",
                "activation": "Week-1 activation",
                "response": "Response rate",
                "retention_lift": "Retention vs control",
            },
            signed=("retention_lift",),
        ),
        "retention_ci": st.column_config.TextColumn("Retention 95% CI"),
        "lift_ci": st.column_config.TextColumn("vs control 95% CI"),
        "delivered": st.column_config.NumberColumn("Touches delivered", format="localized"),
    }
    order = [
        "arm",
        "evaluators",
        "resolved",
        "retention",
        "retention_ci",
        "retention_lift",
        "lift_ci",
        "activation",
        "response",
        "delivered",
    ]
    shown = _scaled(shown, ["retention", "activation", "response", "retention_lift"])
    config["arm"] = st.column_config.TextColumn("Channel", width="medium")
    st.dataframe(shown, column_config=config, column_order=[c for c in order if c in shown], hide_index=True)


def _interval(low: float, high: float, signed: bool = False) -> str:
    if low != low or high != high:
        return "–"
    fmt = "{:+.1%}" if signed else "{:.1%}"
    return f"{fmt.format(low)} to {fmt.format(high)}"


def content_table(content: pd.DataFrame) -> None:
    if content.empty:
        return
    shown = content.assign(
        lift_ci=[
            _interval(lo, hi, signed=True) for lo, hi in zip(content["lift_low"], content["lift_high"], strict=True)
        ]
    )
    config = {
        "content_id": st.column_config.TextColumn("Item"),
        "title": st.column_config.TextColumn("Title"),
        "channel": st.column_config.TextColumn("Channel"),
        "topic": st.column_config.TextColumn("Topic"),
        "engaged": st.column_config.NumberColumn("Engaged", format="localized"),
        "resolved": st.column_config.NumberColumn("Outcome known", format="localized"),
        **_percent_columns({"retention": "Retention", "lift": "Lift vs control"}, signed=("lift",)),
        "lift_ci": st.column_config.TextColumn("Lift 95% CI"),
        "enough_data": st.column_config.CheckboxColumn("Enough data"),
    }
    order = [
        "content_id",
        "title",
        "channel",
        "topic",
        "engaged",
        "resolved",
        "retention",
        "lift",
        "lift_ci",
        "enough_data",
    ]
    st.dataframe(_scaled(shown, ["retention", "lift"]), column_config=config, column_order=order, hide_index=True)


def outcome_table(by_outcome: pd.DataFrame) -> None:
    if by_outcome.empty:
        return
    number = st.column_config.NumberColumn
    config = {
        "label": st.column_config.TextColumn("Feature"),
        "doc": st.column_config.TextColumn("What it counts"),
        "retained_median": number("Stayers (median)", format="%.1f"),
        "churned_median": number("Churners (median)", format="%.1f"),
        "retained_mean": number("Stayers (mean)", format="%.1f"),
        "churned_mean": number("Churners (mean)", format="%.1f"),
        "ratio": number("Stayers ÷ churners (mean)", format="%.2f×"),
    }
    order = ["label", "retained_median", "churned_median", "retained_mean", "churned_mean", "ratio", "doc"]
    st.dataframe(by_outcome, column_config=config, column_order=order, hide_index=True)
    n1, n0 = int(by_outcome["retained_n"].iloc[0]), int(by_outcome["churned_n"].iloc[0])
    st.caption(f"Week-1 features of {n1:,} evaluators who bought and {n0:,} who left (instances_modeling).")
