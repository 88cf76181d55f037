"""Activation, for managers: is week-1 activation up, against the target, by week, segment and channel."""

import datetime as dt

import streamlit as st

from churn_core import views
from dashboard import charts, data, ui
from dashboard.sections import activation

settings = data.settings()
score_set = ui.header("Activation", settings, needs_scores=False, needs=("activation_daily",))
rule, target_box = st.columns([3, 1])
rule.markdown(
    f"A trial is **activated** once it has had at least **{settings.activation_min_active_users} distinct "
    f"active users** and started at least **{settings.activation_min_sprints} sprint** "
    "(settings `activation_min_active_users`, `activation_min_sprints`). A cohort week is complete once all "
    "its trials have reached day 7; weeks still in progress are drawn as partial and not compared."
)
with target_box:
    target = activation.target_choice(settings)

trend = data.activation_trend(settings)
activation.activation_tiles(trend, data.activation_headline(settings), target, settings)
left, right = st.columns(2)
with left:
    ui.chart(charts.activation_trend_chart(trend, target))
with right:
    ui.chart(charts.activation_curves_chart(data.activation_curves(settings)))

st.subheader("By segment or channel")
dimension = activation.breakdown_choice()
label = views.SEGMENT_DIMENSIONS[dimension]
last_day = ui.last_data_day(settings)
by_segment = data.activation_by_segment(settings, dimension, last_day - dt.timedelta(weeks=8))
weekly = views.segment_trend(by_segment)
left, right = st.columns(2)
with left:
    ui.chart(charts.segment_trend_chart(weekly, label, target))
with right:
    ui.chart(charts.activation_segments_chart(views.segment_curves(by_segment), label))
activation.segment_table(views.segment_changes(weekly), label)
st.caption(
    f"Trials started in the 8 weeks to {last_day:%d %b %Y}. The weekly lines show complete cohort weeks with at "
    f"least {views.SEGMENT_MIN_TRIALS} trials in the segment, and a change is given only between two such "
    "weeks; in the curves each point counts the trials that had reached that day."
)

st.subheader("Which early actions go with activation and retention")
actions = data.early_actions(settings, last_day)
ui.chart(charts.early_actions_chart(actions))
activation.early_actions_table(actions)
st.caption(
    "Doers are trials that took the action in days 0-2, compared with those that did not; lifts are "
    "differences in rates (95% intervals), impact = reach × retention lift. These are associations, not "
    "proof the action causes the outcome; two actions are part of the activation rule itself."
)
