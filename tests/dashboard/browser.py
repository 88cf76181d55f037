"""Helpers to drive the dashboard in Debian's Chromium with Playwright: start a server, open a browser.

Also the load scenario shared by tests/dashboard/test_load.py and tests/benchmarks/bench_load.py: many
concurrent sessions (browser contexts of one Chromium, Playwright's async API) each opening the at-risk page
and an evaluator profile, timed and checked for errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

from playwright.async_api import async_playwright
from playwright.sync_api import sync_playwright

from dashboard.serve import READY

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
DASHBOARD_APP = ROOT / "dashboard" / "app.py"
INSTALL_HINT = "Chromium is not installed at /usr/bin/chromium: install it with `apt-get install chromium`"
SCREENSHOTS = ROOT / "screenshots"  # git ignores it
VIEWPORT = {"width": 1440, "height": 900}
BUSY = ('[data-testid="stStatusWidget"]', '[data-testid="stSkeleton"]')  # a script run is in progress


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(
    script: Path, env: dict[str, str], timeout: float = 60.0, port: int | None = None
) -> Iterator[tuple[str, int]]:
    """`streamlit run script` on 127.0.0.1 and a free port, from the repository root; yields (url, pid) once it
    answers. The dashboard's app is served as `churn dashboard` serves it (dashboard/serve.py), and yielded once
    it has also prepared its home page."""
    port = port or free_port()
    prepares = script.resolve() == DASHBOARD_APP
    served = ["dashboard.serve"] if prepares else ["streamlit", "run", str(script)]
    command = [
        sys.executable,
        "-m",
        *served,
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
        process = subprocess.Popen(command, cwd=ROOT, env={**clean, **env}, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                        if r.status == 200 and (not prepares or READY.encode() in os.pread(log.fileno(), 1 << 20, 0)):
                            break  # (pread: the server writes through the same file offset)
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"streamlit did not start: {log.read().decode(errors='replace')[-2000:]}")
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
    with tempfile.TemporaryDirectory() as home, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, env={**os.environ, "HOME": home})
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
        running = any(page.locator(selector).count() > 0 for selector in BUSY)
        quiet = 0 if running else quiet + 1
        if quiet >= 4:
            return
        time.sleep(0.25)
    raise TimeoutError("the app kept running")


# --- the load scenario (async API: one Chromium, one context per session) --------------------------------

AT_RISK_TABLE = '[data-testid="stDataFrame"] canvas'
AT_RISK_ROWS = "matching evaluators"  # the pager's caption under the table: "Showing 1–50 of N matching ..."
WATERFALL = '[data-testid="stPlotlyChart"]'
WATERFALL_TITLE = "What drives this risk"
ERROR_TEXTS = ("Traceback", "Something went wrong")
FAILED = '[data-testid="stException"], [data-testid="stAlertContentError"]'  # a traceback or an st.error


@contextlib.asynccontextmanager
async def async_chromium() -> AsyncIterator[object]:
    """`chromium()` for Playwright's async API."""
    with tempfile.TemporaryDirectory() as home:
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, env={**os.environ, "HOME": home}
            )
            try:
                yield browser
            finally:
                await browser.close()


