"""Job logs: one line per event, JSON (settings.log_json) or readable text, to stderr and to a file.

Every job event carries its run id, job, step, duration and row counts as `extra` fields, so a log
shipper can index them and a person can read them. Text that might hold a secret (an exception message
quoting a webhook URL with a token, say) goes through `redact` before it reaches a handler; `secret_values`
lists every credential the product can hold, for the CLI, the dashboard, job history and alerts to redact.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shlex
import sys
import tomllib
from collections.abc import Iterable
from logging.handlers import WatchedFileHandler
from pathlib import Path
from typing import Any

from churn_core import signing
from churn_core.access.roles import secrets_files
from churn_core.errors import ChurnError
from churn_core.settings import Settings

LOGGER_NAME = "churn.jobs"
LOG_FILE = "jobs.log"
# The structured fields a job event may carry, in the order the text format shows them.
FIELDS: tuple[str, ...] = (
    "job",
    "run_id",
    "step",
    "status",
    "attempt",
    "duration_s",
    "rows_in",
    "rows_out",
    "model_version",
    "bytes_scanned",
    "error",
)

# Credentials that can reach the product without being a setting: boto3's environment variables, and the
# OIDC secrets Streamlit reads from secrets.toml.
AWS_SECRET_VARIABLES: tuple[str, ...] = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ACCESS_KEY_ID",
)
AUTH_SECRET_KEYS: frozenset[str] = frozenset({"client_secret", "cookie_secret"})
APP_ROOT = Path(__file__).resolve().parents[2]  # where `churn dashboard` runs the app (its .streamlit/)

_SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"(?i)\b((?:aws_)?(?:secret|token|password|passwd|api[_-]?key|access[_-]?key|signature|sig)"
        r"[\w-]*\s*[=:]\s*)[^\s&'\",;]+"
    ),
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),  # user:password@ in URLs
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with known secret values and anything that looks like a credential replaced by ***."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text


def secret_values(settings: Settings, app_roots: Iterable[Path] | None = None) -> list[str]:
    """Every credential the product can hold, never to be written out: the alert hooks (their URL or command
    may embed a token), the signing key, AWS credentials in the environment, and the sign-in secrets of
    .streamlit/secrets.toml (in ~, the app's folder and the working directory, or `app_roots`)."""
    values = [settings.alert_webhook_url, settings.alert_command, settings.signing_key]
    # A webhook's path (Slack, Teams) is itself the secret; keep only scheme and host visible.
    if "://" in settings.alert_webhook_url:
        scheme_host = "/".join(settings.alert_webhook_url.split("/", 3)[:3])
        values.append(settings.alert_webhook_url[len(scheme_host) :])
    values += _command_arguments(settings.alert_command)
    try:
        key = signing.signing_key(settings, create=False)
    except (ChurnError, OSError):
        key = None  # an unusable key file: whoever uses it says so
    values.append(key.decode("utf-8") if key else "")
    values += [os.environ.get(name, "") for name in AWS_SECRET_VARIABLES]
    roots = app_roots if app_roots is not None else (APP_ROOT, Path.cwd())
    files = dict.fromkeys(path for root in roots for path in secrets_files(Path(root)))
    for path in files:
        values += _auth_secrets(path)
    return [v for v in dict.fromkeys(values) if v and v.strip() not in ("/", "")]


def _command_arguments(command: str) -> list[str]:
    """The alert command's arguments that may be a token on their own (an error may quote one alone)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return []
    return [w for w in words[1:] if len(w) >= 8 and not w.startswith("-")]


def _auth_secrets(path: Path) -> list[str]:
    """The OIDC secrets of a secrets.toml's [auth] section (and its per-provider sub-sections)."""
    try:
        auth = tomllib.loads(path.read_text(encoding="utf-8")).get("auth", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    if not isinstance(auth, dict):
        return []
    sections = [auth, *(v for v in auth.values() if isinstance(v, dict))]
    return [v for section in sections for k, v in section.items() if k in AUTH_SECRET_KEYS and isinstance(v, str)]


def redacted(text: str, settings: Settings) -> str:
    """`text` with every credential of `settings` (see secret_values) and anything that looks like one hidden."""
    return redact(text, secret_values(settings))


class _Redacting(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = redact(message, self.secrets), ()
        if isinstance(getattr(record, "error", None), str):
            record.error = redact(record.error, self.secrets)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message and the job fields present."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                data[name] = value
        return json.dumps(data, default=str)


class TextFormatter(logging.Formatter):
    """`2026-01-05T06:00:01Z INFO  daily 3f9c… score succeeded  duration_s=4.2 rows_out=1500`."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        fields = " ".join(
            f"{name}={getattr(record, name)}"
            for name in FIELDS
            if name not in ("job", "run_id", "step", "status", "error") and getattr(record, name, None) is not None
        )
        head = " ".join(str(getattr(record, n)) for n in ("job", "run_id", "step") if getattr(record, n, None))
        line = f"{stamp} {record.levelname:<7} {head + ' ' if head else ''}{record.getMessage()}"
        if fields:
            line += f"  {fields}"
        error = getattr(record, "error", None)
        if error and error not in line:
            line += f"  error={error}"
        return line


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (test runners and CLI runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_job_logging(settings: Settings, *, stderr: bool = True) -> logging.Logger:
    """Set up the `churn.jobs` logger (and APScheduler's warnings) for `settings`; safe to call again."""
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    formatter: logging.Formatter = JsonFormatter() if settings.log_json else TextFormatter()
    redacting = _Redacting(secret_values(settings))
    handlers: list[logging.Handler] = [WatchedFileHandler(settings.log_dir / LOG_FILE, encoding="utf-8")]
    if stderr:
        handlers.append(_StderrHandler())
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(redacting)
        handler._churn = True  # type: ignore[attr-defined]
    # churn.jobs and APScheduler log to the job log only; the library's own warnings (AWS retries, say) go to the
    # job log too, redacted like the rest, and still reach whatever handlers the host application has.
    for name, level, alone in (
        (LOGGER_NAME, logging.INFO, True),
        ("apscheduler", logging.WARNING, True),
        ("churn_core", logging.WARNING, False),
    ):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "_churn", False)]:
            logger.removeHandler(old)
            old.close()
        for handler in handlers:
            logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = not alone
    return logging.getLogger(LOGGER_NAME)
