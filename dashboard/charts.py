"""DataFrame -> plotly figure, one `_chart` function per picture; no Streamlit here, so each is testable.

Colours are chosen for colour-blind readers (Okabe-Ito): orange/vermillion for "raises the risk" and high
risk, blue for "lowers the risk" and low risk; tiers always carry their name too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

RISK_COLOURS: dict[str, str] = {"high": "#D55E00", "medium": "#E69F00", "low": "#0072B2"}
RAISES, LOWERS = "#D55E00", "#0072B2"
HIGHLIGHT, MUTED, NEUTRAL, CONTROL = "#D55E00", "#9BB7D4", "#4D4D4D", "#7F7F7F"
SEQUENCE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
SEQUENTIAL = "Viridis"
DIVERGING = "RdBu_r"
FONT = dict(family="Source Sans Pro, Segoe UI, sans-serif", size=13)


def _layout(
    fig: go.Figure, title: str | None = None, height: int = 360, legend_below: bool = False, **kwargs: Any
) -> go.Figure:
    """Shared look: title top left, legend top right (or below the plot when it has many entries)."""
    legend = (
        dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0)
        if legend_below
        else dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1)
    )
    fig.update_layout(
        title=dict(text=title, x=0, xanchor="left") if title else None,
        height=height,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        font=FONT,
        template="plotly_white",
        legend=legend,
        **kwargs,
    )
    return fig


def empty_chart(message: str, height: int = 200) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(
        text=message,
        showarrow=False,
        font=dict(size=14, color=NEUTRAL),
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, height=height)


def _pct(x: Any) -> Any:
    return np.asarray(x, float) * 100


# --- profile ----------------------------------------------------------------------------------------------


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
            y=_pct(history["churn_probability"]),
            mode="lines+markers",
            line=dict(color=NEUTRAL, width=2),
            marker=dict(size=8, color=[RISK_COLOURS.get(t, NEUTRAL) for t in history["risk_tier"]]),
            hovertemplate="%{x|%d %b %Y}: %{y:.0f}% risk<extra></extra>",
            name="risk",
        )
    )
    fig.update_yaxes(range=[0, 100], ticksuffix="%", title="churn risk")
    fig.update_xaxes(title=None, tickformat="%d %b", dtick=86_400_000 if len(history) <= 10 else None)
    return _layout(fig, "Risk across score sets", height=280, showlegend=False)


def shap_waterfall_chart(
    drivers: pd.DataFrame,
    base: float,
    top_n: int = 10,
    title: str | None = None,
    probability: float | None = None,
) -> go.Figure:
    """Why this risk: from the model's average (base) through each driver to this evaluator's score.

    Values are log-odds of churn (SHAP); the last bar is labelled with the evaluator's calibrated risk
    (`probability`), the number shown everywhere else, rather than the raw sigmoid of the margin.
    """
    if drivers.empty:
        return empty_chart("No drivers for this score")
    top = drivers.head(top_n)
    rest = drivers.iloc[top_n:]
    labels = [f"{r.label} = {_fmt(r.value)}" for r in top.itertuples()]
    values = top["shap"].tolist()
    if len(rest):
        labels.append(f"{len(rest)} other features")
        values.append(float(rest["shap"].sum()))
    total = base + float(drivers["shap"].sum())
    fig = go.Figure(
        go.Waterfall(
            orientation="h",
            y=["average evaluator", *labels, "this evaluator"][::-1],
            x=[base, *values, total][::-1],
            measure=["absolute", *["relative"] * len(values), "total"][::-1],
            increasing=dict(marker=dict(color=RAISES)),
            decreasing=dict(marker=dict(color=LOWERS)),
            totals=dict(marker=dict(color=NEUTRAL)),
            connector=dict(line=dict(color="#BBBBBB", width=1)),
            text=[
                "",
                *[f"{v:+.2f}" for v in values],
                f"{probability:.0%} risk" if probability is not None else f"{total:+.2f}",
            ][::-1],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:+.3f} log-odds<extra></extra>",
        )
    )
    running = np.cumsum([base, *values])
    low, high = float(min(0.0, running.min(), total)), float(max(0.0, running.max(), total))
    pad = 0.15 * (high - low or 1.0)
    fig.update_xaxes(title="log-odds of churn (right = more likely to leave)", range=[low - pad, high + pad])
    return _layout(
        fig, title or "What drives this risk", height=120 + 28 * (len(values) + 2), showlegend=False
    )


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if isinstance(value, int | float | np.integer | np.floating):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return str(value)


def shap_change_chart(changes: pd.DataFrame, top_n: int = 8) -> go.Figure:
    """What changed since the previous score: each feature's change in SHAP (log-odds)."""
    if changes.empty:
        return empty_chart("No previous score to compare with")
    if float(changes["change"].abs().max()) < 1e-6:
        return empty_chart("No change since the previous score")
    top = changes.head(top_n).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=top["change"],
            y=top["label"],
            orientation="h",
            marker_color=[RAISES if c > 0 else LOWERS for c in top["change"]],
            hovertemplate="%{y}: %{x:+.3f} log-odds<extra></extra>",
        )
    )
    fig.update_xaxes(title="change in contribution (right = now pushes risk up)", zeroline=True)
    return _layout(fig, "What changed since the previous score", height=120 + 26 * len(top), showlegend=False)


