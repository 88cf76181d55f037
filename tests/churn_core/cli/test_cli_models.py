"""`churn train`, `churn evaluate` and `churn models ...` through typer's CliRunner, in a tmp CHURN_HOME."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from churn_core.cli import app
from churn_core.settings import Settings
from tests.churn_core.model.modeldata import write_customer_files

FAST = {
    "CHURN_TUNING_FOLDS": "2",
    "CHURN_TUNING_MAX_TRIALS": "2",
    "CHURN_TUNING_BUDGET_SECONDS": "30",
    "CHURN_TUNING_MAX_ROUNDS": "100",
    "CHURN_BOOTSTRAP_SAMPLES": "10",
    "CHURN_TRAIN_THREADS": "1",
    "CHURN_EARLY_STOPPING_ROUNDS": "10",
}


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str) -> object:
        return runner.invoke(app, list(args), env={"CHURN_HOME": str(home), "CHURN_CONFIG": "", **FAST})

    invoke.home = home  # type: ignore[attr-defined]
    return invoke


def test_train_list_show_promote_on_a_customer_table(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv, spec = write_customer_files(tmp_path, 300)
    result = run("train", "--data", str(csv), "--spec", str(spec), "--profile", "seed")
    assert result.exit_code == 0, result.output
    assert "v0001 is the champion" in result.output and "held-out ROC AUC" in result.output
    listed = json.loads(run("models", "list", "--dataset", "small", "--format", "json").stdout)
    assert [(m["version"], m["champion"], m["profile"]) for m in listed] == [("v0001", True, "seed")]
    card = json.loads(run("models", "show", "v0001", "--dataset", "small", "--format", "json").stdout)
    assert card["version"] == "v0001" and set(card["metrics"]) >= {"roc_auc", "pr_auc", "f2", "brier", "ece"}
    text = run("models", "show", "champion", "--dataset", "small").stdout
    assert "Confusion matrix" in text and "Classification report" in text and "Lift" in text
    second = run("train", "--data", str(csv), "--spec", str(spec), "--profile", "seed")
    assert second.exit_code == 0 and "v0002 is the champion" in second.output  # same data: not worse
    promoted = run("models", "promote", "v0001", "--dataset", "small")
    assert promoted.exit_code == 0 and "v0001 is the champion" in promoted.stdout


def test_evaluate_prints_cross_validated_metrics(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv, spec = write_customer_files(tmp_path, 300)
    result = run(
        "evaluate",
        "--data",
        str(csv),
        "--spec",
        str(spec),
        "--cv",
        "3x1",
        "--profile",
        "seed",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["folds"] == "3x1" and len(out["per_fold"]) == 3
    assert {"roc_auc", "pr_auc", "f1", "accuracy"} <= set(out["metrics"])
    assert all({"mean", "sd"} == set(v) for v in out["metrics"].values())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("models", "show", "champion"), "no champion model yet: run `churn train` first"),
        (("models", "promote", "v0007"), "no model version v0007"),
        (("train", "--data", "x.csv"), "--data and --spec go together"),
        (("evaluate", "--data", "x.csv", "--spec", "x.toml", "--cv", "five"), "--cv must look like 5x3"),
    ],
)
def test_errors_are_one_line_and_exit_1(run, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    result = run(*args)
    assert result.exit_code == 1
    assert message in " ".join(result.stderr.split()) and "Traceback" not in result.output


def test_bad_data_leaves_the_registry_alone(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv, spec = write_customer_files(tmp_path, 300)
    spec.write_text(spec.read_text().replace('positive = "Yes"', 'positive = "Churned"'))
    result = run("train", "--data", str(csv), "--spec", str(spec))
    assert result.exit_code == 1 and "positive value 'Churned'" in result.stderr
    assert not (run.home / "models").exists()


def test_train_on_the_warehouse(run, etl_home: Settings) -> None:  # type: ignore[no-untyped-def]
    run.home.mkdir(parents=True)
    shutil.copy(etl_home.warehouse_path, run.home / "warehouse.duckdb")
    result = run("train", "--profile", "seed")
    assert result.exit_code == 0, result.output
    assert "ROC AUC by day of trial: 1:" in " ".join(result.stdout.split()) and "oracle" in result.stdout
    text = run("models", "show", "champion").stdout
    assert "By day of trial" in text and "By cohort week" in text and "Calibration" in text
    card = json.loads(run("models", "show", "champion", "--format", "json").stdout)
    assert card["dataset"] == "evaluators" and sorted(card["metrics_by_day"]) == [str(d) for d in range(1, 8)]
