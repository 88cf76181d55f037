"""The Plays page's building blocks: a play's status, effect so far and verdict, today's list with its export
and the pause button, and the form that creates a play (for roles that run plays)."""

from __future__ import annotations

import datetime as dt
import math

import streamlit as st

from churn_core.access import exports
from churn_core.access.roles import User
from churn_core.errors import ChurnError
from churn_core.plays.results import PlayResult
from churn_core.plays.spec import parse_play
from churn_core.plays.stats import Interval
from churn_core.plays.store import ACTIVE, PAUSED, PlayRecord
from churn_core.schema import CHANNELS, RISK_TIERS, channel_label
from churn_core.settings import Settings
from dashboard import data, ui

STATUS_ICONS: dict[str, str] = {
    "active": ":material/play_circle:",
    "paused": ":material/pause_circle:",
    "ended": ":material/stop_circle:",
}
VERDICTS: dict[str, str] = {  # colour, icon
    "working": ":green-badge[:material/check_circle: Working]",
    "not working": ":red-badge[:material/cancel: Not working]",
    "not yet clear": ":orange-badge[:material/hourglass_top: Not yet clear]",
}
LIST_COLUMNS: dict[str, object] = {
    "contact_order": st.column_config.NumberColumn("Order", width="small"),
    "instance": st.column_config.NumberColumn("Instance", format="%d"),
    "churn_probability": st.column_config.ProgressColumn("Churn risk", min_value=0, max_value=1, format="percent"),
    "risk_tier": "Risk tier",
    "contact_value": st.column_config.NumberColumn("Value of contact", format="dollar"),
    "product": "Product",
    "region": "Region",
    "expected_annual_value": st.column_config.NumberColumn("Annual value", format="dollar"),
    "day_of_trial": "Day of trial",
    "top_reason": "Top reason",
}


def play_panel(settings: Settings, user: User | None, record: PlayRecord, result: PlayResult, day: dt.date) -> None:
    """One play: what it does, its verdict and numbers, today's list, and pause/resume for roles that run plays."""
    play = record.play
    status = record.status_on(day)
    with st.container(border=True):
        st.subheader(f"{STATUS_ICONS[status]} {play.name}")
        st.caption(
            f"**{status}** · {channel_label(play.channel)} · {play.content_id} · up to {play.daily_capacity:,} a day · "
            f"{play.holdout_share:.0%} held out · {play.start_date:%d %b} – {play.end_date:%d %b %Y} · owner "
            f"{play.owner} · eligible: {play.describe_rule()}"
        )
        effect_tiles(result)
        todays_list(settings, user, record)
        if user is not None and user.can("plays") and status != "ended":
            target = PAUSED if status == ACTIVE else ACTIVE
            if st.button(f"{'Pause' if target == PAUSED else 'Resume'} this play", key=f"status_{play.name}"):
                try:
                    data.set_play_status(settings, user, play.name, target)
                except ChurnError as exc:
                    st.error(ui.error_text(exc, settings))
                else:
                    st.rerun()


def effect_tiles(result: PlayResult) -> None:
    """The verdict, the effect so far with its intervals, the arms' retention and the money."""
    st.markdown(
        f"Verdict: {VERDICTS[result.verdict]}",
        help="From the always-valid interval, safe to check every day: working when it is above no effect, not "
        "working when it is below the effect that pays for the contacts, otherwise not yet clear.",
    )
    tiles = st.columns(4)
    tiles[0].metric(
        "Effect on retention so far",
        ui.points(result.adjusted.estimate) or "–",
        help=f"Treatment - holdout among the {result.resolved_treatment + result.resolved_holdout:,} with a known "
        f"outcome, adjusted for churn risk at assignment. 95%: {_interval(result.adjusted)}; always valid (the "
        f"verdict's): {_interval(result.always_valid)}; unadjusted: {_interval(result.itt)}.",
    )
    tiles[1].metric(
        "Retention: contacted / held out",
        f"{ui.percent(result.retention_treatment)} / {ui.percent(result.retention_holdout)}",
        help=f"{result.resolved_treatment:,} of {result.treatment:,} contacted and {result.resolved_holdout:,} of "
        f"{result.holdout:,} held out have a known outcome. Week-1 activation: "
        f"{ui.percent(result.activation_treatment)} / {ui.percent(result.activation_holdout)}.",
    )
    tiles[2].metric(
        "Saves so far",
        "–" if math.isnan(result.saves) else f"{result.saves:+,.0f}",
        help="The adjusted effect x everyone contacted: evaluators kept who would have left without the play.",
    )
    tiles[3].metric(
        "Revenue / cost",
        f"{ui.money(result.revenue)} / {ui.money(result.cost)}",
        delta=None if math.isnan(result.return_on_cost) else f"return {result.return_on_cost:+.0%}",
        delta_color="normal",
        help="Revenue: saves x their mean expected annual value. Cost: the channel's cost x everyone contacted.",
    )
    reached = (
        f"{_interval(result.among_reached)}; {ui.percent(result.reach_rate)} of the contacted were reached on "
        f"{channel_label(result.channel)}"
        if result.reach_rate > 0
        else f"no {channel_label(result.channel)} touch has reached a contacted evaluator yet"
    )
    st.caption(
        f"Always-valid interval (safe to check daily): {_interval(result.always_valid)}. **Among those reached** "
        f"(compliance-adjusted, assumes no effect on those never reached): {reached}. Saves and money scale the "
        "effect so far, whatever its interval."
    )


