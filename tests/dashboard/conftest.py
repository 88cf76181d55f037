"""Warehouses for the dashboard tests: one with score sets (and a hostile product name), and empty ones."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from churn_core.settings import Settings
from tests.conftest import DEMO_END, make_settings

HOSTILE_PRODUCT = '=HYPERLINK("http://evil.example/","click me")'
SCORE_DATES: tuple[dt.date, ...] = (DEMO_END - dt.timedelta(days=28), DEMO_END - dt.timedelta(days=1), DEMO_END)
APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def build_scored_home(home: Path, tables: dict[str, pd.DataFrame]) -> Settings:
    """Load the demo tables (every 15th evaluator's product renamed to a formula), then score three dates."""
    from churn_core.etl import run_etl
    from churn_core.ingest import load_raw
    from churn_core.warehouse import open_warehouse
    from tests.dashboard.scoreset import fabricate_scores

    settings = make_settings(home, tuning_budget_seconds=5.0)
    raw = {k: v.copy() for k, v in tables.items() if k != "demo_truth"}
    evaluators = raw["evaluators"]
    evaluators.loc[evaluators["instance"] % 15 == 0, "product"] = HOSTILE_PRODUCT
    warehouse = open_warehouse(settings)
    load_raw(warehouse, raw, {"demo_truth": tables["demo_truth"]})
    run_etl(warehouse, settings, DEMO_END)
    fabricate_scores(warehouse, settings, list(SCORE_DATES))
    return settings


@pytest.fixture(scope="session")
def scored_home(tmp_path_factory: pytest.TempPathFactory, small_tables: dict[str, pd.DataFrame]) -> Settings:
    """A small warehouse with three score sets; treat it as read-only."""
    return build_scored_home(tmp_path_factory.mktemp("scored_home"), small_tables)


@pytest.fixture()
def empty_home(tmp_path: Path) -> Settings:
    """A fresh CHURN_HOME: no warehouse at all."""
    return make_settings(tmp_path / "fresh")
