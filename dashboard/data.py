"""The dashboard's data layer: the only place with st.cache_*; every function wraps a churn_core query.

Each cached function takes the `Settings` first (so a different CHURN_HOME is a different cache entry)
and, where it reads a score set, its as-of date (so a new set is picked up without waiting for the TTL).
Entries live for settings `cache_ttl_seconds`; the list of score sets is re-read more often.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from churn_core import views
from churn_core.access import actions, audit, exports
from churn_core.access.roles import User
from churn_core.data.freshness import TelemetryFreshness, local_today, telemetry_freshness
from churn_core.jobs import history
from churn_core.model.card import ModelCard
from churn_core.scoring import integrity
from churn_core.settings import Settings, SettingsError, load_settings
from churn_core.views import (
    ActivationHeadline,
    AtRiskSummary,
    DataFreshness,
    FilterOptions,
    Filters,
    Profile,
    ScoreSet,
)
from churn_core.warehouse import Warehouse, open_warehouse


def _ttl() -> int:
    try:
        return max(1, int(load_settings().cache_ttl_seconds))
    except (SettingsError, OSError, ValueError):
        return 300  # the settings error itself is shown by settings() below


TTL = _ttl()
SETS_TTL = min(TTL, 30)  # a new score set shows up within 30 seconds
MAX = 256
DUCKDB_MEMORY = "160MB"  # cap on DuckDB's buffers while a page runs (bigger sorts spill to disk)
# Settings and Filters are frozen dataclasses: their own hash is exact and ~100x cheaper than Streamlit
# walking their fields on every cached call (which cost over 100 ms a run).
HASH_FUNCS: dict[Any, Any] = {Settings: hash, Filters: hash}


def settings() -> Settings:
    """The settings of this process (environment `CHURN_*` and churn.toml), cached per environment."""
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("CHURN_")))
    return _settings(env)


@st.cache_resource(show_spinner=False, max_entries=8)
def _settings(env: tuple[tuple[str, str], ...]) -> Settings:
    return load_settings(env=dict(env))


@st.cache_resource(show_spinner=False, max_entries=8, hash_funcs={Settings: hash})
def _warehouse(settings: Settings) -> Warehouse:
    # Not read-only: the audit log of exports is written through it, and DuckDB wants one configuration per
    # file and process. Every query is parameterised, and `churn sql` stays read-only.
    return open_warehouse(settings)


def warehouse(settings: Settings) -> Warehouse:
    """The warehouse; inside a page run, the DuckDB file is held open from the first query on."""
    run = getattr(_RUN, "held", None)
    if run is not None and run["settings"] == settings and run["keeper"] is None:
        run["keeper"] = _open_keeper(settings)
    return _warehouse(settings)


_RUN = threading.local()  # per script-run thread: the settings of the run and its open DuckDB file


@contextlib.contextmanager
def warehouse_held(settings: Settings) -> Iterator[None]:
    """Hold the DuckDB file open from the run's first query to its end.

    The warehouse opens a short-lived connection per query so that jobs in other processes can write
    between them. Opening the file costs 20-60 ms, while a connection to a file that is already open in
    this process costs under a millisecond (DuckDB shares the open database), so a page that runs a
    dozen queries holds the file for the length of one run instead of reopening it for each query; a run
    served from the cache does not open it at all. A writer waits for the run to end (DuckDBWarehouse
    waits up to 30 s for the lock).
    """
    _RUN.held = {"settings": settings, "keeper": None}
    try:
        yield
    finally:
        keeper = _RUN.held["keeper"]
        _RUN.held = None
        if keeper:
            keeper.close()
            _release_memory()


def _open_keeper(settings: Settings) -> Any:
    if settings.backend != "duckdb" or not settings.warehouse_path.exists():
        return False
    try:
        keeper = duckdb.connect(str(settings.warehouse_path))
        keeper.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
    except duckdb.Error:
        return False  # a locked or damaged file: the queries themselves report it
    return keeper


def _release_memory() -> None:
    """Ask glibc to hand memory freed by the closed database back to the OS (a no-op elsewhere)."""
    global _TRIM
    if _TRIM is None:
        try:
            _TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM: Any = None


@st.cache_data(ttl=SETS_TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def tables(settings: Settings) -> list[str]:
    return warehouse(settings).tables()


@st.cache_data(ttl=SETS_TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def score_sets(settings: Settings) -> list[ScoreSet]:
    return views.score_sets(warehouse(settings))


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def score_set_problem(settings: Settings, as_of: dt.date, created_at: Any = None) -> str | None:
    """Why the score set must not be shown (it failed its integrity check), else None. Checked once per set:
    the check scans the whole set, and `created_at` makes a re-scored set a new entry."""
    try:
        integrity.check_score_set(warehouse(settings), settings, as_of)
    except integrity.ScoreSetIntegrityError as exc:
        return str(exc)
    return None


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def filter_options(settings: Settings, as_of: dt.date) -> FilterOptions:
    return views.filter_options(warehouse(settings), as_of)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def export_columns(settings: Settings, as_of: dt.date) -> list[str]:
    return views.export_columns(warehouse(settings))


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def at_risk_page(settings: Settings, as_of: dt.date, filters: Filters, sort: str, page: int) -> pd.DataFrame:
    return views.at_risk_page(warehouse(settings), as_of, filters, sort, page, settings.page_size)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def at_risk_summary(settings: Settings, as_of: dt.date, filters: Filters) -> AtRiskSummary:
    return views.at_risk_summary(warehouse(settings), as_of, filters)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def plan_by_channel(settings: Settings, as_of: dt.date, filters: Filters) -> dict[str, int]:
    return views.plan_by_channel(warehouse(settings), as_of, filters)


def export_file(
    settings: Settings,
    user: User,
    score_set: ScoreSet,
    filters: Filters,
    sort: str,
    columns: tuple[str, ...],
    kind: str,
    audience: str = "contact",
    options: exports.ExportOptions | None = None,
) -> Callable[[], bytes]:
    """A callable that builds the export when the user clicks download (not cached: runs on demand, is audited,
    and is refused to roles not allowed to export the audience)."""

    def build() -> bytes:  # runs on its own thread when the button is clicked
        store = _warehouse(settings)
        return actions.export_rows(
            store,
            user,
            lambda: views.at_risk_file(store, score_set, filters, sort, columns, exports.EXPORT_ROW_CAP, audience),
            kind,
            {"as_of": score_set.as_of, "sort": sort, "filters": filters.described()},
            options,
            audience,
        )

    return build


# --- profile --------------------------------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def profile(settings: Settings, instance: int, as_of: dt.date | None) -> Profile:
    return views.evaluator_profile(warehouse(settings), instance, as_of)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def feature_by_outcome(settings: Settings) -> pd.DataFrame:
    return views.feature_by_outcome(warehouse(settings))


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def cohort_medians(settings: Settings, as_of_day: int) -> pd.DataFrame:
    """Stayers' and churners' medians per team-size band on one day of trial: what the reasons quote."""
    return views.cohort_medians(warehouse(settings), as_of_day)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def daily_activity(settings: Settings, instance: int) -> pd.DataFrame:
    return views.daily_activity(warehouse(settings), instance)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def evaluator_touches(settings: Settings, instance: int) -> pd.DataFrame:
    return views.evaluator_touches(warehouse(settings), instance)


@st.cache_resource(show_spinner=False, max_entries=4, hash_funcs={Settings: hash})
def champion(settings: Settings, model_version: str) -> Any:
    """The registry model that scored (else the champion), loaded once per version; None before training."""
    return views.load_model(settings, model_version)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def what_if(settings: Settings, model_version: str, inputs: tuple[tuple[str, Any], ...]) -> views.WhatIf | None:
    model = champion(settings, model_version)
    return views.what_if(model, dict(inputs))


# --- activation, channels, drivers, model health ------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def activation_curves(settings: Settings) -> pd.DataFrame:
    return views.activation_curves(warehouse(settings))


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def activation_by_segment(settings: Settings, dimension: str, since: dt.date) -> pd.DataFrame:
    return views.activation_by_segment(warehouse(settings), dimension, since)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def activation_trend(settings: Settings) -> pd.DataFrame:
    return views.activation_trend(warehouse(settings))


def activation_headline(settings: Settings) -> ActivationHeadline:
    """The week-1 activation headline the home tile and the Activation page both show (from the cached trend)."""
    if "activation_daily" not in tables(settings):
        return ActivationHeadline()
    return views.activation_headline(activation_trend(settings))


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def early_actions(settings: Settings, as_of: dt.date) -> pd.DataFrame:
    return views.early_actions(warehouse(settings), as_of)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def channel_outcomes(settings: Settings) -> pd.DataFrame:
    return views.channel_outcomes(warehouse(settings))


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def channel_uplift(settings: Settings, as_of: dt.date) -> pd.DataFrame:
    return views.channel_uplift(warehouse(settings), as_of)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def content_effects(settings: Settings, as_of: dt.date, min_sent: int = 0, conservative: bool = False) -> pd.DataFrame:
    return views.content_effects(warehouse(settings), as_of, min_sent, conservative)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def content_lift(settings: Settings) -> pd.DataFrame:
    return views.content_lift(warehouse(settings))


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def shap_importance(settings: Settings, as_of: dt.date) -> pd.DataFrame:
    return views.shap_importance(warehouse(settings), as_of)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def shap_sample(settings: Settings, as_of: dt.date, limit: int, scored: int, model_version: str) -> pd.DataFrame:
    """The sample with every feature's value, recomputed through the pipeline of the model that scored."""
    pipeline = views.model_pipeline(model_card(settings, model_version))
    return views.shap_sample(warehouse(settings), as_of, limit, scored, pipeline)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def flagged_at(settings: Settings, as_of: dt.date, cutoff: float) -> views.Flagged:
    return views.flagged_at(warehouse(settings), as_of, cutoff)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def flagged_by_threshold(settings: Settings, as_of: dt.date) -> pd.DataFrame:
    return views.flagged_by_threshold(views.risk_histogram(warehouse(settings), as_of))


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def drift_history(settings: Settings) -> pd.DataFrame:
    return views.drift_history(warehouse(settings))


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def realised_performance(settings: Settings) -> pd.DataFrame:
    return views.realised_performance(warehouse(settings))


