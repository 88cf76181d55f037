"""The model commands of `churn`: `score`, `train`, `evaluate` and `models list|show|promote`.

The model registry, training and scoring load XGBoost (about a second), so these commands import them when
they run, not at the top: `churn --help` and the commands that need no model do not pay for it.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from churn_core import views
from churn_core.access import actions
from churn_core.cli.common import console, guarded, progress_steps, settings, writing
from churn_core.model.card import ModelCard
from churn_core.model.datasets import Dataset, DatasetError, load_dataset, load_spec
from churn_core.plays.assign import assign_plays
from churn_core.settings import Settings
from churn_core.warehouse import open_warehouse

if TYPE_CHECKING:
    from churn_core.model.registry import Registry

models_app = typer.Typer(help="List, inspect and promote trained models.", no_args_is_help=True)


class Profile(StrEnum):
    seed = "seed"
    tuned = "tuned"


class CardFormat(StrEnum):
    json = "json"
    text = "text"


class ListFormat(StrEnum):
    json = "json"
    table = "table"


def _registry(settings: Settings, dataset: str = "evaluators") -> Registry:
    from churn_core.model.registry import Registry  # loads XGBoost: see the module docstring

    return Registry(settings, dataset)


def _spec_data(data: Path | None, spec: Path | None) -> Dataset | None:
    if (data is None) != (spec is None):
        raise DatasetError("--data and --spec go together: the spec says which column is the label")
    return None if data is None or spec is None else load_dataset(data, load_spec(spec))


def _fmt(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


@guarded
def score(
    as_of: Annotated[
        dt.datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="Score as of this date (default: the date instances_w1 was built for).",
        ),
    ] = None,
) -> None:
    """Score every evaluator in trial with the champion model: risk, reasons, whom to save and how."""
    from churn_core.scoring.score import score_evaluators  # loads XGBoost: see the module docstring

    s = settings()
    with writing("score", s), progress_steps() as step:
        model = _registry(s).load("champion")
        warehouse = open_warehouse(s)
        summary = score_evaluators(warehouse, s, model, as_of.date() if as_of else None, step)
        assigned = step("Assigning plays", lambda: assign_plays(warehouse, s, summary.as_of))
    console.print(
        f"Scored {summary.rows:,} evaluators as of {summary.as_of} with model {summary.model_version}: "
        f"{summary.predicted_churn:,} predicted to leave ({summary.high_risk:,} high risk), "
        f"{summary.worth_saving:,} in today's contact plan, {summary.might_swing:,} might swing, "
        f"{summary.held_out:,} held out to measure what contact achieves, value at risk "
        f"{summary.value_at_risk:,.0f}; drift alerts: {summary.drift_alerts}."
    )
    for note in summary.notes:
        console.print(f"[yellow]warning:[/] {escape(note)}", highlight=False, soft_wrap=True)
    for a in assigned:
        console.print(
            f"Play {escape(a.play)}: {a.treatment} to contact, {a.holdout} held out, {a.not_assigned} over capacity."
        )


@guarded
def train(
    profile: Annotated[
        Profile,
        typer.Option(
            help="seed: the talk's exact model. tuned: searched within tuning_budget_seconds; must beat seed."
        ),
    ] = Profile.tuned,
    continue_training: Annotated[
        bool, typer.Option("--continue", help="Boost the champion with the data it has not seen.")
    ] = False,
    force: Annotated[bool, typer.Option(help="Make the new model champion even if it is worse.")] = False,
    data: Annotated[Path | None, typer.Option(help="Train on this customer table (.csv/.parquet) ...")] = None,
    spec: Annotated[Path | None, typer.Option(help="... described by this dataset spec (.toml).")] = None,
    budget: Annotated[
        float | None, typer.Option(help="Most seconds the search may take (default: setting; it usually stops sooner).")
    ] = None,
) -> None:
    """Train a churn model, register it, and make it champion unless it is worse than the current one."""
    from churn_core.model.registry import RegistryError  # loads XGBoost: see the module docstring
    from churn_core.model.train import train_candidate

    s = settings()
    if budget is not None:
        s = s.with_overrides(tuning_budget_seconds=budget)
    dataset = _spec_data(data, spec)
    with writing("train", s):
        warehouse = open_warehouse(s, read_only=True) if dataset is None else None
        model = train_candidate(
            warehouse,
            s,
            profile.value,
            continue_training=continue_training,
            data=dataset,
            progress=lambda m: console.print(m),
        )
        registry = _registry(s, model.card.dataset)
        try:
            outcome = registry.promote(model.version, force=force)
            actions.record_promotion(open_warehouse(s), actions.operator("churn train"), outcome, force)
            promoted = f"{model.version} is the champion ({outcome.reason})"
        except RegistryError as exc:
            if not exc.refused:
                raise
            promoted = f"{model.version} registered, not promoted: {exc}"
    _print_summary(model.card)
    console.print(promoted)


@guarded
def evaluate(
    data: Annotated[Path, typer.Option(help="Customer table (.csv/.parquet).")],
    spec: Annotated[Path, typer.Option(help="Dataset spec (.toml) of the table.")],
    cv: Annotated[str, typer.Option(help="Folds x repeats of repeated stratified k-fold CV.")] = "5x3",
    profile: Annotated[Profile, typer.Option(help="Pipeline to evaluate.")] = Profile.tuned,
    budget: Annotated[
        float | None,
        typer.Option(help="Most search seconds per training fold (it stops sooner when it stops improving)."),
    ] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.table,
) -> None:
    """Cross-validate the whole pipeline on a customer table (the search runs inside each training fold)."""
    from churn_core.model.train import cross_validate  # loads XGBoost: see the module docstring

    try:
        splits, repeats = (int(v) for v in cv.lower().split("x"))
    except ValueError:
        raise DatasetError(f"--cv must look like 5x3 (folds x repeats), not {cv!r}") from None
    s = settings()
    result = cross_validate(_spec_data(data, spec), s, profile.value, splits=splits, repeats=repeats, budget=budget)
    if format is ListFormat.json:
        sys.stdout.write(json.dumps(result, indent=1) + "\n")
        return
    table = Table("metric", "mean", "sd", title=f"{result['dataset']}: {result['folds']} CV, {profile.value}")
    for name, value in result["metrics"].items():
        table.add_row(name, f"{value['mean']:.4f}", f"{value['sd']:.4f}")
    Console().print(table)
    Console().print(result["note"])


@models_app.command("list")
@guarded
def list_models(
    dataset: Annotated[str, typer.Option(help="Models of this dataset (spec name).")] = "evaluators",
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.table,
) -> None:
    """Every registered version, oldest first; the champion is marked."""
    listed = _registry(settings(), dataset).listing()
    if format is ListFormat.json:
        rows = [
            {
                "version": v.version,
                "champion": v.champion,
                "status": v.status,
                "profile": v.card.profile if v.card else None,
                "created_at": v.card.created_at if v.card else None,
                "threshold": v.card.threshold if v.card else None,
                "training_rows": v.card.training_rows if v.card else None,
                "roc_auc": v.card.metrics.get("roc_auc") if v.card else None,
            }
            for v in listed
        ]
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
        return
    table = Table("version", "champion", "profile", "created", "rows", "ROC AUC", "threshold", "status")
    for v in listed:
        card = v.card
        table.add_row(
            v.version,
            "*" if v.champion else "",
            card.profile if card else "",
            card.created_at if card else "",
            _fmt(card.training_rows if card else None),
            _fmt(card.metrics.get("roc_auc") if card else None),
            _fmt(card.threshold if card else None),
            v.status,
        )
    Console().print(table if listed else "No models yet: run `churn train`.")


@models_app.command("show")
@guarded
def show_model(
    version: Annotated[str, typer.Argument(help="A version (v0001) or 'champion'.")] = "champion",
    dataset: Annotated[str, typer.Option(help="Models of this dataset (spec name).")] = "evaluators",
    format: Annotated[CardFormat, typer.Option("--format", "-f", help="Output format.")] = CardFormat.text,
) -> None:
    """Print a model card: data, parameters, metrics with confidence intervals, per day and cohort."""
    s = settings()
    card = _registry(s, dataset).model_card(version)
    if format is CardFormat.json:
        sys.stdout.write(json.dumps(card.to_dict(), indent=1) + "\n")
        return
    _print_card(card)
    _print_channel_evidence(views.channel_evidence(open_warehouse(s, read_only=True), card.version))


@models_app.command("promote")
@guarded
def promote_model(
    version: Annotated[str, typer.Argument(help="The version to make champion.")],
    force: Annotated[bool, typer.Option(help="Promote even if it is worse than the champion.")] = False,
    dataset: Annotated[str, typer.Option(help="Models of this dataset (spec name).")] = "evaluators",
) -> None:
    """Make a version the champion if it is not worse than the current one on its held-out rows."""
    s = settings()
    with writing("models promote", s):
        user = actions.operator("churn models promote")
        outcome = actions.promote_model(s, open_warehouse(s), user, version, force, dataset)
    Console().print(f"{version} is the champion: {escape(outcome.reason)}")


# --- printing cards ---------------------------------------------------------------------------------------


def _print_channel_evidence(evidence: pd.DataFrame) -> None:
    """Each channel's observational estimate beside the contact plays' randomised one (newest score set)."""
    if evidence.empty:
        return
    table = Table("channel", "observational", "randomised (plays)", "randomised n", "uplift model learns from")
    for row in evidence.itertuples():
        table.add_row(
            row.label,
            _points(row.uplift, row.ci_low, row.ci_high),
            _points(row.randomised_uplift, row.randomised_low, row.randomised_high),
            f"{row.n_randomised:,}",
            row.learned_from or "-",
        )
    out = Console()
    out.print("\n[bold]Channel effects on retention[/] (newest score set of this model; 95% intervals)")
    out.print(table)


def _points(value: float, low: float, high: float) -> str:
    return "-" if pd.isna(value) else f"{value * 100:+.1f} pts [{low * 100:+.1f}, {high * 100:+.1f}]"


def _print_summary(card: ModelCard) -> None:
    out = Console()
    m = card.metrics
    interval = card.metrics_ci.get("roc_auc") or []
    out.print(
        f"[bold]{card.version}[/] ({card.profile}, {card.dataset}): held-out ROC AUC "
        f"{m['roc_auc']:.4f}"
        + (f" [{interval[0]:.4f}, {interval[1]:.4f}]" if interval else "")
        + f", PR AUC {m['pr_auc']:.4f}, Brier {m['brier']:.4f}, ECE {m['ece']:.4f}; threshold "
        f"{card.threshold:.3f} ({card.thresholds.rule})"
    )
    if card.metrics_by_day:
        by_day = card.metrics_by_day.items()
        out.print("ROC AUC by day of trial: " + ", ".join(f"{d}: {v['roc_auc']:.3f}" for d, v in by_day))
    seed = card.comparison.get("seed")
    if seed and seed.roc_auc is not None:
        out.print(f"seed profile on the same rows: ROC AUC {seed.roc_auc:.4f}")
    if card.oracle_roc_auc is not None:
        out.print(f"oracle (true probability) on the same rows: ROC AUC {card.oracle_roc_auc:.4f}")


def _print_card(card: ModelCard) -> None:
    out = Console()
    _print_training(out, card)
    _print_summary(card)
    _print_metrics(out, card)
    _print_groups(out, card)
    _print_lift_and_calibration(out, card)


def _print_training(out: Console, card: ModelCard) -> None:
    t = card.training
    out.print(
        f"[bold]Model {card.version}[/] · profile {card.profile} · dataset {card.dataset} · created {card.created_at}"
    )
    out.print(
        f"Trained on {t.rows:,} rows ({t.groups:,} "
        f"{'evaluators' if card.dataset == 'evaluators' else 'customers'}, churn rate "
        f"{t.churn_rate or 0:.1%}), {t.date_min or ''} .. {t.date_max or ''}; "
        f"fingerprint {(t.fingerprint or '')[:12]}"
    )
    out.print(f"Split: {json.dumps(card.split)}")
    out.print(f"Features ({len(card.features)}): {', '.join(card.features)}")
    if card.dropped_features:
        out.print("Dropped: " + "; ".join(f"{k} ({v})" for k, v in card.dropped_features.items()))
    out.print("Parameters: " + ", ".join(f"{k}={_fmt(v, 4)}" for k, v in card.params.items()))


def _print_metrics(out: Console, card: ModelCard) -> None:
    """Held-out metrics with their intervals, the confusion matrix and the classification report."""
    metrics = Table("metric", "value", "95% CI", title="Held-out metrics")
    for key in ("roc_auc", "pr_auc", "precision", "recall", "f1", "f2", "accuracy", "brier", "ece"):
        interval = card.metrics_ci.get(key)
        metrics.add_row(key, _fmt(card.metrics.get(key)), f"{interval[0]:.4f} .. {interval[1]:.4f}" if interval else "")
    out.print(metrics)
    (tn, fp), (fn, tp) = card.confusion_matrix
    confusion = Table("actual \\ predicted", "retained", "churned", title="Confusion matrix")
    confusion.add_row("retained", f"{tn:,}", f"{fp:,}")
    confusion.add_row("churned", f"{fn:,}", f"{tp:,}")
    out.print(confusion)
    report = Table("class", "precision", "recall", "f1-score", "support", title="Classification report")
    for name, row in card.classification_report.items():
        if isinstance(row, dict):
            report.add_row(
                name,
                *(_fmt(row.get(k), 3) for k in ("precision", "recall", "f1-score")),
                _fmt(row.get("support"), 0),
            )
    out.print(report)


def _print_groups(out: Console, card: ModelCard) -> None:
    """Metrics per day of trial and per cohort week."""
    for title, groups in (
        ("By day of trial", card.metrics_by_day),
        ("By cohort week", {r["cohort"]: r for r in card.metrics_by_cohort or []}),
    ):
        if groups:
            table = Table("group", "rows", "churn rate", "ROC AUC", "PR AUC", "F2", "Brier", "ECE", title=title)
            for key, m in groups.items():
                table.add_row(
                    key,
                    f"{m['rows']:,}",
                    _fmt(m.get("churn_rate"), 3),
                    _fmt(m.get("roc_auc")),
                    _fmt(m.get("pr_auc")),
                    _fmt(m.get("f2")),
                    _fmt(m.get("brier")),
                    _fmt(m.get("ece")),
                )
            out.print(table)


def _print_lift_and_calibration(out: Console, card: ModelCard) -> None:
    """The lift table, calibration, thresholds and the evaluation on other splits."""
    lift = Table("decile", "rows", "churn rate", "lift", "cumulative gain", title="Lift (riskiest first)")
    for row in card.lift:
        lift.add_row(
            str(row["decile"]),
            f"{row['rows']:,}",
            _fmt(row["churn_rate"], 3),
            _fmt(row["lift"], 2),
            _fmt(row["cumulative_gain"], 3),
        )
    out.print(lift)
    cal = card.calibration
    out.print(f"Calibration: {cal.method} (ECE {_fmt(cal.ece_uncalibrated)} before, {_fmt(cal.ece)} after)")
    th = card.thresholds
    out.print(f"Thresholds: F2 {_fmt(th.f2, 3)}; capacity {_fmt(th.capacity, 3)} for {th.capacity_per_week} per week")
    for name, ev in card.evaluation.items():
        out.print(
            f"Evaluation on the {name} split: ROC AUC {_fmt(ev.roc_auc)}, PR AUC {_fmt(ev.pr_auc)} on {ev.rows:,} rows"
        )