def todays_list(settings: Settings, user: User | None, record: PlayRecord) -> None:
    """The newest treatment list in contact order, and its export for roles that run plays (audited)."""
    name = record.play.name
    day = data.play_list_days(settings).get(name)
    if day is None:
        st.caption("No list yet: the next daily scoring run assigns evaluators to this play.")
        return
    rows = data.treatment_list(settings, name, day)
    with st.expander(f"List of {day:%d %b %Y}: {len(rows):,} to contact", icon=":material/list:"):
        st.dataframe(
            rows,
            column_order=tuple(LIST_COLUMNS),
            column_config=LIST_COLUMNS,
            hide_index=True,
            height=min(420, 38 + 35 * max(1, len(rows))),
        )
        if user is None or not user.can("plays"):
            st.caption(":material/lock: Exports of play lists are for managers and admins.")
            return
        options = exports.ExportOptions()
        kinds = (("csv", "Download CSV", exports.CSV_MIME), ("xlsx", "Download Excel", exports.EXCEL_MIME))
        for place, (kind, label, mime) in zip(st.columns(2), kinds, strict=True):
            place.download_button(
                label,
                data.treatment_export(settings, user, name, day, kind, options),
                file_name=exports.export_file_name(f"play-{name}", day, None, kind),
                mime=mime,
                on_click="ignore",
                key=f"play_export_{name}_{kind}",
                disabled=rows.empty,
            )


def create_form(settings: Settings, user: User | None) -> None:
    """A form that creates a play (managers and admins); a bad entry is one message and stores nothing."""
    if user is None or not user.can("plays"):
        st.caption(":material/lock: Creating and pausing plays is for managers and admins.")
        return
    content = data.content_items(settings)
    with st.expander("Create a play", icon=":material/add_circle:"), st.form("create_play"):
        left, right = st.columns(2)
        name = left.text_input("Name", max_chars=60)
        owner = right.text_input("Owner", value=user.email)
        channel = left.selectbox("Channel", CHANNELS, format_func=channel_label)
        items = content["content_id"].tolist() if len(content) else []
        content_id = (
            right.selectbox("Content item (of the chosen channel)", items)
            if items
            else right.text_input("Content item")
        )
        capacity = left.number_input("Contacts a day at most", min_value=1, value=50, step=10)
        share = right.slider("Held out (not contacted, to measure the play)", 0.05, 0.5, 0.2, 0.05)
        today = dt.date.today()
        start = left.date_input("First day", today)
        end = right.date_input("Last day", today + dt.timedelta(days=28))
        tiers = left.multiselect("Risk tiers", RISK_TIERS, default=["high", "medium"])
        days = right.slider("Day of trial", 1, 14, (1, 7))
        overlap = st.checkbox("May take evaluators already in another active play")
        if not st.form_submit_button("Create play", type="primary"):
            return
    rule = {"day_of_trial": {"min": days[0], "max": days[1]}, **({"risk_tier": tiers} if tiers else {})}
    spec = {
        "name": name,
        "owner": owner,
        "channel": channel,
        "content_id": content_id,
        "daily_capacity": int(capacity),
        "holdout_share": float(share),
        "start_date": start,
        "end_date": end,
        "allow_overlap": overlap,
        "eligibility": rule,
    }
    try:
        data.create_play(settings, user, parse_play(spec, "the form"))
    except ChurnError as exc:
        st.error(ui.error_text(exc, settings))
        return
    st.success(f"Created play {name}: the next daily scoring run assigns evaluators to it.")


def _interval(interval: Interval) -> str:
    if math.isnan(interval.low):
        return "not enough outcomes yet"
    return f"{interval.low * 100:+.1f} to {interval.high * 100:+.1f} pts"
