"""Activation figures: cumulative week-1 curves by cohort or segment, the weekly trend, early actions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.charts.theme import (
    CONTROL,
    HIGHLIGHT,
    LOWERS,
    MUTED,
    NEUTRAL,
    SEQUENCE,
    empty_chart,
    interval_bars,
    layout,
    percent,
)


def activation_curves_chart(curves: pd.DataFrame, weeks: int = 8) -> go.Figure:
    """Cumulative % activated by day 0..7, one line per cohort week: the headline week (the last complete one)
    stands out; weeks still in progress are dashed and say how many of their 14 days have passed."""
    if curves.empty:
        return empty_chart("No activation data yet")
    recent = sorted(curves["cohort_week"].unique())[-weeks:]
    done = sorted(curves.loc[curves["complete"], "cohort_week"].unique())
    headline = done[-1] if done else None
    fig = go.Figure()
    for i, week in enumerate(recent):
        part = curves[curves["cohort_week"] == week]
        complete = bool(part["complete"].iloc[0])
        shade = 0.35 + 0.5 * i / max(1, len(recent) - 1)
        if not complete:
            name = f"week of {week:%d %b} (partial: {int(part['days_so_far'].iloc[0])} days so far)"
            line = dict(color=CONTROL, width=2, dash="dash")
        elif week == headline:
            name, line = f"week of {week:%d %b} (last complete)", dict(color=HIGHLIGHT, width=4)
        else:
            name, line = f"week of {week:%d %b}", dict(color=f"rgba(0,114,178,{shade:.2f})", width=2)
        fig.add_trace(
            go.Scatter(
                x=part["day_index"],
                y=percent(part["rate"]),
                mode="lines+markers",
                name=name,
                line=line,
                customdata=part["evaluators"],
                hovertemplate="day %{x}: %{y:.1f}% of %{customdata:,} trials<extra>" + name + "</extra>",
            )
        )
    fig.update_xaxes(title="day of trial", dtick=1, range=[-0.2, 7.2])
    fig.update_yaxes(title="activated", ticksuffix="%", rangemode="tozero")
    return layout(fig, "Week-1 activation curves by cohort week", height=440, legend_below=True)


def activation_segments_chart(curves: pd.DataFrame, dimension_label: str) -> go.Figure:
    """Cumulative % activated by day 0..7, one line per segment value (in the frame's order of segments)."""
    if curves.empty:
        return empty_chart("No activation data yet")
    fig = go.Figure()
    for i, (segment, part) in enumerate(curves.groupby("segment", sort=True, observed=True)):
        fig.add_trace(
            go.Scatter(
                x=part["day_index"],
                y=percent(part["rate"]),
                mode="lines+markers",
                name=str(segment),
                line=_segment_line(i, segment),
                customdata=part["evaluators"],
                hovertemplate=f"{segment}, day %{{x}}: %{{y:.1f}}% of %{{customdata:,}}<extra></extra>",
            )
        )
    fig.update_xaxes(title="day of trial", dtick=1)
    fig.update_yaxes(title="activated", ticksuffix="%", rangemode="tozero")
    return layout(fig, f"Week-1 activation curves by {dimension_label}", height=400, legend_below=True)


def _segment_line(i: int, segment: object) -> dict[str, object]:
    """The i-th segment's line; the no-contact control group's is grey and dashed."""
    control = "control" in str(segment)
    return dict(color=CONTROL if control else SEQUENCE[i % len(SEQUENCE)], width=2, dash="dash" if control else "solid")


def segment_trend_chart(trend: pd.DataFrame, dimension_label: str, target: float | None = None) -> go.Figure:
    """Week-1 activation per complete cohort week, one line per segment value, with the target if one is set;
    weeks with too few trials in a segment (`enough` false) are left out: too noisy to read."""
    trend = trend[trend["enough"]]
    if trend.empty:
        return empty_chart("No complete cohort week in this period yet")
    fig = go.Figure()
    for i, (segment, part) in enumerate(trend.groupby("segment", sort=True, observed=True)):
        fig.add_trace(
            go.Scatter(
                x=pd.to_datetime(part["cohort_week"]),
                y=percent(part["rate"]),
                mode="lines+markers",
                name=str(segment),
                line=_segment_line(i, segment),
                customdata=np.column_stack([part["evaluators"], percent(part["change"].fillna(0))]),
                hovertemplate=f"{segment}, week of %{{x|%d %b}}: %{{y:.1f}}% of %{{customdata[0]:,}} "
                "(%{customdata[1]:+.1f} points on the week before)<extra></extra>",
            )
        )
    _target_line(fig, target)
    fig.update_xaxes(title="cohort week (complete weeks only)", dtick=7 * 24 * 3600 * 1000, tickformat="%d %b")
    fig.update_yaxes(title="activated by day 7", ticksuffix="%", rangemode="tozero")
    return layout(fig, f"Week-1 activation by {dimension_label}, week by week", height=400, legend_below=True)


def activation_trend_chart(trend: pd.DataFrame, target: float | None = None) -> go.Figure:
    """Week-1 activation rate per cohort week with 95% intervals: the headline week (the last complete one)
    stands out, weeks in progress are hatched and labelled partial (their rate so far is not compared)."""
    if trend.empty:
        return empty_chart("No cohort has reached day 7 yet")
    weeks = pd.to_datetime(trend["cohort_week"])
    complete = trend["complete"].astype(bool)
    headline = trend.loc[complete, "cohort_week"].max() if complete.any() else None
    colours = [
        HIGHLIGHT if w == headline else LOWERS if c else MUTED
        for w, c in zip(trend["cohort_week"], complete, strict=True)
    ]
    notes = [_week_note(*row) for row in zip(complete, trend["change"], trend["days_so_far"], strict=True)]
    fig = go.Figure(
        go.Bar(
            x=weeks,
            y=percent(trend["rate"]),
            marker=dict(color=colours, pattern=dict(shape=["" if c else "/" for c in complete])),
            error_y=interval_bars(trend["rate"], trend["rate_low"], trend["rate_high"], thickness=1),
            text=["" if c else "partial" for c in complete],
            textposition="inside",
            customdata=np.column_stack([trend["evaluators"], notes]),
            hovertemplate="week of %{x|%d %b}: %{y:.1f}% of %{customdata[0]:,} (%{customdata[1]})<extra></extra>",
        )
    )
    _target_line(fig, target)
    fig.update_yaxes(title="activated by day 7", ticksuffix="%", rangemode="tozero")
    fig.update_xaxes(title="cohort week (trial start)")
    return layout(fig, "Week-1 activation rate by cohort week", height=440, showlegend=False)


def _week_note(complete: bool, change: float, days_so_far: int) -> str:
    if not complete:
        return f"partial: {days_so_far} of 14 days so far, not compared"
    return "the first complete week" if change != change else f"{change * 100:+.1f} points on the week before"


def _target_line(fig: go.Figure, target: float | None) -> None:
    if target:
        fig.add_hline(
            y=target * 100,
            line=dict(color=NEUTRAL, dash="dot", width=2),
            annotation_text=f"target {target:.1%}",
            annotation_position="top right",
            annotation_bgcolor="rgba(255,255,255,0.85)",
        )


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
