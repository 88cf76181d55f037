"""Run one job: its steps in order under the job lock, with history, retries, logs and alerts.

What keeps the product whole when a run fails or is killed:
- only one job runs at a time (an flock under CHURN_HOME that dies with its process);
- each step writes its result atomically and deletes nothing before the new thing is complete, so a run
  that stops anywhere leaves the previous model and score set in service;
- job_runs gets a start row before and an outcome row after every run and step; runs whose process died
  are closed as 'interrupted' by the next run (and read that way before then);
- a step that fails with a TransientError is retried with backoff; any other failure ends the run, is
  recorded with its reason, sent to the alert hooks, and raised as JobFailed (exit status 1).

Who retries what: each layer retries one kind of failure on its own time scale, and only failures the
code that knows marked transient (churn_core.errors.TransientError), never guessed from message words:
- the AWS layer (churn_core.warehouse) retries one API call that was throttled or met a passing server
  error, within seconds, and raises a TransientError when that did not pass;
- this runner retries a step, and its own job_runs writes, that raised a TransientError (that, or a
  warehouse file another process holds for a moment), settings.job_retries times, waiting a backoff that
  doubles from settings.job_retry_backoff_seconds; any other error fails the run at once;
- Airflow (airflow/churn_dag.py) retries a whole failed run 10 minutes later, for what no step retry
  mends (a lost worker, an outage longer than the step backoff). `churn scheduler` does not retry a run:
  the next cron fire runs the job again.
So a call throttled throughout is tried at most AWS attempts x (job_retries + 1) times per Airflow try,
at growing intervals, and an error that cannot pass (a bad query, access denied) ends the run at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from churn_core.errors import ChurnError, TransientError
from churn_core.jobs import history
from churn_core.jobs.alerts import Alert, send_alert
from churn_core.jobs.history import RUN, RunRecord, utc_now
from churn_core.jobs.locks import LockBusy, jobs_lock
from churn_core.jobs.logs import LOGGER_NAME, configure_job_logging
from churn_core.jobs.stop import STOP, Stopped
from churn_core.secrets import redact, secret_values
from churn_core.settings import Settings
from churn_core.warehouse import Warehouse, open_warehouse

log = logging.getLogger(LOGGER_NAME)

# The job lock is polled at least this long, so a reader probing it cannot make a run fail to start.
MIN_LOCK_WAIT_SECONDS = 1.0
Sleep = Callable[[float], None]


class JobFailed(ChurnError):
    """A job run failed; the message names the job, run id, step and reason. Nothing was left half-done."""

    def __init__(self, message: str, result: JobResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class StepOutcome:
    """What a step reports for the history: rows read and written, the model involved, a note; and a warning
    for someone to act on although the step succeeded (sent to the alert hooks with status 'warning')."""

    rows_in: int | None = None
    rows_out: int | None = None
    model_version: str | None = None
    detail: str | None = None
    warning: str | None = None


@dataclass
class JobContext:
    """What every step gets: settings, the warehouse, the as-of date and a scratch dict between steps."""

    job: str
    run_id: str
    settings: Settings
    warehouse: Warehouse
    as_of: dt.date | None = None
    state: dict[str, Any] = field(default_factory=dict)


StepFunction = Callable[[JobContext], StepOutcome | None]
Steps = Sequence[tuple[str, StepFunction]]


@dataclass(frozen=True)
class StepResult:
    step: str
    status: str
    seconds: float
    attempts: int
    outcome: StepOutcome
    error: str | None = None
    bytes_scanned: int | None = None


@dataclass(frozen=True)
class JobResult:
    job: str
    run_id: str
    status: str  # succeeded, failed or interrupted
    started_at: dt.datetime
    ended_at: dt.datetime
    steps: tuple[StepResult, ...]
    error: str | None = None
    failed_step: str | None = None

    @property
    def model_version(self) -> str | None:
        versions = [s.outcome.model_version for s in self.steps if s.outcome.model_version]
        return versions[-1] if versions else None


def new_run_id(job: str) -> str:
    return f"{job}-{utc_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def _retry_policy(
    settings: Settings, fields: dict[str, Any], secrets: list[str], sleep: Sleep = time.sleep
) -> Retrying:
    """The runner's one retry policy: a TransientError, and nothing else, is tried again settings.job_retries
    times, `sleep`ing a backoff that doubles from settings.job_retry_backoff_seconds; each retry is logged."""

    def warn(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "transient error, retrying in %.1fs",
            state.upcoming_sleep,
            extra={**fields, "attempt": state.attempt_number, "error": redact(_message(exc), secrets) if exc else None},
        )

    return Retrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop_after_attempt(settings.job_retries + 1),
        wait=wait_exponential(multiplier=settings.job_retry_backoff_seconds),
        sleep=sleep,
        before_sleep=warn,
        reraise=True,
    )


@dataclass(frozen=True)
class _Ending:
    """How a run ended: its status, and for a run that did not succeed the step it stopped at and why."""

    status: str = "succeeded"
    step: str | None = None
    error: str | None = None


def execute_job(
    job: str,
    steps: Steps,
    settings: Settings,
    *,
    as_of: dt.date | None = None,
    launched_by: str = "manual",
    lock_wait_seconds: float = 0.0,
    sleep: Sleep = time.sleep,
) -> JobResult:
    """Run `steps` as job `job` now; return the result, or raise JobFailed (recorded and alerted),
    LockBusy (another job runs; nothing recorded) or Stopped (SIGTERM; recorded as interrupted)."""
    configure_job_logging(settings)
    secrets = secret_values(settings)
    run_id = new_run_id(job)
    retry = _retry_policy(settings, {"job": job, "run_id": run_id}, secrets, sleep)
    lock = jobs_lock(settings)
    with STOP.interruptible():  # a stop while waiting for another job ends the wait
        wait = max(lock_wait_seconds, MIN_LOCK_WAIT_SECONDS)
        try:
            lock.acquire(wait, job=job, run_id=run_id, started_at=utc_now().isoformat())
        except LockBusy as exc:
            _record_refusal(settings, RunRecord(run_id, job, RUN, launched_by, utc_now(), "refused"), exc, secrets)
            raise
    with lock:
        context = JobContext(job, run_id, settings, open_warehouse(settings), as_of)
        head = RunRecord(run_id, job, RUN, launched_by, utc_now(), "running")
        results, ending = _run_steps(context, steps, head, retry, secrets, sleep)
        result = JobResult(
            job, run_id, ending.status, head.started_at, utc_now(), tuple(results), ending.error, ending.step
        )
        _record_end(context.warehouse, head, result, retry, secrets)
    _log_end(result)
    _report_warnings(settings, result)
    if result.status != "succeeded":
        _report_failure(settings, result)
    return result


def _record_refusal(settings: Settings, head: RunRecord, exc: LockBusy, secrets: list[str]) -> None:
    """A run refused because another job held the lock, in job_runs (one row); logged, never raised."""
    refused = replace(head, ended_at=head.started_at, error=redact(str(exc), secrets))
    try:
        history.record(open_warehouse(settings), refused)
    except Exception as failure:  # the refusal itself is what the caller reports
        log.error("could not record the refused run: %s", redact(_message(failure), secrets))
    log.warning("run refused: %s", refused.error, extra={"job": head.job, "run_id": head.run_id, "status": "refused"})


def _report_warnings(settings: Settings, result: JobResult) -> None:
    """Alert each step that succeeded with a warning (e.g. telemetry has stopped arriving)."""
    for step in result.steps:
        if step.status == "succeeded" and step.outcome.warning:
            _alert(settings, result, "warning", step.outcome.warning, step.step)


def _alert(settings: Settings, result: JobResult, status: str, message: str | None, step: str | None) -> None:
    started_at, ended_at = result.started_at.isoformat() + "Z", result.ended_at.isoformat() + "Z"
    alert = Alert.of(
        settings, result.job, result.run_id, status, message, step=step, started_at=started_at, ended_at=ended_at
    )
    send_alert(settings, alert)


def _report_failure(settings: Settings, result: JobResult) -> None:
    """Alert a failed run, then raise: JobFailed for a failure, Stopped for a run stopped by a signal."""
    if result.status == "interrupted":
        raise Stopped(result.error or "stopped")
    _alert(settings, result, result.status, result.error, result.failed_step)
    where = f" at step {result.failed_step}" if result.failed_step else ""
    raise JobFailed(
        f"{result.job} run {result.run_id} failed{where}: {result.error}. "
        "The previous model and scores are still in service.",
        result,
    )


def _run_steps(
    context: JobContext, steps: Steps, head: RunRecord, retry: Retrying, secrets: list[str], sleep: Sleep
) -> tuple[list[StepResult], _Ending]:
    """Close runs left open by dead processes, record the run's start, then run the steps in order until
    one does not succeed; the results of the steps that ran, and how the run ended."""
    results: list[StepResult] = []
    try:
        _close_interrupted(context.warehouse, context.settings, retry)
        retry(history.record, context.warehouse, head)
        fields = {"job": head.job, "run_id": head.run_id, "status": "running"}
        log.info("run started (%s)", head.launched_by, extra=fields)
        for name, function in steps:
            STOP.check()
            results.append(_run_step(context, name, function, head.launched_by, secrets, sleep))
            if results[-1].status != "succeeded":
                return results, _Ending(results[-1].status, name, results[-1].error or "")
    except Stopped as exc:
        return results, _Ending("interrupted", None, f"stopped: {exc}")
    except Exception as exc:  # history could not be written: still report and alert
        return results, _Ending("failed", None, redact(_message(exc), secrets))
    return results, _Ending()


def _record_end(warehouse: Warehouse, head: RunRecord, result: JobResult, retry: Retrying, secrets: list[str]) -> None:
    """Append the run's outcome row; a failure to do so is logged, never raised (the run has ended)."""
    outcome = _run_outcome(list(result.steps))
    end = replace(
        head,
        status=result.status,
        ended_at=result.ended_at,
        rows_in=outcome.rows_in,
        rows_out=outcome.rows_out,
        model_version=result.model_version,
        bytes_scanned=_total_bytes(list(result.steps)),
        error=result.error,
        detail=outcome.detail,
    )
    try:
        retry(history.record, warehouse, end)
    except Exception as exc:
        fields = {"job": head.job, "run_id": head.run_id}
        log.error("could not record the end of the run: %s", redact(_message(exc), secrets), extra=fields)


