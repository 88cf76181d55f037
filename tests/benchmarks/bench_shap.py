"""Benchmark churn_core.scoring.explain against xgboost's pred_contribs and shap's own TreeSHAP algorithm.

Run on demand: `python tests/benchmarks/bench_shap.py [--full]`. Two models: the seed talk's (binary:logistic,
200 trees of depth 3) and a champion-like one (300 trees of depth 8; the registry's champion at $CHURN_HOME
when there is one), on synthetic churn features: 16 zero-inflated, heavy-tailed counts with 1-5% missing and
a label from a logistic of a few of them.

Every method is timed the same way: the best of REPEATS runs, in this process, after one untimed warm-up
call. A reference that would take longer than REFERENCE_SECONDS a run is timed on its first rows only and
its time for all rows extrapolated linearly (its cost per row is constant); the table marks those lines
"extrapolated" and says from how many rows (--full times every method on all rows, however long). shap's own
algorithm is shap.TreeExplainer with `model.model_type = "internal"`: without it, shap.TreeExplainer hands an
XGBoost model to pred_contribs. The cold lines time a new process: import, the explainer (compiling the kernels
into an empty cache the first time on a machine, loading them afterwards) and its first call.

The last line is `speedup_seed=.. speedup_champion=.. max_abs_diff=..`: the speed-ups over pred_contribs at
57,700 rows with one thread on both sides, and the largest difference from shap's own algorithm's values over
the rows it explained (both models).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
import shap
import xgboost as xgb

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from churn_core.errors import ChurnError  # noqa: E402
from churn_core.model.registry import Registry  # noqa: E402
from churn_core.schema import FEATURES  # noqa: E402
from churn_core.scoring.explain import TreeExplainer  # noqa: E402
from churn_core.settings import load_settings  # noqa: E402

ROWS = 57_700
BIG = 1_000_000
REPEATS = 3
REFERENCE_SECONDS = 10.0  # a reference run longer than this is timed on fewer rows and extrapolated
EXACT_ROWS = 500  # rows checked against shap's own algorithm (it is slow)
CORES = os.cpu_count() or 1
COLD = """
import sys, time, pathlib
started = time.perf_counter()
import numpy as np, xgboost as xgb
from churn_core.scoring.explain import TreeExplainer
imported = time.perf_counter()
booster = xgb.Booster(model_file=sys.argv[1]); booster.set_param({"nthread": 1})
x = np.load(sys.argv[2])
loaded = time.perf_counter()
explainer = TreeExplainer(booster, kernel_cache=pathlib.Path(sys.argv[3]))
explainer.shap_values(x)
done = time.perf_counter()
print(imported - started, done - loaded, done - started - (loaded - imported))
"""


def churn_features(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Per-evaluator activity times per-feature scale and noise, Poisson counts, extra zeros, 1-5% NaN."""
    rng = np.random.default_rng(seed)
    k = len(FEATURES)
    activity = rng.gamma(0.7, 1.0, size=(n, 1))
    rate = activity * rng.uniform(0.5, 30.0, size=k) * rng.lognormal(0.0, 1.0, size=(n, k))
    x = rng.poisson(rate).astype(np.float32)
    x[rng.random((n, k)) < rng.uniform(0.3, 0.7, size=k)] = 0.0
    x[rng.random((n, k)) < rng.uniform(0.01, 0.05, size=k)] = np.nan
    logs = np.log1p(np.nan_to_num(x, nan=0.0))
    logit = 1.0 - 0.8 * logs[:, 0] + 0.5 * logs[:, 3] - 0.3 * logs[:, 7] - 0.4 * logs[:, 12] + 0.6 * np.isnan(x[:, 11])
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
    return x, y


def seed_model(x: np.ndarray, y: np.ndarray) -> xgb.Booster:
    params = {
        "objective": "binary:logistic",
        "max_depth": 3,
        "learning_rate": 0.1,
        "min_child_weight": 6,
        "subsample": 0.5,
        "seed": 27,
        "nthread": CORES,
    }
    return xgb.train(params, xgb.DMatrix(x, y, feature_names=list(FEATURES)), 200)


