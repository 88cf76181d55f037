"""Load benchmark (run on demand, not part of the test run); the last line printed is `key=value ...`.

    .venv/bin/python tests/benchmarks/bench_load.py [--sessions 20] [--evaluators N] [--dir DIR] [--rebuild]

The scenario of tests/dashboard/test_load.py (`load_sessions` in tests/dashboard/browser.py) on a demo
warehouse: one `streamlit run dashboard/app.py`, one Chromium, `--sessions` concurrent browser contexts, each
opening the at-risk page until its table and row count are drawn, then the profile of one of the top-risk
evaluators (a different one per session, so profiles miss the cache) until its SHAP waterfall is drawn.
Prints each session's render times and the p50 / p95 / max, for the at-risk page, the profile and both pooled,
with the CPU seconds the server used and those of each session's Chromium renderer (on a small machine the
browser's work, not the server's, sets the render times).

The warehouse is the one tests/benchmarks/bench_dashboard.py builds for 57,700 evaluators (`churn demo`, the
`seed` profile trained and promoted, `churn score`; reused from DIR, default /tmp/churn-bench); another
`--evaluators` count is built the same way under DIR/demo<N>. A set scored before score sets were signed is
refused by the dashboard (every session fails at once and says so): re-score it with
`CHURN_HOME=DIR/demo57700 churn score --as-of DATE`, or pass --rebuild. The first session's pages are saved as
screenshots/bench-load-at-risk.png and bench-load-profile.png.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.bench_dashboard import SMALL, build_demo, ensure_warehouses, log  # noqa: E402
from tests.dashboard.browser import (  # noqa: E402
    CHROMIUM,
    INSTALL_HINT,
    load_sessions,
    load_summary,
    process_cpu_s,
    streamlit_server,
    summary_line,
)

APP = ROOT / "dashboard" / "app.py"


def ensure_demo(root: Path, evaluators: int, rebuild: bool) -> Path:
    """A scored demo warehouse of `evaluators` under `root`, built by the real pipeline when missing."""
    if evaluators == SMALL:
        return ensure_warehouses(root, rebuild, with_large=False)["small"]
    home = root / f"demo{evaluators}"
    done = home / "built.json"
    if rebuild:
        shutil.rmtree(home, ignore_errors=True)
    if not done.exists():
        log(f"building the {evaluators:,}-evaluator demo with the real pipeline (demo, train seed, score)...")
        times = build_demo(home, evaluators)
        done.write_text(json.dumps(times))
    return home


def top_instances(home: Path, n: int) -> tuple[list[int], int]:
    """The `n` riskiest evaluators of the newest score set, and how many evaluators that set has."""
    from churn_core import views
    from churn_core.settings import load_settings
    from churn_core.warehouse import open_warehouse

    warehouse = open_warehouse(load_settings(env={"CHURN_HOME": str(home)}), read_only=True)
    as_of = views.score_sets(warehouse)[0].as_of
    rows = views.at_risk_page(warehouse, as_of, views.Filters(), "risk", 0, n)
    return rows["instance"].astype(int).tolist(), views.at_risk_summary(warehouse, as_of).evaluators


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20, help="concurrent browser sessions")
    parser.add_argument("--evaluators", type=int, default=SMALL, help="evaluators in the demo warehouse")
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("CHURN_BENCH_DIR", "/tmp/churn-bench")))
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per wait in a session")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the warehouse")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(INSTALL_HINT)
    args.dir.mkdir(parents=True, exist_ok=True)
    home = ensure_demo(args.dir, args.evaluators, args.rebuild)
    instances, scored = top_instances(home, args.sessions)
    log(f"{args.sessions} sessions on {home} ({scored:,} evaluators in the newest score set)...")
    with streamlit_server(APP, {"CHURN_HOME": str(home)}) as (url, pid):
        started, cpu_started = time.perf_counter(), process_cpu_s(pid)
        results = load_sessions(url, instances, args.sessions, args.timeout, screenshot="bench-load")
        server_cpu_s, wall_s = process_cpu_s(pid) - cpu_started, time.perf_counter() - started
    log(f"{'session':>7}  {'instance':>9}  {'at-risk s':>9}  {'profile s':>9}  {'render cpu':>10}  errors")
    for r in results:
        at_risk, profile = (f"{t:9.2f}" if t is not None else f"{'-':>9}" for t in (r.at_risk_s, r.profile_s))
        errors = "; ".join(r.errors) or "-"
        log(f"{r.session:>7}  {r.instance:>9}  {at_risk}  {profile}  {r.browser_cpu_s:10.2f}  {errors}")
    summary = load_summary(results)
    log(f"{'':>7}  {'':>9}  {'at-risk':>9}  {'profile':>9}  {'both':>9}")
    for stat in ("p50", "p95", "max"):
        cells = "  ".join(f"{summary[f'{stat}_{name}_s']:9.2f}" for name in ("at_risk", "profile", "render"))
        log(f"{stat:>7}  {'':>9}  {cells}")
    extra = {
        "wall_s": wall_s,
        "server_cpu_s": server_cpu_s,
        "evaluators": args.evaluators,
        "scored": scored,
        "cores": os.cpu_count() or 1,
        "load1": os.getloadavg()[0],
    }
    print(f"{summary_line(summary)} {summary_line(extra)}")


if __name__ == "__main__":
    main()
