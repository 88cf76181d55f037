"""Secrets sweep: distinctive sentinel credentials are planted everywhere the product can hold one (AWS variables,
the signing key, the alert webhook and command, the OIDC secrets of a secrets.toml), then commands fail in ways
that quote them; no sentinel may appear in any output, log file, job history row or alert."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import HTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from churn_core import signing
from churn_core.access.roles import SignIn, sign_in
from churn_core.cli import app
from churn_core.errors import ChurnError
from churn_core.jobs import steps as jobs
from churn_core.jobs.logs import LOG_FILE
from churn_core.jobs.runner import StepOutcome
from churn_core.model.registry import Registry
from churn_core.secrets import redact, secret_values, secrets_files
from churn_core.settings import Settings, load_settings
from churn_core.warehouse import open_warehouse
from tests.churn_core.jobs.test_alerts import SECRET, _Hook
from tests.conftest import make_settings

AWS_KEY_ID = "AKIASENTINELKEYID123"
SENTINELS: dict[str, str] = {
    "AWS_SECRET_ACCESS_KEY": "sentinelAwsSecretAccessKey0000000000000a",
    "AWS_SESSION_TOKEN": "sentinelAwsSessionToken//FwoGZXIvYXdzEJr",
    "AWS_ACCESS_KEY_ID": AWS_KEY_ID,
    "CHURN_SIGNING_KEY": "sentinel-signing-key-4f1c9a7e",
    "webhook path": "sentinel-hook-path-8d2b",
    "webhook query": "sentinelHookQuery5e7a",
    "alert command": "sentinel-command-arg-3c9d",
    "client_secret": "sentinel-oidc-client-secret-6b1f",
    "cookie_secret": "sentinel-oidc-cookie-secret-2a8e",
    "provider client_secret": "sentinel-google-client-secret-9e4d",
}


def assert_no_sentinel(text: str, where: str) -> None:
    leaked = [name for name, value in SENTINELS.items() if value in text]
    assert not leaked, f"{where} shows {leaked}: {text[:2000]}"


def quoting_everything() -> str:
    """An error message of the kind a library produces when it quotes its configuration."""
    s = SENTINELS
    return (
        f"could not reach http://127.0.0.1/hooks/{s['webhook path']}?token={s['webhook query']} "
        f"with key {s['AWS_ACCESS_KEY_ID']}/{s['AWS_SECRET_ACCESS_KEY']} session {s['AWS_SESSION_TOKEN']}; "
        f"signed with {s['CHURN_SIGNING_KEY']}; ran `notify {s['alert command']}`; oidc "
        f"{s['client_secret']} {s['cookie_secret']} {s['provider client_secret']}"
    )


@pytest.fixture()
def webhook() -> Iterator[type[_Hook]]:
    handler = type("Hook", (_Hook,), {"received": [], "status": 200})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    handler.port = server.server_port  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, webhook: Any) -> Settings:
    """Every sentinel planted: AWS variables, CHURN_* settings, and a secrets.toml in the working directory
    (the app root Streamlit reads) and in a private HOME; returns the settings the CLI will load."""
    for key in [k for k in os.environ if k.startswith(("CHURN_", "AWS_"))]:
        monkeypatch.delenv(key)
    home, app = tmp_path / "user", tmp_path / "app"
    for root in (home, app):
        (root / ".streamlit").mkdir(parents=True)
    (app / ".streamlit" / "secrets.toml").write_text(
        '[auth]\nredirect_uri = "http://127.0.0.1:8501/oauth2callback"\n'
        f'cookie_secret = "{SENTINELS["cookie_secret"]}"\nclient_id = "churn"\n'
        f'client_secret = "{SENTINELS["client_secret"]}"\n'
        'server_metadata_url = "http://127.0.0.1:1/.well-known/openid-configuration"\n'
    )
    (home / ".streamlit" / "secrets.toml").write_text(
        f'[auth.google]\nclient_id = "g"\nclient_secret = "{SENTINELS["provider client_secret"]}"\n'
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(app)
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "CHURN_SIGNING_KEY"):
        monkeypatch.setenv(name, SENTINELS[name])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("CHURN_HOME", str(tmp_path / "churn"))
    monkeypatch.setenv(
        "CHURN_ALERT_WEBHOOK_URL",
        f"http://127.0.0.1:{webhook.port}/hooks/{SENTINELS['webhook path']}?token={SENTINELS['webhook query']}",
    )
    monkeypatch.setenv(
        "CHURN_ALERT_COMMAND", f"{sys.executable} -c 'import sys; sys.exit(3)' {SENTINELS['alert command']}"
    )
    monkeypatch.setenv("CHURN_JOB_RETRIES", "0")
    return load_settings()


def churn(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_every_planted_credential_is_known_as_a_secret(planted: Settings) -> None:
    known = secret_values(planted)
    assert set(SENTINELS.values()) <= {part for value in known for part in (value, *value.split())} | {
        v for v in SENTINELS.values() if any(v in k for k in known)
    }
    assert_no_sentinel(redact(quoting_everything(), known), "redact()")


def test_the_key_file_is_a_secret_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(tmp_path / "home")
    key = signing.signing_key(settings).decode()
    assert key in secret_values(settings, app_roots=())
    assert key not in redact(f"key {key}", secret_values(settings, app_roots=()))


def test_redact_hides_credentials() -> None:
    text = (
        f"GET https://bob:{SECRET}@host/x?api_key={SECRET}&ok=1 Authorization: Bearer {SECRET} "
        f"AKIAABCDEFGHIJKLMNOP password: {SECRET}"
    )
    cleaned = redact(text)
    assert SECRET not in cleaned and "AKIAABCDEFGHIJKLMNOP" not in cleaned
    assert "ok=1" in cleaned and "host/x" in cleaned


def test_sign_in_and_redaction_read_the_same_secrets_files(planted: Settings, tmp_path: Path) -> None:
    app_root = tmp_path / "app"
    assert sign_in(secrets_files(app_root)).mode is SignIn.READY
    known = secret_values(planted, app_roots=(app_root,))
    assert SENTINELS["client_secret"] in known and SENTINELS["provider client_secret"] in known
    (app_root / ".streamlit" / "secrets.toml").write_bytes(b"[auth]\nclient_secret = '\xff'\n")  # not UTF-8
    state = sign_in(secrets_files(app_root))  # fails closed, and says which file, without its content
    assert state.mode is SignIn.MISCONFIGURED and "not UTF-8" in state.problem and "app/.streamlit" in state.problem
    known = secret_values(planted, app_roots=(app_root,))
    assert SENTINELS["client_secret"] not in known and SENTINELS["provider client_secret"] in known


def test_churn_settings_masks_every_credential(planted: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one line per setting
    result = churn("settings")
    assert result.exit_code == 0, result.output
    assert_no_sentinel(result.output, "churn settings")
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.strip().startswith("CHURN_")}
    for var in ("CHURN_SIGNING_KEY", "CHURN_ALERT_WEBHOOK_URL", "CHURN_ALERT_COMMAND"):
        assert "*** (set, hidden)" in rows[var]
    assert_no_sentinel(repr(planted), "repr(Settings)")


def test_churn_score_against_an_unreachable_athena_says_so_without_credentials(
    planted: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("CHURN_BACKEND", "athena")
    monkeypatch.setenv("CHURN_ATHENA_S3_DATA_PREFIX", "s3://churn-data/prod")
    monkeypatch.setenv("CHURN_ATHENA_S3_STAGING_DIR", "s3://churn-data/results/")
    monkeypatch.setenv("CHURN_ATHENA_MAX_ATTEMPTS", "2")
    result = churn("score")
    assert result.exit_code == 1 and "error:" in result.output, result.output
    assert "Traceback" not in result.output
    assert_no_sentinel(result.output, "churn score on Athena")


@pytest.mark.parametrize("error", [ChurnError, RuntimeError])
def test_cli_errors_quoting_credentials_are_redacted(
    planted: Settings, monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    def load(self: Any, version: str = "champion") -> Any:
        raise error(quoting_everything())

    monkeypatch.setattr(Registry, "load", load)
    result = churn("score")
    assert result.exit_code == 1 and "could not reach" in result.output, result.output
    assert_no_sentinel(result.output, f"churn score failing with {error.__name__}")
    if error is RuntimeError:  # a bug: the traceback is printed for the report, redacted
        assert "Traceback" in result.output and "unexpected RuntimeError" in result.output


def test_a_failed_job_leaks_nothing_to_output_log_history_or_alerts(
    planted: Settings, monkeypatch: pytest.MonkeyPatch, webhook: Any
) -> None:
    def etl(context: Any) -> StepOutcome:
        return StepOutcome(rows_out=1)

    def score(context: Any) -> StepOutcome:
        raise RuntimeError(quoting_everything())

    monkeypatch.setitem(jobs.JOBS, "daily", (("etl", etl), ("score", score)))
    result = churn("run", "daily")
    assert result.exit_code == 1 and "failed at step score" in result.output, result.output
    assert_no_sentinel(result.output, "churn run daily")
    log = (planted.log_dir / LOG_FILE).read_text()
    assert "could not reach" in log and "alert command failed" in log
    assert_no_sentinel(log, "jobs.log")
    runs = open_warehouse(planted).query("SELECT * FROM job_runs")
    assert runs["error"].str.contains("could not reach").any()
    assert_no_sentinel(runs.to_csv(), "job_runs")
    assert len(webhook.received) == 1
    assert_no_sentinel(json.dumps(webhook.received[0]["body"]), "alert payload")
    listed = churn("jobs", "--format", "json")
    assert listed.exit_code == 0 and "could not reach" in listed.output
    assert_no_sentinel(listed.output, "churn jobs")


def test_a_token_as_url_userinfo_is_hidden(tmp_path: Path) -> None:
    """Also fixed: `http://TOKEN@host/...` (userinfo without a password) was printed in failure messages."""
    token = "sentinelUserinfoToken42"
    assert token not in redact(f"POST http://{token}@127.0.0.1:9/hook failed")
    settings = make_settings(tmp_path, alert_webhook_url=f"http://{token}@127.0.0.1:9/hook")
    assert any(token in value for value in secret_values(settings, app_roots=()))
    assert token not in redact(f"could not reach {token}", secret_values(settings, app_roots=()))
