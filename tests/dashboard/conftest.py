"""Fixtures of the browser tests: the dashboard served on the small scored warehouse, and a headless Chromium
(one of each per test module)."""

from __future__ import annotations

import pytest

from tests.dashboard.browser import ROOT, VIEWPORT, chromium, streamlit_server


@pytest.fixture(scope="module")
def server(scored_home):
    with streamlit_server(ROOT / "dashboard" / "app.py", {"CHURN_HOME": str(scored_home.home)}) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture()
def page(browser):
    """A fresh browser tab (its own context: cookies, downloads) per test."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    tab = context.new_page()
    yield tab
    context.close()
