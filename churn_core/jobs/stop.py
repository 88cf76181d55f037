"""A clean stop on SIGTERM (or Ctrl-C) for job runs and the scheduler: see StopSignal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


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