def _log_end(result: JobResult) -> None:
    outcome = _run_outcome(list(result.steps))
    log.log(
        logging.INFO if result.status == "succeeded" else logging.ERROR,
        "run %s",
        result.status,
        extra={
            "job": result.job,
            "run_id": result.run_id,
            "status": result.status,
            "duration_s": round((result.ended_at - result.started_at).total_seconds(), 3),
            "rows_in": outcome.rows_in,
            "rows_out": outcome.rows_out,
            "model_version": result.model_version,
            "error": result.error,
        },
    )


def _run_step(
    context: JobContext, name: str, function: StepFunction, launched_by: str, secrets: list[str], sleep: Sleep
) -> StepResult:
    """One step: its start row, its attempts (a TransientError is retried), its outcome row and log line."""
    warehouse = context.warehouse
    fields = {"job": context.job, "run_id": context.run_id, "step": name}
    retry = _retry_policy(context.settings, fields, secrets, sleep)
    head = RunRecord(context.run_id, context.job, name, launched_by, utc_now(), "running")
    retry(history.record, warehouse, head)
    log.info("step started", extra={**fields, "status": "running"})
    bytes_before = _bytes_scanned(warehouse)
    started = time.monotonic()
    attempts = 0

    def attempt() -> StepOutcome:
        nonlocal attempts
        attempts += 1
        with STOP.interruptible():
            return function(context) or StepOutcome()

    def interruptible_sleep(seconds: float) -> None:
        with STOP.interruptible():
            sleep(seconds)

    try:
        outcome, status, error = retry.copy(sleep=interruptible_sleep)(attempt), "succeeded", None
    except Stopped as exc:
        outcome, status, error = StepOutcome(), "interrupted", f"stopped: {exc}"
    except Exception as exc:
        outcome, status, error = StepOutcome(), "failed", redact(_message(exc), secrets)
    scanned = _bytes_scanned(warehouse)
    scanned = scanned - bytes_before if scanned is not None and bytes_before is not None else None
    result = StepResult(name, status, time.monotonic() - started, attempts, outcome, error, scanned)
    end = replace(
        head,
        status=status,
        ended_at=utc_now(),
        attempts=attempts,
        rows_in=outcome.rows_in,
        rows_out=outcome.rows_out,
        model_version=outcome.model_version,
        bytes_scanned=scanned,
        error=error,
        detail=outcome.detail,
    )
    retry(history.record, warehouse, end)
    _log_step(result, fields)
    return result


