"""The activation page's building blocks: the headline tiles, the target and breakdown choices (kept in the URL),
each segment's week-over-week change and the early actions' table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from churn_core.settings import Settings
from churn_core.views import SEGMENT_DIMENSIONS, ActivationHeadline
from dashboard import ui

EARLY_ACTION_SHARES: dict[str, str] = {  # the early actions' columns that are shares, and their headers
    "reach": "Reach",
    "activation_doers": "Activated (doers)",
    "activation_others": "Activated (others)",
    "activation_lift": "Activation lift",
    "retention_doers": "Retained (doers)",
    "retention_others": "Retained (others)",
    "retention_lift": "Retention lift",
}
DIMENSION_KEY, TARGET_KEY = "activation_dimension", "activation_target"
DEFAULT_DIMENSION = "product"


def activation_tiles(
    trend: pd.DataFrame, headline: ActivationHeadline, target: float | None, settings: Settings
) -> None:
    """The headline (as on the home page), how it stands against the target, the week in progress, the best week."""
    tiles = st.columns(4)
    ui.activation_tile(tiles[0], headline, settings)
    tiles[1].metric(
        "Target",
        ui.percent(target, 1) if target else "none set",
        ui.points(headline.rate - target) if target and headline.rate is not None else None,
        border=True,
        delta_description="vs target" if target and headline.rate is not None else None,
        help="The rate to aim for: setting activation_target, or the box below (kept in the address).",
    )
    partial = trend[~trend["complete"]]
    if len(partial):
        now = partial.iloc[-1]
        tiles[2].metric(
            f"Week of {now['cohort_week']:%d %b} so far",
            ui.percent(now["rate"], 1),
            border=True,
            delta_description=f"partial, {int(now['days_so_far'])} of 14 days",
            delta=None,
            help=f"{int(now['evaluators']):,} of its trials have reached day 7 so far: the early starters of "
            "the week, who are not like the rest, so the rate is not compared with complete weeks.",
        )
    complete = trend[trend["complete"]]
    if len(complete):
        best = complete.loc[complete["rate"].idxmax()]
        tiles[3].metric(
            "Best complete week",
            ui.percent(best["rate"], 1),
            border=True,
            delta_description=f"week of {best['cohort_week']:%d %b}",
            delta=None,
        )


def target_choice(settings: Settings) -> float | None:
    """The target rate (a share; None for none): the URL's `target=` (in %), else setting activation_target."""
    state = st.session_state
    if TARGET_KEY not in state:
        state[TARGET_KEY] = _url_percent("target", settings.activation_target * 100)
    st.number_input(
        "Target, % activated by day 7",
        min_value=0.0,
        max_value=99.0,
        step=0.5,
        format="%.1f",
        key=TARGET_KEY,
        help="Drawn on the charts; 0 for none. The default comes from setting activation_target.",
    )
    chosen = float(state[TARGET_KEY] or 0.0)
    _to_url("target", f"{chosen:g}" if abs(chosen - settings.activation_target * 100) > 1e-9 else None)
    return chosen / 100 if chosen else None


def breakdown_choice() -> str:
    """The segment dimension to break activation down by: the URL's `by=`, else product; kept in the URL."""
    state = st.session_state
    if DIMENSION_KEY not in state:
        wanted = st.query_params.get("by")
        state[DIMENSION_KEY] = wanted if wanted in SEGMENT_DIMENSIONS else DEFAULT_DIMENSION
    dimension = (
        st.segmented_control(
            "Break down by", tuple(SEGMENT_DIMENSIONS), format_func=SEGMENT_DIMENSIONS.get, key=DIMENSION_KEY
        )
        or DEFAULT_DIMENSION
    )
    _to_url("by", None if dimension == DEFAULT_DIMENSION else dimension)
    return dimension


def _url_percent(name: str, default: float) -> float:
    text = st.query_params.get(name, "")
    try:
        value = float(text)
    except ValueError:
        return default
    return value if 0 <= value < 100 else default


def _to_url(name: str, value: str | None) -> None:
    """Write one parameter of the page's view to the URL (None removes it)."""
    if value is None:
        if name in st.query_params:
            del st.query_params[name]
    elif st.query_params.get(name) != value:
        st.query_params[name] = value


def segment_table(changes: pd.DataFrame, dimension_label: str) -> None:
    """Each segment's last complete week against the week before."""
    if changes.empty:
        return
    week = changes["week"].iloc[0]
    config = {
        "segment": st.column_config.TextColumn(dimension_label.capitalize()),
        **ui.percent_columns({"rate": f"Week of {week:%d %b}", "previous_rate": "Week before"}),
        "change": st.column_config.TextColumn("Change"),
        "evaluators": st.column_config.NumberColumn("Trials", format="localized"),
        "previous_evaluators": st.column_config.NumberColumn("Trials the week before", format="localized"),
    }
    change = [ui.points(c) or "too few trials" for c in changes["change"]]
    shown = ui.scaled(changes.assign(segment=changes["segment"].astype(str), change=change), ["rate", "previous_rate"])
    st.dataframe(shown, column_config=config, column_order=list(config), hide_index=True)


def early_actions_table(actions: pd.DataFrame) -> None:
    """Per early action: reach, activation and retention of the doers and the others, the lifts, the impact."""
    config = {
        "action": st.column_config.TextColumn("Action in days 0-2"),
        "doers": st.column_config.NumberColumn("Trials that did it", format="localized"),
        "doers_resolved": st.column_config.NumberColumn("…with known outcome", format="localized"),
        **ui.percent_columns(EARLY_ACTION_SHARES, signed=("activation_lift", "retention_lift")),
        "impact": st.column_config.NumberColumn("Impact", format="%.3f", help="reach × retention lift"),
    }
    columns = ["action", *EARLY_ACTION_SHARES, "impact", "doers", "doers_resolved"]
    st.dataframe(ui.scaled(actions[columns], list(EARLY_ACTION_SHARES)), column_config=config, hide_index=True)
