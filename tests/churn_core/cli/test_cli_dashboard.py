"""`churn dashboard` checks sign-in before it starts the server: a secrets file Streamlit cannot use stops it on
any address, and open mode stays on loopback (the server checks again: tests/dashboard/test_serve.py)."""

from __future__ import annotations

import importlib
import os

import pytest
from typer.testing import CliRunner

from churn_core.cli import app
from tests.dashboard.test_serve import VALID_AUTH

command_module = importlib.import_module("churn_core.cli.dashboard")  # the package exports the function


@pytest.fixture()
def started(tmp_path, monkeypatch) -> list[list[str]]:
    """HOME and the app's folder in tmp; the server commands `churn dashboard` would become (exec), not run."""
    for folder in ("home", "app"):
        (tmp_path / folder / ".streamlit").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CHURN_HOME", str(tmp_path / "churn"))
    monkeypatch.setattr(command_module, "APP_ROOT", tmp_path / "app")
    monkeypatch.chdir(tmp_path)  # the command moves to the app's folder; the test's own folder comes back after
    calls: list[list[str]] = []
    monkeypatch.setattr(os, "execve", lambda executable, command, env: calls.append(command))
    return calls


def _secrets(tmp_path, home: str | None = None, app_text: str | None = None) -> None:
    for folder, text in (("home", home), ("app", app_text)):
        if text is not None:
            (tmp_path / folder / ".streamlit" / "secrets.toml").write_text(text)


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
def test_a_broken_home_secrets_file_stops_the_dashboard(started, tmp_path, host) -> None:
    _secrets(tmp_path, home="[auth\n", app_text=VALID_AUTH)
    result = CliRunner().invoke(app, ["dashboard", "--host", host])
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and not started, said
    assert "sign-in is misconfigured" in said and "secrets.toml" in said


def test_open_mode_stays_on_loopback(started, tmp_path) -> None:
    result = CliRunner().invoke(app, ["dashboard", "--host", "0.0.0.0"])
    assert result.exit_code == 1 and not started and "refusing to listen on 0.0.0.0" in result.output
    assert CliRunner().invoke(app, ["dashboard"]).exit_code == 0 and started


def test_a_configured_provider_may_listen_beyond_loopback(started, tmp_path) -> None:
    _secrets(tmp_path, app_text=VALID_AUTH)
    result = CliRunner().invoke(app, ["dashboard", "--host", "0.0.0.0"])
    assert result.exit_code == 0 and started and "0.0.0.0" in started[0], result.output
