"""Alerts for job runs that did not succeed: a JSON POST to a webhook and/or a command fed the JSON on stdin.

Both hooks are optional settings (`alert_webhook_url`, `alert_command`). An alert that cannot be delivered
is logged and never raised: it must not hide the failure it reports. The payload holds the job, run id,
status, failed step and the (redacted) error; never a setting, a URL or a credential.
"""

from __future__ import annotations

import json
import logging
import shlex
import socket
import subprocess
import urllib.error
import urllib.request
from typing import Any

from churn_core.jobs.logs import LOGGER_NAME, redacted
from churn_core.settings import Settings

WEBHOOK_TIMEOUT_SECONDS = 10.0
COMMAND_TIMEOUT_SECONDS = 30.0

log = logging.getLogger(LOGGER_NAME)


def alert_payload(
    settings: Settings, job: str, run_id: str, status: str, error: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The JSON an alert carries; `error` is redacted of anything that looks like a secret."""
    payload: dict[str, Any] = {
        "job": job,
        "run_id": run_id,
        "status": status,
        "error": redacted(error, settings) if error else None,
        "host": socket.gethostname(),
    }
    payload.update({k: v for k, v in extra.items() if v is not None})
    return payload


def send_alert(settings: Settings, payload: dict[str, Any]) -> list[str]:
    """Deliver `payload` through every configured hook; return the hooks that failed (empty if none)."""
    body = json.dumps(payload, default=str).encode("utf-8")
    failed: list[str] = []
    if settings.alert_webhook_url:
        try:
            _post(settings.alert_webhook_url, body)
        except (OSError, ValueError, urllib.error.URLError) as exc:
            failed.append("webhook")
            log.error(
                "alert webhook to %s failed: %s",
                _where(settings.alert_webhook_url),
                redacted(str(exc), settings),
                extra=_fields(payload),
            )
    if settings.alert_command:
        try:
            subprocess.run(
                shlex.split(settings.alert_command),
                input=body,
                check=True,
                timeout=COMMAND_TIMEOUT_SECONDS,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            failed.append("command")
            log.error("alert command failed: %s", _command_failure(exc), extra=_fields(payload))
    return failed


def _post(url: str, body: bytes) -> None:
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError("alert_webhook_url must be an http(s) URL")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "churn-alerts"}
    )
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310 (http(s) only)
        response.read()


def _where(url: str) -> str:
    """Scheme and host of a URL, the only part of a webhook address safe to log."""
    return "/".join(url.split("/", 3)[:3]) if "://" in url else "(not a URL)"


def _command_failure(exc: BaseException) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        return f"exit status {exc.returncode}"
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"timed out after {COMMAND_TIMEOUT_SECONDS:.0f}s"
    return type(exc).__name__


def _fields(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: payload.get(k) for k in ("job", "run_id")}
