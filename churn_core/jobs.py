"""Jobs: the pipeline steps wired together. Each step is a plain function of churn_core taking settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from churn_core.settings import Settings
from churn_core.warehouse import open_warehouse

T = TypeVar("T")
Step = Callable[[str, Callable[[], T]], T]


def _plain_step(label: str, work: Callable[[], T]) -> T:
    return work()


def run_demo(settings: Settings, step: Step = _plain_step) -> dict[str, Any]:
    """Generate demo data, load it through validation, and build the modelling tables."""
    from churn_core import synthetic
    from churn_core.etl import run_etl
    from churn_core.ingest import load_raw

    warehouse = open_warehouse(settings)
    tables = step(f"Generating {settings.demo_evaluators:,} demo evaluators", lambda: synthetic.generate(
        settings.demo_evaluators, days=settings.demo_days, seed=settings.demo_seed))
    truth = tables.pop("demo_truth")
    rows = step("Validating and loading raw tables", lambda: load_raw(warehouse, tables, {"demo_truth": truth}))
    rows.update(step("Building modelling tables (SQL)", lambda: run_etl(warehouse, settings)))
    return rows
