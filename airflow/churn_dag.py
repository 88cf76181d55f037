"""Airflow DAGs for the churn jobs: `churn_daily` (etl -> score) and `churn_weekly` (etl -> train ->
evaluate -> promote if not worse -> score), each one task calling `churn run daily|weekly`.

The `churn` command does the work and keeps the guarantees (one job at a time under its lock, atomic
writes, job_runs history, alerts), so Airflow only schedules and retries it. Use these DAGs *instead of*
`churn scheduler`, not as well (they share the job lock, so running both is safe but wasteful).

Put this file in Airflow's dags folder. The workers need the `churn` command (this project installed in
a virtual environment; point CHURN_BIN at it) and the same CHURN_* settings as the product (CHURN_HOME
or CHURN_CONFIG, the warehouse). Schedules default to the product's: CHURN_SCORE_CRON "0 6 * * *" and
CHURN_TRAIN_CRON "0 2 * * mon" in CHURN_TIMEZONE (UTC). This file does not import churn_core.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.x
    from airflow.operators.bash import BashOperator

    from airflow import DAG

# The same defaults as churn_core.settings (tests/churn_core/jobs/test_airflow_dag.py checks they agree).
SCORE_CRON = os.environ.get("CHURN_SCORE_CRON", "0 6 * * *")
TRAIN_CRON = os.environ.get("CHURN_TRAIN_CRON", "0 2 * * mon")
TIMEZONE = os.environ.get("CHURN_TIMEZONE", "UTC")
CHURN_BIN = os.environ.get("CHURN_BIN", "churn")

# Airflow retries a whole failed run; the runner has already retried its steps' transient failures and the
# AWS layer its throttled calls (see churn_core/jobs/runner.py, "Who retries what").
DEFAULT_ARGS = {
    "owner": "churn",
    "retries": 2,
    "retry_delay": timedelta(minutes=10),
    "retry_exponential_backoff": True,
}

JOBS = {
    "daily": (SCORE_CRON, "ETL then score every evaluator with the champion model", timedelta(hours=2)),
    "weekly": (
        TRAIN_CRON,
        "ETL, train a candidate, promote it unless worse than the champion, then score",
        timedelta(hours=6),
    ),
}

for job, (cron, description, timeout) in JOBS.items():
    with DAG(
        dag_id=f"churn_{job}",
        description=description,
        schedule=cron,
        start_date=pendulum.datetime(2025, 1, 1, tz=TIMEZONE),
        catchup=False,  # a missed interval runs once, not once per missed interval
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["churn"],
    ) as dag:
        BashOperator(
            task_id=f"churn_run_{job}",
            # --wait: if another churn job holds the lock, wait for it rather than fail and retry.
            bash_command=f"{CHURN_BIN} run {job} --wait 3600",
            execution_timeout=timeout,
            append_env=True,
        )
    globals()[dag.dag_id] = dag

# Keep module-level names tidy for Airflow's DAG discovery.
del job, cron, description, timeout, dag
