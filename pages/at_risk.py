"""At-risk evaluators: who is likely to leave, why, and whom to contact today through which channel."""

import streamlit as st

from dashboard import data, filters, navigation, ui
from dashboard.sections import at_risk

settings = data.settings()
score_set = ui.header("At-risk evaluators", settings)
kpis, lists, controls = st.container(), st.container(), st.container()  # drawn after the table: it paints first

options = data.filter_options(settings, score_set.as_of)
view, sort = filters.current_view(options)
summary = data.at_risk_summary(settings, score_set.as_of, view)
pages = at_risk.page_count(summary.evaluators, settings.page_size)
page = filters.page_number(view, sort, pages)
rows = data.at_risk_page(settings, score_set.as_of, view, sort, page - 1)
at_risk.list_heading(view, summary)
if rows.empty:
    st.info("No evaluator matches these filters. Clear a filter or pick another score set.")
picked, header_sort = at_risk.at_risk_table(rows, sort)
if header_sort:
    st.session_state["f_sort"] = header_sort
    st.rerun()
at_risk.pager(summary.evaluators, page, pages, settings.page_size)
with lists:
    at_risk.todays_lists(settings, score_set, view)
with controls:
    filters.at_risk_controls(options, view)
filters.remember(view, sort, page)
if picked is not None:
    st.switch_page(navigation.page("profile"), query_params={"instance": str(picked)})
with kpis:
    at_risk.kpi_tiles(settings, score_set, view)
at_risk.export_panel(settings, score_set, view, sort, summary)
