"""The app itself fails closed: with a secrets file Streamlit cannot use it shows only an error page (no data,
no admin), and without sign-in it refuses to serve a server listening beyond this machine."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from tests.dashboard.test_pages import run_page
from tests.dashboard.test_serve import VALID_AUTH


def _run(monkeypatch, home, address: str | None, files: list[Path]) -> AppTest:
    """The app as served on `address` with these secrets files (tests/dashboard/conftest.py restores both)."""
    config.set_option("server.address", address)
    config.set_option("secrets.files", [str(f) for f in files])
    return run_page(monkeypatch, home)


def _shows_nothing_but(at: AppTest, words: str) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert any(words in e.value for e in at.error), [e.value for e in at.error]
    assert not at.dataframe and not at.tabs and not at.get("plotly_chart")
    assert not any("At-risk" in t.value for t in at.title)


@pytest.mark.parametrize(
    "home_text",
    ["[auth\n", 'auth = "yes"\n', "auth = 1\n", '[auth]\nredirect_uri = "x"\n', "\xff\xfe not utf-8"],
    ids=["syntax error", "auth a string", "auth a number", "keys missing", "not utf-8"],
)
def test_a_secrets_file_that_cannot_be_used_shows_only_an_error(monkeypatch, scored_home, tmp_path, home_text) -> None:
    """Finding 1: a broken ~/.streamlit/secrets.toml next to a valid project file opened every page as admin."""
    home, project = tmp_path / "home.toml", tmp_path / "project.toml"
    home.write_bytes(home_text.encode("latin-1"))
    project.write_text(VALID_AUTH if "auth" not in home_text else "")
    at = _run(monkeypatch, scored_home, "127.0.0.1", [home, project])
    _shows_nothing_but(at, "sign-in is misconfigured")


@pytest.mark.parametrize("address", ["0.0.0.0", "192.0.2.7", "::", None], ids=str)
def test_open_mode_beyond_loopback_shows_only_an_error(monkeypatch, scored_home, tmp_path, address) -> None:
    """Finding 2: a server started by hand on a network address (or on all, Streamlit's default) ran open."""
    at = _run(monkeypatch, scored_home, address, [tmp_path / "absent.toml"])
    _shows_nothing_but(at, "no sign-in is configured")


@pytest.mark.parametrize("address", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_open_mode_on_loopback_runs(monkeypatch, scored_home, tmp_path, address) -> None:
    at = _run(monkeypatch, scored_home, address, [tmp_path / "absent.toml"])
    assert not at.exception and not at.error and at.dataframe
