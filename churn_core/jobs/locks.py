"""Process locks under CHURN_HOME that a crash cannot leave behind: `fcntl.flock` on an open file.

The kernel drops an flock when its file descriptor closes, which includes the process dying by any
signal, so there is never a stale lock to clean up (unlike a PID file). The file's content is only a
note of who holds it, for messages and for the job-history reader; the lock itself is the authority.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from types import TracebackType

from churn_core.errors import ChurnError
from churn_core.settings import Settings

JOBS_LOCK = "jobs.lock"
SCHEDULER_LOCK = "scheduler.lock"


class LockBusy(ChurnError):
    """Another process holds the lock; the message says which job it runs, when known."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as noted in its file: for messages, and for the job-history reader."""

    pid: int | None = None
    job: str = ""
    run_id: str = ""
    started_at: str = ""  # ISO 8601

    def describe(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in (("job", self.job), ("run_id", self.run_id), ("pid", self.pid)) if v)


class FileLock:
    """An exclusive flock on `path`, taken with `acquire(wait)` and dropped by `release()` or process exit."""

    def __init__(self, path: Path, busy: str) -> None:
        self.path = Path(path)
        self.busy = busy  # the LockBusy message; "{holder}" is replaced by what the lock file says
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, wait_seconds: float = 0.0, *, job: str = "", run_id: str = "", started_at: str = "") -> FileLock:
        """Take the lock, polling for up to `wait_seconds`, and note who holds it (this process, `job`,
        `run_id`, `started_at`); raise LockBusy when another process keeps it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + max(0.0, wait_seconds)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        holder = read_note(self.path).describe()
                        message = self.busy.replace("{holder}", f" ({holder})" if holder else "")
                        raise LockBusy(message) from None
                    time.sleep(0.1)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        text = json.dumps(asdict(Holder(os.getpid(), job, run_id, started_at))).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, text, 0)
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing drops the flock

    def __enter__(self) -> FileLock:
        return self if self.held else self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def jobs_lock(settings: Settings) -> FileLock:
    """The lock every job run takes, so that only one job (scheduler, `churn run`, Airflow) runs at a time."""
    return FileLock(
        settings.home / JOBS_LOCK,
        "another job is running{holder}; one job runs at a time, try again when it has finished",
    )


def scheduler_lock(settings: Settings) -> FileLock:
    """The lock a `churn scheduler` process holds for its lifetime, so that a second one refuses to start."""
    return FileLock(
        settings.home / SCHEDULER_LOCK, f"a scheduler is already running for {settings.home}{{holder}}; stop it first"
    )


def lock_holder(path: Path) -> Holder | None:
    """Who holds the lock at `path` (an empty Holder when held without a note), None when it is free.

    Probes with a non-blocking lock released at once, so a job starting at that instant may find the
    lock busy for a moment; job runs poll for the lock rather than failing on the first try.
    """
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_note(path)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def read_note(path: Path) -> Holder:
    """The holder noted in a lock file; an empty Holder when there is no readable note."""
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return Holder()
    known = {f.name for f in fields(Holder)}
    return Holder(**{k: v for k, v in data.items() if k in known}) if isinstance(data, dict) else Holder()
