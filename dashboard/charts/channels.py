"""Channel and content figures: adjusted effects first (uplift per channel, lift per content item, 95% intervals),
then raw rates per channel against the control, which are comparisons, not effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.theme import CONTROL, LOWERS, MUTED, empty_chart, interval_bars, layout, percent


def channel_rates_chart(outcomes: pd.DataFrame, metric: str, label: str) -> go.Figure:
    """A raw rate per channel reached with its 95% Wilson interval, the control group's rate as a reference line."""
    df = outcomes.dropna(subset=[metric])
    if df.empty:
        return empty_chart(f"No {label.lower()} data")
    control = df[df["is_control"]]
    fig = go.Figure(
        go.Scatter(
            x=percent(df[metric]),
            y=df["label"],
            mode="markers",
            marker=dict(
                size=12,
                color=[CONTROL if c else MUTED for c in df["is_control"]],
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
    """The scoring job's adjusted uplift per channel over no contact, with its 95% interval and sample sizes."""
    if effects.empty:
        return empty_chart("The scoring job has not estimated channel uplift yet")
    df = effects.dropna(subset=["uplift"]).iloc[::-1]
    if df.empty:
        return empty_chart("Not enough history yet to estimate any channel's uplift")
    fig = go.Figure(
        go.Scatter(
            x=percent(df["uplift"]),
            y=df["label"],
            mode="markers",
            marker=dict(size=13, color=LOWERS),
            error_x=interval_bars(df["uplift"], df["ci_low"], df["ci_high"]),
            customdata=np.column_stack([df["n_treated"], df["n_control"]]),
            hovertemplate="%{y}: %{x:+.1f} points (campaign %{customdata[0]:,}, control %{customdata[1]:,})"
            "<extra></extra>",
        )
    )
    fig.add_vline(x=0, line=dict(color=CONTROL, dash="dot"), annotation_text="no contact", annotation_position="top")
    fig.update_xaxes(title="retention uplift over no contact, adjusted (percentage points, 95% interval)")
    return layout(fig, "Adjusted uplift per channel (95% interval)", height=140 + 38 * len(df), showlegend=False)


def content_effects_chart(effects: pd.DataFrame, top_n: int = 20) -> go.Figure:
    """Content items by adjusted retention lift over no contact, with 95% intervals."""
    df = effects.head(top_n).iloc[::-1]
    if df.empty:
        return empty_chart("No content item to rank")
    labels = [f"{t} ({c}, n={n:,})" for t, c, n in zip(df["title"], df["label"], df["n_sent"], strict=True)]
    fig = go.Figure(
        go.Scatter(
            x=percent(df["lift"]),
            y=labels,
            mode="markers",
            marker=dict(size=11, color=LOWERS),
            error_x=interval_bars(df["lift"], df["ci_low"], df["ci_high"], MUTED),
            customdata=percent(df["raw_lift"]),
            hovertemplate="%{y}<br>adjusted lift %{x:+.1f} points (raw difference %{customdata:+.1f})<extra></extra>",
        )
    )
    fig.add_vline(x=0, line=dict(color=CONTROL, dash="dot"))
    fig.update_xaxes(title="retention lift over no contact, adjusted (points, 95% interval)")
    title = f"Adjusted lift per content item (the best {len(df)})"
    return layout(fig, title, height=120 + 26 * len(df), showlegend=False)
