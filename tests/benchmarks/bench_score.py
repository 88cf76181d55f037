"""Benchmark: `churn score` end to end for 1,000,000 evaluators, and uplift quality on the demo data.

Run on demand: `python tests/benchmarks/bench_score.py [--home DIR] [--rows N]`. Targets for 1M evaluators on
2 cores: at most 15 s wall and 1.5 GB peak memory (the set is scored in batches: churn_core.scoring.score).

How the 1M-evaluator instances_w1 is built: the demo (57,700 evaluators) is generated, loaded and built
with the ETL as `churn demo` does, so the training history, engagements and cohorts are realistic; then
instances_w1 (about 11,800 unresolved evaluators) is replicated under new instance ids up to N rows, with
their activation_daily and engagements rows, in DuckDB. (Generating 5M evaluators to get 1M unresolved
ones would take minutes and the scoring work is the same.) `churn score` then runs in a fresh process,
twice: the first run of a model also builds its drift reference; the second replaces the same set.

The champion comes from the registry (trained as `churn demo` does when there is none). Wall and CPU seconds (all
threads) are both reported, with the load average: on a shared machine the wall time says more about
the neighbours than about the job. Last line: key=value figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import pandas as pd  # noqa: E402

from churn_core.data import synthetic  # noqa: E402
from churn_core.data.etl import run_etl  # noqa: E402
from churn_core.data.ingest import load_raw  # noqa: E402
from churn_core.jobs.demo import DEMO_TUNING_SECONDS  # noqa: E402
from churn_core.model.registry import Registry, RegistryError  # noqa: E402
from churn_core.model.train import train_candidate  # noqa: E402
from churn_core.schema import CHANNELS  # noqa: E402
from churn_core.settings import Settings, load_settings  # noqa: E402
from churn_core.warehouse import open_warehouse  # noqa: E402
from tests.benchmarks.uplift_metrics import uplift_quality  # noqa: E402


def build_demo(settings: Settings) -> None:
    warehouse = open_warehouse(settings)
    tables = synthetic.generate(settings.demo_evaluators, days=settings.demo_days, seed=settings.demo_seed)
    truth = tables.pop("demo_truth")
    load_raw(warehouse, tables, {"demo_truth": truth})
    run_etl(warehouse, settings)


def score_command(settings: Settings) -> list[str]:
    """`churn score` with the registry's champion, trained first (as `churn demo` does) when there is none."""
    registry = Registry(settings)
    try:
        registry.load("champion")
    except RegistryError:
        print("training a champion (profile tuned, the demo's short search) ...", flush=True)
        quick = settings.with_overrides(tuning_budget_seconds=DEMO_TUNING_SECONDS)
        registry.promote(train_candidate(open_warehouse(settings), quick, "tuned").version, force=True)
    return [sys.executable, "-m", "churn_core.cli", "score"]


def expand_instances(settings: Settings, rows: int) -> int:
    """Replicate instances_w1 (with its activation_daily and engagements rows) to `rows` evaluators."""
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        base = con.execute("SELECT count(*) FROM instances_w1").fetchone()[0]
        copies = -(-rows // base)
        con.execute("CREATE OR REPLACE TEMP TABLE base_ids AS SELECT instance FROM instances_w1")
        con.execute(f"CREATE OR REPLACE TEMP TABLE copies AS SELECT range AS k FROM range({copies})")
        con.execute("BEGIN")
        con.execute(f"""CREATE OR REPLACE TABLE instances_w1 AS
            SELECT * REPLACE (CAST(w.instance + 10000000 * c.k AS INTEGER) AS instance)
            FROM instances_w1 AS w CROSS JOIN copies AS c
            QUALIFY row_number() OVER (ORDER BY c.k, w.instance) <= {rows}""")
        con.execute("""CREATE OR REPLACE TABLE activation_daily AS
            SELECT * REPLACE (CAST(a.instance + 10000000 * c.k AS INTEGER) AS instance)
            FROM activation_daily AS a CROSS JOIN copies AS c
            WHERE c.k = 0 OR a.instance IN (SELECT instance FROM base_ids)""")
        con.execute("""CREATE OR REPLACE TABLE engagements AS
            SELECT * REPLACE (g.engagement_id + 10000000000 * c.k AS engagement_id,
                              CAST(g.instance + 10000000 * c.k AS INTEGER) AS instance)
            FROM engagements AS g CROSS JOIN copies AS c
            WHERE c.k = 0 OR g.instance IN (SELECT instance FROM base_ids)""")
        con.execute("COMMIT")
        return con.execute("SELECT count(*) FROM instances_w1").fetchone()[0]
    finally:
        con.close()


def run_score(command: list[str], settings: Settings) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (all threads) and peak resident MB of one `churn score` in a fresh process.
    (Peak: the largest of the processes run so far, which is the 1M run once it has run.)"""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "CHURN_HOME": str(settings.home)}
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, after.ru_maxrss / 1024


def uplift_figures(settings: Settings) -> dict[str, float]:
    warehouse = open_warehouse(settings)
    scores = warehouse.query(
        "SELECT instance, expected_annual_value, recommended_channel, "
        + ", ".join(f"uplift_{c}" for c in CHANNELS)
        + " FROM evaluator_scores"
    )
    truth = warehouse.query("SELECT * FROM demo_truth")
    return uplift_quality(scores, truth, settings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, default=None, help="reuse this CHURN_HOME (built when missing)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    tmp = None if args.home else tempfile.TemporaryDirectory()
    home = args.home or Path(tmp.name)
    settings = load_settings(env={}, config=home / "absent.toml", home=home)
    if not settings.warehouse_path.exists():
        started = time.perf_counter()
        build_demo(settings)
        print(f"demo warehouse built in {time.perf_counter() - started:.1f} s", flush=True)
    command = score_command(settings)

    demo_seconds, _, _ = run_score(command, settings)
    quality = uplift_figures(settings)
    demo_rows = open_warehouse(settings).count("instances_w1")
    print(f"scored the demo ({demo_rows:,} evaluators) in {demo_seconds:.1f} s")
    print("uplift quality on demo data:", json.dumps({k: round(v, 3) for k, v in quality.items()}))

    started = time.perf_counter()
    rows = expand_instances(settings, args.rows)
    print(f"instances_w1 expanded to {rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
    first, first_cpu, _ = run_score(command, settings)
    again, again_cpu, peak = run_score(command, settings)
    stored = open_warehouse(settings).query(
        "SELECT count(*) AS n FROM evaluator_scores WHERE as_of_date = (SELECT max(as_of_date) FROM score_sets)"
    )
    assert int(stored["n"].iloc[0]) == rows, "the score set does not hold every evaluator"
    load = os.getloadavg()[0]
    print(
        f"churn score, {rows:,} evaluators: first run {first:.1f} s ({first_cpu:.1f} CPU s), "
        f"re-run {again:.1f} s "
        f"({again_cpu:.1f} CPU s), peak {peak:.0f} MB; load average {load:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"score_seconds={again:.1f} score_cpu_seconds={again_cpu:.1f} first_run_seconds={first:.1f} "
        f"rows={rows} "
        f"peak_mb={peak:.0f} load_average={load:.1f} demo_score_seconds={demo_seconds:.1f} "
        f"qini_mean={quality['qini_mean']:.3f} share_truly_best={quality['share_truly_best']:.3f} "
        f"share_best_single_channel={quality['share_best_single_channel']:.3f}"
    )
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
