"""Channel and content figures: rates per channel against the control, uplift estimates, content lift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.theme import CONTROL, LOWERS, MUTED, empty_chart, interval_bars, layout, percent


def channel_rates_chart(outcomes: pd.DataFrame, metric: str, label: str) -> go.Figure:
    """A rate per channel with its 95% Wilson interval, the control group's rate as a reference line."""
    df = outcomes.dropna(subset=[metric])
    if df.empty:
        return empty_chart(f"No {label.lower()} data")
    control = df[df["is_control"]]
    fig = go.Figure(
        go.Scatter(
            x=percent(df[metric]),
            y=df["arm"],
            mode="markers",
            marker=dict(
                size=12,
                color=[CONTROL if c else LOWERS for c in df["is_control"]],
                symbol=["diamond" if c else "circle" for c in df["is_control"]],
            ),
            error_x=interval_bars(df[metric], df[f"{metric}_low"], df[f"{metric}_high"], thickness=1.5),
            hovertemplate="%{y}: %{x:.1f}%<extra></extra>",
        )
    )
    if len(control) and pd.notna(control.iloc[0][metric]):
        fig.add_vline(
            x=float(control.iloc[0][metric]) * 100,
            line=dict(color=CONTROL, dash="dash"),
            annotation_text="control",
            annotation_position="top",
        )
    fig.update_xaxes(title="95% interval", ticksuffix="%")
    fig.update_yaxes(autorange="reversed")
    return layout(fig, label, height=110 + 34 * len(df), showlegend=False)


def channel_effects_chart(effects: pd.DataFrame) -> go.Figure:
    """The scoring job's uplift estimate per channel with its interval and sample sizes."""
    if effects.empty:
        return empty_chart("The scoring job has not estimated channel uplift yet")
    df = effects.dropna(subset=["uplift"]).iloc[::-1]
    if df.empty:
        return empty_chart("Not enough history yet to estimate any channel's uplift")
    low = df["ci_low"] if "ci_low" in df else df["uplift"]
    high = df["ci_high"] if "ci_high" in df else df["uplift"]
    fig = go.Figure(
        go.Scatter(
            x=percent(df["uplift"]),
            y=df["channel"],
            mode="markers",
            marker=dict(size=12, color=LOWERS),
            error_x=interval_bars(df["uplift"], low, high),
            customdata=np.column_stack(
                [
                    df.get("n_treated", pd.Series(np.nan, index=df.index)),
                    df.get("n_control", pd.Series(np.nan, index=df.index)),
                ]
            ),
            hovertemplate="%{y}: %{x:+.1f} points (treated %{customdata[0]:,}, control %{customdata[1]:,})"
            "<extra></extra>",
        )
    )
    fig.add_vline(x=0, line=dict(color=CONTROL, dash="dot"))
    fig.update_xaxes(title="retention uplift over no contact (percentage points, 95% interval)")
    return layout(fig, "Estimated uplift per channel (scoring job)", height=120 + 34 * len(df), showlegend=False)


def content_lift_chart(content: pd.DataFrame, top_n: int = 20) -> go.Figure:
    """Content items by retention lift over the control, with intervals; thin samples drawn hollow."""
    df = content.head(top_n).iloc[::-1]
    if df.empty:
        return empty_chart("No content engagement recorded")
    labels = [f"{t} ({c}, n={n:,})" for t, c, n in zip(df["title"], df["channel"], df["resolved"], strict=True)]
    fig = go.Figure(
        go.Scatter(
            x=percent(df["lift"]),
            y=labels,
            mode="markers",
            marker=dict(
                size=11,
                color=[LOWERS if e else CONTROL for e in df["enough_data"]],
                symbol=["circle" if e else "circle-open" for e in df["enough_data"]],
            ),
            error_x=interval_bars(df["lift"], df["lift_low"], df["lift_high"], MUTED),
            hovertemplate="%{y}<br>lift %{x:+.1f} points<extra></extra>",
        )
    )
    fig.add_vline(x=0, line=dict(color=CONTROL, dash="dot"))
    fig.update_xaxes(title="retention lift over the no-contact control (points, 95% interval)")
    return layout(fig, "Content ranked by lift among those who engaged", height=120 + 26 * len(df), showlegend=False)
