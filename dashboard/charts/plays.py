"""The Plays page's figure: each play's effect on retention so far, with the interval for one look and the
always-valid one its verdict reads."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.theme import LOWERS, MUTED, NEUTRAL, empty_chart, interval_bars, layout, percent

# drawn in this order: the wide always-valid interval under the adjusted one it contains
INTERVALS: tuple[tuple[str, str, str, float], ...] = (
    ("always_valid", "Always valid, 95% (the verdict's: safe to check daily)", MUTED, 9.0),
    ("adjusted", "Effect so far, 95% (adjusted for risk at assignment)", LOWERS, 2.0),
)


def play_effects_chart(results: pd.DataFrame) -> go.Figure:
    """Per play (rows of churn_core.plays.results.results_frame), the retention effect in points with both
    intervals, and a line at no effect."""
    df = results.dropna(subset=["adjusted"])
    if df.empty:
        return empty_chart("No play has resolved outcomes in both arms yet")
    fig = go.Figure()
    for name, label, colour, thickness in INTERVALS:
        fig.add_trace(
            go.Scatter(
                x=percent(df[name]),
                y=df["play"],
                name=label,
                mode="markers",
                marker=dict(size=11, color=LOWERS, symbol="line-ns-open" if thickness > 2 else "circle"),
                error_x=interval_bars(
                    df[name], df[f"{name}_low"], df[f"{name}_high"], colour, thickness=thickness, width=0
                ),
                hovertemplate="%{y}: %{x:+.1f} pts<extra>" + label + "</extra>",
            )
        )
    fig.add_vline(x=0, line=dict(color=NEUTRAL, dash="dash"), annotation_text="no effect", annotation_position="top")
    fig.update_xaxes(title="Retention: contacted - held out (percentage points)", ticksuffix=" pts", zeroline=False)
    layout(fig, height=190 + 50 * len(df), legend_below=True)
    return fig.update_layout(margin=dict(t=30, b=100), legend=dict(y=-0.5 if len(df) < 3 else -0.3))
