"""`churn demo`: the whole pipeline once on generated data, so the dashboard opens on a scored warehouse."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from churn_core.data import synthetic
from churn_core.data.etl import latest_data_date, run_etl
from churn_core.data.ingest import load_raw
from churn_core.model.registry import Registry
from churn_core.model.train import train_candidate
from churn_core.plays.assign import assign_plays
from churn_core.plays.recorded import record_demo_plays
from churn_core.scoring.explain import compile_kernels
from churn_core.scoring.score import Step, score_evaluators
from churn_core.settings import Settings
from churn_core.warehouse import open_warehouse

T = TypeVar("T")

DEMO_TUNING_SECONDS = 5.0  # the demo's hyper-parameter search budget (settings.tuning_budget_seconds caps it)


def _plain_step(label: str, work: Callable[[], T]) -> T:
    """Run one labelled piece of work without showing progress (the CLI passes one that shows it)."""
    return work()


def run_demo(settings: Settings, step: Step = _plain_step) -> dict[str, int]:
    """Generate demo data, load it through validation, build the modelling tables, train a model (profile
    tuned, short search), make it the champion, record the demo's contact plays, score every evaluator in trial
    and assign today's play lists; rows per table."""
    warehouse = open_warehouse(settings)
    # A machine's first SHAP kernels take seconds to compile: on another thread while the data are built
    kernels = threading.Thread(target=compile_kernels, args=(settings.kernel_cache_dir,), daemon=True)
    kernels.start()
    tables = step(
        f"Generating {settings.demo_evaluators:,} demo evaluators",
        lambda: synthetic.generate(
            settings.demo_evaluators,
            days=settings.demo_days,
            seed=settings.demo_seed,
            holdout_share=settings.holdout_share,
            holdout_salt=settings.holdout_salt,
            plays=True,
        ),
    )
    hidden = {name: tables.pop(name) for name in ("demo_truth", "demo_plays")}
    rows = step("Validating and loading raw tables", lambda: load_raw(warehouse, tables, hidden))
    rows.update(step("Building modelling tables (SQL)", lambda: run_etl(warehouse, settings)))
    quick = settings.with_overrides(tuning_budget_seconds=min(settings.tuning_budget_seconds, DEMO_TUNING_SECONDS))
    model = step("Training the model (profile tuned, short search)", lambda: train_candidate(warehouse, quick, "tuned"))
    registry = Registry(settings)
    # the demo data were just regenerated: its model replaces any earlier demo champion
    step(f"Promoting {model.version} to champion", lambda: registry.promote(model.version, force=True))
    champion = registry.load("champion")
    # before scoring: the channel uplift models learn from the plays' randomised arms
    rows["play_assignments"] = step(
        "Recording the demo's contact plays",
        lambda: record_demo_plays(warehouse, settings, champion, latest_data_date(warehouse)),
    )
    kernels.join()
    summary = step("Scoring every evaluator in trial", lambda: score_evaluators(warehouse, settings, champion))
    rows["evaluator_scores"] = summary.rows
    step("Assigning today's play lists", lambda: assign_plays(warehouse, settings, summary.as_of))
    return rows
