"""The figures' shared look: a colour-blind-safe palette (Okabe-Ito), layout, placeholder and axis helpers.

Orange/vermillion means "raises the risk" and high risk, blue "lowers the risk" and low risk; tiers always
carry their name too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

RISK_COLOURS: dict[str, str] = {"high": "#D55E00", "medium": "#E69F00", "low": "#0072B2"}
RAISES, LOWERS = "#D55E00", "#0072B2"
HIGHLIGHT, MUTED, NEUTRAL, CONTROL = "#D55E00", "#9BB7D4", "#4D4D4D", "#7F7F7F"
SEQUENCE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
SEQUENTIAL = "Viridis"
DIVERGING = "RdBu_r"
FONT = dict(family="Source Sans Pro, Segoe UI, sans-serif", size=13)


def layout(
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
    """A blank figure that says why there is nothing to draw."""
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
    return layout(fig, height=height)


def percent(x: Any) -> Any:
    """Shares (0..1) as percentages, for axes in points."""
    return np.asarray(x, float) * 100


def interval_bars(value: Any, low: Any, high: Any, colour: str = NEUTRAL, **style: Any) -> dict[str, Any]:
    """Error bars from `low` to `high` around `value` (shares, drawn in percentage points), for error_x/_y."""
    return dict(
        type="data",
        symmetric=False,
        array=percent(high - value),
        arrayminus=percent(value - low),
        color=colour,
        **style,
    )


def log_ticks(values: Sequence[float]) -> tuple[list[float], list[str]]:
    """Tick positions and labels for an axis drawn as log1p(value), up to a little past the largest value."""
    top = max([1.0, *[v for v in values if v is not None and np.isfinite(v)]])
    ticks = [
        t for t in (0, 1, 3, 10, 30, 100, 300, 1000, 3000, 10**4, 3 * 10**4, 10**5, 3 * 10**5, 10**6) if t <= top * 1.5
    ]
    return [float(np.log1p(t)) for t in ticks], [f"{t:,}" for t in ticks]
