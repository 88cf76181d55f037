"""Benchmark `churn evaluate --cv 5x3` on public churn tables: the tuned pipeline against logistic regression,
random forest and XGBoost with default parameters on the same folds, and its wall time.

Run on demand (about ten minutes on 2 cores):

    .venv/bin/python tests/benchmarks/bench_evaluate.py [--data-dir DIR] [--tables telco_ibm,...] [--cv 5x3]

The rule checked on every table: the tuned pipeline's mean CV ROC AUC is at least the best baseline's
(tests/benchmarks/baselines.py). The target on IBM Telco: the whole 5x3 CV in at most 3 minutes of wall time.
Nothing is downloaded: TABLES says where each file comes from (repository, commit, path), its licence and
sha256, and the benchmark reads it from --data-dir (or from where the project keeps it), checks the sha256 and
says how to get a missing one. Timings depend on the machine's load: the load average is printed with them.
Prints a line per table; the LAST line is `key=value ...`.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI's model commands: sleeping OpenMP waits

import argparse  # noqa: E402
import hashlib  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from churn_core.model.datasets import load_dataset, load_spec  # noqa: E402
from churn_core.model.train import cross_validate  # noqa: E402
from churn_core.settings import load_settings  # noqa: E402
from tests.benchmarks.baselines import baseline_aucs  # noqa: E402

# the project's shared data sit next to the main checkout (../shared), which a worktree is further below
SHARED = next((p / "shared" / "data" / "real" for p in ROOT.parents if (p / "shared").is_dir()), ROOT / "absent")
HERE = Path(__file__).resolve().parent / "data"
TELCO_TARGET_SECONDS = 180.0


@dataclass(frozen=True)
class Table:
    """A public churn table: where its bytes come from, under which licence, and where we keep a copy."""

    file: str
    source: str  # GitHub repository @ commit : path
    licence: str
    sha256: str
    kept_in: Path | None  # the project's copy, if it may keep one


TABLES: dict[str, Table] = {
    "telco_ibm": Table(
        "WA_Fn-UseC_-Telco-Customer-Churn.csv",
        "IBM/telco-customer-churn-on-icp4d @ d5371f5d83a446ad5673cbcca3b814b926491f8a : data/Telco-Customer-Churn.csv",
        "Apache-2.0 (the IBM repository); IBM sample data of a fictional telco",
        "16320c9c1ec72448db59aa0a26a0b95401046bef5d02fd3aeb906448e3055e91",
        SHARED / "telco_ibm",
    ),
    "telecom_bigml": Table(
        "telecom_churn_bigml_3333.csv",
        "KPaul404/DSC_Phase_3_Project @ 6e0c9aa9a812ddd51a3150eb672147ccb2feced5 : bigml_59c28831336c6604c800002a.csv",
        "none stated (SGI MLC++ / UCI churn, artificial data)",
        "168847c2ec6b4c4ee4270d3690760ecb4ef32e07e27a01888e56ff4eac1d5205",
        SHARED / "telecom_bigml",
    ),
    "iranian_churn": Table(
        "iranian_churn.csv",
        "Sabreen-Nazar/Iranian_Churn @ 5e7a7632b1efe30aff8417cb78cf01c3f017ac75 : Customer_Churn.csv "
        "(UCI Machine Learning Repository dataset 563)",
        "CC BY 4.0 (UCI); committed in tests/benchmarks/data with its attribution (SOURCES.md there)",
        "72a4a660cba4166bab4f0c24e930d5453d1917e208c9ce2ed16b841347350dd3",
        HERE,
    ),
    "bank_churn": Table(
        "Churn_Modelling.csv",
        "Vamc-24/ANN-Classification @ 91efaff80bf4252e8bac8e4edeb650219faadae4 : Churn_Modelling.csv "
        "(Kaggle 'Churn Modelling', SuperDataScience)",
        "none stated: not committed; get it with the commands printed when it is missing",
        "ee2a5c9d8daf3aed0d91c4d883a84ebb77d271447bebc0f0c80aafb0f288ceab",
        None,
    ),
}


def locate(name: str, data_dir: Path | None) -> Path | None:
    """The table's file in --data-dir, else in the project's copy; None (with how to get it) when missing or
    not the bytes TABLES names."""
    table = TABLES[name]
    places = [p for p in (data_dir, table.kept_in) if p is not None]
    for path in (place / table.file for place in places):
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest == table.sha256:
                return path
            print(f"{name}: {path} has sha256 {digest}, not {table.sha256}: skipped")
            return None
    repo, _, rest = table.source.partition(" @ ")
    commit, _, file = rest.partition(" : ")
    print(
        f"{name}: {table.file} not found in {', '.join(map(str, places))}; get it with\n"
        f"  git clone https://github.com/{repo} /tmp/src && git -C /tmp/src show {commit}:{file.split(' (')[0]} "
        f"> DIR/{table.file}\n  and run again with --data-dir DIR"
    )
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="directory holding the tables' files")
    parser.add_argument("--tables", default=",".join(TABLES), help="comma-separated names of TABLES")
    parser.add_argument("--cv", default="5x3", help="folds x repeats")
    args = parser.parse_args()
    splits, repeats = (int(v) for v in args.cv.split("x"))
    home = Path(tempfile.mkdtemp(prefix="bench_evaluate_"))
    settings = load_settings(env={}, config=home / "absent.toml", home=home)
    threads = os.cpu_count() or 1
    out: dict[str, float | int] = {}
    print(f"{args.cv} repeated stratified CV, {threads} cores; baselines on the same folds")
    for name in args.tables.split(","):
        path = locate(name, args.data_dir)
        if path is None:
            continue
        data = load_dataset(path, load_spec(name))
        load = os.getloadavg()[0]
        started = time.monotonic()
        result = cross_validate(data, settings, "tuned", splits=splits, repeats=repeats, seed=0)
        seconds = time.monotonic() - started
        tuned = np.array([fold["roc_auc"] for fold in result["per_fold"]])
        started = time.monotonic()
        baselines = {k: np.array(v) for k, v in baseline_aucs(data, threads, splits, repeats).items()}
        baseline_seconds = time.monotonic() - started
        best = max(baselines, key=lambda k: baselines[k].mean())
        trials = np.mean([c["trials"] for c in result["chosen"]])
        print(
            f"{name} ({len(data.y):,} rows): tuned {tuned.mean():.4f}±{tuned.std():.4f} in {seconds:.0f} s "
            f"(load {load:.1f} -> {os.getloadavg()[0]:.1f}; {trials:.1f} trials a fold); "
            + ", ".join(f"{k} {v.mean():.4f}" for k, v in baselines.items())
            + f" ({baseline_seconds:.0f} s); tuned - best ({best}) = {tuned.mean() - baselines[best].mean():+.4f}, "
            f"better on {int((tuned > baselines[best]).sum())}/{len(tuned)} folds",
            flush=True,
        )
        out |= {
            f"{name}_tuned": tuned.mean(),
            **{f"{name}_{k}": v.mean() for k, v in baselines.items()},
            f"{name}_seconds": seconds,
            f"{name}_beats_baselines": int(tuned.mean() >= baselines[best].mean()),
        }
    if "telco_ibm_seconds" in out:
        out["telco_within_3_minutes"] = int(out["telco_ibm_seconds"] <= TELCO_TARGET_SECONDS)
    out["load_average"] = os.getloadavg()[0]
    print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
