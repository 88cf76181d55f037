"""The Plays page in a real browser: a play with resolved outcomes shows its verdict, effect, intervals and
today's list without error; screenshots go to screenshots/plays/ (git ignores it)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil

import pytest

from churn_core.plays.assign import assign_plays
from churn_core.plays.spec import parse_play
from churn_core.plays.store import create_play
from churn_core.warehouse import open_warehouse
from tests.churn_core.plays.conftest import SPEC
from tests.conftest import SCORE_DATES
from tests.dashboard.browser import CHROMIUM, INSTALL_HINT, ROOT, streamlit_server, wait_until_idle
from tests.dashboard.test_browser import assert_no_error, full_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=INSTALL_HINT)]
PLAY = {**SPEC, "start_date": dt.date(2026, 10, 1), "daily_capacity": 150, "eligibility": {}}


@pytest.fixture(scope="module")
def server(scored_home, tmp_path_factory):
    """The scored warehouse with one play assigned on every score date: the first date's outcomes resolve."""
    home = tmp_path_factory.mktemp("plays") / "home"
    shutil.copytree(scored_home.home, home)
    settings = dataclasses.replace(scored_home, home=home)
    warehouse = open_warehouse(settings)
    create_play(warehouse, parse_play(PLAY), "ana@example.com")
    for day in SCORE_DATES:
        assign_plays(warehouse, settings, day)
    with streamlit_server(ROOT / "dashboard" / "app.py", {"CHURN_HOME": str(home)}) as (url, _):
        yield url


def test_the_plays_page_shows_a_plays_results_and_list(server, page):
    page.goto(f"{server}/plays")
    wait_until_idle(page)
    assert_no_error(page)
    text = page.inner_text('[data-testid="stMain"]')
    assert PLAY["name"] in text and "Verdict" in text and "Effect on retention so far" in text
    assert "Always-valid interval" in text and "Among those reached" in text
    assert "not enough outcomes yet" not in text.split("Always-valid interval")[1][:40]
    assert re.search(rf"List of {SCORE_DATES[-1]:%d %b %Y}: \d+ to contact", text)
    full_screenshot(page, "plays/plays")
    page.get_by_text("Create a play").click()
    wait_until_idle(page)
    full_screenshot(page, "plays/plays-create")
