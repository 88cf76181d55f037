"""`churn scheduler`: cron from settings, catch-up once after downtime, one job at a time, clean SIGTERM."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from churn_core.jobs.history import job_history, next_runs
from churn_core.jobs.locks import JOBS_LOCK, SCHEDULER_LOCK, lock_holder
from churn_core.jobs.schedule import cron_trigger
from churn_core.jobs.scheduler import ChurnScheduler, mark_fired, missed_jobs, read_state
from churn_core.settings import SettingsError
from churn_core.warehouse import open_warehouse
from tests.conftest import make_settings

UTC = dt.UTC
ROOT = Path(__file__).resolve().parents[3]

# A scheduler (or a single run) in its own process whose job is one slow step that notes when it ran.
HARNESS = textwrap.dedent("""
    import sys, time, os
    from pathlib import Path
    from churn_core.jobs.runner import StepOutcome, execute_job
    from churn_core.jobs.scheduler import ChurnScheduler
    from churn_core.settings import load_settings

    mode, home, notes, seconds = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4])
    settings = load_settings(env={}, config=home / "absent.toml", home=home, score_cron=sys.argv[5],
                             train_cron="0 0 1 1 *", job_retries=0)

    def slow(context):
        with open(notes, "a") as f:
            f.write(f"start {os.getpid()} {time.time()} {context.run_id}\\n")
        time.sleep(seconds)
        with open(notes, "a") as f:
            f.write(f"end {os.getpid()} {time.time()} {context.run_id}\\n")
        return StepOutcome(rows_out=1)

    def run(job, settings, launched_by):
        return execute_job(job, [("slow", slow)], settings, launched_by=launched_by, lock_wait_seconds=60)

    if mode == "scheduler":
        sys.exit(ChurnScheduler(settings, run=run).serve())
    run("daily", settings, "manual")
