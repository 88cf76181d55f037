"""The one base class of the errors a user can fix; the CLI and dashboard show their message, not a traceback."""


class ChurnError(Exception):
    """Something the user can act on: the message says what was wrong, where, and what to do."""
