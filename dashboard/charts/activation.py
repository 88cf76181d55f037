"""Activation figures: cumulative week-1 curves by cohort or segment, the weekly trend, early actions."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.charts.theme import (
    CONTROL,
    HIGHLIGHT,
    LOWERS,
    MUTED,
    SEQUENCE,
    empty_chart,
    interval_bars,
    layout,
    percent,
)


def activation_curves_chart(curves: pd.DataFrame, highlight: dt.date | None = None, weeks: int = 8) -> go.Figure:
    """Cumulative % activated by day 0..7, one line per cohort week; the current week stands out."""
    if curves.empty:
        return empty_chart("No activation data yet")
    recent = sorted(pd.to_datetime(curves["cohort_week"]).dt.date.unique())[-weeks:]
    highlight = highlight or recent[-1]
    fig = go.Figure()
    for i, week in enumerate(recent):
        part = curves[pd.to_datetime(curves["cohort_week"]).dt.date == week]
        current = week == highlight
        shade = 0.35 + 0.5 * i / max(1, len(recent) - 1)
        fig.add_trace(
            go.Scatter(
                x=part["day_index"],
                y=percent(part["rate"]),
                mode="lines+markers",
                name=f"week of {week:%d %b}" + (" (current)" if current else ""),
                line=dict(color=HIGHLIGHT if current else f"rgba(0,114,178,{shade:.2f})", width=4 if current else 2),
                customdata=part["evaluators"],
                hovertemplate="day %{x}: %{y:.1f}% of %{customdata:,} trials<extra></extra>",
            )
        )
    fig.update_xaxes(title="day of trial", dtick=1, range=[-0.2, 7.2])
    fig.update_yaxes(title="activated", ticksuffix="%", rangemode="tozero")
    return layout(fig, "Week-1 activation curves by cohort week", height=440, legend_below=True)


def activation_segments_chart(curves: pd.DataFrame, dimension_label: str) -> go.Figure:
    """Cumulative % activated by day 0..7, one line per segment value."""
    if curves.empty:
        return empty_chart("No activation data yet")
    fig = go.Figure()
    for i, (segment, part) in enumerate(curves.groupby("segment", sort=True)):
        control = "control" in str(segment)
        fig.add_trace(
            go.Scatter(
                x=part["day_index"],
                y=percent(part["rate"]),
                mode="lines+markers",
                name=str(segment),
                line=dict(
                    color=CONTROL if control else SEQUENCE[i % len(SEQUENCE)],
                    width=2,
                    dash="dash" if control else "solid",
                ),
                customdata=part["evaluators"],
                hovertemplate=f"{segment}, day %{{x}}: %{{y:.1f}}% of %{{customdata:,}}<extra></extra>",
            )
        )
    fig.update_xaxes(title="day of trial", dtick=1)
    fig.update_yaxes(title="activated", ticksuffix="%", rangemode="tozero")
    return layout(fig, f"Week-1 activation by {dimension_label}", height=380)


def activation_trend_chart(trend: pd.DataFrame) -> go.Figure:
    """Week-1 activation rate per cohort week with 95% intervals; incomplete weeks drawn lighter."""
    if trend.empty:
        return empty_chart("No cohort has reached day 7 yet")
    weeks = pd.to_datetime(trend["cohort_week"])
    complete = trend["complete"].astype(bool)
    fig = go.Figure(
        go.Bar(
            x=weeks,
            y=percent(trend["rate"]),
            marker_color=[LOWERS if c else MUTED for c in complete],
            error_y=interval_bars(trend["rate"], trend["rate_low"], trend["rate_high"], thickness=1),
            customdata=np.column_stack([trend["evaluators"], percent(trend["change"].fillna(0))]),
            hovertemplate="week of %{x|%d %b}: %{y:.1f}% of %{customdata[0]:,} "
            "(%{customdata[1]:+.1f} points on the week before)<extra></extra>",
        )
    )
    fig.update_yaxes(title="activated by day 7", ticksuffix="%", rangemode="tozero")
    fig.update_xaxes(title="cohort week (trial start)")
    return layout(fig, "Week-1 activation rate by cohort week", height=440, showlegend=False)


def early_actions_chart(actions: pd.DataFrame) -> go.Figure:
    """Early actions (days 0..2), ranked by impact: reach, and the activation and retention lift of doers."""
    df = actions.dropna(subset=["reach"]).iloc[::-1]
    if df.empty:
        return empty_chart("No trial has reached day 2 yet")
    fig = make_subplots(
        rows=1,
        cols=3,
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=("Reach: did it in days 0-2", "Activation lift (points)", "Retention lift (points)"),
    )
    fig.add_trace(
        go.Bar(
            x=percent(df["reach"]),
            y=df["action"],
            orientation="h",
            marker_color=MUTED,
            hovertemplate="%{y}: %{x:.0f}% of trials<extra></extra>",
        ),
        row=1,
        col=1,
    )
    for col, outcome in ((2, "activation"), (3, "retention")):
        lift = df[f"{outcome}_lift"]
        fig.add_trace(
            go.Scatter(
                x=percent(lift),
                y=df["action"],
                mode="markers",
                marker=dict(size=10, color=LOWERS),
                error_x=interval_bars(lift, df[f"{outcome}_lift_low"], df[f"{outcome}_lift_high"], thickness=1),
                hovertemplate="%{y}: %{x:+.1f} points<extra>" + outcome + "</extra>",
            ),
            row=1,
            col=col,
        )
        fig.add_vline(x=0, line=dict(color=CONTROL, dash="dot"), row=1, col=col)
    fig.update_xaxes(ticksuffix="%", row=1, col=1)
    fig.update_annotations(font=dict(size=13))
    layout(fig, None, height=150 + 30 * len(df), showlegend=False)
    fig.update_layout(margin=dict(t=40))
    return fig