def _log_axis(values: Sequence[float]) -> tuple[list[float], list[str]]:
    top = max([1.0, *[v for v in values if v is not None and np.isfinite(v)]])
    ticks = [t for t in (0, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000) if t <= top * 1.5]
    return [float(np.log1p(t)) for t in ticks], [f"{t:,}" for t in ticks]


def feature_vs_cohorts_chart(features: Mapping[str, Any], by_outcome: pd.DataFrame) -> go.Figure:
    """This evaluator's feature values against the medians of retained and churned evaluators (log scale)."""
    if by_outcome.empty:
        return empty_chart("No resolved evaluators to compare with")
    rows = by_outcome.iloc[::-1]
    mine = [features.get(f) for f in rows["feature"]]
    mine = [float(v) if v is not None else np.nan for v in mine]
    fig = go.Figure()
    for name, values, colour, symbol in (
        ("retained (median)", rows["retained_median"], LOWERS, "diamond"),
        ("churned (median)", rows["churned_median"], RAISES, "square"),
        ("this evaluator", mine, NEUTRAL, "circle"),
    ):
        v = np.asarray(values, float)
        fig.add_trace(
            go.Scatter(
                x=np.log1p(v),
                y=rows["label"],
                mode="markers",
                name=name,
                marker=dict(
                    color=colour,
                    symbol=symbol,
                    size=11 if name == "this evaluator" else 9,
                    line=dict(width=1, color="white"),
                ),
                customdata=v,
                hovertemplate="%{y}: %{customdata:,.0f}<extra>" + name + "</extra>",
            )
        )
    tickvals, ticktext = _log_axis(
        [*mine, *rows["retained_median"].tolist(), *rows["churned_median"].tolist()]
    )
    fig.update_xaxes(tickvals=tickvals, ticktext=ticktext, title="value (log scale)")
    return _layout(fig, "Against retained and churned evaluators", height=140 + 24 * len(rows))


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
    fig.update_yaxes(
        title="actions", secondary_y=True, rangemode="tozero", showgrid=False, tickmode="auto", nticks=6
    )
    return _layout(fig, "Daily activity", height=380, legend_below=True)


TOUCH_OUTCOMES = (
    ("responded", "responded", "star", "#009E73"),
    ("opened", "opened", "circle", LOWERS),
    ("delivered", "delivered, no response", "circle-open", LOWERS),
    ("not delivered", "not delivered", "x", CONTROL),
)


def touches_chart(touches: pd.DataFrame, start: Any = None, days: int = 14) -> go.Figure:
    """Marketing touches on the trial's timeline, one row per channel, marked by the evaluator's response."""
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
                    y=part["channel"],
                    mode="markers",
                    name=label,
                    marker=dict(symbol=symbol, size=13, color=colour),
                    text=part.get("title", part.get("content_id")),
                    hovertemplate="%{x|%d %b %H:%M} %{y}: %{text}<extra>" + label + "</extra>",
                )
            )
    if start is not None and not pd.isna(start):
        first = pd.Timestamp(start)
        last = max(
            first + pd.Timedelta(days=days), pd.to_datetime(touches["sent_at"]).max() + pd.Timedelta(days=1)
        )
        fig.update_xaxes(range=[first, last])
    fig.update_xaxes(tickformat="%d %b")
    return _layout(fig, "Marketing touches and responses", height=260)


