"""Addresses in a real browser (Debian's Chromium via Playwright): every page opens from its own URL, and the
profile keeps its evaluator in the URL when the visitor leaves it and comes back."""

from __future__ import annotations

import urllib.parse

import pytest

from churn_core import views
from churn_core.warehouse import open_warehouse
from dashboard.navigation import PAGES
from tests.conftest import SCORE_DATES
from tests.dashboard.browser import CHROMIUM, INSTALL_HINT, VIEWPORT, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=INSTALL_HINT)]

NOT_FOUND = "Page not found"


@pytest.fixture()
def tab(browser):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    yield page
    context.close()


def _query(url: str) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlparse(url).query)


@pytest.mark.parametrize("spec", PAGES, ids=[p.url_path for p in PAGES])
def test_every_page_opens_at_its_own_address(server, tab, spec):
    tab.goto(f"{server}/{spec.url_path}")
    wait_until_idle(tab)
    assert NOT_FOUND not in tab.inner_text("body")
    assert tab.locator("h1").first.inner_text().strip() == spec.title


def test_the_home_pages_address_keeps_its_parameters(server, tab):
    tab.goto(f"{server}/at_risk?tier=high&sort=value")
    wait_until_idle(tab)
    assert NOT_FOUND not in tab.inner_text("body")
    assert urllib.parse.urlparse(tab.url).path == "/"
    assert _query(tab.url) == {"tier": ["high"], "sort": ["value"]}
    assert tab.get_by_role("combobox", name="Sort by").input_value() == views.SORTS["value"]  # as the link asked


def test_the_profile_keeps_its_evaluator_across_pages(server, tab, scored_home):
    rows = views.at_risk_page(
        open_warehouse(scored_home, read_only=True), SCORE_DATES[-1], views.Filters(), "risk", 0, 1
    )
    instance = str(int(rows["instance"].iloc[0]))
    tab.goto(f"{server}/profile?instance={instance}")
    wait_until_idle(tab)
    assert "What drives this risk" in tab.inner_text('[data-testid="stMain"]')
    tab.get_by_role("link", name="Channels and content").click()
    wait_until_idle(tab)
    assert "/channels" in tab.url
    tab.get_by_role("link", name="Evaluator profile").click()
    wait_until_idle(tab)
    assert "/profile" in tab.url and _query(tab.url).get("instance") == [instance]
    main = tab.inner_text('[data-testid="stMain"]')
    assert "What drives this risk" in main and "Choose an evaluator" not in main
    tab.reload()  # the address alone brings it back
    wait_until_idle(tab)
    assert _query(tab.url).get("instance") == [instance]
    assert "What drives this risk" in tab.inner_text('[data-testid="stMain"]')
