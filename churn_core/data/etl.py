"""Build the modelling tables from the raw tables with the SQL in churn_core/sql/, in dependency order, after
giving every new arrival its holdout assignment (churn_core.data.holdout), which the tables carry as
control_group."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from churn_core.data.holdout import TABLE as HOLDOUT_TABLE
from churn_core.data.holdout import assign_holdout
from churn_core.settings import Settings
from churn_core.warehouse import Warehouse, WarehouseError

# Order matters: instances_modeling and instances_w1 read feature_snapshots.
ETL_TABLES: tuple[str, ...] = ("feature_snapshots", "instances_modeling", "instances_w1", "activation_daily")
RAW_REQUIRED: tuple[str, ...] = ("evaluators", "daily_usage")


def etl_params(settings: Settings, as_of: dt.date) -> dict[str, object]:
    return {
        "as_of": as_of,
        "min_active_users": settings.activation_min_active_users,
        "min_sprints": settings.activation_min_sprints,
    }


def latest_data_date(warehouse: Warehouse) -> dt.date:
    """The last day telemetry covers: the default as-of date."""
    value = warehouse.query("SELECT max(usage_date) AS d FROM daily_usage").iloc[0, 0]
    if value is None or value != value:
        raise WarehouseError("daily_usage is empty: load raw tables with `churn ingest DIR` or `churn demo`")
    return value if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else value.date()


def run_etl(
    warehouse: Warehouse,
    settings: Settings,
    as_of: dt.date | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Assign the holdout to new arrivals, then build every modelling table as of `as_of` (default: the last
    day of telemetry); rows per table (holdout_assignments: how many were assigned by this run).

    Each table is swapped in atomically, and re-running with the same date rebuilds identical tables (the
    holdout assignments never change once made).
    """
    missing = [t for t in RAW_REQUIRED if not warehouse.table_exists(t)]
    if missing:
        raise WarehouseError(
            f"raw table(s) {', '.join(missing)} missing: load them with `churn ingest DIR` or `churn demo`"
        )
    as_of = as_of or latest_data_date(warehouse)
    params = etl_params(settings, as_of)
    if progress:
        progress(HOLDOUT_TABLE)
    rows: dict[str, int] = {HOLDOUT_TABLE: assign_holdout(warehouse, settings, as_of)}
    for table in ETL_TABLES:
        if progress:
            progress(table)
        rows[table] = warehouse.build_table(table, params)
    return rows
