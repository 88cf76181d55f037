"""Model quality benchmark, run on demand (several minutes):

    .venv/bin/python tests/benchmarks/bench_model_quality.py [--evaluators 57700] [--budget 120]
                                                             [--cv-budget 30] [--skip-real] [--skip-demo]

Demo data (churn_core.data.synthetic + run_etl into a temporary CHURN_HOME): the held-out ROC AUC of the tuned
champion against the oracle (the generator's true probability) on the same rows, at day 7 and on each
day 1..7, its ECE, the seed profile on the same rows, training times, and the rule of `churn train`: the
tuned model's held-out ROC AUC at least the best of logistic regression, random forest and XGBoost with
default parameters trained on the same rows (tests/benchmarks/baselines.py). Real data (IBM Telco, BigML
3,333) under the reference protocol of shared/data/real/reference_baselines.py: repeated stratified
5-fold CV, 3 repeats, random_state 0, with the tuned pipeline's search inside each training fold.
Prints a table; the LAST line is `key=value ...`.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # sleeping OpenMP waits: much faster on a shared machine

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from churn_core.jobs.demo import run_demo  # noqa: E402
from churn_core.model import tuning  # noqa: E402
from churn_core.model.datasets import Dataset, load_dataset, load_spec  # noqa: E402
from churn_core.model.evaluate import Ranked  # noqa: E402
from churn_core.model.fit import make_pipeline  # noqa: E402
from churn_core.model.registry import Registry  # noqa: E402
from churn_core.model.snapshots import evaluator_dataset  # noqa: E402
from churn_core.model.splits import time_split  # noqa: E402
from churn_core.model.train import SEED_TEST_SIZE, cross_validate, fit_model  # noqa: E402
from churn_core.settings import load_settings  # noqa: E402
from churn_core.warehouse import open_warehouse  # noqa: E402
from tests.benchmarks.baselines import models, raw_frame  # noqa: E402

# the project's shared data sit next to the main checkout (../shared), which a worktree is further below
REAL = next((p / "shared" / "data" / "real" for p in ROOT.parents if (p / "shared").is_dir()), ROOT / "absent")
REFERENCE = {"telco_ibm": 0.845, "telecom_bigml": 0.914}
TARGET = {"telco_ibm": 0.850, "telecom_bigml": 0.920}
FILES = {
    "telco_ibm": REAL / "telco_ibm" / "WA_Fn-UseC_-Telco-Customer-Churn.csv",
    "telecom_bigml": REAL / "telecom_bigml" / "telecom_churn_bigml_3333.csv",
}


def demo(args: argparse.Namespace, out: dict[str, float]) -> None:
    home = Path(tempfile.mkdtemp(prefix="bench_model_"))
    settings = load_settings(
        env={},
        config=home / "absent.toml",
        home=home,
        demo_evaluators=args.evaluators,
        tuning_budget_seconds=args.budget,
    )
    started = time.monotonic()
    run_demo(settings)
    print(f"demo data: {args.evaluators:,} evaluators generated and built in {time.monotonic() - started:.0f}s")
    data = evaluator_dataset(open_warehouse(settings, read_only=True))
    registry = Registry(settings)

    # The talk's model.fit on 57,700 rows (features as they arrive, the seed's exact parameters).
    rows = np.random.default_rng(0).choice(len(data.y), min(57_700, len(data.y)), replace=False)
    sample = data.subset(np.sort(rows))
    pipe = make_pipeline(sample, "seed", settings).fit(sample.frame)
    x = pipe.transform(sample.frame).to_numpy(np.float32)
    started = time.monotonic()
    xgb.train(
        tuning.native(tuning.SEED_PARAMS, tuning.threads(settings)),
        tuning.dmatrix(x, sample.y, pipe.features_, pipe.feature_types_, quantile=True),
        num_boost_round=tuning.SEED_PARAMS["n_estimators"],
    )
    out["seed_fit_seconds_57700"] = time.monotonic() - started

    for profile in ("seed", "tuned"):
        started = time.monotonic()
        model = fit_model(data, settings, profile)
        seconds = time.monotonic() - started
        model.version = registry.register(model)
        registry.promote(model.version, force=True)
        card = model.card
        oracle_by_day = card.oracle_roc_auc_by_day or {}
        out[f"{profile}_roc_auc"] = card.metrics["roc_auc"]
        out[f"{profile}_roc_auc_day7"] = card.metrics_by_day["7"]["roc_auc"]
        out[f"{profile}_ratio_day7"] = card.metrics_by_day["7"]["roc_auc"] / oracle_by_day["7"]
        out[f"{profile}_ece"] = card.metrics["ece"]
        random_split = card.evaluation.get("random")
        out[f"{profile}_random_split_roc_auc"] = random_split.roc_auc if random_split else float("nan")
        out[f"{profile}_train_seconds"] = seconds
        out[f"{profile}_core_seconds"] = card.train_seconds
        if profile == "tuned":
            out["oracle_roc_auc"] = card.oracle_roc_auc
            out["oracle_roc_auc_day7"] = oracle_by_day["7"]
            out["tuned_search_seconds"] = card.tuning.seconds
            out["tuned_trials"] = card.tuning.trials
            seed = card.comparison["seed"]
            out["seed_same_rows_roc_auc"] = seed.roc_auc
            for d in range(1, 8):
                out[f"tuned_ratio_day{d}"] = card.metrics_by_day[str(d)]["roc_auc"] / oracle_by_day[str(d)]
            baselines = held_out_baselines(data)
            out["best_baseline_roc_auc"] = max(baselines.values())
            print(
                f"\nheld-out ROC AUC: tuned {card.metrics['roc_auc']:.4f}; "
                + ", ".join(f"{k} {v:.4f}" for k, v in baselines.items())
            )
            print("\nday  tuned AUC  seed AUC  oracle AUC  ratio")
            for d in range(1, 8):
                k = str(d)
                print(
                    f"{d:>3}  {card.metrics_by_day[k]['roc_auc']:.4f}     {(seed.roc_auc_by_day or {})[k]:.4f}    "
                    f"{oracle_by_day[k]:.4f}      {out[f'tuned_ratio_day{d}']:.3f}"
                )


def held_out_baselines(data: Dataset) -> dict[str, float]:
    """ROC AUC of each baseline trained on the rows `churn train` trains on and tested on its held-out rows."""
    split = time_split(data, SEED_TEST_SIZE)
    train, test = data.subset(split.train), data.subset(split.test)
    out = {}
    for name, model in models(data, os.cpu_count() or 1).items():
        model.fit(raw_frame(train), train.y)
        out[name] = Ranked(test.y, model.predict_proba(raw_frame(test))[:, 1]).roc_auc()
    return out


def real(args: argparse.Namespace, out: dict[str, float]) -> None:
    home = Path(tempfile.mkdtemp(prefix="bench_real_"))
    settings = load_settings(env={}, config=home / "absent.toml", home=home)
    for name, path in FILES.items():
        if not path.exists():
            print(f"{name}: {path} not found, skipped")
            continue
        result = cross_validate(
            load_dataset(path, load_spec(name)), settings, "tuned", splits=5, repeats=3, budget=args.cv_budget, seed=0
        )
        m = result["metrics"]
        out[f"{name}_roc_auc"] = m["roc_auc"]["mean"]
        out[f"{name}_roc_auc_sd"] = m["roc_auc"]["sd"]
        out[f"{name}_f1"] = m["f1"]["mean"]
        out[f"{name}_accuracy"] = m["accuracy"]["mean"]
        out[f"{name}_cv_seconds"] = result["seconds"]
        print(
            f"{name}: ROC AUC {m['roc_auc']['mean']:.4f}±{m['roc_auc']['sd']:.4f} (reference "
            f"{REFERENCE[name]:.3f}, target {TARGET[name]:.3f}), PR AUC {m['pr_auc']['mean']:.4f}, "
            f"F1 {m['f1']['mean']:.3f}, accuracy {m['accuracy']['mean']:.3f}, {result['seconds']:.0f}s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluators", type=int, default=57_700)
    parser.add_argument("--budget", type=float, default=120.0, help="tuning budget of the demo model (s)")
    parser.add_argument("--cv-budget", type=float, default=30.0, help="tuning budget per CV training fold (s)")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    out: dict[str, float] = {}
    if not args.skip_demo:
        demo(args, out)
    if not args.skip_real:
        real(args, out)
    checks = {
        "day7_ratio>=0.95": out.get("tuned_ratio_day7", 0) >= 0.95,
        "ece<=0.02": out.get("tuned_ece", 1) <= 0.02,
        "tuned>seed": out.get("tuned_roc_auc", 0) > out.get("seed_same_rows_roc_auc", 1),
        "tuned>=baselines": out.get("tuned_roc_auc", 0) >= out.get("best_baseline_roc_auc", 1),
        "seed_fit<5s": out.get("seed_fit_seconds_57700", 99) < 5,
        "telco>=0.850": out.get("telco_ibm_roc_auc", 0) >= 0.850,
        "bigml>=0.920": out.get("telecom_bigml_roc_auc", 0) >= 0.920,
    }
    print("\nmetric                              value")
    for key, value in out.items():
        print(f"{key:<34}  {value:.4f}" if isinstance(value, float) else f"{key:<34}  {value}")
    print("checks: " + ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in checks.items()))
    print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
