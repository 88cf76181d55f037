"""Churn Prediction Unleashed: the backing library of the `churn` CLI and the dashboard.

Public surface: `load_settings`/`Settings` (configuration), `open_warehouse` (DuckDB or Athena),
`run_etl` (modelling tables), and the `churn` command line in `churn_core.cli`.
"""

from churn_core.data.etl import run_etl
from churn_core.settings import Settings, load_settings
from churn_core.warehouse import open_warehouse

__all__ = ["Settings", "load_settings", "open_warehouse", "run_etl"]
