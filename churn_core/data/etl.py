"""Build the modelling tables from the raw tables with the SQL in churn_core/sql/, in dependency order, after
giving every new arrival its holdout assignment (churn_core.data.holdout), which the tables carry as
control_group."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd

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


def data_span(warehouse: Warehouse) -> tuple[dt.date, dt.date]:
    """The first evaluation's start and the last day telemetry covers: the dates the ETL may be built as of."""
    row = warehouse.run("data_span").iloc[0]
    if any(v is None or v != v for v in row):
        raise WarehouseError(
            "daily_usage or evaluators is empty: load raw tables with `churn ingest DIR` or `churn demo`"
        )
    first, last = (pd.Timestamp(v).date() for v in (row["first_day"], row["last_day"]))
    return first, last


def latest_data_date(warehouse: Warehouse) -> dt.date:
    """The last day telemetry covers: the default as-of date."""
    return data_span(warehouse)[1]


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
    first, last = data_span(warehouse)
    as_of = as_of or last
    if not first <= as_of <= last:
        raise WarehouseError(
            f"--as-of {as_of} is outside the data, which covers {first} to {last}: choose a date in that span "
            "(a later date would make a set that stays the latest with impossible days of trial; an earlier one, "
            "empty tables)"
        )
    params = etl_params(settings, as_of)
    if progress:
        progress(HOLDOUT_TABLE)
    rows: dict[str, int] = {HOLDOUT_TABLE: assign_holdout(warehouse, settings, as_of)}
    for table in ETL_TABLES:
        if progress:
            progress(table)
        rows[table] = warehouse.build_table(table, params)
    return rows
