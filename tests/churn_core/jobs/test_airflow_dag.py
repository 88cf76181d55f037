"""airflow/churn_dag.py loads in a real Airflow DagBag with the product's schedules, tasks and retries.

Airflow's pins clash with the product's, so it lives in its own virtual environment, .venv-airflow,
created by `bash tests/airflow_env.sh`; without it these tests are skipped.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from churn_core.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
AIRFLOW_PYTHON = ROOT / ".venv-airflow" / "bin" / "python"

# Loads the DAG folder once per environment variant (argv[2], JSON list), in one Airflow process.
LOAD_DAGBAGS = """
import json, os, sys
try:
    from airflow.models.dagbag import DagBag
except ImportError:  # newer Airflow
    from airflow.dag_processing.dagbag import DagBag

def describe(bag):
    dags = {}
    for dag_id, dag in bag.dags.items():
        tasks = {t.task_id: {"retries": t.retries, "retry_delay": t.retry_delay.total_seconds(),
                             "bash_command": getattr(t, "bash_command", None),
                             "timeout": t.execution_timeout.total_seconds() if t.execution_timeout else None}
                 for t in dag.tasks}
        dags[dag_id] = {"schedule": dag.timetable.summary, "catchup": dag.catchup,
                        "max_active_runs": dag.max_active_runs, "timezone": str(dag.timezone), "tasks": tasks}
    return {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": dags}

bags = []
for variant in json.loads(sys.argv[2]):
    os.environ.update(variant)
    bags.append(describe(DagBag(dag_folder=sys.argv[1], include_examples=False)))
    for name in variant:
        del os.environ[name]
print("DAGBAGS " + json.dumps(bags))
"""
OVERRIDES = {"CHURN_SCORE_CRON": "30 5 * * *", "CHURN_BIN": "/opt/churn/.venv/bin/churn"}


@pytest.fixture(scope="module")
def dagbags(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:  # type: ignore[type-arg]
    """The DagBag with the default environment, then with OVERRIDES."""
    if not AIRFLOW_PYTHON.exists():
        pytest.skip("no Airflow virtual environment at .venv-airflow: create it with `bash tests/airflow_env.sh`")
    home = tmp_path_factory.mktemp("airflow")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CHURN_", "AIRFLOW", "VIRTUAL_ENV"))}
    environment.update(
        {
            "AIRFLOW_HOME": str(home / "airflow_home"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        }
    )
    result = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", LOAD_DAGBAGS, str(ROOT / "airflow"), json.dumps([{}, OVERRIDES])],
        cwd=home,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("DAGBAGS "))
    return json.loads(line.removeprefix("DAGBAGS "))


def test_the_dags_load_with_the_product_schedules_and_retries(dagbags: list[dict]) -> None:  # type: ignore[type-arg]
    bag = dagbags[0]
    assert bag["import_errors"] == {}
    assert set(bag["dags"]) == {"churn_daily", "churn_weekly"}
    defaults = Settings()
    for job, cron in (("daily", defaults.score_cron), ("weekly", defaults.train_cron)):
        dag = bag["dags"][f"churn_{job}"]
        assert dag["schedule"] == cron
        assert dag["catchup"] is False and dag["max_active_runs"] == 1
        assert dag["timezone"] in ("UTC", "Timezone('UTC')")
        assert list(dag["tasks"]) == [f"churn_run_{job}"]
        task = dag["tasks"][f"churn_run_{job}"]
        assert task["retries"] == 2 and task["retry_delay"] == 600
        assert task["bash_command"].startswith(f"churn run {job}")
        assert task["timeout"] and task["timeout"] > 0


def test_the_schedules_follow_the_churn_environment(dagbags: list[dict]) -> None:  # type: ignore[type-arg]
    bag = dagbags[1]
    assert bag["import_errors"] == {}
    assert bag["dags"]["churn_daily"]["schedule"] == OVERRIDES["CHURN_SCORE_CRON"]
    assert bag["dags"]["churn_weekly"]["schedule"] == Settings().train_cron
    assert bag["dags"]["churn_daily"]["tasks"]["churn_run_daily"]["bash_command"].startswith(
        f"{OVERRIDES['CHURN_BIN']} run daily"
    )


def test_churn_core_never_imports_airflow() -> None:
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "churn_core").rglob("*.py"))
    assert not re.search(r"^\s*(import|from)\s+airflow\b", sources, re.MULTILINE)
