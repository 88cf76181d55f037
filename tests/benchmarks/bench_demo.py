"""Benchmark: `churn demo` at the default size, and the generator at 1,000,000 evaluators.

Run on demand: `python tests/benchmarks/bench_demo.py`. Targets here: demo in at most 30 s on 2 cores (in a
new CHURN_HOME, so it compiles the SHAP kernels too, on a thread of their own), generator at 1M under 120 s.
The load average is printed with the figures (other work on the machine slows them). Last line: key=value
figures.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def time_demo() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CHURN_HOME": str(Path(tmp) / "home")}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "churn_core.cli", "demo"], env=env, check=True)
        return time.perf_counter() - started


def time_generator(n: int) -> tuple[float, int]:
    from churn_core.data.synthetic import generate

    started = time.perf_counter()
    tables = generate(n)
    elapsed = time.perf_counter() - started
    return elapsed, sum(len(t) for t in tables.values())


def main() -> None:
    load = os.getloadavg()[0]
    demo_seconds = time_demo()
    print(f"churn demo (57,700 evaluators): {demo_seconds:.1f} s (target 30 s); load average {load:.1f}")
    gen_seconds, rows = time_generator(1_000_000)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"generator at 1,000,000 evaluators: {gen_seconds:.1f} s, {rows:,} rows, peak {peak_mb:.0f} MB")
    print(
        f"demo_seconds={demo_seconds:.1f} generator_1m_seconds={gen_seconds:.1f} generator_1m_rows={rows} "
        f"generator_peak_mb={peak_mb:.0f} load_average={load:.1f}"
    )


if __name__ == "__main__":
    main()
