"""The model-health page's building blocks: the champion's card, the threshold explorer, drift, realised
performance, data freshness and quality, and job history."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from churn_core import views
from churn_core.access.roles import User
from churn_core.model.card import ModelCard
from churn_core.settings import Settings
from churn_core.views import ScoreSet
from dashboard import charts, data, ui


def champion(settings: Settings, card: ModelCard | None, score_set: ScoreSet) -> None:
    """The card of the model that scored the set: what it is, its validation metrics, curves and breakdowns."""
    if card is None:
        st.info(
            "No model card in the registry for this model: train the champion with `churn train`. The score "
            "set's own figures (threshold explorer, drift, realised performance) are in the other tabs."
        )
        return
    _card_header(settings, card, score_set)
    _metric_tiles(views.card_metrics(card))
    left, right = st.columns(2)
    with left:
        ui.chart(charts.confusion_matrix_chart(views.card_confusion(card)))
    with right:
        _titled_table("Classification report (validation)", views.card_report(card))
    _curves(card)
    lift = views.card_lift(card)
    ui.chart(charts.lift_chart(lift.get("decile", []), lift.get("lift", [])))
    left, right = st.columns(2)
    with left:
        _titled_table("By cohort week (validation)", views.card_cohorts(card))
    with right:
        _titled_table("By day of trial (validation)", views.card_by_day(card))
    channel_evidence(settings, card.version)


def channel_evidence(settings: Settings, version: str) -> None:
    """Each channel's effect as the history shows it (observational, adjusted) beside what contact plays
    measured with their own holdout (randomised), and which one the uplift model learned from."""
    evidence = data.channel_evidence(settings, version)
    if evidence.empty:
        return
    st.markdown("**Channel effects: observational and randomised** (newest score set of this model)")
    shares = {
        "uplift": "Observational",
        "ci_low": "95% from",
        "ci_high": "to",
        "randomised_uplift": "Randomised (plays)",
        "randomised_low": "95% from",
        "randomised_high": "to",
    }
    # as text: a channel no play randomised reads "–", not None
    shown = evidence.assign(**{c: evidence[c].map(lambda v: ui.points(v) or "–") for c in shares})
    st.dataframe(
        shown,
        column_order=("label", *views.EVIDENCE_COLUMNS[1:]),
        column_config={
            "label": "Channel",
            **shares,
            "n_randomised": st.column_config.NumberColumn("Randomised evaluators", format="%d"),
            "learned_from": "Uplift model learned from",
        },
        hide_index=True,
    )
    st.caption(
        "Observational: retention of those put in each channel's campaigns against the no-contact control group, "
        "adjusted (doubly robust). Randomised: contact plays' treatment against their own holdout (one more touch "
        "on top of the usual marketing). Where plays randomised enough evaluators, the uplift model learns from "
        "them: no selection can bias it."
    )


def _card_header(settings: Settings, card: dict[str, Any], score_set: ScoreSet) -> None:
    summary = views.card_summary(card)
    current = data.champion_version(settings)
    threshold = f" · threshold **{summary['threshold']:.2f}**" if summary["threshold"] is not None else ""
    rule = f" ({summary['rule']} rule)" if summary["rule"] else ""
    st.markdown(
        f"Model **{summary['version']}** ({summary['profile'] or 'unknown'} profile) · trained "
        f"{ui.date_text(summary['trained_at'])} on {summary['rows']}{threshold}{rule} · champion now: "
        f"**{current or 'none'}**"
    )
    if current and current != summary["version"]:
        st.caption(
            f"The {score_set.as_of:%d %b} score set was made by {summary['version']}; a newer champion "
            f"{current} scores the next set."
        )


def _metric_tiles(metrics: dict[str, float]) -> None:
    items = list(metrics.items())
    for start in range(0, len(items), 4):
        for col, (name, value) in zip(st.columns(4), items[start : start + 4], strict=False):
            col.metric(name, f"{value:.3f}", border=True)
    if items:
        st.caption("Validation metrics on later cohorts the model never saw, at the decision threshold.")


def _titled_table(title: str, frame: pd.DataFrame) -> None:
    st.markdown(f"**{title}**")
    if frame.empty:
        st.caption("Not in the card.")
    else:
        st.dataframe(frame, hide_index=True)


def _curves(card: dict[str, Any]) -> None:
    """ROC and cumulative gains on the left, precision-recall and calibration on the right."""
    curves = views.card_curves(card)

    def draw(name: str, title: str, x_title: str, y_title: str, **guide: Any) -> None:
        curve = curves.get(name, pd.DataFrame())
        ui.chart(charts.curve_chart(curve.get("x", []), curve.get("y", []), title, x_title, y_title, **guide))

    left, right = st.columns(2)
    with left:
        draw("roc", "ROC curve", "false positive rate", "true positive rate", diagonal="chance")
        draw(
            "gains",
            "Cumulative gains",
            "share of evaluators contacted (riskiest first)",
            "share of churners found",
            diagonal="random order",
        )
    with right:
        draw("pr", "Precision-recall curve", "recall", "precision", baseline=views.card_churn_rate(card))
        draw(
            "calibration",
            "Calibration",
            "predicted churn probability",
            "observed churn rate",
            diagonal="perfect calibration",
        )


def threshold_explorer(settings: Settings, score_set: ScoreSet, card: ModelCard | None) -> None:
    """A cut-off, set by hand or from the team's capacity: whom it flags now and how it did in validation."""
    flagged = data.flagged_by_threshold(settings, score_set.as_of)
    table = views.card_threshold_table(card)
    model_cut = score_set.threshold if score_set.threshold is not None else views.card_summary(card)["threshold"]
    cut, capacity = _cut_off(settings, flagged, model_cut)
    now = data.flagged_at(settings, score_set.as_of, cut)
    cols = st.columns(4)
    cols[0].metric("Cut-off", f"{cut:.3f}" if cut == model_cut else f"{cut:.2f}", border=True)
    cols[1].metric(
        "Flagged at this cut-off",
        f"{now.evaluators:,}",
        border=True,
        help=f"Evaluators of the {score_set.as_of:%d %b} set at or above the cut-off. At the model's own cut-off"
        f"{f' ({model_cut:.3f})' if model_cut is not None else ''} these are the evaluators predicted to leave, "
        "the figure of that name on the at-risk page; the risk tiers use the same cut-off.",
    )
    cols[2].metric("Their value at risk", ui.money(now.value_at_risk), border=True)
    if model_cut is not None:
        at_model = data.flagged_at(settings, score_set.as_of, model_cut).evaluators
        st.caption(
            f"At the model's cut-off ({model_cut:.3f}): **{at_model:,} predicted to leave**, the figure of that name "
            "on the at-risk page; the risk tiers use the same cut-off (low below it, medium and high from it)."
        )
    at_cut = views.metrics_at(table, cut)
    if at_cut:
        cols[3].metric(
            "Precision / recall (validation)",
            f"{at_cut.get('precision', float('nan')):.2f} / {at_cut.get('recall', float('nan')):.2f}",
            border=True,
        )
    ui.chart(charts.threshold_chart(table, flagged, cut, capacity))
    if table.empty:
        st.caption("The validation metrics per cut-off come from the model card; none was found.")


