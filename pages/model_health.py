"""Model health, for analysts: the champion and its card, cut-off, drift, realised performance, freshness."""

import streamlit as st

from dashboard import data, health, ui

settings = data.settings()
score_set = ui.header("Model health", settings)
card = data.model_card(settings, score_set.model_version)

champion, threshold, drift, realised, freshness = st.tabs(
    ["Champion and card", "Threshold explorer", "Drift", "Realised performance", "Freshness, quality, jobs"]
)
with champion:
    health.champion(settings, card, score_set)
with threshold:
    health.threshold_explorer(settings, score_set, card)
with drift:
    health.drift(settings, score_set)
with realised:
    health.realised(settings)
with freshness:
    health.freshness(settings, score_set)
