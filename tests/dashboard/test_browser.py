"""End to end in a real browser: Debian's Chromium, driven by Playwright, on `streamlit run dashboard/app.py`.

Opens every page (screenshots go to screenshots/, which git ignores), applies a filter, opens a profile by
selecting a table row, and downloads the CSV export to check its rows and that formula-like cells (the
fixture has a product named like a spreadsheet formula) come out neutralised.
"""

from __future__ import annotations

import csv
import io
import urllib.parse
from pathlib import Path

import pytest

from churn_core import views
from churn_core.warehouse import open_warehouse
from tests.conftest import HOSTILE_PRODUCT, SCORE_DATES
from tests.dashboard.browser import CHROMIUM, INSTALL_HINT, ROOT, chromium, streamlit_server, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=INSTALL_HINT)]

SCREENSHOTS = ROOT / "screenshots"
PAGES = {
    "at-risk": "",
    "profile": "profile",
    "channels": "channels",
    "activation": "activation",
    "drivers": "drivers",
    "model-health": "model_health",
}
VIEWPORT = {"width": 1440, "height": 900}


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
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    tab = context.new_page()
    yield tab
    context.close()


def assert_no_error(tab) -> None:
    assert tab.locator('[data-testid="stException"]').count() == 0
    assert "Something went wrong" not in tab.content()


def full_screenshot(tab, name: str) -> None:
    """The whole page: Streamlit scrolls inside its own container, so grow the viewport to the content."""
    height = tab.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 900")
    tab.set_viewport_size({"width": VIEWPORT["width"], "height": min(max(int(height) + 40, 900), 6000)})
    tab.wait_for_timeout(400)
    SCREENSHOTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    tab.set_viewport_size(VIEWPORT)


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_opens(server, page, name):
    query = f"?instance={top_instance()}" if name == "profile" else ""
    page.goto(f"{server}/{PAGES[name]}{query}")
    wait_until_idle(page)
    assert_no_error(page)
    assert page.locator("h1").first.is_visible()
    text = page.inner_text('[data-testid="stMain"]')  # the charts' titles and axes are drawn as text too
    assert f"{SCORE_DATES[-1]:%d %b %Y}" in text
    if name in ("at-risk", "profile"):  # marketer pages: risk in points, never the model's log-odds
        assert "log-odds" not in text.lower() and "SHAP" not in text
    full_screenshot(page, name)


def test_model_health_tabs(server, page):
    page.goto(f"{server}/model_health")
    wait_until_idle(page)
    for tab_name in ("Threshold explorer", "Drift", "Realised performance", "Freshness, quality, jobs"):
        page.get_by_role("tab", name=tab_name).click()
        page.wait_for_timeout(300)
        assert_no_error(page)
        full_screenshot(page, "model-health-" + tab_name.split(",")[0].lower().replace(" ", "-"))


_TOP: list[int] = []


def top_instance() -> int:
    return _TOP[0] if _TOP else 0


@pytest.fixture(scope="module", autouse=True)
def _remember_top(scored_home):
    rows = views.at_risk_page(
        open_warehouse(scored_home, read_only=True), SCORE_DATES[-1], views.Filters(), "risk", 0, 2
    )
    _TOP[:] = rows["instance"].astype(int).tolist()


def test_filter_then_open_a_profile_by_selecting_a_row(server, page):
    page.goto(server)
    wait_until_idle(page)
    page.get_by_role("button", name="High", exact=True).click()
    wait_until_idle(page)
    assert "tier=high" in page.url
    grid = page.locator('[data-testid="stDataFrame"]').first.bounding_box()
    page.mouse.click(grid["x"] + 15, grid["y"] + 35 + 35 + 17)  # the row marker of the second row
    page.wait_for_url("**/profile?instance=*", timeout=30_000)
    wait_until_idle(page)
    instance = int(urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["instance"][0])
    assert instance == _TOP[1]
    assert_no_error(page)
    assert "What drives this risk" in page.inner_text('[data-testid="stMain"]')
    full_screenshot(page, "profile-from-row")
    page.get_by_role("link", name="At-risk evaluators").click()
    wait_until_idle(page)
    assert "tier=high" in page.url and "/profile" not in page.url


def test_csv_export_has_the_filtered_rows_with_neutralised_cells(server, page, scored_home):
    query = urllib.parse.urlencode({"product": HOSTILE_PRODUCT})
    page.goto(f"{server}/?{query}")
    wait_until_idle(page)
    assert_no_error(page)
    page.get_by_text("Export this list").click()  # the panel reruns the page to draw its contents
    wait_until_idle(page)
    page.get_by_role("button", name="Download CSV").wait_for(timeout=60_000)
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename.startswith(f"at-risk_{SCORE_DATES[-1].isoformat()}_product-hyperlink")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    expected = views.at_risk_summary(
        open_warehouse(scored_home, read_only=True),
        SCORE_DATES[-1],
        views.Filters(products=(HOSTILE_PRODUCT,)),
    ).evaluators
    assert len(rows) == expected > 0
    assert {r["product"] for r in rows} == {"'" + HOSTILE_PRODUCT}
    assert all(not r["top_reason"].startswith(("=", "+", "-", "@")) for r in rows)
    full_screenshot(page, "at-risk-export")
