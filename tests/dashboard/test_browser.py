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
from tests.dashboard.browser import CHROMIUM, INSTALL_HINT, ROOT, wait_until_idle

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
        open_warehouse(scored_home, read_only=True),
        SCORE_DATES[-1],
        views.Filters(tiers=("high",)),  # the view test_filter_then_open_a_profile_by_selecting_a_row opens
        views.DEFAULT_SORT,
        0,
        2,
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
    rows = download_csv(page)
    assert page.get_by_role("button", name="Download CSV")  # the panel is still open after the download
    expected = views.at_risk_summary(
        open_warehouse(scored_home, read_only=True),
        SCORE_DATES[-1],
        views.Filters(products=(HOSTILE_PRODUCT,)),
    )
    assert len(rows) == expected.evaluators - expected.held_out > 0
    assert {r["Product"] for r in rows} == {"'" + HOSTILE_PRODUCT}
    assert all(not r["Top reason"].startswith(("=", "+", "-", "@")) for r in rows)
    full_screenshot(page, "at-risk-export")


def download_csv(page, name: str = "Download CSV") -> list[dict[str, str]]:
    """Open the export panel, download the CSV with the panel's defaults, and read its rows."""
    page.get_by_text("Export this list").click()  # the panel reruns the page to draw its contents
    wait_until_idle(page)
    page.get_by_role("button", name=name).wait_for(timeout=60_000)
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name=name).click()
    download = info.value
    assert download.suggested_filename.startswith(f"at-risk_{SCORE_DATES[-1].isoformat()}")
    return list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))


def test_the_default_contact_export_holds_no_holdout_evaluator(server, page, scored_home):
    """The list the issue found 247 control members in: everyone in a region not reached yet, exported."""
    warehouse = open_warehouse(scored_home, read_only=True)
    view = views.Filters(channels=(views.NOT_REACHED,))
    held = set(
        warehouse.query(
            "SELECT instance FROM evaluator_scores WHERE as_of_date = :d AND control_group = 1", {"d": SCORE_DATES[-1]}
        )["instance"]
    )
    page.goto(f"{server}/?channel={views.NOT_REACHED}")
    wait_until_idle(page)
    assert_no_error(page)
    rows = download_csv(page)
    exported = {int(r["Instance"]) for r in rows}
    summary = views.at_risk_summary(warehouse, SCORE_DATES[-1], view)
    assert summary.held_out > 0  # the filtered list holds held-out evaluators ...
    assert not exported & held  # ... and the contact export none of them
    assert len(exported) == summary.evaluators - summary.held_out
    assert {r["Holdout (do not contact)"] for r in rows} == {"no"}


def metrics(page) -> dict[str, str]:
    """Every st.metric tile on the page: label -> value as shown."""
    tiles = page.locator('[data-testid="stMetric"]')
    return {
        tiles.nth(i).locator('[data-testid="stMetricLabel"]').inner_text().strip(): tiles.nth(i)
        .locator('[data-testid="stMetricValue"]')
        .inner_text()
        .strip()
        for i in range(tiles.count())
    }


def test_the_same_figure_reads_the_same_on_every_page(server, page, scored_home):
    """Evaluators in trial, predicted to leave (flagged), high risk and the holdout size, read wherever a page
    shows them, agree with each other and with the warehouse."""
    truth = views.at_risk_summary(open_warehouse(scored_home, read_only=True), SCORE_DATES[-1])
    scored = f"{truth.evaluators:,} evaluators scored"
    page.goto(server)
    wait_until_idle(page)
    tiles = metrics(page)
    main = page.inner_text('[data-testid="stMain"]')
    assert tiles["Evaluators in trial"] == f"{truth.evaluators:,}" and scored in main
    assert tiles["Predicted to leave"] == f"{truth.flagged:,}"
    assert tiles["High risk"] == f"{truth.high_risk:,}"
    assert tiles["Held out"] == f"{truth.held_out:,}" and f"{truth.held_out:,} held out to measure" in main
    assert f"{truth.worth_saving:,} in today's contact plan" in main
    assert f"Whole plan · {truth.worth_saving:,}" in main
    for name in ("channels", "activation", "drivers", "model_health"):
        page.goto(f"{server}/{name}")
        wait_until_idle(page)
        assert scored in page.inner_text('[data-testid="stMain"]'), name
        assert scored in page.inner_text('[data-testid="stSidebar"]'), name
    page.get_by_role("tab", name="Threshold explorer").click()
    wait_until_idle(page)
    assert metrics(page)["Flagged at this cut-off"] == f"{truth.flagged:,}"  # the model's own cut-off by default
    assert f"{truth.flagged:,} predicted to leave" in page.inner_text('[data-testid="stMain"]')
    page.goto(f"{server}/?flag=control_group")
    wait_until_idle(page)
    tiles = metrics(page)
    assert tiles["Matching evaluators"] == tiles["Held out"] == f"{truth.held_out:,}"
    full_screenshot(page, "at-risk-held-out")


def test_a_held_out_evaluators_profile_says_do_not_contact(server, page, scored_home):
    held = open_warehouse(scored_home, read_only=True).query(
        "SELECT min(instance) AS i FROM evaluator_scores WHERE as_of_date = :d AND control_group = 1",
        {"d": SCORE_DATES[-1]},
    )
    page.goto(f"{server}/profile?instance={int(held.iloc[0, 0])}")
    wait_until_idle(page)
    assert_no_error(page)
    assert metrics(page)["Next action"] == "Do not contact"
    assert "held out: do not contact" in page.inner_text('[data-testid="stMain"]')
    full_screenshot(page, "profile-held-out")
