"""One evaluator's figures: risk history, SHAP waterfall and changes, feature comparison, activity, touches."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from churn_core.schema import NO_DATA, channel_label
from churn_core.views import CohortComparison
from dashboard.charts.theme import (
    CONTROL,
    HIGHLIGHT,
    LOWERS,
    MUTED,
    NEUTRAL,
    RAISES,
    RISK_COLOURS,
    SEQUENCE,
    empty_chart,
    layout,
    log_ticks,
    percent,
)


def risk_history_chart(history: pd.DataFrame, high: float, medium: float) -> go.Figure:
    """An evaluator's churn probability across score sets, over the risk-tier bands."""
    if history.empty:
        return empty_chart("No score history yet")
    fig = go.Figure()
    for low, top, tier in ((high, 1.0, "high"), (medium, high, "medium"), (0.0, medium, "low")):
        fig.add_hrect(
            y0=low * 100,
            y1=top * 100,
            fillcolor=RISK_COLOURS[tier],
            opacity=0.08,
            line_width=0,
            annotation_text=f"{tier} risk",
            annotation_position="bottom left",
            annotation_font=dict(color=RISK_COLOURS[tier], size=11),
        )
    fig.add_trace(
        go.Scatter(
            x=pd.to_datetime(history["as_of_date"]),
            y=percent(history["churn_probability"]),
            mode="lines+markers",
            line=dict(color=NEUTRAL, width=2),
            marker=dict(size=8, color=[RISK_COLOURS.get(t, NEUTRAL) for t in history["risk_tier"]]),
            hovertemplate="%{x|%d %b %Y}: %{y:.0f}% risk<extra></extra>",
            name="risk",
        )
    )
    fig.update_yaxes(range=[0, 100], ticksuffix="%", title="churn risk")
    fig.update_xaxes(title=None, tickformat="%d %b", dtick=86_400_000 if len(history) <= 10 else None)
    return layout(fig, "Risk across score sets", height=280, showlegend=False)


def shap_waterfall_chart(
    drivers: pd.DataFrame, base_risk: float, risk: float, top_n: int = 10, title: str | None = None
) -> go.Figure:
    """Why this risk: from the average evaluator's risk through each driver's push (probability points,
    churn_core.views.explanation) to this evaluator's, which is `risk`, the number shown everywhere else."""
    if drivers.empty:
        return empty_chart("No drivers for this score")
    top = drivers.head(top_n)
    rest = drivers.iloc[top_n:]
    labels = [f"{r.label} = {r.value_text}" if r.value_text else r.label for r in top.itertuples()]
    values = (top["points"] * 100).tolist()
    if len(rest):
        labels.append(f"{len(rest)} other features")
        values.append(float(rest["points"].sum()) * 100)
    start = base_risk * 100
    fig = go.Figure(
        go.Waterfall(
            orientation="h",
            y=["average evaluator", *labels, "this evaluator"],
            x=[start, *values, risk * 100],
            measure=["absolute", *["relative"] * len(values), "total"],
            increasing=dict(marker=dict(color=RAISES)),
            decreasing=dict(marker=dict(color=LOWERS)),
            totals=dict(marker=dict(color=NEUTRAL)),
            connector=dict(line=dict(color="#BBBBBB", width=1)),
            text=[f"{base_risk:.0%}", *[f"{v:+.1f} pts" for v in values], f"{risk:.0%} risk"],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{text}<extra></extra>",
        )
    )
    running = np.cumsum([start, *values])
    low, high = float(min(running.min(), risk * 100)), float(max(running.max(), risk * 100))
    pad = 0.2 * (high - low or 10.0)
    fig.update_xaxes(
        title="churn risk (each bar: points it adds or takes away)",
        ticksuffix="%",
        range=[max(0.0, low - pad), min(100.0, high + pad)],
    )
    fig.update_yaxes(autorange="reversed")  # top to bottom, in the order the running total is summed
    return layout(fig, title or "What drives this risk", height=120 + 28 * (len(values) + 2), showlegend=False)


def shap_change_chart(changes: pd.DataFrame, top_n: int = 8) -> go.Figure:
    """What changed since the previous score: each driver's push now minus then, in probability points."""
    if changes.empty:
        return empty_chart("No previous score to compare with")
    if float(changes["change"].abs().max()) < 1e-6:
        return empty_chart("No change since the previous score")
    top = changes.head(top_n).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=top["change"] * 100,
            y=top["label"],
            orientation="h",
            marker_color=[RAISES if c > 0 else LOWERS for c in top["change"]],
            hovertemplate="%{y}: %{x:+.1f} points<extra></extra>",
        )
    )
    fig.update_xaxes(title="change in risk points (right = now pushes risk up)", zeroline=True)
    return layout(fig, "What changed since the previous score", height=120 + 26 * len(top), showlegend=False)


