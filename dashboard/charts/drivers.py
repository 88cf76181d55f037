"""Driver figures: global SHAP importance, beeswarm, dependence, stayers vs churners, correlation, PCA."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from churn_core.schema import NO_DATA, feature_text
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


def beeswarm_chart(
    sample: pd.DataFrame,
    features: Sequence[str],
    labels: Mapping[str, str],
    categories: Mapping[str, Sequence[str]] | None = None,
) -> go.Figure:
    """Each dot an evaluator: its SHAP value for a feature (x), coloured by the feature's value (rank within
    the feature; a category by its place in the list of `categories`)."""
    if sample.empty or not features:
        return empty_chart("No sampled scores")
    rng = np.random.default_rng(0)
    fig = go.Figure()
    ordered = list(features)[::-1]
    for i, feature in enumerate(ordered):
        shap = sample[f"shap_{feature}"].astype(float)
        values = _values(sample, feature)
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
                customdata=_value_texts(values, feature, categories),
                hovertemplate=labels.get(feature, feature) + " = %{customdata}<br>SHAP %{x:+.3f}<extra></extra>",
            )
        )
    fig.update_yaxes(tickvals=list(range(len(ordered))), ticktext=[labels.get(f, f) for f in ordered])
    fig.update_xaxes(title="SHAP value (log-odds of churn; right = raises churn risk)", zeroline=True)
    return layout(fig, "Summary of drivers (sampled evaluators)", height=140 + 28 * len(ordered))


def dependence_chart(
    sample: pd.DataFrame,
    feature: str,
    colour_by: str | None,
    labels: Mapping[str, str],
    categories: Mapping[str, Sequence[str]] | None = None,
) -> go.Figure:
    """How a feature's value maps to its SHAP contribution, coloured by a second feature. Numbers are on a
    log scale (their tails are long) but for shares, categories one column each (jittered)."""
    values = _values(sample, feature)
    if sample.empty or f"shap_{feature}" not in sample or values.isna().all():
        return empty_chart("No sampled scores" if sample.empty else f"No values of {labels.get(feature, feature)}")
    x, xaxis = _axis(values, feature, labels, categories)
    marker: dict[str, object] = dict(size=5, opacity=0.7, color=LOWERS)
    if colour_by:
        colour, colour_axis = _axis(_values(sample, colour_by), colour_by, labels, categories, jitter=False)
        marker |= dict(
            color=colour,
            colorscale=SEQUENTIAL,
            showscale=True,
            colorbar=dict(
                title=labels.get(colour_by, colour_by),
                **{k: v for k, v in colour_axis.items() if k in ("tickvals", "ticktext")},
            ),
        )
    fig = go.Figure(
        go.Scattergl(
            x=x,
            y=sample[f"shap_{feature}"],
            mode="markers",
            marker=marker,
            customdata=_value_texts(values, feature, categories),
            hovertemplate="%{customdata}<br>SHAP %{y:+.3f} log-odds<extra></extra>",
        )
    )
    fig.update_xaxes(**xaxis)
    fig.update_yaxes(title="SHAP value (log-odds of churn)", zeroline=True)
    return layout(fig, f"Dependence: {labels.get(feature, feature)}", height=360, showlegend=False)


def _values(sample: pd.DataFrame, feature: str) -> pd.Series:
    return sample.get(f"value_{feature}", pd.Series(np.nan, index=sample.index)).astype(float)


def _value_texts(values: pd.Series, feature: str, categories: Mapping[str, Sequence[str]] | None) -> list[str]:
    """Each value as the hover writes it: the category's label, else the number ("no data" when missing)."""
    levels = (categories or {}).get(feature)
    text = feature_text(feature)
    return [
        NO_DATA if np.isnan(v) else levels[int(v)] if levels is not None and 0 <= v < len(levels) else text.text(v)
        for v in values
    ]


def _axis(
    values: pd.Series,
    feature: str,
    labels: Mapping[str, str],
    categories: Mapping[str, Sequence[str]] | None,
    jitter: bool = True,
) -> tuple[np.ndarray, dict[str, object]]:
    """Values as plotted on an axis, and that axis's title and ticks (log but for shares and categories)."""
    title = labels.get(feature, feature)
    levels = (categories or {}).get(feature)
    if levels is not None:
        spread = np.random.default_rng(0).uniform(-0.25, 0.25, len(values)) if jitter else 0.0
        ticks = list(range(len(levels)))
        return values.to_numpy() + spread, dict(title=title, tickvals=ticks, ticktext=list(levels))
    if feature_text(feature).kind not in ("share", "category"):  # counts, money and ratios have long tails
        tickvals, ticktext = log_ticks(values.dropna().tolist())
        axis = dict(title=f"{title} (log scale)", tickvals=tickvals, ticktext=ticktext)
        return np.log1p(values.clip(lower=0).to_numpy()), axis
    return values.to_numpy(), dict(title=title)


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
