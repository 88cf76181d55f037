"""The activation page's building blocks: the week-1 tiles and the early actions' table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

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
