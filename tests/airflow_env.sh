#!/usr/bin/env bash
# Create /work/main/.venv-airflow (or $1): a separate virtual environment with Apache Airflow, used only by
# tests/churn_core/jobs/test_airflow_dag.py to load airflow/churn_dag.py in a real DagBag. Airflow's pins clash
# with the product's, so it never goes into .venv, and churn_core never imports it.
# Airflow's constraints file lives on GitHub; without it we pin the Airflow version and check that it imports.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.venv-airflow}"
AIRFLOW_VERSION="${AIRFLOW_VERSION:-3.1.8}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q "apache-airflow==${AIRFLOW_VERSION}"
AIRFLOW_HOME="$(mktemp -d)" "$VENV/bin/python" -c "import airflow; from airflow.models.dagbag import DagBag; print('airflow', airflow.__version__)"
