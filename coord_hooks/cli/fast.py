"""A standard-library fast path for ``coord send`` and ``coord broadcast``.

The model runs these from its Bash tool for every message it sends; importing Typer,
Click and the CLI's extensions costs more than the whole send (about 100 ms of a
~170 ms process here). The plain forms are parsed by hand and run exactly as
`coord_hooks.cli.app` runs them — same steps, same output, same exit codes:

    coord send SESSION TEXT [--urgent]
    coord broadcast TEXT [--urgent]

Anything else (global options, ``--json``, ``--session``, ``-`` for stdin, ``--help``,
``--``) returns None and the caller falls back to Typer. An error raised before the
message may be stored also falls back, so the error text comes from the CLI itself
(reaping and the heartbeat, done before, are idempotent); an error from the send itself
is reported here, with the CLI's own one-line reports, and never sent again.
tests/cli/test_fast.py compares both paths.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROG = "coord"
ENV_SESSION = "CLAUDE_CODE_SESSION_ID"
COMMANDS = {"send": 2, "broadcast": 1}  # command -> positional arguments


class _Fallback(Exception):
    """Let Typer run the command (and report the error) instead."""


def parse(args: list[str]) -> tuple[str, list[str], bool] | None:
    """(command, positional arguments, urgent) for the plain forms; None otherwise."""
    if not args or args[0] not in COMMANDS:
        return None
    positional: list[str] = []
    urgent = False
    for arg in args[1:]:
        if arg == "--urgent":
            urgent = True
        elif arg.startswith("-"):
            return None  # --json, --session, -s, -, --help, -- ...: Typer's job
        else:
            positional.append(arg)
    if len(positional) != COMMANDS[args[0]]:
        return None
    return args[0], positional, urgent


def _listdir(folder: Path) -> set[str]:
    try:
        return set(os.listdir(folder))
    except OSError:
        return set()


def run_fast(args: list[str]) -> int | None:
    """Run a plain send/broadcast; None means "use the Typer CLI instead"."""
    parsed = parse(args)
    if parsed is None:
        return None
    command, positional, urgent = parsed
    from coord_hooks.paths import resolve_state_dir

    try:
        state_dir = resolve_state_dir()
    except Exception:
        return None
    before = _listdir(state_dir / "quarantine")
    try:
        return _run(command, positional, urgent, state_dir, before)
    except _Fallback:
        return None


def _run(command: str, positional: list[str], urgent: bool, state_dir: Path,
         before: set[str]) -> int:
    from coord_hooks import procs
    from coord_hooks.context import Context, open_context
    from coord_hooks.errors import CoordError

    ctx: Context | None = None
    sending = False
    try:
        ctx = open_context()
        coordinator = ctx.coordinator
        coordinator.reap()
        sender = os.environ.get(ENV_SESSION, "").strip() or None
        if sender is not None:
            coordinator.touch(sender, pid=procs.find_claude_pid(), source="cli")
        # From here on the message may be stored: an error is reported, never retried
        # through Typer (that stored a message twice when retention failed after it).
        sending = True
        if command == "broadcast":
            message = coordinator.broadcast(sender, positional[0], urgent=urgent)
            count = sum(1 for v in coordinator.sessions() if v.session.session_id != sender)
            line = f"broadcast #{message.seq} to {count} live session{'' if count == 1 else 's'}"
        else:
            message = coordinator.send(sender, positional[0], positional[1], urgent=urgent)
            line = f"sent #{message.seq} to {coordinator.resolve(message.recipient).label()}"
        sys.stdout.write(line + (" (urgent)" if urgent else "") + "\n")
        sys.stdout.flush()
        for warning in coordinator.warnings:
            sys.stderr.write(f"{PROG}: warning: {warning}\n")
        return 0
    except Exception as exc:
        if not sending:
            raise _Fallback from None
        from coord_hooks.cli import common  # only on this rare path: the CLI's own reporting

        if isinstance(exc, CoordError):
            return common.report_error(exc)
        return common.report_internal_error(exc, [command, *positional])
    finally:
        if ctx is not None:
            folder = ctx.state_dir / "quarantine"
            for name in sorted(_listdir(folder) - before):
                sys.stderr.write(f"{PROG}: warning: a corrupt store file was moved to "
                                 f"{folder / name} (details in "
                                 f"{ctx.state_dir / 'logs' / 'app.log'})\n")
            try:
                ctx.store.close()
            except Exception:
                pass
