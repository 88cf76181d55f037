"""`churn scheduler`: run the daily and weekly jobs on their cron schedules with APScheduler 3.

- Schedules come from settings (`score_cron` for daily, `train_cron` for weekly) in `settings.timezone`.
- Jobs run one at a time in the scheduler's own thread (APScheduler's DebugExecutor), under the job lock
  that `churn run` and Airflow take too; a second scheduler on the same CHURN_HOME refuses to start.
- A fire that comes due while another job runs still runs once when it finishes (coalesce, within
  settings.misfire_grace_seconds).
- Downtime: the time each job last fired is kept in CHURN_HOME/scheduler_state.json, written before
  the job starts. On start, a job whose cron fired since then is run once (a missed weekly covers a
  missed daily, since it scores too); the state then moves on, so a restart never runs it twice.
- SIGTERM (or Ctrl-C): a running step is abandoned (its writes are atomic), the run is recorded as
  interrupted, the locks are released and the process exits 0.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.date import DateTrigger

from churn_core.jobs.locks import LockBusy, scheduler_lock
from churn_core.jobs.logs import LOGGER_NAME, configure_job_logging
from churn_core.jobs.runner import JobFailed
from churn_core.jobs.schedule import JOB_CRONS, cron_trigger
from churn_core.jobs.steps import run_job
from churn_core.jobs.stop import STOP, Stopped
from churn_core.settings import Settings

STATE_FILE = "scheduler_state.json"
# A job that already covers another: a missed weekly run scores too, so it stands in for a missed daily.
COVERS: dict[str, tuple[str, ...]] = {"weekly": ("daily",)}

log = logging.getLogger(LOGGER_NAME)
JobRunner = Callable[[str, Settings, str], Any]


# --- last fire times ----------------------------------------------------------------------------------


def state_path(settings: Settings) -> Path:
    return settings.home / STATE_FILE


def read_state(settings: Settings) -> dict[str, dt.datetime]:
    """When each job last fired (aware UTC datetimes); empty before the scheduler first ran."""
    try:
        raw = json.loads(state_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out = {}
    for job, stamp in (raw.get("last_fired", {}) if isinstance(raw, dict) else {}).items():
        try:
            out[job] = dt.datetime.fromisoformat(stamp).astimezone(dt.UTC)
        except (TypeError, ValueError):
            continue
    return out


def mark_fired(settings: Settings, jobs: list[str] | tuple[str, ...], when: dt.datetime) -> None:
    """Record that `jobs` fired at `when`: written to a temporary file and renamed, so it is never torn."""
    state = read_state(settings)
    state.update({job: when.astimezone(dt.UTC) for job in jobs})
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump({"last_fired": {job: t.isoformat() for job, t in sorted(state.items())}}, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def missed_jobs(settings: Settings, now: dt.datetime) -> list[str]:
    """Jobs whose cron fired (at least once) after their last recorded fire and before `now`, to run once
    now; a job covered by another missed job is left out. Jobs never fired before are not caught up."""
    state = read_state(settings)
    missed = []
    for job in JOB_CRONS:
        last = state.get(job)
        if last is None:
            continue
        due = cron_trigger(settings, job).get_next_fire_time(None, last + dt.timedelta(seconds=1))
        if due is not None and due <= now:
            missed.append(job)
    covered = {c for job in missed for c in COVERS.get(job, ())}
    return [job for job in missed if job not in covered]


# --- the scheduler ------------------------------------------------------------------------------------


class _StoppableScheduler(BlockingScheduler):
    """BlockingScheduler that looks at the stop request at least every POLL_SECONDS and between jobs.

    The SIGTERM handler only notes the request (a signal handler must not take the scheduler's locks);
    the scheduler's own thread then shuts down outside any job, where APScheduler allows it.
    """

    POLL_SECONDS = 0.5

    def _process_jobs(self) -> float | None:
        if not STOP.requested:
            wait = super()._process_jobs()
            if not STOP.requested:
                return self.POLL_SECONDS if wait is None else min(wait, self.POLL_SECONDS)
        self.shutdown(wait=False)
        return None


def _run_job(job: str, settings: Settings, launched_by: str) -> Any:
    return run_job(job, settings, launched_by=launched_by, lock_wait_seconds=settings.misfire_grace_seconds)


class ChurnScheduler:
    """A BlockingScheduler with the two cron jobs, catch-up after downtime and a clean SIGTERM stop."""

    def __init__(
        self,
        settings: Settings,
        run: JobRunner = _run_job,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.settings = settings
        self.run = run
        self.clock = clock
        self.scheduler = _StoppableScheduler(
            executors={"default": DebugExecutor()},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": settings.misfire_grace_seconds},
            timezone=ZoneInfo(settings.timezone),
        )

    def plan(self) -> list[str]:
        """Add the cron jobs and a one-off run now for each missed job; return the jobs caught up."""
        now = self.clock()
        first = [job for job in JOB_CRONS if job not in read_state(self.settings)]
        if first:  # the first start is the baseline: what fired before it is not "missed"
            mark_fired(self.settings, first, now)
        for job in JOB_CRONS:
            self.scheduler.add_job(
                self.fire,
                cron_trigger(self.settings, job),
                args=[job, "scheduler"],
                id=job,
                name=f"churn {job}",
                replace_existing=True,
            )
        missed = missed_jobs(self.settings, now)
        for job in missed:
            self.scheduler.add_job(
                self.fire,
                DateTrigger(now),
                args=[job, "catch-up"],
                id=f"{job}-catch-up",
                name=f"churn {job} (catch-up)",
                misfire_grace_time=None,
            )
        return missed

    def fire(self, job: str, launched_by: str) -> None:
        """One scheduled run: mark it fired first (so it runs at most once), then run it."""
        if STOP.requested:
            return
        try:
            covered = (job, *COVERS.get(job, ())) if launched_by == "catch-up" else (job,)
            mark_fired(self.settings, covered, self.clock())
            self.run(job, self.settings, launched_by)
        except LockBusy as exc:
            log.warning("%s run skipped: %s", job, exc, extra={"job": job})
        except JobFailed:
            pass  # recorded in job_runs, logged and alerted by the runner; the next fire tries again
        except Stopped:
            STOP.request("stopped")
        except Exception:
            log.exception("%s run could not start", job, extra={"job": job})

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        """Abandon a running step at once (the runner catches Stopped and records the run as interrupted);
        otherwise note the request: the runner stops at the next step boundary, the scheduler at its
        next look (within POLL_SECONDS)."""
        name = signal.Signals(signum).name
        if STOP.request(f"{name} received"):
            raise Stopped(f"{name} received")

    def serve(self) -> int:
        """Run until SIGTERM/SIGINT; return the exit status (0 on a clean stop)."""
        configure_job_logging(self.settings)
        lock = scheduler_lock(self.settings)
        lock.acquire(0.0, started_at=self.clock().isoformat())
        STOP.reset()
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        log.info("scheduler started for %s (time zone %s)", self.settings.home, self.settings.timezone)
        try:
            missed = self.plan()
            if missed:
                log.warning("catching up missed run(s): %s", ", ".join(missed))
            self._log_next_runs()
            if not STOP.requested:
                self.scheduler.start()
        finally:
            if self.scheduler.running:
                self.scheduler.shutdown(wait=False)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            lock.release()
            STOP.reset()
        log.info("scheduler stopped")
        return 0

    def _log_next_runs(self) -> None:
        now = self.clock()
        for job in JOB_CRONS:
            fire = cron_trigger(self.settings, job).get_next_fire_time(None, now)
            log.info(
                "next %s run at %s (%s = %r)",
                job,
                fire.isoformat() if fire else "never",
                JOB_CRONS[job],
                getattr(self.settings, JOB_CRONS[job]),
                extra={"job": job},
            )


def run_scheduler(settings: Settings) -> int:
    """`churn scheduler`: serve until stopped; LockBusy when another scheduler runs on this CHURN_HOME."""
    return ChurnScheduler(settings).serve()
