"""Channels and content: which touches go with better retention than no contact, and how sure we are."""

import streamlit as st

from churn_core import views
from dashboard import charts, data, ui
from dashboard.sections import channels

settings = data.settings()
score_set = ui.header("Channels and content", settings, needs_scores=False, needs=("engagements",))

outcomes = data.channel_outcomes(settings)
st.subheader("Evaluators reached by each channel against the no-contact control")
cols = st.columns(3)
for col, (metric, label) in zip(
    cols,
    (
        ("retention", "Retention"),
        ("activation", "Week-1 activation"),
        ("response", "Response rate per delivered touch"),
    ),
    strict=True,
):
    with col:
        ui.chart(charts.channel_rates_chart(outcomes, metric, label))
channels.channel_table(outcomes)
st.caption(
    "Rates with 95% Wilson intervals. Retention counts evaluators whose outcome is known; activation those "
    "that reached day 7. Who gets reached is not random, so these are comparisons, not effects: the "
    "uplift estimates below adjust for it."
)

st.subheader("Estimated uplift per channel")
effects = data.channel_uplift(settings, score_set.as_of) if score_set else None
if effects is None:
    st.info(ui.NO_SCORES)
else:
    ui.chart(charts.channel_effects_chart(effects))
    thin = views.unestimated_channels(effects)
    st.caption(
        f"From the scoring job of {score_set.as_of:%d %b %Y} (table channel_effects)."
        + (
            f" Too little history to estimate {', '.join(thin)}: targeting uses the save rates in settings for them."
            if thin
            else ""
        )
    )

st.subheader("Content ranked by lift among those who engaged")
left, right = st.columns(2)
min_n = left.slider("Smallest sample to rank (resolved evaluators)", 5, 200, 30, step=5, key="content_min_n")
rank = right.segmented_control("Rank by", ("lift", "lower end of the interval"), default="lift", key="content_rank")
content = data.content_lift(settings, min_n, rank == "lower end of the interval")
ui.chart(charts.content_lift_chart(content))
channels.content_table(content)
st.caption(
    "Lift = retention of evaluators who opened or answered the item − retention of the no-contact control, "
    "with a 95% Newcombe interval. Items with fewer outcomes than the slider are drawn hollow and ranked "
    "last, so a lucky small sample does not top the list."
)
