"""Job logs: one line per event, JSON (settings.log_json) or readable text, to stderr and to a file.

Every job event carries its run id, job, step, duration and row counts as `extra` fields, so a log
shipper can index them and a person can read them. Every record goes through churn_core.secrets.redact
before it reaches a handler, so a message quoting a credential is written with *** in its place.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Iterable
from logging.handlers import WatchedFileHandler
from typing import Any

from churn_core.secrets import redact, secret_values
from churn_core.settings import Settings

LOGGER_NAME = "churn.jobs"
LOG_FILE = "jobs.log"
# Libraries that log each failure they also raise, with its traceback (pyathena, once per attempt): the adapter
# turns what they raise into the one error a command prints, so below CRITICAL they are left out.
RAISING_LIBRARIES: tuple[str, ...] = ("pyathena",)
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


class _Redacting(logging.Filter):
    """Every credential in a record replaced by ***; its traceback kept as text (redacted too) or left out."""

    def __init__(self, secrets: Iterable[str], *, tracebacks: bool = True) -> None:
        super().__init__()
        self.secrets = sorted(set(secrets), key=len, reverse=True)
        self.tracebacks = tracebacks

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            if self.tracebacks:
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


def configure_command_logging(secrets: Iterable[str]) -> None:
    """For a `churn` command: records no handler takes (a library's warning, the adapters' retries) are one
    redacted line on stderr, never a traceback, and the failures pyathena logs as it raises them are left to
    the command's own error. Job commands add their log handlers on top (configure_job_logging)."""
    handler = _StderrHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_Redacting(secrets, tracebacks=False))
    logging.lastResort = handler
    for name in RAISING_LIBRARIES:
        logging.getLogger(name).setLevel(logging.CRITICAL)