async def async_wait_until_idle(page: object, timeout: float = 60.0) -> None:
    """`wait_until_idle()` for Playwright's async API."""
    await page.wait_for_selector('[data-testid="stAppViewContainer"]', timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        running = False
        for selector in BUSY:
            running = running or await page.locator(selector).count() > 0
        quiet = 0 if running else quiet + 1
        if quiet >= 4:
            return
        await asyncio.sleep(0.25)
    raise TimeoutError("the app kept running")


async def page_errors(page: object) -> list[str]:
    """What is wrong on the page: Streamlit exception or error elements, a traceback, the app's error message."""
    errors = []
    failed = page.locator(FAILED)
    if await failed.count():
        errors.append(f"{await failed.count()} error element(s), the first: {await _text(failed)}")
    text = await page.inner_text("body")
    errors += [f"{sign!r} on the page" for sign in ERROR_TEXTS if sign in text]
    return errors


async def async_screenshot(page: object, path: Path) -> None:
    """The whole page: Streamlit scrolls inside its own container, so grow the viewport to the content."""
    height = await page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 900")
    await page.set_viewport_size({"width": VIEWPORT["width"], "height": min(max(int(height) + 40, 900), 6000)})
    await page.wait_for_timeout(400)
    path.parent.mkdir(exist_ok=True)
    await page.screenshot(path=str(path))
    await page.set_viewport_size(VIEWPORT)


async def _text(locator: object, limit: int = 300) -> str:
    """The first element's text on one line (the lines joined by " / "), cut at `limit` characters."""
    lines = [line.strip() for line in (await locator.first.inner_text()).splitlines() if line.strip()]
    return " / ".join(lines)[:limit] or "(no text)"


class PageError(Exception):
    """The page drew an exception or an error message instead of what was awaited."""


@dataclasses.dataclass
class SessionResult:
    """One session of the load scenario: render times in seconds (None when not reached) and what went wrong."""

    session: int
    instance: int
    at_risk_s: float | None = None
    profile_s: float | None = None
    browser_cpu_s: float = 0.0  # CPU seconds of the session's renderer process until its last page was drawn
    rows_caption: str = ""
    errors: list[str] = dataclasses.field(default_factory=list)


async def _timed_open(page: object, cdp: object, url: str, ready: list[object], timeout: float) -> tuple[float, float]:
    """Seconds from navigating to `url` until every locator in `ready` is visible, and the CPU seconds the
    page's renderer process has used by then (since it started: it is kept across same-site navigations)."""
    started = time.perf_counter()
    await page.goto(url, wait_until="commit", timeout=timeout * 1000)
    failed = page.locator(FAILED)
    for locator in ready:  # or an error, so that a broken page fails at once rather than at the timeout
        await locator.or_(failed).first.wait_for(state="visible", timeout=timeout * 1000)
        if await failed.count():
            raise PageError(await _text(failed))
    elapsed = time.perf_counter() - started
    metrics = (await cdp.send("Performance.getMetrics"))["metrics"]
    return elapsed, next((m["value"] for m in metrics if m["name"] == "ProcessTime"), 0.0)


async def _session(
    browser: object, url: str, result: SessionResult, timeout: float, screenshot: str | None
) -> SessionResult:
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    await cdp.send("Performance.enable")
    step = "at-risk page"
    try:
        caption = page.get_by_text(AT_RISK_ROWS).first
        result.at_risk_s, result.browser_cpu_s = await _timed_open(
            page, cdp, url, [page.locator(AT_RISK_TABLE).first, caption], timeout
        )
        result.rows_caption = await caption.inner_text()
        await async_wait_until_idle(page, timeout)
        result.errors += [f"{step}: {e}" for e in await page_errors(page)]
        if screenshot:
            await async_screenshot(page, SCREENSHOTS / f"{screenshot}-at-risk.png")
        step = f"profile of {result.instance}"
        waterfall = page.locator(WATERFALL, has_text=WATERFALL_TITLE).first
        bars = waterfall.get_by_text("this evaluator").first  # the waterfall's last bar, drawn in its SVG
        result.profile_s, result.browser_cpu_s = await _timed_open(
            page, cdp, f"{url}/profile?instance={result.instance}", [waterfall, bars], timeout
        )
        await async_wait_until_idle(page, timeout)
        result.errors += [f"{step}: {e}" for e in await page_errors(page)]
        if screenshot:
            await async_screenshot(page, SCREENSHOTS / f"{screenshot}-profile.png")
    except PageError as exc:
        result.errors.append(f"{step}: the page shows an error: {exc}")
    except Exception as exc:  # a timeout or a crash is this session's failure, not the whole run's
        message = str(exc).splitlines()[0] if str(exc) else ""
        with contextlib.suppress(Exception):
            message += f" (the page says: {await _text(page.locator('main'))})"
        result.errors.append(f"{step}: {type(exc).__name__}: {message}")
    finally:
        await context.close()
    return result


async def _load(
    url: str, instances: Sequence[int], sessions: int, timeout: float, screenshot: str | None
) -> list[SessionResult]:
    async with async_chromium() as browser:
        return list(
            await asyncio.gather(
                *(
                    _session(
                        browser,
                        url,
                        SessionResult(i, int(instances[i % len(instances)])),
                        timeout,
                        screenshot if i == 0 else None,
                    )
                    for i in range(sessions)
                )
            )
        )


def load_sessions(
    url: str, instances: Sequence[int], sessions: int = 20, timeout: float = 120.0, screenshot: str | None = None
) -> list[SessionResult]:
    """`sessions` concurrent sessions on the app at `url`, each in its own browser context: open the at-risk
    page until its table and row count are drawn, then the profile of `instances[i % len]` until its SHAP
    waterfall is drawn. `timeout` is per wait; the first session saves screenshots named `screenshot-*.png`."""
    if not instances:
        raise ValueError("no evaluator to open")
    return asyncio.run(_load(url, instances, sessions, timeout, screenshot))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the closest ranks; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def load_summary(results: Sequence[SessionResult]) -> dict[str, float | int]:
    """Sessions, sessions with errors, p50/p95/max render times (at-risk, profile and both pooled), and the
    CPU seconds of the sessions' renderer processes summed (what drawing the pages cost this machine)."""
    times = {
        "at_risk": [r.at_risk_s for r in results if r.at_risk_s is not None],
        "profile": [r.profile_s for r in results if r.profile_s is not None],
    }
    times["render"] = times["at_risk"] + times["profile"]
    summary: dict[str, float | int] = {"sessions": len(results), "errors": sum(bool(r.errors) for r in results)}
    for name, values in times.items():
        summary[f"p50_{name}_s"] = statistics.median(values) if values else float("nan")
        summary[f"p95_{name}_s"] = percentile(values, 95)
        summary[f"max_{name}_s"] = max(values, default=float("nan"))
    summary["browser_cpu_s"] = sum(r.browser_cpu_s for r in results)
    return summary


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary_line(summary: dict[str, float | int]) -> str:
    return " ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in summary.items())
