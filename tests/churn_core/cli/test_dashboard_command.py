"""`churn dashboard` as a user runs it: stopping the command stops the server and frees its port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _port_is_free(port: int) -> bool:
    """Whether a new server could listen on `port` (as servers do, despite connections in TIME_WAIT)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _interruptible() -> None:
    """Ctrl-C's default action: a shell starts background jobs with SIGINT ignored, and children inherit it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_stopping_churn_dashboard_stops_its_server(tmp_path: Path, stop: signal.Signals) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHURN_")}
    env["CHURN_HOME"] = str(tmp_path / "home")
    command = [sys.executable, "-m", "churn_core.cli", "dashboard", "--port", str(port)]
    process = subprocess.Popen(
        command,
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_interruptible,  # as from a terminal, even when pytest runs in the background
        start_new_session=True,  # its own process group: whatever it leaves behind is ended below
    )
    try:
        deadline = time.monotonic() + 90
        while not _answers(port):
            assert process.poll() is None, "churn dashboard ended before serving"
            assert time.monotonic() < deadline, "churn dashboard did not start serving"
            time.sleep(0.2)
        process.send_signal(stop)
        process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while not _port_is_free(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _port_is_free(port), "a server is still listening after churn dashboard was stopped"
        assert not _answers(port)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the group this test created, if anything is left of it
        process.wait()