def _cut_off(settings: Settings, flagged: pd.DataFrame, default: float | None) -> tuple[float, int | None]:
    """The cut-off and, in capacity mode, the capacity it comes from (else the slider's cut-off and None)."""
    if not st.toggle(
        "Capacity mode: set the cut-off from how many evaluators the team can contact", key="capacity_mode"
    ):
        cut = st.slider(
            "Cut-off (churn probability)",
            0.0,
            1.0,
            float(default if default is not None else 0.5),
            step=0.01,
            format="%.3f",
            key="cutoff",
        )
        return cut, None
    capacity = st.number_input(
        "Evaluators the team can contact",
        min_value=1,
        step=50,
        value=int(settings.capacity_per_week),
        key="capacity",
    )
    return views.capacity_threshold(flagged, int(capacity)), capacity


def drift(settings: Settings, score_set: ScoreSet) -> None:
    """Each feature's drift (PSI) in the set against the training data, with an alert above 0.25."""
    history = data.drift_history(settings)
    latest = history[pd.to_datetime(history["as_of_date"]).dt.date == score_set.as_of] if len(history) else history
    ui.chart(charts.drift_chart(latest))
    alerts = latest[latest["status"] == "alert"]["feature"].tolist() if len(latest) else []
    if alerts:
        st.warning(
            "Drift alert (PSI ≥ 0.25): " + ", ".join(alerts) + ". Check the data, then consider retraining "
            "with `churn train`."
        )
    st.caption(
        "PSI compares this set's features with the training data of the model that scored it, "
        "day of trial by day of trial: below 0.1 ok, 0.1-0.25 watch, 0.25 and above alert."
    )


