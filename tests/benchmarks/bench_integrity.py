"""Benchmark: the score-set integrity check (and the signing digest) on a 1,000,000-row score set.

Run on demand: `python tests/benchmarks/bench_integrity.py [--dir DIR] [--rows N]`.

How the set is built: the small demo (3,000 evaluators) is generated, trained (seed profile) and scored as
`churn demo` does; its evaluator_scores rows are then replicated under new instance ids up to N rows (every
column, SHAP and uplift included, as `churn score` writes them) and the set is re-signed. Measured: the check
as a reader runs it (one aggregate query in the warehouse: `check_score_set`), and the digest `churn score`
computes of the frames it is about to write (`integrity.seal`). Wall and CPU seconds (all threads) are both
given: on a shared machine the wall time says more about the neighbours. Last line: key=value figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from churn_core.data import synthetic  # noqa: E402
from churn_core.data.etl import run_etl  # noqa: E402
from churn_core.data.ingest import load_raw  # noqa: E402
from churn_core.model.registry import Registry  # noqa: E402
from churn_core.model.train import train_candidate  # noqa: E402
from churn_core.scoring import integrity  # noqa: E402
from churn_core.scoring.score import score_evaluators  # noqa: E402
from churn_core.settings import Settings, load_settings  # noqa: E402
from churn_core.warehouse import open_warehouse  # noqa: E402


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(work) -> tuple[object, float, float]:
    wall, used = time.perf_counter(), cpu()
    result = work()
    return result, time.perf_counter() - wall, cpu() - used


def build(home: Path, rows: int) -> tuple[Settings, object]:
    settings = load_settings(env={"CHURN_HOME": str(home)})
    warehouse = open_warehouse(settings)
    tables = synthetic.generate(3_000, days=90, seed=5)
    load_raw(warehouse, {k: v for k, v in tables.items() if k != "demo_truth"}, {"demo_truth": tables["demo_truth"]})
    run_etl(warehouse, settings)
    registry = Registry(settings)
    registry.promote(train_candidate(warehouse, settings, "seed").version)
    summary = score_evaluators(warehouse, settings, registry.load("champion"))
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        scored = con.execute("SELECT count(*) FROM evaluator_scores").fetchone()[0]
        copies = -(-rows // scored)
        con.execute(f"""
            CREATE OR REPLACE TABLE evaluator_scores AS
            SELECT * REPLACE (CAST(instance + k * 1000000 AS INTEGER) AS instance)
            FROM evaluator_scores, range({copies}) AS r(k) LIMIT {rows}""")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    warehouse.execute("UPDATE score_sets SET fingerprint = NULL, signature = NULL")
    seal = integrity.seal_digests(
        settings, summary.as_of, summary.model_version, integrity.recompute(warehouse, summary.as_of)
    )
    warehouse.execute("UPDATE score_sets SET fingerprint = :fingerprint, signature = :signature", seal)
    return settings, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="Where to build (default: a temporary folder).")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = (args.dir or Path(tmp)) / "home"
        settings, summary = build(home, args.rows)
        warehouse = open_warehouse(settings)
        checks = [timed(lambda: integrity.check_score_set(warehouse, settings, summary.as_of)) for _ in range(3)]
        verified, check_wall, check_cpu = min(checks, key=lambda t: t[2])
        frames = {
            "evaluator_scores": warehouse.query("SELECT * FROM evaluator_scores"),
            "score_drift": warehouse.query("SELECT * FROM score_drift"),
            "channel_effects": warehouse.query("SELECT * FROM channel_effects"),
            "score_sets": warehouse.query("SELECT * EXCLUDE (fingerprint, signature) FROM score_sets"),
        }
        _, seal_wall, seal_cpu = timed(lambda: integrity.seal(settings, frames, summary.model_version))
        columns = len(frames["evaluator_scores"].columns)
        print(
            f"rows={verified.rows} columns={columns} check_wall_s={check_wall:.2f} check_cpu_s={check_cpu:.2f} "
            f"seal_wall_s={seal_wall:.2f} seal_cpu_s={seal_cpu:.2f} load={os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