def champion_model(x: np.ndarray, y: np.ndarray) -> tuple[xgb.Booster, str]:
    """The registry's champion when one is loadable at $CHURN_HOME, else a tuned-looking depth-8 model."""
    registered = registry_champion()
    if registered is not None:
        return registered
    params = {
        "objective": "binary:logistic",
        "max_depth": 8,
        "learning_rate": 0.05,
        "min_child_weight": 1,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "seed": 27,
        "nthread": CORES,
    }
    return xgb.train(params, xgb.DMatrix(x, y, feature_names=list(FEATURES)), 300), "synthetic, 300 x depth 8"


def registry_champion() -> tuple[xgb.Booster, str] | None:
    try:
        registry = Registry(load_settings())
        version = registry.champion_version()
        return (registry.load("champion").booster, f"registry champion {version}") if version else None
    except (ChurnError, OSError) as exc:
        print(f"(the registry's champion is not loadable: {exc}; using a synthetic one)")
        return None


def rows_for(booster: xgb.Booster, n: int) -> np.ndarray:
    """Synthetic rows with as many columns as the booster has features."""
    x, _ = churn_features(n, seed=99)
    extra = booster.num_features() - x.shape[1]
    return np.hstack([x, x[:, :extra]]) if extra > 0 else np.ascontiguousarray(x[:, : booster.num_features()])


def set_threads(booster: xgb.Booster, threads: int) -> None:
    booster.set_param({"nthread": threads})
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def best_of(fn: Callable[[], object]) -> float:
    """The fastest of REPEATS timed runs after an untimed warm-up (the machine may be shared)."""
    fn()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def timed(fn: Callable[[np.ndarray], object], x: np.ndarray, full: bool) -> tuple[float, int]:
    """Seconds for all rows of x (best of REPEATS), and how many rows were actually timed: all, or as many as
    fit in REFERENCE_SECONDS when a run would take longer (then the time is extrapolated, unless `full`)."""
    probe = min(len(x), 200)
    per_row = best_of(lambda: fn(x[:probe])) / probe
    n = len(x) if full else int(min(len(x), max(probe, REFERENCE_SECONDS / max(per_row, 1e-12))))
    return best_of(lambda: fn(x[:n])) * len(x) / n, n


def shap_own_algorithm(booster: xgb.Booster) -> Callable[[np.ndarray], np.ndarray]:
    """shap's own TreeSHAP (its C extension), not the pred_contribs shap.TreeExplainer delegates to. Only the
    feature columns compare: shap's base value for an XGBoost 3 model is not the booster's."""
    explainer = shap.TreeExplainer(booster)
    explainer.model.model_type = "internal"
    return lambda rows: explainer.shap_values(rows, check_additivity=False)


