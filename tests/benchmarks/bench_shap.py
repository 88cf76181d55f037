"""Benchmark churn_core.scoring.explain against xgboost's pred_contribs and shap.TreeExplainer.

Run on demand: `python tests/benchmarks/bench_shap.py [--full]`. Two models: the seed talk's (binary:logistic,
200 trees of depth 3) and a champion-like one (300 trees of depth 8; the registry's champion at $CHURN_HOME
when there is one), on synthetic churn features: 16 zero-inflated, heavy-tailed counts with 1-5% missing and
a label from a logistic of a few of them. Ours is timed as the best of several runs (the machine may be
shared); the references once each. A reference run that would take over a minute is timed on as many rows
as fit in a minute and scaled linearly (its per-row cost is constant), and the table says so; --full times
every reference on all rows. The last line is `speedup_seed=.. speedup_champion=.. max_abs_diff=..`: the
speed-ups over pred_contribs at 57,700 rows with one thread on both sides, and the largest difference from
shap's values over the rows shap explained.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
import shap
import xgboost as xgb

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from churn_core.schema import FEATURES  # noqa: E402
from churn_core.scoring.explain import TreeExplainer  # noqa: E402

ROWS = 57_700
BIG = 1_000_000
BUDGET_SECONDS = 60.0
CORES = os.cpu_count() or 1


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
        from churn_core.errors import ChurnError
        from churn_core.model.registry import Registry
        from churn_core.settings import load_settings
    except ImportError:
        return None
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


def best_of(fn: Callable[[], object], repeats: int, budget: float = 30.0) -> float:
    """The fastest of `repeats` runs, fewer once `budget` seconds are spent (the machine may be shared)."""
    times: list[float] = []
    while len(times) < repeats and sum(times) < budget:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def reference_time(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, full: bool) -> tuple[float, int, np.ndarray]:
    """Seconds for all of x, timed on its first n rows when the whole would take over BUDGET_SECONDS;
    also n and the values for those rows."""
    probe = min(len(x), 200)
    per_row = best_of(lambda: fn(x[:probe]), 1) / probe
    n = len(x) if full else int(min(len(x), max(probe, BUDGET_SECONDS / max(per_row, 1e-12))))
    start = time.perf_counter()
    values = fn(x[:n])
    return (time.perf_counter() - start) * len(x) / n, n, values


def fmt_rows(measured: int, total: int) -> str:
    return "" if measured == total else f"  (* timed on {measured:,} rows, scaled to {total:,})"


def bench(name: str, booster: xgb.Booster, full: bool) -> dict[str, float]:
    x = rows_for(booster, ROWS)
    explainer = TreeExplainer(booster)
    explainer.shap_values(x[:100])  # compile or load the kernels
    names = booster.feature_names
    contribs = lambda rows: booster.predict(xgb.DMatrix(rows, feature_names=names), pred_contribs=True)  # noqa: E731
    reference = shap.TreeExplainer(booster)
    print(f"\n{name}: {booster.num_boosted_rounds()} rounds, {booster.num_features()} features")
    print(f"  {'method':<34}{'rows':>10}{'threads':>9}{'seconds':>10}{'x ours':>9}")

    def line(method: str, rows: int, threads: int | str, seconds: float, ours: float, note: str = "") -> None:
        ratio = f"{seconds / ours:9.1f}" if ours else " " * 9
        print(f"  {method:<34}{rows:>10,}{threads!s:>9}{seconds:>10.3f}{ratio}{note}")

    set_threads(booster, 1)
    ours_1 = best_of(lambda: explainer.shap_values(x), 5)
    line("ours (churn_core.scoring.explain)", ROWS, 1, ours_1, 0)
    pc_1, pc_rows, pc_values = reference_time(contribs, x, full)
    line("xgboost pred_contribs", ROWS, 1, pc_1, ours_1, fmt_rows(pc_rows, ROWS))
    sh_1, sh_rows, sh_values = reference_time(reference.shap_values, x, full)
    line("shap.TreeExplainer", ROWS, 1, sh_1, ours_1, fmt_rows(sh_rows, ROWS))

    set_threads(booster, CORES)
    ours_all = best_of(lambda: explainer.shap_values(x), 5)
    line("ours (churn_core.scoring.explain)", ROWS, CORES, ours_all, 0)
    pc_all, pc_all_rows, _ = reference_time(contribs, x, full)
    line("xgboost pred_contribs", ROWS, CORES, pc_all, ours_all, fmt_rows(pc_all_rows, ROWS))

    big = rows_for(booster, BIG)
    for threads in (1, CORES):
        set_threads(booster, threads)
        ours_big = best_of(lambda: explainer.shap_values(big), 2)
        line("ours (churn_core.scoring.explain)", BIG, threads, ours_big, 0)
        pc_big = pc_1 if threads == 1 else pc_all
        line(
            "xgboost pred_contribs",
            BIG,
            threads,
            pc_big * BIG / ROWS,
            ours_big,
            f"  (* scaled from {pc_rows if threads == 1 else pc_all_rows:,} rows)",
        )

    ours = explainer.shap_values(x)
    diff_shap = float(np.abs(ours[:sh_rows, :-1] - sh_values).max())
    diff_xgb = float(np.abs(ours[:pc_rows] - pc_values).max())
    print(
        f"  max |ours - shap| = {diff_shap:.2e} over {sh_rows:,} rows, "
        f"max |ours - pred_contribs| = {diff_xgb:.2e} over {pc_rows:,} rows"
    )
    return {"speedup": pc_1 / ours_1, "speedup_all": pc_all / ours_all, "diff": diff_shap}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="time every reference on all rows, however long")
    args = parser.parse_args()
    x, y = churn_features(ROWS)
    print(
        f"{ROWS:,} synthetic evaluators, label rate {y.mean():.1%}, {CORES} cores; "
        f"xgboost {xgb.__version__}, shap {shap.__version__}, numba {numba.__version__}"
    )
    seed = bench("seed model", seed_model(x, y), args.full)
    booster, description = champion_model(x, y)
    champion = bench(f"champion ({description})", booster, args.full)
    print(
        f"\nall cores ({CORES}): speedup_seed={seed['speedup_all']:.1f} speedup_champion={champion['speedup_all']:.1f}"
    )
    print(
        f"speedup_seed={seed['speedup']:.1f} speedup_champion={champion['speedup']:.1f} "
        f"max_abs_diff={max(seed['diff'], champion['diff']):.2e}"
    )


if __name__ == "__main__":
    main()
