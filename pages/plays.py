"""Plays: each contact play's status, today's list, what it has achieved against its own holdout, and a verdict."""

import streamlit as st

from dashboard import auth, charts, data, ui
from dashboard.sections import plays

settings = data.settings()
score_set = ui.header("Plays", settings, needs_scores=False)
user = auth.current_user(settings)
day = score_set.as_of if score_set else ui.last_data_day(settings)
records = data.play_records(settings)
if not records:
    st.info("No play yet. Create one below, or from a spec file with `churn plays create --spec PLAY.toml`.")
else:
    results = data.play_results(settings, day)
    ui.chart(charts.play_effects_chart(data.play_effects(results)))
    for record, result in zip(records, results, strict=True):
        plays.play_panel(settings, user, record, result, day)
plays.create_form(settings, user)