def _log_step(result: StepResult, fields: dict[str, Any]) -> None:
    outcome = result.outcome
    if outcome.warning:
        log.warning("step warning: %s", outcome.warning, extra=fields)
    log.log(
        logging.INFO if result.status == "succeeded" else logging.ERROR,
        "step %s%s",
        result.status,
        f": {outcome.detail}" if outcome.detail else "",
        extra={
            **fields,
            "status": result.status,
            "attempt": result.attempts,
            "duration_s": round(result.seconds, 3),
            "rows_in": outcome.rows_in,
            "rows_out": outcome.rows_out,
            "model_version": outcome.model_version,
            "bytes_scanned": result.bytes_scanned,
            "error": result.error,
        },
    )


def _close_interrupted(warehouse: Warehouse, settings: Settings, retry: Retrying) -> None:
    """Close the runs whose process died before recording an end (see history.close_interrupted); alert each."""
    for run in retry(history.close_interrupted, warehouse):
        fields = {"job": run.job, "run_id": run.run_id, "status": run.status, "error": run.error}
        log.error("run found interrupted", extra=fields)
        started_at = f"{run.started_at.isoformat()}Z"
        send_alert(settings, Alert.of(settings, run.job, run.run_id, run.status, run.error, started_at=started_at))


def _run_outcome(results: list[StepResult]) -> StepOutcome:
    """A run's summary: rows read by its first step, rows written by the last that reports them, every note."""
    done = [r for r in results if r.status == "succeeded"]
    notes = "; ".join(f"{r.step}: {r.outcome.detail}" for r in results if r.outcome.detail)
    return StepOutcome(
        rows_in=done[0].outcome.rows_in if done else None,
        rows_out=next((r.outcome.rows_out for r in reversed(done) if r.outcome.rows_out is not None), None),
        detail=notes or None,
    )


def _bytes_scanned(warehouse: Warehouse) -> int | None:
    value = getattr(warehouse, "bytes_scanned", None)
    return int(value) if isinstance(value, int | float) else None


def _total_bytes(results: list[StepResult]) -> int | None:
    known = [r.bytes_scanned for r in results if r.bytes_scanned is not None]
    return sum(known) if known else None


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, ChurnError) else text
