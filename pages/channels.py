"""Channels and content: what each channel and content item adds to retention against no contact (adjusted
estimates first), then the raw comparisons, which are not effects."""

import streamlit as st

from churn_core import views
from dashboard import charts, data, ui
from dashboard.sections import channels

settings = data.settings()
score_set = ui.header("Channels and content", settings, needs_scores=False, needs=("engagements",))

st.subheader("What each channel adds to retention")
effects = data.channel_uplift(settings, score_set.as_of) if score_set else None
if effects is None:
    st.info(ui.NO_SCORES)
else:
    ui.chart(charts.channel_effects_chart(effects))
    channels.effects_table(effects)
    thin = views.unestimated_channels(effects)
    st.caption(
        f"Estimated by the scoring job of {score_set.as_of:%d %b %Y} on evaluators whose outcome is known: retention "
        "of those put in each channel's campaigns (delivered or not) against the no-contact control group, "
        "adjusted for week-1 behaviour, segment and value (doubly robust, 95% intervals)."
        + (
            f" Too little history to estimate {', '.join(thin)}: targeting uses the save rates in settings."
            if thin
            else ""
        )
    )

st.subheader("What each content item adds to retention")
everything = data.content_effects(settings, score_set.as_of) if score_set else None
if everything is None or everything.empty:
    st.info("The adjusted lift of each content item comes with the next score set (`churn score`).")
else:
    min_sent, conservative = channels.content_controls(everything["n_sent"])
    content = data.content_effects(settings, score_set.as_of, min_sent, conservative)
    ui.chart(charts.content_effects_chart(content))
    channels.content_effects_table(content)
    st.caption(
        f"{len(content)} of {len(everything)} items. Lift = retention of the evaluators sent the item (their "
        "campaign, delivered or not) against the no-contact control group, adjusted for who was sent it with the "
        "channel uplift's model of retention without contact (same inputs); 95% intervals. The raw difference is "
        "shown beside it for comparison."
    )

st.subheader("Raw comparisons: not effects")
st.caption(
    "Who gets reached, and who opens, is not random: engaged evaluators both open more and stay more. These "
    "rates compare groups; the adjusted estimates above are what to act on."
)
outcomes = data.channel_outcomes(settings)
for col, (metric, label) in zip(
    st.columns(3),
    (("retention", "Retention"), ("activation", "Week-1 activation"), ("response", "Response per delivered touch")),
    strict=True,
):
    with col:
        ui.chart(charts.channel_rates_chart(outcomes, metric, label))
channels.channel_table(outcomes)
with st.expander("Content: retention of those who opened or answered each item (a comparison)"):
    channels.engaged_table(data.content_lift(settings))
