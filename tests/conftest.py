"""Shared fixtures: small generated warehouses, built once per test session.

`etl_home` holds the small demo and the modelling tables. `scored_home` is built the way production builds
it: the small demo is loaded (every 15th evaluator's product renamed to a spreadsheet formula), the
modelling tables are built as of 28 days before the data ends, the `seed` profile is trained and promoted,
and that set is scored; then the tables are rebuilt and scored for the day before the end and for the end.
So there are three score sets, and the oldest one has outcomes known since (realised performance).
`tuned_home` is built the same way with the demo's `tuned` profile (derived features and categories).

The fixtures import the pipeline when they build (XGBoost and scikit-learn take a second to import): tests
that need no warehouse start without it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from churn_core.settings import Settings, load_settings

SMALL_EVALUATORS = 3_000
DEMO_END = dt.date(2026, 11, 26)
HOSTILE_PRODUCT = '=HYPERLINK("http://evil.example/","click me")'
SCORE_DATES: tuple[dt.date, ...] = (
    DEMO_END - dt.timedelta(days=28),
    DEMO_END - dt.timedelta(days=1),
    DEMO_END,
)


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


def build_scored_home(home: Path, tables: dict[str, pd.DataFrame], profile: str = "seed") -> Settings:
    """Load `tables` (with hostile product names), train `profile` on the first date, score every date."""
    from churn_core.data.etl import run_etl
    from churn_core.data.ingest import load_raw
    from churn_core.model.registry import Registry
    from churn_core.model.train import train_candidate
    from churn_core.scoring.score import score_evaluators
    from churn_core.warehouse import open_warehouse

    settings = make_settings(home, tuning_budget_seconds=5.0)
    raw = {k: v.copy() for k, v in tables.items() if k != "demo_truth"}
    evaluators = raw["evaluators"]
    evaluators.loc[evaluators["instance"] % 15 == 0, "product"] = HOSTILE_PRODUCT
    warehouse = open_warehouse(settings)
    load_raw(warehouse, raw, {"demo_truth": tables["demo_truth"]})
    for i, day in enumerate(SCORE_DATES):
        run_etl(warehouse, settings, day)
        if i == 0:
            registry = Registry(settings)
            registry.promote(train_candidate(warehouse, settings, profile).version)
        score_evaluators(warehouse, settings, Registry(settings).load("champion"), day)
    return settings


@pytest.fixture(scope="session")
def scored_home(tmp_path_factory: pytest.TempPathFactory, small_tables: dict[str, pd.DataFrame]) -> Settings:
    """A small warehouse with three score sets from the trained champion; treat it as read-only."""
    return build_scored_home(tmp_path_factory.mktemp("scored_home"), small_tables)


@pytest.fixture(scope="session")
def tuned_home(tmp_path_factory: pytest.TempPathFactory, small_tables: dict[str, pd.DataFrame]) -> Settings:
    """The same, scored by the `tuned` profile (the demo's): derived features (ratios of counts), seats,
    value and categories are model inputs too. Treat it as read-only."""
    return build_scored_home(tmp_path_factory.mktemp("tuned_home"), small_tables, "tuned")


@pytest.fixture(scope="session")
def model_version(scored_home: Settings) -> str:
    from churn_core.model.registry import Registry

    return Registry(scored_home).load("champion").version


@pytest.fixture()
def empty_home(tmp_path: Path) -> Settings:
    """A fresh CHURN_HOME: no warehouse at all."""
    return make_settings(tmp_path / "fresh")
