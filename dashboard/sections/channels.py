"""The channels page's building blocks: channel outcomes against the control, content ranked by lift."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import streamlit as st

from dashboard import ui

CHANNEL_ORDER: tuple[str, ...] = (
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
)
CONTENT_ORDER: tuple[str, ...] = (
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
)


def channel_table(outcomes: pd.DataFrame) -> None:
    """Each channel's retention, activation and response rates with 95% intervals, against the control."""
    if outcomes.empty:
        return
    missing = pd.Series(float("nan"), index=outcomes.index)  # no control group: no lift
    shown = outcomes.assign(
        retention_ci=_intervals(outcomes["retention_low"], outcomes["retention_high"]),
        lift_ci=_intervals(
            outcomes.get("retention_lift_low", missing), outcomes.get("retention_lift_high", missing), signed=True
        ),
    )
    config = {
        "arm": st.column_config.TextColumn("Channel", width="medium"),
        "evaluators": st.column_config.NumberColumn("Evaluators", format="localized"),
        "resolved": st.column_config.NumberColumn("Outcome known", format="localized"),
        **ui.percent_columns(
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
    shown = ui.scaled(shown, ["retention", "activation", "response", "retention_lift"])
    st.dataframe(shown, column_config=config, column_order=[c for c in CHANNEL_ORDER if c in shown], hide_index=True)


def content_table(content: pd.DataFrame) -> None:
    """Content items with their retention, lift over the control and its 95% interval."""
    if content.empty:
        return
    shown = content.assign(lift_ci=_intervals(content["lift_low"], content["lift_high"], signed=True))
    config = {
        "content_id": st.column_config.TextColumn("Item"),
        "title": st.column_config.TextColumn("Title"),
        "channel": st.column_config.TextColumn("Channel"),
        "topic": st.column_config.TextColumn("Topic"),
        "engaged": st.column_config.NumberColumn("Engaged", format="localized"),
        "resolved": st.column_config.NumberColumn("Outcome known", format="localized"),
        **ui.percent_columns({"retention": "Retention", "lift": "Lift vs control"}, signed=("lift",)),
        "lift_ci": st.column_config.TextColumn("Lift 95% CI"),
        "enough_data": st.column_config.CheckboxColumn("Enough data"),
    }
    shown = ui.scaled(shown, ["retention", "lift"])
    st.dataframe(shown, column_config=config, column_order=list(CONTENT_ORDER), hide_index=True)


def _intervals(lows: Iterable[float], highs: Iterable[float], signed: bool = False) -> list[str]:
    """Each interval as text, "–" where it is unknown."""
    fmt = "{:+.1%}" if signed else "{:.1%}"
    return [
        "–" if low != low or high != high else f"{fmt.format(low)} to {fmt.format(high)}"
        for low, high in zip(lows, highs, strict=True)
    ]