def realised(settings: Settings) -> None:
    """Past score sets against the outcomes known since."""
    performance = data.realised_performance(settings)
    ui.chart(charts.realised_chart(performance))
    if not performance.empty:
        number = st.column_config.NumberColumn
        columns = {
            "as_of_date": st.column_config.DateColumn("Score set"),
            "model_version": st.column_config.TextColumn("Model"),
            "resolved": number("Outcomes known", format="localized"),
            "churn_rate": number("Churned", format="percent"),
            "mean_predicted": number("Predicted", format="percent"),
            "auc": number("AUC", format="%.3f"),
            "precision": number("Precision", format="%.3f"),
            "recall": number("Recall", format="%.3f"),
            "f1": number("F1", format="%.3f"),
            "accuracy": number("Accuracy", format="%.3f"),
            "brier": number("Brier", format="%.3f"),
        }
        st.dataframe(performance[list(columns)], hide_index=True, column_config=columns)
    st.caption(
        "Each past score set joined to the outcomes known since (evaluators.retained), in the warehouse; "
        "sets whose evaluators are still in trial appear once their outcomes arrive."
    )


def freshness(settings: Settings, score_set: ScoreSet) -> None:
    """How old the telemetry, the score set and the quality check are; the quality report; the jobs."""
    info = data.freshness(settings)
    created = score_set.created_at
    cols = st.columns(3)
    cols[0].metric("Telemetry up to", ui.date_text(info.last_usage_date), border=True)
    cols[1].metric(
        "Score set",
        ui.date_text(score_set.as_of),
        border=True,
        delta_description=f"written {ui.date_text(created)}" if created is not None else None,
    )
    cols[2].metric("Raw data checked", ui.date_text(info.quality_checked_at), border=True)
    if created is not None and not pd.isna(created):
        age = (dt.datetime.now() - pd.Timestamp(created).to_pydatetime()).total_seconds() / 3600
        if age > settings.freshness_hours:
            st.warning(
                f"The newest score set was written {age:,.0f} hours ago (more than settings "
                f"freshness_hours = {settings.freshness_hours:g}). Check the scheduled jobs below."
            )
    _quality_report(data.data_quality(settings))
    _jobs(settings)


def _quality_report(quality: pd.DataFrame) -> None:
    with st.expander("Data-quality report of the raw tables", expanded=False):
        if quality.empty:
            st.caption("No data-quality report yet (it is written when raw data is loaded).")
            return
        number = st.column_config.NumberColumn
        st.dataframe(
            quality,
            hide_index=True,
            column_config={
                "missing_rate": number("Missing", format="percent"),
                "nonzero_rate": number("Non-zero", format="percent"),
                "row_count": number("Rows", format="localized"),
            },
        )


def _jobs(settings: Settings) -> None:
    st.markdown("**Next scheduled runs**")
    st.dataframe(data.next_runs(settings), hide_index=True)
    jobs = data.job_history(settings)
    st.markdown("**Scheduled job history**")
    if jobs is None:
        st.caption("No job history yet: the scheduler (`churn scheduler`, or `churn run`) writes job_runs.")
    elif jobs.empty:
        st.caption("No job has run yet.")
    else:
        st.dataframe(jobs, hide_index=True)


def admin(settings: Settings, user: User) -> None:
    """Admins only: promote a model version (the registry's not-worse rule applies unless forced), the
    audit log of exports and promotions, and what the warehouse scanned in this session."""
    versions = data.model_versions(settings)
    st.markdown("**Promote a model version**")
    if versions.empty:
        st.caption("No model yet: `churn train` creates one.")
    else:
        st.dataframe(versions, hide_index=True)
        with st.form("promote"):
            version = st.selectbox("Version", versions["version"].tolist()[::-1])
            force = st.checkbox("Force, even if it is worse than the champion on its held-out rows")
            if st.form_submit_button("Promote", type="primary"):
                st.success(data.promote(settings, user, version, force))
    st.markdown("**Audit log** (exports and promotions)")
    entries = data.audit_entries(settings, user)
    if entries.empty:
        st.caption("Nothing exported or promoted yet.")
    else:
        st.dataframe(entries, hide_index=True)
    st.caption(
        f"Warehouse bytes scanned by this dashboard process: {data.bytes_scanned(settings):,} "
        "(Athena bills by bytes scanned; the embedded DuckDB file costs nothing)."
    )
