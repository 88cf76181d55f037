"""Model health, for analysts: the champion and its card, cut-off, drift, realised performance, freshness;
for admins also promotion and the audit log."""

import streamlit as st

from dashboard import auth, data, ui
from dashboard.sections import model_health

settings = data.settings()
score_set = ui.header("Model health", settings)
card = data.model_card(settings, score_set.model_version)
user = auth.current_user(settings)
names = ["Champion and card", "Threshold explorer", "Drift", "Realised performance", "Freshness, quality, jobs"]
is_admin = user is not None and user.can("promote")
tabs = st.tabs(names + (["Admin"] if is_admin else []))

with tabs[0]:
    model_health.champion(settings, card, score_set)
with tabs[1]:
    model_health.threshold_explorer(settings, score_set, card)
with tabs[2]:
    model_health.drift(settings, score_set)
with tabs[3]:
    model_health.realised(settings)
with tabs[4]:
    model_health.freshness(settings, score_set)
if is_admin:
    with tabs[5]:
        model_health.admin(settings, user)
