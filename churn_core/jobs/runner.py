"""Run one job: its steps in order under the job lock, with history, retries, logs and alerts.

What keeps the product whole when a run fails or is killed:
- only one job runs at a time (an flock under CHURN_HOME that dies with its process);
- each step writes its result atomically and deletes nothing before the new thing is complete, so a run
  that stops anywhere leaves the previous model and score set in service;
- job_runs gets a start row before and an outcome row after every run and step; runs whose process died
  are closed as 'interrupted' by the next run (and read that way before then);
- a step that fails with a transient warehouse error is retried with backoff; any other failure ends the
  run, is recorded with its reason, sent to the alert hooks, and raised as JobFailed (exit status 1).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from churn_core.errors import ChurnError
from churn_core.jobs import history
from churn_core.jobs.alerts import alert_payload, send_alert
from churn_core.jobs.history import RUN, RunRecord, utc_now
from churn_core.jobs.locks import jobs_lock
from churn_core.jobs.logs import LOGGER_NAME, configure_job_logging, redact, redacted, secret_values
from churn_core.settings import Settings
from churn_core.warehouse import Warehouse, WarehouseError, open_warehouse

log = logging.getLogger(LOGGER_NAME)

# Messages of warehouse errors worth retrying: lock waits, throttling, a service briefly unavailable.
_TRANSIENT_HINTS: tuple[str, ...] = (
    "could not set lock",
    "cannot open the warehouse",
    "conflicting lock",
    "throttl",
    "rate exceeded",
    "slow down",
    "slowdown",
    "too many requests",
    "toomanyrequests",
    "service unavailable",
    "serviceunavailable",
    "temporarily unavailable",
    "internalerror",
    "timed out",
)
# The job lock is polled at least this long, so a reader probing it cannot make a run fail to start.
MIN_LOCK_WAIT_SECONDS = 1.0


class JobFailed(ChurnError):
    """A job run failed; the message names the job, run id, step and reason. Nothing was left half-done."""

    def __init__(self, message: str, result: JobResult) -> None:
        super().__init__(message)
        self.result = result


class Stopped(BaseException):
    """Raised in the main thread by a SIGTERM handler to abandon the running step (see StopSignal)."""


class StopSignal:
    """Turns SIGTERM into a clean stop: raise at once while a step runs (its writes are atomic, so
    abandoning it is safe), otherwise only note the request and stop at the next step boundary, so the
    history and lock bookkeeping are never cut short."""

    def __init__(self) -> None:
        self.requested = False
        self.reason = ""
        self._interruptible = False

    def request(self, reason: str) -> bool:
        """Note a stop; True when the caller (a signal handler) should raise Stopped now."""
        self.requested, self.reason = True, reason
        return self._interruptible

    def check(self) -> None:
        if self.requested:
            raise Stopped(self.reason)

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        self.check()
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False

    def reset(self) -> None:
        self.requested, self.reason, self._interruptible = False, "", False


STOP = StopSignal()


@dataclass
class StepOutcome:
    """What a step reports for the history: rows read and written, the model involved, a note."""

    rows_in: int | None = None
    rows_out: int | None = None
    model_version: str | None = None
    detail: str | None = None


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


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying: marked `transient` by the adapter, lock waits, throttling, network blips."""
    marked = getattr(exc, "transient", None)
    if marked is not None:
        return bool(marked)
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    if isinstance(exc, WarehouseError):
        text = str(exc).lower()
        return any(hint in text for hint in _TRANSIENT_HINTS)
    return False