def cold_start(booster: xgb.Booster, x: np.ndarray) -> tuple[list[float], list[float]]:
    """(import s, explainer and first call s, total s) of a new process: first with an empty kernel cache,
    then with the cache it left."""
    with tempfile.TemporaryDirectory() as tmp:
        model, rows, cache = Path(tmp) / "model.ubj", Path(tmp) / "rows.npy", Path(tmp) / "kernels"
        booster.save_model(model)
        np.save(rows, x)
        runs = []
        for _ in range(2):
            out = subprocess.run(
                [sys.executable, "-c", COLD, str(model), str(rows), str(cache)],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            runs.append([float(v) for v in out.stdout.split()])
        return runs[0], runs[1]


def bench(name: str, booster: xgb.Booster, full: bool) -> dict[str, float]:
    x = rows_for(booster, ROWS)
    explainer = TreeExplainer(booster, kernel_cache=load_settings().kernel_cache_dir)
    names = booster.feature_names
    contribs = lambda rows: booster.predict(xgb.DMatrix(rows, feature_names=names), pred_contribs=True)  # noqa: E731
    own = shap_own_algorithm(booster)
    print(f"\n{name}: {booster.num_boosted_rounds()} rounds, {booster.num_features()} features")
    print(f"  {'method':<36}{'rows':>10}{'threads':>9}{'seconds':>10}{'x ours':>9}")

    def line(method: str, rows: int, threads: int | str, seconds: float, ours: float, timed_rows: int) -> None:
        ratio = f"{seconds / ours:9.1f}" if ours else " " * 9
        note = "" if timed_rows == rows else f"  extrapolated from {timed_rows:,} rows"
        print(f"  {method:<36}{rows:>10,}{threads!s:>9}{seconds:>10.3f}{ratio}{note}")

    set_threads(booster, 1)
    ours_1 = best_of(lambda: explainer.shap_values(x))
    line("ours (churn_core.scoring.explain)", ROWS, 1, ours_1, 0, ROWS)
    pc_1, pc_rows = timed(contribs, x, full)
    line("xgboost pred_contribs", ROWS, 1, pc_1, ours_1, pc_rows)
    own_1, own_rows = timed(own, x, full)
    line("shap's own TreeSHAP", ROWS, 1, own_1, ours_1, own_rows)
    set_threads(booster, CORES)
    ours_all = best_of(lambda: explainer.shap_values(x))
    line("ours (churn_core.scoring.explain)", ROWS, CORES, ours_all, 0, ROWS)
    pc_all, pc_all_rows = timed(contribs, x, full)
    line("xgboost pred_contribs", ROWS, CORES, pc_all, ours_all, pc_all_rows)

    big = rows_for(booster, BIG)
    for threads, reference, timed_rows in ((1, pc_1, pc_rows), (CORES, pc_all, pc_all_rows)):
        set_threads(booster, threads)
        ours_big = best_of(lambda: explainer.shap_values(big))
        line("ours (churn_core.scoring.explain)", BIG, threads, ours_big, 0, BIG)
        line("xgboost pred_contribs", BIG, threads, reference * BIG / ROWS, ours_big, timed_rows)

    set_threads(booster, 1)
    first_ever, cached = cold_start(booster, x)
    for label, (imports, call, total) in (("first ever", first_ever), ("kernels cached", cached)):
        print(
            f"  cold start, {label}: {total:.2f} s in a new process ({imports:.2f} s imports, {call:.2f} s "
            f"explainer and first call on {ROWS:,} rows)"
        )

    ours = explainer.shap_values(x[:EXACT_ROWS])
    diff_own = float(np.abs(ours[:, :-1] - own(x[:EXACT_ROWS])).max())
    diff_xgb = float(np.abs(ours - contribs(x[:EXACT_ROWS])).max())
    print(
        f"  max |ours - shap's own| = {diff_own:.2e}, max |ours - pred_contribs| = {diff_xgb:.2e} "
        f"(float32 inside xgboost) over {EXACT_ROWS:,} rows"
    )
    return {"speedup": pc_1 / ours_1, "speedup_all": pc_all / ours_all, "diff": diff_own, "cold": cached[2]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="time every method on all rows, however long")
    args = parser.parse_args()
    x, y = churn_features(ROWS)
    load = os.getloadavg()[0]
    print(
        f"{ROWS:,} synthetic evaluators, label rate {y.mean():.1%}, {CORES} cores, load average {load:.1f}; "
        f"xgboost {xgb.__version__}, shap {shap.__version__}, numba {numba.__version__}"
    )
    seed = bench("seed model", seed_model(x, y), args.full)
    booster, description = champion_model(x, y)
    champion = bench(f"champion ({description})", booster, args.full)
    print(
        f"\nall cores ({CORES}): speedup_seed={seed['speedup_all']:.1f} speedup_champion={champion['speedup_all']:.1f}"
        f"; load average {load:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    print(json.dumps({"cold_start_cached_seconds": {"seed": seed["cold"], "champion": champion["cold"]}}))
    print(
        f"speedup_seed={seed['speedup']:.1f} speedup_champion={champion['speedup']:.1f} "
        f"max_abs_diff={max(seed['diff'], champion['diff']):.2e}"
    )


if __name__ == "__main__":
    main()