def channel_uplift_chart(uplifts: pd.DataFrame, recommended: str | None) -> go.Figure:
    """Estimated retention uplift of each channel for one evaluator; the recommended one highlighted."""
    if uplifts.empty:
        return empty_chart("No channel uplift estimates in this score set")
    df = uplifts.iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=_pct(df["uplift"]),
            y=df["channel"],
            orientation="h",
            marker_color=[HIGHLIGHT if c == recommended else MUTED for c in df["channel"]],
            text=[f"{u:+.1%}" for u in df["uplift"]],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:+.1f} points<extra></extra>",
        )
    )
    values = _pct(df["uplift"])
    low, high = min(0.0, float(np.nanmin(values))), max(0.0, float(np.nanmax(values)))
    pad = 0.25 * ((high - low) or 1.0)
    fig.update_xaxes(
        title="estimated retention uplift (percentage points)",
        range=[low - pad if low < 0 else 0, high + pad],
    )
    return _layout(fig, "Channel uplift for this evaluator", height=120 + 30 * len(df), showlegend=False)


# --- activation -------------------------------------------------------------------------------------------


def activation_curves_chart(
    curves: pd.DataFrame, highlight: dt.date | None = None, weeks: int = 8
) -> go.Figure:
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
                y=_pct(part["rate"]),
                mode="lines+markers",
                name=f"week of {week:%d %b}" + (" (current)" if current else ""),
                line=dict(
                    color=HIGHLIGHT if current else f"rgba(0,114,178,{shade:.2f})", width=4 if current else 2
                ),
                customdata=part["evaluators"],
                hovertemplate="day %{x}: %{y:.1f}% of %{customdata:,} trials<extra></extra>",
            )
        )
    fig.update_xaxes(title="day of trial", dtick=1, range=[-0.2, 7.2])
    fig.update_yaxes(title="activated", ticksuffix="%", rangemode="tozero")
    return _layout(fig, "Week-1 activation curves by cohort week", height=440, legend_below=True)


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
                y=_pct(part["rate"]),
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
    return _layout(fig, f"Week-1 activation by {dimension_label}", height=380)


def activation_trend_chart(trend: pd.DataFrame) -> go.Figure:
    """Week-1 activation rate per cohort week with 95% intervals; incomplete weeks drawn lighter."""
    if trend.empty:
        return empty_chart("No cohort has reached day 7 yet")
    weeks = pd.to_datetime(trend["cohort_week"])
    complete = trend["complete"].astype(bool)
    fig = go.Figure(
        go.Bar(
            x=weeks,
            y=_pct(trend["rate"]),
            marker_color=[LOWERS if c else MUTED for c in complete],
            error_y=dict(
                type="data",
                symmetric=False,
                array=_pct(trend["rate_high"] - trend["rate"]),
                arrayminus=_pct(trend["rate"] - trend["rate_low"]),
                color=NEUTRAL,
                thickness=1,
            ),
            customdata=np.column_stack([trend["evaluators"], _pct(trend["change"].fillna(0))]),
            hovertemplate="week of %{x|%d %b}: %{y:.1f}% of %{customdata[0]:,} "
            "(%{customdata[1]:+.1f} points on the week before)<extra></extra>",
        )
    )
    fig.update_yaxes(title="activated by day 7", ticksuffix="%", rangemode="tozero")
    fig.update_xaxes(title="cohort week (trial start)")
    return _layout(fig, "Week-1 activation rate by cohort week", height=440, showlegend=False)


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
            x=_pct(df["reach"]),
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
                x=_pct(lift),
                y=df["action"],
                mode="markers",
                marker=dict(size=10, color=LOWERS),
                error_x=dict(
                    type="data",
                    symmetric=False,
                    array=_pct(df[f"{outcome}_lift_high"] - lift),
                    arrayminus=_pct(lift - df[f"{outcome}_lift_low"]),
                    color=NEUTRAL,
                    thickness=1,
                ),
                hovertemplate="%{y}: %{x:+.1f} points<extra>" + outcome + "</extra>",
            ),
            row=1,
            col=col,
        )
        fig.add_vline(x=0, line=dict(color=CONTROL, dash="dot"), row=1, col=col)
    fig.update_xaxes(ticksuffix="%", row=1, col=1)
    fig.update_annotations(font=dict(size=13))
    _layout(fig, None, height=150 + 30 * len(df), showlegend=False)
    fig.update_layout(margin=dict(t=40))
    return fig


