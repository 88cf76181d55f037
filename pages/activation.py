"""Activation, for managers: how fast new trials reach the activation rule, by week, segment and channel."""

import datetime as dt

import streamlit as st

from churn_core.views import SEGMENT_DIMENSIONS
from dashboard import charts, data, ui
from dashboard.sections import activation

settings = data.settings()
score_set = ui.header("Activation", settings, needs_scores=False, needs=("activation_daily",))
st.markdown(
    f"A trial is **activated** once it has had at least **{settings.activation_min_active_users} distinct "
    f"active users** and started at least **{settings.activation_min_sprints} sprint** "
    "(settings `activation_min_active_users`, `activation_min_sprints`)."
)

trend = data.activation_trend(settings)
activation.activation_tiles(trend)
left, right = st.columns(2)
with left:
    ui.chart(charts.activation_curves_chart(data.activation_curves(settings)))
with right:
    ui.chart(charts.activation_trend_chart(trend))

st.subheader("By segment or channel")
dimension = (
    st.segmented_control(
        "Break down by",
        tuple(SEGMENT_DIMENSIONS),
        format_func=SEGMENT_DIMENSIONS.get,
        default="product",
        key="activation_dimension",
    )
    or "product"
)
last_day = ui.last_data_day(settings)
since = last_day - dt.timedelta(weeks=8)
ui.chart(
    charts.activation_segments_chart(
        data.activation_curves_by_segment(settings, dimension, since), SEGMENT_DIMENSIONS[dimension]
    )
)
st.caption(
    f"Trials started in the 8 weeks to {last_day:%d %b %Y}. Each point counts the trials that had reached that day."
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
