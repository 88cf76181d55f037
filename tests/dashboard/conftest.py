"""The dashboard tests' Streamlit: in-process apps (AppTest) run as if served on loopback with no secrets file,
whatever this machine's ~/.streamlit holds (a test may set other options, restored afterwards); the browser
tests' dashboard served on the small scored warehouse, and a headless Chromium (one of each per test module)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit import config

from tests.dashboard.browser import ROOT, VIEWPORT, chromium, streamlit_server

OPTIONS = ("server.address", "secrets.files")


@pytest.fixture(autouse=True)
def loopback_without_secrets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    saved = {name: config.get_option(name) for name in OPTIONS}
    config.set_option("server.address", "127.0.0.1")
    config.set_option("secrets.files", [str(Path(tmp_path_factory.getbasetemp()) / "no-secrets.toml")])
    yield
    for name, value in saved.items():
        config.set_option(name, value)


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