""")


def _start(mode: str, home: Path, notes: Path, seconds: float, cron: str = "0 0 1 1 *") -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHURN_")}
    return subprocess.Popen(
        [sys.executable, "-c", HARNESS, mode, str(home), str(notes), str(seconds), cron],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _intervals(notes: Path) -> list[tuple[float, float]]:
    """(start, end) of every step that ended, by run id."""
    starts, ends = {}, {}
    for line in notes.read_text().splitlines() if notes.exists() else []:
        kind, _, stamp, run_id = line.split()
        (starts if kind == "start" else ends)[run_id] = float(stamp)
    return sorted((starts[r], ends[r]) for r in ends)


def _wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _assert_no_overlap(intervals: list[tuple[float, float]]) -> None:
    for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
        assert start >= end, f"two jobs ran at once: {intervals}"


# --- cron and next runs ----------------------------------------------------------------------------------


def test_next_runs_come_from_the_cron_settings(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, timezone="Europe/Berlin")
    runs = next_runs(settings, 3, now=dt.datetime(2026, 3, 4, 12, 0, tzinfo=UTC))  # a Wednesday
    assert list(runs.columns) == ["job", "next_run", "cron", "timezone"]
    daily = [t.isoformat() for t in runs[runs.job == "daily"].next_run]
    weekly = [t.isoformat() for t in runs[runs.job == "weekly"].next_run]
    assert daily == ["2026-03-05T06:00:00+01:00", "2026-03-06T06:00:00+01:00", "2026-03-07T06:00:00+01:00"]
    assert weekly[:2] == ["2026-03-09T02:00:00+01:00", "2026-03-16T02:00:00+01:00"]
    assert list(runs.next_run) == sorted(runs.next_run)


@pytest.mark.parametrize(
    "overrides", [{"score_cron": "every day"}, {"train_cron": "0 25 * * *"}, {"timezone": "Mars/Olympus"}]
)
def test_a_bad_schedule_setting_is_named(tmp_path: Path, overrides: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=next(iter(overrides))):
        cron_trigger(make_settings(tmp_path, **overrides), "daily" if "score_cron" in overrides else "weekly")


# --- catch-up after downtime ----------------------------------------------------------------------------


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, job: str, settings: object, launched_by: str) -> None:
        self.calls.append((job, launched_by))


def _catch_up(settings: object, now: dt.datetime) -> tuple[list[str], _Recorder]:
    """Start a scheduler at `now` (without its loop) and run the catch-up jobs it planned."""
    runner = _Recorder()
    scheduler = ChurnScheduler(settings, run=runner, clock=lambda: now)  # type: ignore[arg-type]
    missed = scheduler.plan()
    for job in scheduler.scheduler.get_jobs():
        if job.id.endswith("-catch-up"):
            job.func(*job.args)
    return missed, runner


def test_the_first_start_is_a_baseline_not_a_catch_up(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    now = dt.datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    missed, runner = _catch_up(settings, now)
    assert missed == [] and runner.calls == []
    assert read_state(settings) == {"daily": now, "weekly": now}


def test_a_run_missed_during_downtime_is_caught_up_once_never_twice(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    mark_fired(settings, ["daily"], dt.datetime(2026, 3, 2, 6, 0, 1, tzinfo=UTC))  # Monday's daily ran
    mark_fired(settings, ["weekly"], dt.datetime(2026, 3, 2, 2, 0, 1, tzinfo=UTC))  # Monday's weekly ran
    down_until = dt.datetime(2026, 3, 4, 9, 30, tzinfo=UTC)  # Tuesday's and Wednesday's daily were missed
    missed, runner = _catch_up(settings, down_until)
    assert missed == ["daily"]
    assert runner.calls == [("daily", "catch-up")]
    # Restarting (even straight away, or after the catch-up run was killed) runs nothing again.
    for later in (down_until + dt.timedelta(seconds=5), down_until + dt.timedelta(hours=2)):
        missed, runner = _catch_up(settings, later)
        assert missed == [] and runner.calls == []
    # The next missed fire is caught up again, once.
    missed, runner = _catch_up(settings, dt.datetime(2026, 3, 5, 7, 0, tzinfo=UTC))
    assert runner.calls == [("daily", "catch-up")]


def test_a_missed_weekly_run_stands_in_for_the_missed_daily(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    mark_fired(settings, ["daily", "weekly"], dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC))  # Sunday
    missed, runner = _catch_up(settings, dt.datetime(2026, 3, 3, 12, 0, tzinfo=UTC))  # down over Monday
    assert missed == ["weekly"]
    assert runner.calls == [("weekly", "catch-up")]
    assert missed_jobs(settings, dt.datetime(2026, 3, 3, 12, 1, tzinfo=UTC)) == []


# --- the real scheduler loop in a process -----------------------------------------------------------------


def test_the_scheduler_fires_on_time_runs_one_job_at_a_time_and_stops_cleanly(tmp_path: Path) -> None:
    home, notes = tmp_path / "home", tmp_path / "notes.txt"
    # Every second, with a job that takes longer: fires coalesce, runs never overlap.
    scheduler = _start("scheduler", home, notes, 1.2, cron="* * * * * *")
    try:
        _wait_for(lambda: len(_intervals(notes)) >= 2 or scheduler.poll() is not None)
        assert scheduler.poll() is None, scheduler.stderr.read() if scheduler.stderr else ""
        # A second scheduler on the same CHURN_HOME refuses to start.
        second = _start("scheduler", home, tmp_path / "second.txt", 0.1, cron="* * * * * *")
        _, err = second.communicate(timeout=60)
        assert second.returncode == 1 and "a scheduler is already running" in err
        # SIGTERM in the middle of a run: it is abandoned and recorded, the locks go, exit status 0.
        _wait_for(lambda: notes.read_text().count("start") > notes.read_text().count("end"))
        scheduler.send_signal(signal.SIGTERM)
        _, err = scheduler.communicate(timeout=60)
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
    assert scheduler.returncode == 0, err
    _assert_no_overlap(_intervals(notes))
    assert lock_holder(home / SCHEDULER_LOCK) is None and lock_holder(home / JOBS_LOCK) is None
    settings = make_settings(home)
    runs = job_history(open_warehouse(settings), 20, settings)
    assert runs["launched_by"].eq("scheduler").all()
    assert runs["status"].iloc[0] == "interrupted" and "SIGTERM" in runs["error"].iloc[0]
    assert set(runs["status"].iloc[1:]) == {"succeeded"} and len(runs) >= 3
    assert "scheduler stopped" in err


def test_sigterm_while_idle_exits_zero_and_releases_the_lock(tmp_path: Path) -> None:
    home = tmp_path / "home"
    scheduler = _start("scheduler", home, tmp_path / "notes.txt", 0.1)
    try:
        _wait_for(lambda: lock_holder(home / SCHEDULER_LOCK) is not None and (home / "scheduler_state.json").exists())
        time.sleep(0.5)
        scheduler.send_signal(signal.SIGTERM)
        _, err = scheduler.communicate(timeout=30)
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
    assert scheduler.returncode == 0, err
    assert "next daily run at" in err and "scheduler stopped" in err
    assert lock_holder(home / SCHEDULER_LOCK) is None


def test_two_processes_never_run_a_job_at_the_same_time(tmp_path: Path) -> None:
    home, notes = tmp_path / "home", tmp_path / "notes.txt"
    runs = [_start("run", home, notes, 0.5) for _ in range(2)]
    for process in runs:
        _, err = process.communicate(timeout=90)
        assert process.returncode == 0, err
    intervals = _intervals(notes)
    assert len(intervals) == 2
    _assert_no_overlap(intervals)