def execute_job(
    job: str,
    steps: Steps,
    settings: Settings,
    *,
    as_of: dt.date | None = None,
    launched_by: str = "manual",
    lock_wait_seconds: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> JobResult:
    """Run `steps` as job `job` now; return the result, or raise JobFailed (recorded and alerted),
    LockBusy (another job runs; nothing recorded) or Stopped (SIGTERM; recorded as interrupted)."""
    configure_job_logging(settings)
    secrets = secret_values(settings)
    run_id = new_run_id(job)
    fields = {"job": job, "run_id": run_id}
    lock = jobs_lock(settings)
    with STOP.interruptible():  # a stop while waiting for another job ends the wait
        lock.acquire(
            max(lock_wait_seconds, MIN_LOCK_WAIT_SECONDS),
            {"job": job, "run_id": run_id, "started_at": utc_now().isoformat()},
        )
    with lock:
        warehouse = open_warehouse(settings)
        started = utc_now()
        head = RunRecord(run_id, job, RUN, launched_by, started, "running")
        results: list[StepResult] = []
        failure: tuple[str, str, str] | None = None  # (status, step, error)
        try:
            _retrying(lambda: _close_interrupted(warehouse, settings), settings, sleep, fields)
            _retrying(lambda: history.record(warehouse, head), settings, sleep, fields)
            log.info("run started (%s)", launched_by, extra={**fields, "status": "running"})
            context = JobContext(job, run_id, settings, warehouse, as_of)
            for name, function in steps:
                STOP.check()
                step_result = _run_step(context, name, function, launched_by, sleep, secrets)
                results.append(step_result)
                if step_result.status != "succeeded":
                    failure = (step_result.status, name, step_result.error or "")
                    break
        except Stopped as exc:
            failure = ("interrupted", "", f"stopped: {exc}")
        except Exception as exc:  # history could not be written: still report and alert
            failure = ("failed", "", redact(_message(exc), secrets))
        ended = utc_now()
        outcome = _run_outcome(results)
        status, failed_step, error = failure or ("succeeded", None, None)
        result = JobResult(job, run_id, status, started, ended, tuple(results), error, failed_step)
        try:
            _retrying(
                lambda: history.record(
                    warehouse,
                    replace(
                        head,
                        status=status,
                        ended_at=ended,
                        rows_in=outcome.rows_in,
                        rows_out=outcome.rows_out,
                        model_version=result.model_version,
                        bytes_scanned=_total_bytes(results),
                        error=error,
                        detail=outcome.detail,
                        attempts=None,
                    ),
                ),
                settings,
                sleep,
                fields,
            )
        except Exception as exc:
            log.error("could not record the end of the run: %s", redact(_message(exc), secrets), extra=fields)
    seconds = (ended - started).total_seconds()
    level = logging.INFO if status == "succeeded" else logging.ERROR
    log.log(
        level,
        "run %s",
        status,
        extra={
            **fields,
            "status": status,
            "duration_s": round(seconds, 3),
            "rows_in": outcome.rows_in,
            "rows_out": outcome.rows_out,
            "model_version": result.model_version,
            "error": error,
        },
    )
    if status == "failed":
        send_alert(
            settings,
            alert_payload(
                settings,
                job,
                run_id,
                status,
                error,
                step=failed_step or None,
                started_at=started.isoformat() + "Z",
                ended_at=ended.isoformat() + "Z",
            ),
        )
    if status == "interrupted":
        raise Stopped(error or "stopped")
    if status == "failed":
        where = f" at step {failed_step}" if failed_step else ""
        raise JobFailed(
            f"{job} run {run_id} failed{where}: {error}. The previous model and scores are still in service.", result
        )
    return result


def _run_step(
    context: JobContext,
    name: str,
    function: StepFunction,
    launched_by: str,
    sleep: Callable[[float], None],
    secrets: list[str],
) -> StepResult:
    settings, warehouse = context.settings, context.warehouse
    fields = {"job": context.job, "run_id": context.run_id, "step": name}
    head = RunRecord(context.run_id, context.job, name, launched_by, utc_now(), "running")
    _retrying(lambda: history.record(warehouse, head), settings, sleep, fields)
    log.info("step started", extra={**fields, "status": "running"})
    bytes_before = _bytes_scanned(warehouse)
    started = time.monotonic()
    attempts, status, error = 0, "failed", None
    outcome = StepOutcome()
    try:
        while True:
            attempts += 1
            try:
                with STOP.interruptible():
                    outcome = function(context) or StepOutcome()
                status = "succeeded"
                break
            except Exception as exc:
                error = redact(_message(exc), secrets)
                if not is_transient(exc) or attempts > settings.job_retries:
                    break
                delay = settings.job_retry_backoff_seconds * 2 ** (attempts - 1)
                log.warning(
                    "transient error, retrying in %.1fs", delay, extra={**fields, "attempt": attempts, "error": error}
                )
                with STOP.interruptible():
                    sleep(delay)
    except Stopped as exc:
        status, error = "interrupted", f"stopped: {exc}"
    seconds = time.monotonic() - started
    scanned = _bytes_scanned(warehouse)
    scanned = scanned - bytes_before if scanned is not None and bytes_before is not None else None
    _retrying(
        lambda: history.record(
            warehouse,
            replace(
                head,
                status=status,
                ended_at=utc_now(),
                attempts=attempts,
                rows_in=outcome.rows_in,
                rows_out=outcome.rows_out,
                model_version=outcome.model_version,
                bytes_scanned=scanned,
                error=error if status != "succeeded" else None,
                detail=outcome.detail,
            ),
        ),
        settings,
        sleep,
        fields,
    )
    level = logging.INFO if status == "succeeded" else logging.ERROR
    log.log(
        level,
        "step %s%s",
        status,
        f": {outcome.detail}" if outcome.detail else "",
        extra={
            **fields,
            "status": status,
            "attempt": attempts,
            "duration_s": round(seconds, 3),
            "rows_in": outcome.rows_in,
            "rows_out": outcome.rows_out,
            "model_version": outcome.model_version,
            "bytes_scanned": scanned,
            "error": error if status != "succeeded" else None,
        },
    )
    return StepResult(name, status, seconds, attempts, outcome, error if status != "succeeded" else None, scanned)


def _close_interrupted(warehouse: Warehouse, settings: Settings) -> None:
    """Record 'interrupted' for runs and steps whose process died before recording an end, and alert.

    Called with the job lock held, so no other run is in progress: every open run is dead.
    """
    open_runs = history.open_runs(warehouse)
    if open_runs.empty:
        return
    now = utc_now()
    error = "interrupted: the process ended before recording an outcome (killed, crashed or the machine stopped)"
    history.record(
        warehouse,
        *[
            RunRecord(
                str(r.run_id),
                str(r.job),
                str(r.step),
                str(r.launched_by),
                r.started_at.to_pydatetime() if hasattr(r.started_at, "to_pydatetime") else r.started_at,
                "interrupted",
                ended_at=now,
                error=error,
            )
            for r in open_runs.itertuples(index=False)
        ],
    )
    for r in open_runs[open_runs["step"] == RUN].itertuples(index=False):
        log.error(
            "run found interrupted", extra={"job": r.job, "run_id": r.run_id, "status": "interrupted", "error": error}
        )
        send_alert(
            settings,
            alert_payload(
                settings, str(r.job), str(r.run_id), "interrupted", error, started_at=f"{r.started_at.isoformat()}Z"
            ),
        )


def _retrying(
    work: Callable[[], Any], settings: Settings, sleep: Callable[[float], None], fields: dict[str, Any]
) -> Any:
    """`work()`, retried like a step when it fails with a transient error (history writes, bookkeeping)."""
    for attempt in range(1, settings.job_retries + 2):
        try:
            return work()
        except Exception as exc:
            if not is_transient(exc) or attempt > settings.job_retries:
                raise
            delay = settings.job_retry_backoff_seconds * 2 ** (attempt - 1)
            log.warning(
                "transient error, retrying in %.1fs",
                delay,
                extra={**fields, "attempt": attempt, "error": redacted(_message(exc), settings)},
            )
            sleep(delay)
    raise AssertionError("unreachable")


def _run_outcome(results: list[StepResult]) -> StepOutcome:
    """A run's summary: rows read by its first step, rows written by its last, notes of every step."""
    done = [r for r in results if r.status == "succeeded"]
    notes = "; ".join(f"{r.step}: {r.outcome.detail}" for r in results if r.outcome.detail)
    return StepOutcome(
        rows_in=done[0].outcome.rows_in if done else None,
        rows_out=done[-1].outcome.rows_out if done else None,
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
