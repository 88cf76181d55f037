"""At-risk evaluators: who is likely to leave, why, and what to do; the marketers' daily list."""

import streamlit as st

from dashboard import data, filters, navigation, ui
from dashboard.sections import at_risk

settings = data.settings()
score_set = ui.header("At-risk evaluators", settings)
kpis, controls = st.container(), st.container()  # drawn after the table, so the table paints first

options = data.filter_options(settings, score_set.as_of)
view, sort = filters.current_view(options)
total = data.at_risk_summary(settings, score_set.as_of, view).evaluators
pages = at_risk.page_count(total, settings.page_size)
page = filters.page_number(view, sort, pages)
rows = data.at_risk_page(settings, score_set.as_of, view, sort, page - 1)
if rows.empty:
    st.info("No evaluator matches these filters. Clear a filter or pick another score set.")
picked = at_risk.at_risk_table(rows)
at_risk.pager(total, page, pages, settings.page_size)
with controls:
    filters.at_risk_controls(options, view)
filters.remember(view, sort, page)
if picked is not None:
    st.switch_page(navigation.page("profile"), query_params={"instance": str(picked)})
with kpis:
    at_risk.kpi_tiles(settings, score_set)
at_risk.export_panel(settings, score_set, view, sort, total)
