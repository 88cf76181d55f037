"""Drivers, for analysts: what moves churn risk across evaluators, and how stayers differ from churners."""

import streamlit as st

from churn_core import views
from churn_core.views import FEATURE_LABELS
from dashboard import charts, data, ui
from dashboard.sections import drivers

settings = data.settings()
score_set = ui.header("Drivers", settings)

importance = data.shap_importance(settings, score_set.as_of)
sample = data.shap_sample(settings, score_set.as_of, 1500, score_set.scored, score_set.model_version)
categories = views.feature_categories(views.model_pipeline(data.model_card(settings, score_set.model_version)))
features = importance["feature"].tolist()
left, right = st.columns([2, 3])
with left:
    ui.chart(charts.shap_importance_chart(importance))
with right:
    ui.chart(charts.beeswarm_chart(sample, features[:12], FEATURE_LABELS, categories))
st.caption(
    f"Mean |SHAP| over all {score_set.scored:,} evaluators of the set, computed in the warehouse; the "
    f"summary plot shows a fixed sample of {len(sample):,}."
)

st.subheader("Dependence")
a, b = st.columns(2)
feature = a.selectbox("Feature", features, format_func=views.feature_label, key="dep_feature")
colour = b.selectbox(
    "Colour by",
    [None, *features],
    key="dep_colour",
    format_func=lambda f: "nothing" if f is None else views.feature_label(f),
)
if feature:
    ui.chart(charts.dependence_chart(sample, feature, colour, FEATURE_LABELS, categories))

st.subheader("Stayers vs churners, feature by feature")
by_outcome = data.feature_by_outcome(settings)
statistic = st.segmented_control("Statistic", ("median", "mean"), default="median", key="outcome_stat") or "median"
ui.chart(charts.stayers_churners_chart(by_outcome, statistic))
drivers.outcome_table(by_outcome)

st.subheader("Feature study (from the model card)")
study = data.feature_study(settings, score_set.model_version)
if study is None:
    st.info("No model card found for this model version: train one with `churn train`.")
else:
    left, right = st.columns(2)
    with left:
        ui.chart(charts.correlation_chart(study.correlation))
    with right:
        ui.chart(charts.pca_chart(study.explained_variance))
    if study.dropped:
        st.caption("Dropped before training: " + "; ".join(f"{k} ({v})" for k, v in study.dropped.items()))