@st.cache_data(ttl=SETS_TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def freshness(settings: Settings) -> DataFreshness:
    return views.freshness(warehouse(settings))


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def data_quality(settings: Settings) -> pd.DataFrame:
    return views.data_quality(warehouse(settings))


@st.cache_data(ttl=SETS_TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def job_history(settings: Settings) -> pd.DataFrame | None:
    return views.job_history(warehouse(settings), settings)


@st.cache_data(ttl=SETS_TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def model_versions(settings: Settings) -> pd.DataFrame:
    return views.model_versions(settings)


def audit_entries(settings: Settings, user: User) -> pd.DataFrame:
    """Not cached: admins expect to see the export they just made."""
    return audit.audit_entries(_warehouse(settings), user)


def promote(settings: Settings, user: User, version: str, force: bool) -> str:
    comparison = actions.promote_model(settings, _warehouse(settings), user, version, force)
    st.cache_data.clear()
    return str(comparison)


@st.cache_data(ttl=SETS_TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def freshness_banner(settings: Settings) -> history.Freshness:
    """Whether the served scores are older than settings.freshness_hours (the banner on every page)."""
    return history.freshness(warehouse(settings), settings)


@st.cache_data(ttl=SETS_TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def telemetry(settings: Settings, today: dt.date) -> TelemetryFreshness:
    """How far telemetry lags behind `today` (the banner on every page when it is late)."""
    return telemetry_freshness(warehouse(settings), settings, today)


@st.cache_data(ttl=SETS_TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def next_runs(settings: Settings) -> pd.DataFrame:
    return history.next_runs(settings, 3)


def bytes_scanned(settings: Settings) -> int:
    return int(getattr(_warehouse(settings), "bytes_scanned", 0) or 0)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def model_card(settings: Settings, model_version: str) -> ModelCard | None:
    """The card (metrics, curves, feature study) of a version, else the champion's; None before training."""
    return views.model_card(settings, model_version)


@st.cache_data(ttl=SETS_TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def champion_version(settings: Settings) -> str | None:
    return views.champion_version(settings)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=MAX, hash_funcs=HASH_FUNCS)
def feature_study(settings: Settings, model_version: str) -> views.FeatureStudy | None:
    return views.feature_study(model_card(settings, model_version))


def prepare(settings: Settings) -> None:
    """Fill the caches the home page reads (dashboard/serve.py runs this while the server starts): the newest set's
    integrity check, the unfiltered list's summary, the filters' options and first page, then the previous set's
    check and summary and the activation rate behind the KPI tiles."""
    with warehouse_held(settings):
        if "evaluator_scores" not in tables(settings):
            return
        sets = score_sets(settings)
        freshness_banner(settings)
        telemetry(settings, local_today(settings))
        for rank, score_set in enumerate(sets[:2]):
            if score_set_problem(settings, score_set.as_of, score_set.created_at):
                continue
            at_risk_summary(settings, score_set.as_of, Filters())
            if rank == 0:  # the list itself
                filter_options(settings, score_set.as_of)
                at_risk_page(settings, score_set.as_of, Filters(), views.DEFAULT_SORT, 0)
                plan_by_channel(settings, score_set.as_of, Filters())
        if sets and "activation_daily" in tables(settings):
            activation_trend(settings)
