"""One exception hierarchy for coord-hooks, mapped to exit codes in one place.

Everything the CLI reports to a person is a `CoordError`; `exit_code_for` is the only
place that decides which exit code a failure gets.
"""

from __future__ import annotations


class CoordError(Exception):
    """Base class: a failure with a one-line message meant for a person."""

    exit_code = 1


class UsageError(CoordError):
    """The command was called with arguments that cannot work."""

    exit_code = 2


class NotFoundError(CoordError):
    """A session, lock or message that was named does not exist."""

    exit_code = 1


class AmbiguousHandleError(CoordError):
    """A session prefix or name matches several sessions."""

    exit_code = 1


class NoSessionError(CoordError):
    """The command needs an acting session and none was given or found."""

    exit_code = 1


class InvalidMessageError(CoordError):
    """A message body is empty, too long or binary; nothing was stored."""

    exit_code = 1


class LockConflictError(CoordError):
    """A lock could not be granted because another session holds it."""

    exit_code = 3

    def __init__(self, message: str, conflicts: list[object] | None = None) -> None:
        super().__init__(message)
        self.conflicts = conflicts or []


class StoreError(CoordError):
    """The state directory is missing, unwritable, or its lock cannot be taken."""

    exit_code = 4


class UnsafeStateError(StoreError):
    """The state directory (or a folder in it) is a symbolic link, not a directory, or
    another user's: refused, never followed. Coordination is off there until it is fixed,
    and a session starting there is told so (hooks otherwise fail open silently)."""

    refused_state = True


class StoreBusyError(StoreError):
    """The store lock was not obtained within the configured timeout."""


class StoreUnavailableError(StoreError):
    """The store's server (redis) cannot be reached or used: refused, timed out, wrong
    password, not a Redis server. Hooks fail open with one rate-limited log line."""

    quiet_in_hooks = True


class CorruptRecordError(StoreError):
    """A record file could not be parsed; it is quarantined by the backend."""


class LayoutChangedError(StoreError):
    """``coord migrate`` moved the state directory to the other layout while this waited
    for the store lock: nothing was done; open the store again and retry (hooks do)."""


class UnreadableRecordError(StoreError):
    """A record file exists but this user may not read it (another uid, a chmod).

    Not corruption: the file is left where it is, and what it may hold is decided
    conservatively (a lock that cannot be read counts as held).
    """


class ConfigError(CoordError):
    """A setting has a value that cannot be used."""

    exit_code = 2


def exit_code_for(error: BaseException) -> int:
    """Map any exception to the process exit code the CLI uses."""
    if isinstance(error, CoordError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return 130
    return 70  # EX_SOFTWARE: an internal bug, reported in one line, details in the log
