"""Logging of a `churn` command: what libraries log reaches the user as one redacted line, never a traceback."""

from __future__ import annotations

import logging

import pytest

from churn_core.jobs.logs import RAISING_LIBRARIES, configure_command_logging


@pytest.fixture()
def command_logging(monkeypatch):
    """configure_command_logging for one test; the process's last-resort handler and levels come back after."""
    monkeypatch.setattr(logging, "lastResort", logging.lastResort)
    levels = {name: logging.getLogger(name).level for name in RAISING_LIBRARIES}
    configure_command_logging(["s3cr3t-token"])
    yield logging.lastResort
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)  # setLevel, which also clears the loggers' cached answers


def test_a_library_record_is_one_redacted_line_without_its_traceback(command_logging, capsys) -> None:
    try:
        raise ConnectionError("refused by https://s3cr3t-token@example.com")
    except ConnectionError:
        record = logging.getLogger("botocore.x").makeRecord(
            "botocore.x", logging.WARNING, __file__, 1, "retrying with %s", ("s3cr3t-token",), exc_info=True
        )
    command_logging.handle(record)
    assert capsys.readouterr().err == "WARNING botocore.x: retrying with ***\n"
    assert command_logging.level == logging.WARNING


def test_failures_pyathena_logs_as_it_raises_them_are_left_to_the_error(command_logging) -> None:
    assert not logging.getLogger("pyathena.common").isEnabledFor(logging.ERROR)
    assert logging.getLogger("pyathena.common").isEnabledFor(logging.CRITICAL)
