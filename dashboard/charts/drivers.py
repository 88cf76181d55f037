"""Driver figures: global SHAP importance, beeswarm, dependence, stayers vs churners, correlation, PCA."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.theme import DIVERGING, HIGHLIGHT, LOWERS, RAISES, SEQUENTIAL, empty_chart, layout, log_ticks


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
    return layout(fig, "Global importance", height=120 + 24 * len(df), showlegend=False)


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
                hovertemplate=labels.get(feature, feature) + " = %{customdata}<br>SHAP %{x:+.3f}<extra></extra>",
            )
        )
    fig.update_yaxes(tickvals=list(range(len(ordered))), ticktext=[labels.get(f, f) for f in ordered])
    fig.update_xaxes(title="SHAP value (right = raises churn risk)", zeroline=True)
    return layout(fig, "Summary of drivers (sampled evaluators)", height=140 + 28 * len(ordered))


def dependence_chart(sample: pd.DataFrame, feature: str, colour_by: str | None, labels: Mapping[str, str]) -> go.Figure:
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
    tickvals, ticktext = log_ticks(x.dropna().tolist())
    fig.update_xaxes(title=f"{labels.get(feature, feature)} (log scale)", tickvals=tickvals, ticktext=ticktext)
    fig.update_yaxes(title="SHAP value", zeroline=True)
    return layout(fig, f"Dependence: {labels.get(feature, feature)}", height=360, showlegend=False)


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
    tickvals, ticktext = log_ticks([*df[f"retained_{statistic}"].tolist(), *df[f"churned_{statistic}"].tolist()])
    fig.update_xaxes(title=f"{statistic} in week 1 (log scale)", tickvals=tickvals, ticktext=ticktext)
    return layout(fig, f"Stayers vs churners ({statistic})", height=140 + 30 * len(df), barmode="group")


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
    return layout(fig, "Feature correlation", height=520)


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
    return layout(fig, "Principal components of the features", height=340)
