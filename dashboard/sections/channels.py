"""The channels page's building blocks: the adjusted effects' tables (channels, content), the content controls,
and the raw comparisons' tables, labelled as comparisons."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import streamlit as st

from dashboard import ui


def effects_table(effects: pd.DataFrame) -> None:
    """Each channel's adjusted uplift with its interval, the groups behind it, its cost and how often it is chosen."""
    if effects.empty:
        return
    shown = effects.assign(
        uplift=effects["uplift"] * 100,
        ci=_intervals(effects["ci_low"], effects["ci_high"], signed=True),
        source=["estimated" if e else "too little history: save rate from settings" for e in effects["estimated"]],
    )
    config = {
        "label": st.column_config.TextColumn("Channel"),
        "uplift": st.column_config.NumberColumn("Uplift (adjusted)", format="%+.1f pts"),
        "ci": st.column_config.TextColumn("95% interval"),
        "n_treated": st.column_config.NumberColumn("In its campaigns", format="localized"),
        "n_control": st.column_config.NumberColumn("No-contact control", format="localized"),
        "cost": st.column_config.NumberColumn("Cost per contact", format="dollar"),
        "recommended": st.column_config.NumberColumn("Recommended to", format="localized"),
        "source": st.column_config.TextColumn("Uplift from"),
    }
    st.dataframe(shown, column_config=config, column_order=list(config), hide_index=True)


def content_controls(sizes: pd.Series) -> tuple[int, bool]:
    """The smallest sample to show (a slider over the items' own sizes) and whether to rank by the lower end."""
    low, high = int(sizes.min()), int(sizes.max())
    left, right = st.columns(2)
    if low < high:
        min_sent = left.slider(
            "Show items sent to at least (evaluators with a known outcome)",
            low,
            high,
            low,
            key="content_min_n",
            help=f"The items' samples range from {low:,} to {high:,} evaluators.",
        )
    else:
        min_sent = low
    rank = right.segmented_control("Rank by", ("lift", "lower end of the interval"), default="lift", key="content_rank")
    return min_sent, rank == "lower end of the interval"


def content_effects_table(content: pd.DataFrame) -> None:
    """Content items with their adjusted lift and interval, and the raw difference beside it."""
    if content.empty:
        return
    shown = content.assign(
        lift=content["lift"] * 100,
        raw_lift=content["raw_lift"] * 100,
        ci=_intervals(content["ci_low"], content["ci_high"], signed=True),
    )
    config = {
        **_item_columns(),
        "topic": st.column_config.TextColumn("Topic"),
        "n_sent": st.column_config.NumberColumn("Sent to (outcome known)", format="localized"),
        "lift": st.column_config.NumberColumn("Lift (adjusted)", format="%+.1f pts"),
        "ci": st.column_config.TextColumn("95% interval"),
        "raw_lift": st.column_config.NumberColumn(
            "Raw difference", format="%+.1f pts", help="Retention of those sent it − the control's: a comparison"
        ),
    }
    st.dataframe(shown, column_config=config, column_order=list(config), hide_index=True)


def channel_table(outcomes: pd.DataFrame) -> None:
    """Raw comparison: each channel's retention, activation and response rates with 95% intervals, and the
    control group's row (which has no response rate: nothing was sent)."""
    if outcomes.empty:
        return
    missing = pd.Series(float("nan"), index=outcomes.index)  # no control group: no difference
    shown = outcomes.assign(
        retention=outcomes["retention"] * 100,
        activation=outcomes["activation"] * 100,
        retention_ci=_intervals(outcomes["retention_low"], outcomes["retention_high"]),
        difference=_points(outcomes.get("retention_lift", missing)),
        difference_ci=_intervals(
            outcomes.get("retention_lift_low", missing), outcomes.get("retention_lift_high", missing), signed=True
        ),
        response=[ui.percent(r, 1) for r in outcomes["response"]],
        delivered=["–" if d != d else f"{int(d):,}" for d in outcomes["delivered"]],
    )
    config = {
        "label": st.column_config.TextColumn("Reached by", width="medium"),
        "evaluators": st.column_config.NumberColumn("Evaluators", format="localized"),
        "resolved": st.column_config.NumberColumn("Outcome known", format="localized"),
        "retention": st.column_config.NumberColumn("Retention", format="%.1f%%"),
        "retention_ci": st.column_config.TextColumn("Retention 95% CI"),
        "difference": st.column_config.TextColumn("Difference to control"),
        "difference_ci": st.column_config.TextColumn("Difference 95% CI"),
        "activation": st.column_config.NumberColumn("Week-1 activation", format="%.1f%%"),
        "response": st.column_config.TextColumn("Response rate"),
        "delivered": st.column_config.TextColumn("Touches delivered"),
    }
    st.dataframe(shown, column_config=config, column_order=list(config), hide_index=True)


def engaged_table(content: pd.DataFrame) -> None:
    """Raw comparison: retention of those who opened or answered each item against the control group."""
    if content.empty:
        return
    shown = content.assign(
        retention=content["retention"] * 100,
        difference=content["lift"] * 100,
        difference_ci=_intervals(content["lift_low"], content["lift_high"], signed=True),
    )
    config = {
        **_item_columns(),
        "engaged": st.column_config.NumberColumn("Opened or answered", format="localized"),
        "resolved": st.column_config.NumberColumn("Outcome known", format="localized"),
        "retention": st.column_config.NumberColumn("Retention", format="%.1f%%"),
        "difference": st.column_config.NumberColumn("Difference to control", format="%+.1f pts"),
        "difference_ci": st.column_config.TextColumn("Difference 95% CI"),
    }
    st.dataframe(shown, column_config=config, column_order=list(config), hide_index=True)


def _item_columns() -> dict[str, object]:
    """A content item's columns: id, title and channel."""
    return {
        "content_id": st.column_config.TextColumn("Item"),
        "title": st.column_config.TextColumn("Title", width="medium"),
        "label": st.column_config.TextColumn("Channel"),
    }


def _points(values: Iterable[float]) -> list[str]:
    return [ui.points(v) or "–" for v in values]


def _intervals(lows: Iterable[float], highs: Iterable[float], signed: bool = False) -> list[str]:
    """Each interval as text, "–" where it is unknown."""
    fmt = "{:+.1%}" if signed else "{:.1%}"
    return [
        "–" if low != low or high != high else f"{fmt.format(low)} to {fmt.format(high)}"
        for low, high in zip(lows, highs, strict=True)
    ]
