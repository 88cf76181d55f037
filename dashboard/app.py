"""Entrypoint: `streamlit run dashboard/app.py` from the repository root (`churn dashboard` does this).

Routes to the pages of pages/ with st.navigation, draws the shared sidebar, and turns errors a user can act
on (ChurnError: no warehouse, a failed query, bad settings) into a message instead of a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from churn_core.access.roles import User  # noqa: E402
from churn_core.errors import ChurnError  # noqa: E402
from churn_core.settings import Settings, SettingsError  # noqa: E402
from dashboard import auth, data, navigation, ui  # noqa: E402

log = logging.getLogger("churn.dashboard")


def sidebar(settings: Settings, user: User) -> None:
    with st.sidebar:
        st.markdown(f"**{ui.PRODUCT}**")
        auth.sidebar_identity(user)
        sets = data.score_sets(settings) if "evaluator_scores" in data.tables(settings) else []
        if sets:
            st.selectbox(
                "Score set",
                [s.as_of for s in sets],
                key=ui.SET_KEY,
                format_func=lambda d: f"{d:%d %b %Y}" + (" (latest)" if d == sets[0].as_of else ""),
            )
            chosen = ui.current_set(settings)
            st.caption(f"Model **{chosen.model_version}** · {chosen.scored:,} evaluators scored")
        else:
            st.caption("No score set yet")


def main() -> None:
    st.set_page_config(page_title=ui.PRODUCT, page_icon=":material/monitoring:", layout="wide")
    try:
        settings = data.settings()
    except SettingsError as exc:
        st.error(ui.error_text(exc), icon=":material/error:")
        return
    problem = auth.exposure_problem()
    if problem:
        auth.refused_page(ui.PRODUCT, ui.error_text(ChurnError(problem), settings))
        return
    user = auth.current_user(settings)
    if user is None:
        auth.sign_in_page(ui.PRODUCT)
        return
    if not user.can("browse"):
        auth.no_role_page(user)
        return
    page = st.navigation(navigation.sections(user))
    try:
        with data.warehouse_held(settings):
            try:
                page.run()
            finally:  # after the page, so that the page's own elements reach the browser first
                sidebar(settings, user)
    except (ChurnError, SettingsError) as exc:
        st.error(ui.error_text(exc, settings), icon=":material/error:")
    except Exception as exc:  # the traceback goes to the server log, redacted; the user gets a plain message
        log.error("page %s failed\n%s", page.title, ui.error_text(exc, settings, trace=True))
        st.error(
            "Something went wrong while drawing this page. The details are in the server log; "
            "reloading the page or changing the filters may help.",
            icon=":material/error:",
        )


main()
