"""The errors a user can fix, and the one mark of a failure worth retrying.

The CLI and dashboard show a ChurnError's message, not a traceback. Retry layers (the AWS calls, the job
runner) retry only a TransientError, raised by the adapter that knows the failure passes (throttling, a lock
another process holds for a moment), never guessed from the words of a message.
"""


class ChurnError(Exception):
    """Something the user can act on: the message says what was wrong, where, and what to do."""


class TransientError(ChurnError):
    """A failure that may pass if the same work is tried again shortly; the message says what to do if not."""
