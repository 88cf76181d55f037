"""The warehouse protocol: run named Athena-dialect .sql files with bound parameters, write tables atomically.

SQL is written once, in Athena (Trino) dialect, with `:name` placeholders for bound parameters. Each adapter
turns that into its engine's SQL and parameter style. `open_warehouse(settings)` picks the adapter from
`settings.backend`.
"""

from __future__ import annotations

from churn_core.settings import Settings
from churn_core.warehouse.base import (
    QueryError,
    TransientWarehouseError,
    Warehouse,
    WarehouseError,
    load_sql,
    sql_names,
)

__all__ = [
    "QueryError",
    "TransientWarehouseError",
    "Warehouse",
    "WarehouseError",
    "load_sql",
    "open_warehouse",
    "sql_names",
]


def open_warehouse(settings: Settings, *, read_only: bool = False) -> Warehouse:
    """The configured warehouse: the embedded DuckDB file, or Athena over S3."""
    # Imported here, not above: a DuckDB user never loads boto3 and pyathena (0.15 s of every `churn` start).
    if settings.backend == "athena":
        from churn_core.warehouse.athena import AthenaWarehouse

        return AthenaWarehouse(settings, read_only=read_only)
    from churn_core.warehouse.duckdb import DuckDBWarehouse  # likewise, an Athena user never loads duckdb

    return DuckDBWarehouse(settings.warehouse_path, read_only=read_only)
