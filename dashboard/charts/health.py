"""Model health figures: confusion matrix, evaluation curves, lift, threshold explorer, drift, realised."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.charts.theme import CONTROL, HIGHLIGHT, LOWERS, NEUTRAL, RAISES, SEQUENCE, empty_chart, layout


def confusion_matrix_chart(matrix: Sequence[Sequence[float]], labels: Sequence[str] = ("stayed", "left")) -> go.Figure:
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
    return layout(fig, "Confusion matrix (validation)", height=300)


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
    return layout(fig, title, height=320)


def lift_chart(deciles: Sequence[float], lift: Sequence[float]) -> go.Figure:
    """Lift by decile of predicted risk (1 = no better than random)."""
    if not len(lift):
        return empty_chart("No lift table in the model card")
    fig = go.Figure(go.Bar(x=[str(d) for d in deciles], y=lift, marker_color=LOWERS))
    fig.add_hline(y=1, line=dict(color=CONTROL, dash="dash"), annotation_text="random")
    fig.update_xaxes(title="decile of predicted risk (1 = riskiest)")
    fig.update_yaxes(title="lift")
    return layout(fig, "Lift by decile", height=320, showlegend=False)


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
    _mark_cut_off(fig, threshold, capacity)
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
    return layout(fig, "Threshold explorer", height=380)


def _mark_cut_off(fig: go.Figure, threshold: float, capacity: int | None) -> None:
    """The cut-off as a vertical line and, in capacity mode, the capacity as a horizontal one."""
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
    return layout(fig, "Drift per feature (PSI)", height=120 + 22 * len(df), showlegend=False)


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
    return layout(fig, "Realised performance of past score sets", height=340)
