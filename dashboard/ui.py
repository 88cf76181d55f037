"""Pieces every page shares: the score-set header, plain "no data yet" states, charts and number formats."""

from __future__ import annotations

import datetime as dt
import traceback
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from churn_core.data.freshness import local_today
from churn_core.errors import ChurnError
from churn_core.secrets import redacted
from churn_core.settings import Settings
from churn_core.views import ActivationHeadline, ScoreSet
from dashboard import data

if TYPE_CHECKING:
    import plotly.graph_objects as go
    from streamlit.delta_generator import DeltaGenerator

PRODUCT = "Churn Prediction Unleashed"
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
SET_KEY = "score_set_choice"
NO_DATA = (
    "**No data yet.** Create a demo warehouse with `churn demo`, or load your own tables with "
    "`churn ingest DIR` and build the modelling tables with `churn etl`."
)
NO_SCORES = (
    "**No scores yet.** The data is loaded, but no evaluator has been scored. Train a model with "
    "`churn train`, then score the evaluators in trial with `churn score`."
)


def error_text(exc: BaseException, settings: Settings | None = None, *, trace: bool = False) -> str:
    """An error as users (or, with its traceback, the server log) may see it: every credential the product
    holds, and anything that looks like one, replaced by ***."""
    text = "".join(traceback.format_exception(exc)) if trace else str(exc)
    return redacted(text, settings or Settings())


def chart(figure: go.Figure, key: str | None = None) -> None:  # noqa: F821
    st.plotly_chart(figure, config=CHART_CONFIG, key=key)


def current_set(settings: Settings) -> ScoreSet | None:
    """The score set chosen in the sidebar (the newest by default), or None when nothing is scored."""
    sets = data.score_sets(settings)
    if not sets:
        return None
    chosen = st.session_state.get(SET_KEY)
    return next((s for s in sets if s.as_of == chosen), sets[0])


def set_caption(score_set: ScoreSet | None) -> str:
    if score_set is None:
        return "No score set yet"
    return (
        f"Score set of **{score_set.as_of:%d %b %Y}** · model **{score_set.model_version}** · "
        f"{score_set.scored:,} evaluators scored"
    )


def header(title: str, settings: Settings, needs_scores: bool = True, needs: tuple[str, ...] = ()) -> ScoreSet | None:
    """Title and score-set line; stops the page with a plain message when its data does not exist yet, or when
    the chosen score set fails its integrity check (pages that can do without scores go on without it)."""
    st.title(title)
    tables = set(data.tables(settings))
    score_set = current_set(settings) if "evaluator_scores" in tables else None
    st.caption(set_caption(score_set))
    problem = data.score_set_problem(settings, score_set.as_of, score_set.created_at) if score_set else None
    if problem:  # tampered or unsigned: never shown as if it were good
        if needs_scores:  # app.py shows the message; unlike st.stop(), the sidebar to pick another set stays
            raise ChurnError(problem)
        st.error(problem, icon=":material/gpp_bad:")
        score_set = None
    if "daily_usage" in tables:
        late = data.telemetry(settings, local_today(settings))
        if late.stale:
            st.warning(late.message, icon=":material/sensors_off:")
    if score_set is not None:
        fresh = data.freshness_banner(settings)
        if fresh.stale:
            st.warning(fresh.message, icon=":material/schedule:")
    if not tables or not {"evaluators", "daily_usage"} <= tables:
        st.info(NO_DATA, icon=":material/database:")
        st.stop()
    missing = [t for t in needs if t not in tables]
    if missing:
        st.info(
            f"**No {', '.join(missing)} table yet.** Build the modelling tables with `churn etl` "
            "(or `churn demo` for demo data).",
            icon=":material/database:",
        )
        st.stop()
    if needs_scores and score_set is None:
        st.info(NO_SCORES, icon=":material/model_training:")
        st.stop()
    return score_set


def money(value: float | None) -> str:
    if value is None or value != value:
        return "–"
    if abs(value) >= 1e6:
        return f"${value / 1e6:,.1f}M"
    if abs(value) >= 1e4:
        return f"${value / 1e3:,.0f}k"
    return f"${value:,.0f}"


def percent(value: float | None, digits: int = 0) -> str:
    return "–" if value is None or value != value else f"{value:.{digits}%}"


def points(value: float | None) -> str | None:
    """A change of a rate in percentage points, for st.metric deltas."""
    return None if value is None or value != value else f"{value * 100:+.1f} pts"


def percent_columns(names: dict[str, str], signed: tuple[str, ...] = ()) -> dict[str, object]:
    """Table columns of shares shown as percentages with one decimal (the frame is scaled by `scaled`)."""
    return {
        k: st.column_config.NumberColumn(v, format="%+.1f pts" if k in signed else "%.1f%%") for k, v in names.items()
    }


def scaled(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """`df` with the shares in `columns` as percentages."""
    return df.assign(**{c: df[c] * 100 for c in columns if c in df})


def date_text(value: Any) -> str:
    if value is None or value != value:
        return "unknown"
    if isinstance(value, dt.datetime):
        return f"{value:%d %b %Y}" if value.time() == dt.time() else f"{value:%d %b %Y %H:%M}"
    if isinstance(value, dt.date):
        return f"{value:%d %b %Y}"
    return str(value)


def activation_tile(place: DeltaGenerator, headline: ActivationHeadline, settings: Settings) -> None:
    """The week-1 activation headline as a tile, the same on the home page and the Activation page."""
    compared = (
        f"{headline.week:%d %b} vs {headline.previous_week:%d %b}" if headline.week and headline.previous_week else None
    )
    counted = (
        f"{headline.activated:,} of {headline.evaluators:,} trials that started in the week of {headline.week:%d %b} "
        "(the last week whose trials have all reached day 7) were activated by day 7"
        if headline.week
        else "No cohort week has had all its trials reach day 7 yet"
    )
    place.metric(
        "Week-1 activation",
        percent(headline.rate, 1),
        points(headline.change),
        border=True,
        delta_description=compared,
        help=f"{counted}; the change is on the week before. Rule: at least {settings.activation_min_active_users} "
        f"active users and {settings.activation_min_sprints} sprint started.",
    )


def last_data_day(settings: Settings) -> dt.date:
    """The last day telemetry covers (today when unknown)."""
    today = local_today(settings)
    return data.telemetry(settings, today).last_day or today
