"""Evaluator profile: one evaluator's risk and trend, why, what it did, what we sent, what would help."""

import streamlit as st

from churn_core import views
from dashboard import charts, data, filters, ui
from dashboard.sections import profile

settings = data.settings()
score_set = ui.header("Evaluator profile", settings, needs_scores=False)
instance = filters.instance_picker()
if instance is None:
    st.info("Choose an evaluator: select a row on the **At-risk evaluators** page, or type its instance id.")
    st.stop()
evaluator = data.profile(settings, instance, score_set.as_of if score_set else None)
if evaluator.facts is None:
    st.warning(f"There is no evaluator with instance {instance}.")
    st.stop()
profile.facts(evaluator)
score = evaluator.current
if score is None:
    st.info(
        f"Instance {instance} is not in the score set of {score_set.as_of:%d %b %Y}: its outcome is known or "
        "its trial had not reached day 1."
        if score_set
        else ui.NO_SCORES
    )
else:
    profile.tiles(score, settings, score_set.threshold)
    card = data.model_card(settings, str(score.get("model_version")))
    explained = views.explain_score(score, evaluator.features, card)
    left, right = st.columns([3, 2])
    with left:
        ui.chart(charts.shap_waterfall_chart(explained.drivers, explained.base_risk, explained.risk))
    with right:
        profile.reasons(score, explained)
        ui.chart(charts.risk_history_chart(evaluator.history, *profile.tier_edges(settings, score_set.threshold)))
    left, right = st.columns(2)
    with left:
        ui.chart(charts.shap_change_chart(views.shap_changes(score, evaluator.previous, card)))
    with right:
        ui.chart(charts.channel_uplift_chart(views.channel_uplifts(score), score.get("recommended_channel")))
    day = int(score.get("as_of_day") or 7)
    comparison = views.cohort_comparison(
        data.cohort_medians(settings, day), explained.values, day, score.get("team_size")
    )
    ui.chart(charts.feature_vs_cohorts_chart(comparison))

left, right = st.columns(2)
with left:
    ui.chart(charts.daily_activity_chart(data.daily_activity(settings, instance)))
with right:
    touches = data.evaluator_touches(settings, instance)
    scored = score_set.as_of if score is not None else None  # a score implies its set
    ui.chart(charts.touches_chart(touches, evaluator.facts.get("eval_start_date"), scored))
profile.touches_table(touches)

if score is not None:
    profile.what_if(settings, score, explained)
