"""Alerts for job runs that did not succeed, and for steps that succeeded with a warning (status 'warning',
e.g. telemetry has stopped arriving): a JSON POST to a webhook and/or a command fed the JSON on stdin.

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
from dataclasses import asdict, dataclass, field

from churn_core.jobs.logs import LOGGER_NAME
from churn_core.secrets import redacted
from churn_core.settings import Settings

WEBHOOK_TIMEOUT_SECONDS = 10.0
COMMAND_TIMEOUT_SECONDS = 30.0

log = logging.getLogger(LOGGER_NAME)


@dataclass(frozen=True)
class Alert:
    """What an alert carries (its JSON body): the run, how it ended and where; `error` already redacted."""

    job: str
    run_id: str
    status: str
    error: str | None = None
    host: str = field(default_factory=socket.gethostname)
    step: str | None = None
    started_at: str | None = None  # ISO 8601, UTC
    ended_at: str | None = None

    @classmethod
    def of(
        cls,
        settings: Settings,
        job: str,
        run_id: str,
        status: str,
        error: str | None = None,
        *,
        step: str | None = None,
        started_at: str | None = None,
        ended_at: str | None = None,
    ) -> Alert:
        """The alert of a run; `error` is redacted of every credential of `settings` and anything like one."""
        error = redacted(error, settings) if error else None
        return cls(job, run_id, status, error, step=step, started_at=started_at, ended_at=ended_at)

    def body(self) -> bytes:
        """The JSON posted and piped: every field, the optional ones (step, times) only when known."""
        optional = ("step", "started_at", "ended_at")
        data = {k: v for k, v in asdict(self).items() if v is not None or k not in optional}
        return json.dumps(data).encode("utf-8")


def send_alert(settings: Settings, alert: Alert) -> list[str]:
    """Deliver `alert` through every configured hook; return the hooks that failed (empty if none)."""
    body = alert.body()
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
                extra=_fields(alert),
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
            log.error("alert command failed: %s", _command_failure(exc), extra=_fields(alert))
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


def _fields(alert: Alert) -> dict[str, str]:
    return {"job": alert.job, "run_id": alert.run_id}
