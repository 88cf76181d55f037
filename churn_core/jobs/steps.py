"""The scheduled jobs: daily (telemetry -> etl -> score -> plays) and weekly (etl -> train -> evaluate -> promote ->
score -> plays).

Each step is a plain function of a JobContext (settings, warehouse, as-of date, scratch state) that returns
what it read and wrote for the history; churn_core.jobs.runner runs them under the job lock with job_runs
history, retries, logs and alerts. Every step writes atomically and deletes nothing before the new thing
is complete, so a run that stops anywhere leaves the previous model and score set in service.
"""

from __future__ import annotations

import datetime as dt

from churn_core.access.actions import operator, push_play_lists, record_promotion
from churn_core.data.etl import run_etl
from churn_core.data.freshness import telemetry_freshness
from churn_core.errors import ChurnError
from churn_core.jobs.runner import JobContext, JobResult, StepFunction, StepOutcome, execute_job
from churn_core.model.registry import Registry, RegistryError
from churn_core.model.train import train_candidate
from churn_core.plays.assign import assign_plays
from churn_core.scoring.score import score_evaluators
from churn_core.settings import Settings


def telemetry_step(context: JobContext) -> StepOutcome:
    """Check that telemetry still arrives; when its last day is older than settings.stale_after_days, the run
    goes on (scores on the data there is) and the alert hooks get a warning."""
    freshness = telemetry_freshness(context.warehouse, context.settings)
    return StepOutcome(detail=freshness.message, warning=freshness.message if freshness.stale else None)


def etl_step(context: JobContext) -> StepOutcome:
    """Rebuild the modelling tables from the raw tables (each swapped in atomically)."""
    rows = run_etl(context.warehouse, context.settings, context.as_of)
    return StepOutcome(rows_in=context.warehouse.count("evaluators"), rows_out=sum(rows.values()))


def train_step(context: JobContext) -> StepOutcome:
    """Train a candidate model and register it as a new version (the champion is untouched)."""
    candidate = train_candidate(context.warehouse, context.settings)
    context.state["candidate"] = candidate.version
    context.state["dataset"] = candidate.card.dataset
    return StepOutcome(
        rows_in=candidate.rows, model_version=candidate.version, detail=f"registered candidate {candidate.version}"
    )


def evaluate_step(context: JobContext) -> StepOutcome:
    """Compare the candidate with the champion on the candidate's held-out rows (writes nothing)."""
    comparison = Registry(context.settings, context.state["dataset"]).compare(context.state["candidate"])
    context.state["comparison"] = comparison
    return StepOutcome(rows_in=comparison.rows, model_version=comparison.candidate, detail=comparison.reason)


def promote_step(context: JobContext) -> StepOutcome:
    """Make the candidate the champion unless it is worse by more than settings.promotion_tolerance (one
    atomic alias write). A refused promotion is not a failure: the champion stays and scores."""
    registry = Registry(context.settings, context.state["dataset"])
    candidate = context.state["candidate"]
    comparison = context.state.get("comparison")
    try:
        if comparison is not None and not comparison.allowed:
            raise RegistryError(f"not promoted: {comparison.reason}", refused=True)
        record_promotion(context.warehouse, operator(f"{context.job} job"), registry.promote(candidate), False)
    except RegistryError as exc:
        if not exc.refused:
            raise
        champion = registry.champion_version()
        return StepOutcome(model_version=champion, detail=f"kept champion {champion}: {exc}")
    return StepOutcome(model_version=candidate, detail=f"promoted {candidate} to champion")


def score_step(context: JobContext) -> StepOutcome:
    """Score every evaluator with the champion and write the score set (one atomic write per as-of date)."""
    model = Registry(context.settings).load("champion")
    summary = score_evaluators(context.warehouse, context.settings, model, context.as_of)
    context.state["scored"] = summary.as_of
    detail = "; ".join((f"scored {summary.rows:,} evaluators as of {summary.as_of}", *summary.notes))
    return StepOutcome(rows_in=summary.rows, rows_out=summary.rows, model_version=summary.model_version, detail=detail)


def plays_step(context: JobContext) -> StepOutcome:
    """Randomise the evaluators newly eligible for each running play from the new score set (append-only:
    a re-run of the day adds nothing), then send each play's list to the plays webhook when one is set (audited);
    a batch the webhook did not take is a warning, not a failure: the list stays on the Plays page and in its
    export. Counts go in the detail: the run's rows stay the score set's."""
    assigned = assign_plays(context.warehouse, context.settings, context.state["scored"])
    pushed = push_play_lists(context.warehouse, context.settings, operator(f"{context.job} job"))
    detail = "; ".join(
        [f"{a.play}: {a.treatment} treatment, {a.holdout} holdout" for a in assigned]
        + [f"{d.play}: {d.contacts} sent to the webhook" for d in pushed if not d.error]
    )
    failed = "; ".join(f"play {d.play}'s list was not delivered: {d.error}" for d in pushed if d.error)
    return StepOutcome(detail=detail or "no play to assign", warning=failed or None)


JOBS: dict[str, tuple[tuple[str, StepFunction], ...]] = {
    "daily": (("telemetry", telemetry_step), ("etl", etl_step), ("score", score_step), ("plays", plays_step)),
    "weekly": (
        ("etl", etl_step),
        ("train", train_step),
        ("evaluate", evaluate_step),
        ("promote", promote_step),
        ("score", score_step),
        ("plays", plays_step),
    ),
}


def run_job(
    job: str,
    settings: Settings,
    *,
    as_of: dt.date | None = None,
    launched_by: str = "manual",
    lock_wait_seconds: float = 0.0,
) -> JobResult:
    """Run job `job` ("daily" or "weekly") now; raises JobFailed (recorded and alerted) when a step fails."""
    if job not in JOBS:
        raise ChurnError(f"unknown job {job!r}: choose {' or '.join(JOBS)}")
    return execute_job(
        job, JOBS[job], settings, as_of=as_of, launched_by=launched_by, lock_wait_seconds=lock_wait_seconds
    )
