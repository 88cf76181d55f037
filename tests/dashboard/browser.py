"""Helpers to drive the dashboard in Debian's Chromium with Playwright: start a server, open a browser."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
INSTALL_HINT = "Chromium is not installed at /usr/bin/chromium: install it with `apt-get install chromium`"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(
    script: Path, env: dict[str, str], timeout: float = 60.0, port: int | None = None
) -> Iterator[tuple[str, int]]:
    """`streamlit run script` on 127.0.0.1 and a free port, from the repository root; yields (url, pid)."""
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHURN_")}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**clean, **env}, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(
                        f"streamlit did not start: {log.read().decode(errors='replace')[-2000:]}"
                    )
                time.sleep(0.2)
            yield f"http://127.0.0.1:{port}", process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium (Debian's) under Playwright, with HOME in a temporary directory."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as home, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, env={**os.environ, "HOME": home}
        )
        try:
            yield browser
        finally:
            browser.close()


def wait_until_idle(page: object, timeout: float = 60.0) -> None:
    """Wait until the app has rendered and no script run is in progress."""
    page.wait_for_selector('[data-testid="stAppViewContainer"]', timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        running = (
            page.locator('[data-testid="stStatusWidget"]').count() > 0
            or page.locator('[data-testid="stSkeleton"]').count() > 0
        )
        quiet = 0 if running else quiet + 1
        if quiet >= 4:
            return
        time.sleep(0.25)
    raise TimeoutError("the app kept running")