def feature_vs_cohorts_chart(comparison: CohortComparison) -> go.Figure:
    """This evaluator's values against the medians of retained and churned evaluators of its team size on
    the same day of trial (log scale): the numbers its reasons quote."""
    table = comparison.table
    if table.empty or table[["retained", "churned"]].isna().all().all():
        return empty_chart("No resolved evaluators to compare with")
    rows = table.iloc[::-1]
    names = [
        f"{label} ({text})" if text == NO_DATA else label
        for label, text in zip(rows["label"], rows["value_text"], strict=True)
    ]
    fig = go.Figure()
    for name, values, colour, symbol in (
        ("retained (median)", rows["retained"], LOWERS, "diamond"),
        ("churned (median)", rows["churned"], RAISES, "square"),
        ("this evaluator", rows["value"], NEUTRAL, "circle"),
    ):
        v = np.asarray(values, float)
        fig.add_trace(
            go.Scatter(
                x=np.log1p(v),
                y=names,
                mode="markers",
                name=name,
                marker=dict(
                    color=colour,
                    symbol=symbol,
                    size=11 if name == "this evaluator" else 9,
                    line=dict(width=1, color="white"),
                ),
                customdata=v,
                hovertemplate="%{y}: %{customdata:,.2~f}<extra>" + name + "</extra>",
            )
        )
    known = [*rows["value"].tolist(), *rows["retained"].tolist(), *rows["churned"].tolist()]
    tickvals, ticktext = log_ticks([v for v in known if np.isfinite(v)])
    fig.update_xaxes(tickvals=tickvals, ticktext=ticktext, title="value (log scale)")
    title = f"Against retained and churned teams of {comparison.band} on day {comparison.day}"
    return layout(fig, title, height=140 + 24 * len(rows))


def daily_activity_chart(activity: pd.DataFrame) -> go.Figure:
    """An evaluator's trial day by day: active users (bars) and the main actions (lines)."""
    if activity.empty:
        return empty_chart("No product usage recorded for this evaluator")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Bar(x=activity["day_index"], y=activity["active_users"], name="active users", marker_color=MUTED),
        secondary_y=False,
    )
    for i, (column, label) in enumerate(
        (
            ("issues_created", "issues created"),
            ("issues_updated", "issues updated"),
            ("issues_commented", "comments"),
            ("invites_sent", "invitations"),
            ("sprints_started", "sprints started"),
        )
    ):
        if column in activity:
            fig.add_trace(
                go.Scatter(
                    x=activity["day_index"],
                    y=activity[column],
                    name=label,
                    mode="lines+markers",
                    line=dict(color=SEQUENCE[(i + 1) % len(SEQUENCE)], width=2),
                ),
                secondary_y=True,
            )
    fig.add_vrect(
        x0=-0.5,
        x1=7.5,
        fillcolor=MUTED,
        opacity=0.08,
        line_width=0,
        annotation_text="week 1",
        annotation_position="top left",
    )
    fig.update_xaxes(title="day of trial", dtick=1)
    fig.update_yaxes(title="active users", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title="actions", secondary_y=True, rangemode="tozero", showgrid=False, tickmode="auto", nticks=6)
    return layout(fig, "Daily activity", height=380, legend_below=True)


TOUCH_OUTCOMES = (
    ("responded", "responded", "star", "#009E73"),
    ("opened", "opened", "circle", LOWERS),
    ("delivered", "delivered, no response", "circle-open", LOWERS),
    ("not delivered", "not delivered", "x", CONTROL),
)


def touches_chart(touches: pd.DataFrame, start: Any = None, scored: Any = None, days: int = 14) -> go.Figure:
    """Marketing touches on the trial's timeline, one row per channel, marked by the evaluator's response; a
    dotted line at `scored`, the score set's date (touches after it were not known to that score)."""
    if touches.empty:
        return empty_chart("No marketing touches for this evaluator")
    outcome = np.select(
        [touches["responded"] == 1, touches["opened"] == 1, touches["delivered"] == 1],
        ["responded", "opened", "delivered"],
        "not delivered",
    )
    fig = go.Figure()
    for key, label, symbol, colour in TOUCH_OUTCOMES:
        part = touches[outcome == key]
        if len(part):
            fig.add_trace(
                go.Scatter(
                    x=pd.to_datetime(part["sent_at"]),
                    y=part["channel"].map(channel_label),
                    mode="markers",
                    name=label,
                    marker=dict(symbol=symbol, size=13, color=colour),
                    text=part.get("title", part.get("content_id")),
                    hovertemplate="%{x|%d %b %H:%M} %{y}: %{text}<extra>" + label + "</extra>",
                )
            )
    if start is not None and not pd.isna(start):
        first = pd.Timestamp(start)
        last = max(first + pd.Timedelta(days=days), pd.to_datetime(touches["sent_at"]).max() + pd.Timedelta(days=1))
        fig.update_xaxes(range=[first, last])
    if scored is not None and not pd.isna(scored):
        when = pd.Timestamp(scored)
        fig.add_shape(type="line", x0=when, x1=when, y0=0, y1=1, yref="paper", line=dict(color=MUTED, dash="dot"))
        fig.add_annotation(x=when, y=1, yref="paper", text="scored", showarrow=False, yanchor="bottom")
    fig.update_xaxes(tickformat="%d %b")
    return layout(fig, "Marketing touches and responses", height=260)


def channel_uplift_chart(uplifts: pd.DataFrame, recommended: str | None) -> go.Figure:
    """Estimated retention uplift of each channel for one evaluator; the recommended one highlighted."""
    if uplifts.empty:
        return empty_chart("No channel uplift estimates in this score set")
    df = uplifts.iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=percent(df["uplift"]),
            y=df["channel"].map(channel_label),
            orientation="h",
            marker_color=[HIGHLIGHT if c == recommended else MUTED for c in df["channel"]],
            text=[f"{u:+.1%}" for u in df["uplift"]],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:+.1f} points<extra></extra>",
        )
    )
    values = percent(df["uplift"])
    low, high = min(0.0, float(np.nanmin(values))), max(0.0, float(np.nanmax(values)))
    pad = 0.25 * ((high - low) or 1.0)
    fig.update_xaxes(
        title="estimated retention uplift (percentage points)",
        range=[low - pad if low < 0 else 0, high + pad],
    )
    return layout(fig, "Channel uplift for this evaluator", height=120 + 30 * len(df), showlegend=False)
