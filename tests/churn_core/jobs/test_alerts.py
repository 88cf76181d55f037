"""Alerts for failed runs (and for telemetry that stopped arriving): a JSON POST to a webhook on 127.0.0.1 and
a command fed JSON on stdin, with no secret in the alert or the logs."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from churn_core.data.freshness import local_today
from churn_core.jobs import history
from churn_core.jobs.alerts import Alert, send_alert
from churn_core.jobs.history import RunRecord, utc_now
from churn_core.jobs.logs import LOG_FILE, configure_job_logging
from churn_core.jobs.runner import JobFailed, StepOutcome, execute_job
from churn_core.jobs.steps import telemetry_step
from churn_core.warehouse import open_warehouse
from tests.conftest import make_settings

SECRET = "s3cr3t-T0KEN-value"


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers["Content-Length"])
        type(self).received.append(
            {"path": self.path, "type": self.headers["Content-Type"], "body": json.loads(self.rfile.read(length))}
        )
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def webhook() -> Iterator[type[_Hook]]:
    handler = type("Hook", (_Hook,), {"received": [], "status": 200})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_port}/hooks/{SECRET}?token={SECRET}"  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def _fails(context: Any) -> StepOutcome:
    raise RuntimeError(f"could not reach https://user:{SECRET}@example.com/x?password={SECRET}")


def test_a_failed_run_posts_json_to_the_webhook_without_secrets(tmp_path: Path, webhook: Any) -> None:
    settings = make_settings(tmp_path / "home", alert_webhook_url=webhook.url)
    with pytest.raises(JobFailed) as failed:
        execute_job("daily", [("etl", lambda c: StepOutcome(rows_out=1)), ("score", _fails)], settings)

    assert len(webhook.received) == 1
    sent = webhook.received[0]
    assert sent["type"] == "application/json"
    assert sent["path"] == f"/hooks/{SECRET}?token={SECRET}"
    body = sent["body"]
    assert list(body) == ["job", "run_id", "status", "error", "host", "step", "started_at", "ended_at"]
    assert body["job"] == "daily" and body["status"] == "failed" and body["step"] == "score"
    assert body["started_at"].endswith("Z") and body["started_at"] <= body["ended_at"]
    assert body["run_id"] == failed.value.result.run_id
    assert "could not reach" in body["error"]
    assert SECRET not in json.dumps(body)
    assert SECRET not in str(failed.value)
    log = (settings.log_dir / LOG_FILE).read_text()
    assert "score step failed" in log and SECRET not in log


def test_a_successful_run_sends_no_alert(tmp_path: Path, webhook: Any) -> None:
    settings = make_settings(tmp_path / "home", alert_webhook_url=webhook.url)
    execute_job("daily", [("etl", lambda c: StepOutcome())], settings)
    assert webhook.received == []


def test_a_run_whose_process_died_is_alerted_by_the_next_run(tmp_path: Path, webhook: Any) -> None:
    settings = make_settings(tmp_path / "home", alert_webhook_url=webhook.url)
    started = utc_now().replace(microsecond=0) - dt.timedelta(minutes=5)
    history.record(open_warehouse(settings), RunRecord("weekly-dead", "weekly", "run", "scheduler", started, "running"))
    execute_job("daily", [("etl", lambda c: StepOutcome())], settings)
    [sent] = webhook.received
    assert {k: sent["body"][k] for k in ("job", "run_id", "status", "started_at")} == {
        "job": "weekly",
        "run_id": "weekly-dead",
        "status": "interrupted",
        "started_at": f"{started.isoformat()}Z",
    }
    assert "the process ended before recording an outcome" in sent["body"]["error"]


def test_the_alert_command_gets_the_json_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "alert.json"
    script = tmp_path / "hook.py"
    script.write_text(f"import sys, pathlib; pathlib.Path({str(out)!r}).write_text(sys.stdin.read())\n")
    settings = make_settings(tmp_path / "home", alert_command=f"{sys.executable} {script} --key {SECRET}")
    with pytest.raises(JobFailed):
        execute_job("weekly", [("train", _fails)], settings)
    body = json.loads(out.read_text())
    assert body["job"] == "weekly" and body["status"] == "failed" and body["step"] == "train"
    assert SECRET not in out.read_text()


def test_an_undeliverable_alert_is_logged_not_raised(tmp_path: Path, webhook: Any) -> None:
    webhook.status = 500
    settings = make_settings(
        tmp_path / "home",
        alert_webhook_url=webhook.url,
        alert_command=f"{sys.executable} -c 'import sys; sys.exit(3)' {SECRET}",
    )
    configure_job_logging(settings, stderr=False)
    failed = send_alert(settings, Alert.of(settings, "daily", "r1", "failed", "boom"))
    assert failed == ["webhook", "command"]
    log = (settings.log_dir / LOG_FILE).read_text()
    assert "alert webhook to http://127.0.0.1" in log and "alert command failed: exit status 3" in log
    assert SECRET not in log


def test_library_warnings_reach_the_job_log_redacted(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home", alert_webhook_url=f"https://hooks.example.com/{SECRET}")
    configure_job_logging(settings, stderr=False)
    logging.getLogger("churn_core.warehouse.athena").warning("retrying https://hooks.example.com/%s", SECRET)
    logging.getLogger("churn_core.warehouse.athena").info("bytes scanned: 10")  # below the level: not logged
    log = (settings.log_dir / LOG_FILE).read_text()
    assert "WARNING retrying ***" in log and SECRET not in log
    assert "bytes scanned" not in log


def _telemetry_until(settings: Any, last_day: dt.date) -> None:
    """daily_usage whose last day is `last_day` (the only column the telemetry check reads)."""
    days = pd.date_range(last_day - dt.timedelta(days=3), last_day).date
    open_warehouse(settings).write_table("daily_usage", pd.DataFrame({"instance": 1, "usage_date": days}))


def test_the_daily_job_warns_when_telemetry_stops_arriving(tmp_path: Path, webhook: Any) -> None:
    settings = make_settings(tmp_path / "home", alert_webhook_url=webhook.url, stale_after_days=2)
    today = local_today(settings)
    _telemetry_until(settings, today - dt.timedelta(days=9))
    result = execute_job("daily", [("telemetry", telemetry_step), ("etl", lambda c: StepOutcome())], settings)

    assert result.status == "succeeded"  # the scores are still written, on the data there is
    [sent] = webhook.received
    body = sent["body"]
    assert (body["job"], body["status"], body["step"]) == ("daily", "warning", "telemetry")
    assert body["run_id"] == result.run_id
    assert "stopped arriving" in body["error"] and f"{today - dt.timedelta(days=9):%d %b %Y}" in body["error"]
    assert "9 days before today" in body["error"]
    recorded = open_warehouse(settings).query(
        "SELECT detail FROM job_runs WHERE step = 'telemetry' AND status = 'succeeded'"
    )
    assert "stopped arriving" in recorded["detail"].iloc[0]


def test_telemetry_within_stale_after_days_sends_no_alert(tmp_path: Path, webhook: Any) -> None:
    settings = make_settings(tmp_path / "home", alert_webhook_url=webhook.url, stale_after_days=2)
    _telemetry_until(settings, local_today(settings) - dt.timedelta(days=2))
    result = execute_job("daily", [("telemetry", telemetry_step)], settings)
    assert webhook.received == []
    assert result.steps[0].outcome.detail.startswith("Telemetry up to")
