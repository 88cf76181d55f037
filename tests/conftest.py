"""Shared fixtures: a small generated warehouse, built once per test session."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from churn_core.settings import Settings, load_settings

SMALL_EVALUATORS = 3_000
DEMO_END = dt.date(2026, 11, 26)


def make_settings(home: Path, **overrides: object) -> Settings:
    """Settings for a test: defaults only (no user environment or churn.toml), CHURN_HOME in tmp."""
    return load_settings(env={}, config=home / "absent.toml", home=home, **overrides)


@pytest.fixture(scope="session")
def small_tables() -> dict[str, pd.DataFrame]:
    """Demo raw tables for 3,000 evaluators (fresh copies are up to the test)."""
    from churn_core.data.synthetic import generate

    return generate(SMALL_EVALUATORS, days=90, seed=11, end_date=DEMO_END)


@pytest.fixture(scope="session")
def etl_home(tmp_path_factory: pytest.TempPathFactory, small_tables: dict[str, pd.DataFrame]) -> Settings:
    """A warehouse with the small demo loaded and the modelling tables built. Treat it as read-only."""
    from churn_core.data.etl import run_etl
    from churn_core.data.ingest import load_raw
    from churn_core.warehouse import open_warehouse

    settings = make_settings(tmp_path_factory.mktemp("etl_home"), tuning_budget_seconds=5.0)
    tables = {k: v for k, v in small_tables.items() if k != "demo_truth"}
    warehouse = open_warehouse(settings)
    load_raw(warehouse, tables, {"demo_truth": small_tables["demo_truth"]})
    run_etl(warehouse, settings, DEMO_END)
    return settings