# --- channels and content ---------------------------------------------------------------------------------


def channel_rates_chart(outcomes: pd.DataFrame, metric: str, label: str) -> go.Figure:
    """A rate per channel with its 95% Wilson interval, the control group's rate as a reference line."""
    df = outcomes.dropna(subset=[metric])
    if df.empty:
        return empty_chart(f"No {label.lower()} data")
    control = df[df["is_control"]]
    fig = go.Figure(
        go.Scatter(
            x=_pct(df[metric]),
            y=df["arm"],
            mode="markers",
            marker=dict(
                size=12,
                color=[CONTROL if c else LOWERS for c in df["is_control"]],
                symbol=["diamond" if c else "circle" for c in df["is_control"]],
            ),
            error_x=dict(
                type="data",
                symmetric=False,
                array=_pct(df[f"{metric}_high"] - df[metric]),
                arrayminus=_pct(df[metric] - df[f"{metric}_low"]),
                color=NEUTRAL,
                thickness=1.5,
            ),
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
    return _layout(fig, label, height=110 + 34 * len(df), showlegend=False)


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
            x=_pct(df["uplift"]),
            y=df["channel"],
            mode="markers",
            marker=dict(size=12, color=LOWERS),
            error_x=dict(
                type="data",
                symmetric=False,
                array=_pct(high - df["uplift"]),
                arrayminus=_pct(df["uplift"] - low),
                color=NEUTRAL,
            ),
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
    return _layout(
        fig, "Estimated uplift per channel (scoring job)", height=120 + 34 * len(df), showlegend=False
    )


def content_lift_chart(content: pd.DataFrame, top_n: int = 20) -> go.Figure:
    """Content items by retention lift over the control, with intervals; thin samples drawn hollow."""
    df = content.head(top_n).iloc[::-1]
    if df.empty:
        return empty_chart("No content engagement recorded")
    labels = [
        f"{t} ({c}, n={n:,})" for t, c, n in zip(df["title"], df["channel"], df["resolved"], strict=True)
    ]
    fig = go.Figure(
        go.Scatter(
            x=_pct(df["lift"]),
            y=labels,
            mode="markers",
            marker=dict(
                size=11,
                color=[LOWERS if e else CONTROL for e in df["enough_data"]],
                symbol=["circle" if e else "circle-open" for e in df["enough_data"]],
            ),
            error_x=dict(
                type="data",
                symmetric=False,
                array=_pct(df["lift_high"] - df["lift"]),
                arrayminus=_pct(df["lift"] - df["lift_low"]),
                color=MUTED,
            ),
            hovertemplate="%{y}<br>lift %{x:+.1f} points<extra></extra>",
        )
    )
    fig.add_vline(x=0, line=dict(color=CONTROL, dash="dot"))
    fig.update_xaxes(title="retention lift over the no-contact control (points, 95% interval)")
    return _layout(
        fig, "Content ranked by lift among those who engaged", height=120 + 26 * len(df), showlegend=False
    )


# --- drivers ------------------------------------------------------------------------------------------------


def shap_importance_chart(importance: pd.DataFrame) -> go.Figure:
    """Mean |SHAP| per feature over the score set: how much each feature moves risk on average."""
    if importance.empty:
        return empty_chart("No SHAP values in this score set")
    df = importance.iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=df["mean_abs_shap"],
            y=df["label"],
            orientation="h",
            marker_color=LOWERS,
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="mean |SHAP| (log-odds of churn)")
    return _layout(fig, "Global importance", height=120 + 24 * len(df), showlegend=False)


def beeswarm_chart(sample: pd.DataFrame, features: Sequence[str], labels: Mapping[str, str]) -> go.Figure:
    """Each dot an evaluator: its SHAP value for a feature (x), coloured by the feature's value (rank)."""
    if sample.empty or not features:
        return empty_chart("No sampled scores")
    rng = np.random.default_rng(0)
    fig = go.Figure()
    ordered = list(features)[::-1]
    for i, feature in enumerate(ordered):
        shap = sample[f"shap_{feature}"].astype(float)
        values = sample.get(f"value_{feature}", pd.Series(np.nan, index=sample.index)).astype(float)
        colour = values.rank(pct=True).fillna(0.5)
        fig.add_trace(
            go.Scattergl(
                x=shap,
                y=i + rng.uniform(-0.3, 0.3, len(sample)),
                mode="markers",
                showlegend=False,
                marker=dict(
                    size=4,
                    color=colour,
                    colorscale=SEQUENTIAL,
                    cmin=0,
                    cmax=1,
                    opacity=0.7,
                    colorbar=dict(
                        title=dict(text="feature value", side="right"),
                        tickvals=[0, 1],
                        ticktext=["low", "high"],
                        len=0.6,
                    )
                    if i == 0
                    else None,
                    showscale=i == 0,
                ),
                customdata=values,
                hovertemplate=labels.get(feature, feature) + " = %{customdata}<br>SHAP %{x:+.3f}"
                "<extra></extra>",
            )
        )
    fig.update_yaxes(tickvals=list(range(len(ordered))), ticktext=[labels.get(f, f) for f in ordered])
    fig.update_xaxes(title="SHAP value (right = raises churn risk)", zeroline=True)
    return _layout(fig, "Summary of drivers (sampled evaluators)", height=140 + 28 * len(ordered))


def dependence_chart(
    sample: pd.DataFrame, feature: str, colour_by: str | None, labels: Mapping[str, str]
) -> go.Figure:
    """How a feature's value maps to its SHAP contribution, coloured by a second feature."""
    if sample.empty or f"shap_{feature}" not in sample:
        return empty_chart("No sampled scores")
    x = sample.get(f"value_{feature}", pd.Series(np.nan, index=sample.index)).astype(float)
    colour = sample.get(f"value_{colour_by}") if colour_by else None
    fig = go.Figure(
        go.Scattergl(
            x=np.log1p(x),
            y=sample[f"shap_{feature}"],
            mode="markers",
            marker=dict(
                size=5,
                opacity=0.7,
                color=np.log1p(colour.astype(float)) if colour is not None else LOWERS,
                colorscale=SEQUENTIAL,
                showscale=colour is not None,
                colorbar=dict(title=labels.get(colour_by or "", "")) if colour is not None else None,
            ),
            customdata=x,
            hovertemplate="value %{customdata:,.0f}<br>SHAP %{y:+.3f}<extra></extra>",
        )
    )
    tickvals, ticktext = _log_axis(x.dropna().tolist())
    fig.update_xaxes(
        title=f"{labels.get(feature, feature)} (log scale)", tickvals=tickvals, ticktext=ticktext
    )
    fig.update_yaxes(title="SHAP value", zeroline=True)
    return _layout(fig, f"Dependence: {labels.get(feature, feature)}", height=360, showlegend=False)


def stayers_churners_chart(by_outcome: pd.DataFrame, statistic: str = "median") -> go.Figure:
    """Stayers against churners, feature by feature (mean or median in week 1, log scale)."""
    if by_outcome.empty:
        return empty_chart("No resolved evaluators yet")
    df = by_outcome.iloc[::-1]
    fig = go.Figure()
    for column, name, colour in (
        (f"retained_{statistic}", "stayed", LOWERS),
        (f"churned_{statistic}", "left", RAISES),
    ):
        fig.add_trace(
            go.Bar(
                x=np.log1p(df[column].astype(float)),
                y=df["label"],
                orientation="h",
                name=name,
                marker_color=colour,
                customdata=df[column],
                hovertemplate="%{y}: %{customdata:,.1f}<extra>" + name + "</extra>",
            )
        )
    tickvals, ticktext = _log_axis(
        [*df[f"retained_{statistic}"].tolist(), *df[f"churned_{statistic}"].tolist()]
    )
    fig.update_xaxes(title=f"{statistic} in week 1 (log scale)", tickvals=tickvals, ticktext=ticktext)
    return _layout(fig, f"Stayers vs churners ({statistic})", height=140 + 30 * len(df), barmode="group")


def correlation_chart(matrix: pd.DataFrame) -> go.Figure:
    """Correlation heat map of the model features (from the model card's feature study)."""
    if matrix.empty:
        return empty_chart("The model card has no correlation matrix")
    fig = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(float),
            x=list(matrix.columns),
            y=list(matrix.index),
            zmin=-1,
            zmax=1,
            colorscale=DIVERGING,
            colorbar=dict(title="r"),
            hovertemplate="%{y} × %{x}: %{z:.2f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "Feature correlation", height=520)


def pca_chart(explained: Sequence[float]) -> go.Figure:
    """Variance explained by each principal component, and the cumulative share."""
    if not len(explained):
        return empty_chart("The model card has no PCA")
    ratio = np.asarray(explained, float)
    components = [f"PC{i + 1}" for i in range(len(ratio))]
    fig = go.Figure(
        [
            go.Bar(x=components, y=ratio * 100, name="explained", marker_color=LOWERS),
            go.Scatter(
                x=components,
                y=np.cumsum(ratio) * 100,
                name="cumulative",
                mode="lines+markers",
                line=dict(color=HIGHLIGHT),
            ),
        ]
    )
    fig.update_yaxes(title="variance explained", ticksuffix="%", range=[0, 105])
    return _layout(fig, "Principal components of the features", height=340)


# --- model health -------------------------------------------------------------------------------------------


def confusion_matrix_chart(
    matrix: Sequence[Sequence[float]], labels: Sequence[str] = ("stayed", "left")
) -> go.Figure:
    """Confusion matrix (rows: what happened, columns: what the model said) with counts and shares."""
    m = np.asarray(matrix, float)
    if m.size == 0:
        return empty_chart("No confusion matrix")
    share = m / max(m.sum(), 1)
    text = [[f"{int(m[i, j]):,}<br>{share[i, j]:.0%}" for j in range(m.shape[1])] for i in range(m.shape[0])]
    fig = go.Figure(
        go.Heatmap(
            z=m,
            x=[f"predicted {lbl}" for lbl in labels],
            y=[f"actually {lbl}" for lbl in labels],
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "Confusion matrix (validation)", height=300)


def curve_chart(
    x: Sequence[float],
    y: Sequence[float],
    title: str,
    x_title: str,
    y_title: str,
    diagonal: str | None = None,
    baseline: float | None = None,
    name: str = "model",
) -> go.Figure:
    """A ROC, precision-recall, gains or calibration curve; `diagonal` names the y = x reference line."""
    if not len(x):
        return empty_chart(f"No {title.lower()} in the model card")
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines", name=name, line=dict(color=LOWERS, width=3)))
    if diagonal:
        fig.add_trace(
            go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name=diagonal, line=dict(color=CONTROL, dash="dash"))
        )
    if baseline is not None:
        fig.add_hline(y=baseline, line=dict(color=CONTROL, dash="dash"), annotation_text="baseline")
    fig.update_xaxes(title=x_title, range=[0, 1])
    fig.update_yaxes(title=y_title)
    return _layout(fig, title, height=320)


def lift_chart(deciles: Sequence[float], lift: Sequence[float]) -> go.Figure:
    """Lift by decile of predicted risk (1 = no better than random)."""
    if not len(lift):
        return empty_chart("No lift table in the model card")
    fig = go.Figure(go.Bar(x=[str(d) for d in deciles], y=lift, marker_color=LOWERS))
    fig.add_hline(y=1, line=dict(color=CONTROL, dash="dash"), annotation_text="random")
    fig.update_xaxes(title="decile of predicted risk (1 = riskiest)")
    fig.update_yaxes(title="lift")
    return _layout(fig, "Lift by decile", height=320, showlegend=False)


def threshold_chart(
    table: pd.DataFrame, flagged: pd.DataFrame, threshold: float, capacity: int | None = None
) -> go.Figure:
    """Precision, recall and F1 (validation) and evaluators flagged now (right axis) as the cut-off moves."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for i, metric in enumerate(m for m in ("precision", "recall", "f1", "f2") if m in table):
        fig.add_trace(
            go.Scatter(
                x=table["threshold"],
                y=table[metric],
                name=metric,
                mode="lines",
                line=dict(color=SEQUENCE[i], width=2),
            ),
            secondary_y=False,
        )
    fig.add_trace(
        go.Scatter(
            x=flagged["threshold"],
            y=flagged["flagged"],
            name="flagged now",
            mode="lines",
            line=dict(color=NEUTRAL, dash="dot", width=2),
        ),
        secondary_y=True,
    )
    fig.add_vline(
        x=threshold,
        line=dict(color=HIGHLIGHT, width=2),
        annotation_text=f"cut-off {threshold:.2f}",
        annotation_position="bottom right",
        annotation_font=dict(color=HIGHLIGHT),
        annotation_bgcolor="rgba(255,255,255,0.8)",
    )
    if capacity:
        fig.add_hline(
            y=capacity,
            line=dict(color=CONTROL, dash="dash"),
            secondary_y=True,
            annotation_text=f"capacity {capacity:,}",
        )
    fig.update_xaxes(title="cut-off (churn probability)", range=[0, 1])
    fig.update_yaxes(title="metric (validation)", range=[0, 1.02], secondary_y=False)
    fig.update_yaxes(
        title="evaluators flagged now",
        secondary_y=True,
        rangemode="tozero",
        showgrid=False,
        tickmode="auto",
        nticks=6,
        tickformat=",d",
    )
    return _layout(fig, "Threshold explorer", height=380)


def drift_chart(drift: pd.DataFrame, watch: float = 0.1, alert: float = 0.25) -> go.Figure:
    """PSI per feature for one score set, against the watch (0.1) and alert (0.25) lines."""
    if drift.empty:
        return empty_chart("No drift measured yet (the scoring job writes score_drift)")
    df = drift.sort_values("psi")
    colours = [RAISES if p >= alert else "#E69F00" if p >= watch else LOWERS for p in df["psi"]]
    fig = go.Figure(
        go.Bar(
            x=df["psi"],
            y=df["feature"],
            orientation="h",
            marker_color=colours,
            text=df["status"],
            textposition="outside",
            hovertemplate="%{y}: PSI %{x:.3f}<extra></extra>",
        )
    )
    for x, label in ((watch, "watch"), (alert, "alert")):
        fig.add_vline(x=x, line=dict(color=CONTROL, dash="dash"), annotation_text=label)
    fig.update_xaxes(title="population stability index")
    return _layout(fig, "Drift per feature (PSI)", height=120 + 22 * len(df), showlegend=False)


def realised_chart(performance: pd.DataFrame) -> go.Figure:
    """Past score sets once outcomes are known: AUC, precision and recall per set."""
    if performance.empty:
        return empty_chart("No score set has resolved outcomes yet")
    x = pd.to_datetime(performance["as_of_date"])
    fig = go.Figure()
    for i, (metric, label, dash, symbol) in enumerate(
        (
            ("auc", "ROC AUC", "solid", "circle"),
            ("precision", "precision", "dash", "square"),
            ("recall", "recall", "dot", "diamond"),
            ("accuracy", "accuracy", "dashdot", "triangle-up"),
        )
    ):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=performance[metric],
                name=label,
                mode="lines+markers",
                line=dict(color=SEQUENCE[i], dash=dash),
                marker=dict(symbol=symbol, size=9),
                customdata=performance["resolved"],
                hovertemplate="%{x|%d %b}: %{y:.2f} (%{customdata:,} resolved)<extra>" + label + "</extra>",
            )
        )
    fig.update_yaxes(range=[0, 1.02])
    fig.update_xaxes(title="score set")
    return _layout(fig, "Realised performance of past score sets", height=340)
