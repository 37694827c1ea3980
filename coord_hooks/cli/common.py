"""What every ``coord`` command shares: the per-invocation state (global options, the
lazily opened context, the acting session), output helpers, common options, and the
one-line error reports that `coord_hooks.cli.app.CoordGroup` prints.

Rich is imported inside the functions that draw tables so that ``coord --help`` stays light.
"""

from __future__ import annotations

import json
import math
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from coord_hooks.errors import (
    CoordError,
    NoSessionError,
    StoreError,
    UsageError,
    exit_code_for,
)
from coord_hooks.model import Session
from coord_hooks.paths import resolve_state_dir

if TYPE_CHECKING:
    from rich.console import Console

    from coord_hooks.context import Context


PROG = "coord"


ENV_SESSION = "CLAUDE_CODE_SESSION_ID"


INTERNAL_EXIT = 70


META_KEY = "coord_hooks.cli"  # where the CliState sits in click's ctx.meta


@dataclass
class Acting:
    """Who a command acts as: a session id (and where it came from), or a human."""

    session_id: str | None
    origin: str  # "--session", "$CLAUDE_CODE_SESSION_ID" or "human"
    session: Session | None = None


@dataclass
class CliState:
    """Global options and the lazily opened context of one ``coord`` invocation."""

    backend: str | None = None
    session: str | None = None
    _context: Context | None = None
    _quarantine_before: set[str] = field(default_factory=set)

    def context(self, write: bool = True, reap: bool = True) -> Context:
        """Open settings, store and coordinator once; reap dead sessions (unless told not).

        Read-only commands (``write=False``) never create the state directory: when it
        does not exist they fail with a clear error naming it, which also catches a
        mistyped ``--state-dir`` or a command run in the wrong project.
        """
        if self._context is None:
            from coord_hooks.context import open_context

            state_dir = resolve_state_dir()
            if not write and not os.path.lexists(state_dir):
                raise StoreError(f"no coordination state at {state_dir} yet (it is created "
                                 "when a session registers or a command writes)")
            self._quarantine_before = _listdir(state_dir / "quarantine")
            self._context = open_context(backend=self.backend)
            if reap:
                # Dead sessions are cleaned lazily by whichever command runs next.
                self._context.coordinator.reap()
        return self._context

    def acting(self, ctx: Context | None, explicit: str | None = None) -> Acting:
        """``--session`` (resolved: id, name or prefix) > ``$CLAUDE_CODE_SESSION_ID`` > human."""
        handle = explicit or self.session
        if handle:
            if ctx is None:
                ctx = self.context(write=False)
            session = ctx.coordinator.resolve(handle)
            return Acting(session.session_id, "--session", session)
        env_id = os.environ.get(ENV_SESSION, "").strip()
        if env_id:
            found: Session | None = None
            if ctx is not None:
                with ctx.store.read() as view:
                    found = view.get_session(env_id)
            return Acting(env_id, f"${ENV_SESSION}", found)
        return Acting(None, "human")

    def require_session(self, ctx: Context, explicit: str | None, what: str,
                        heartbeat: bool = False) -> Acting:
        """The acting session, or a one-line error saying how to name one.

        With ``heartbeat``, a session named by ``$CLAUDE_CODE_SESSION_ID`` (the model
        running ``coord`` in its Bash tool) is touched, registering it if no hook did.
        """
        acting = self.acting(ctx, explicit)
        if acting.session_id is None:
            raise NoSessionError(f"{what} needs a session: pass --session ID (a handle, prefix "
                                 f"or name) or set ${ENV_SESSION}")
        if heartbeat:
            acting = self.heartbeat(ctx, acting)
        return acting

    def heartbeat(self, ctx: Context, acting: Acting) -> Acting:
        if acting.session_id is None or acting.origin != f"${ENV_SESSION}":
            return acting
        from coord_hooks import procs

        session = ctx.coordinator.touch(acting.session_id, pid=procs.find_claude_pid(),
                                        source="cli")
        return Acting(acting.session_id, acting.origin, session)

    def finish(self) -> None:
        """Print the coordinator's warnings and files quarantined; close the store."""
        if self._context is None:
            return
        for warning in self._context.coordinator.warnings:
            typer.echo(f"{PROG}: warning: {warning}", err=True)
        folder = self._context.state_dir / "quarantine"
        for name in sorted(_listdir(folder) - self._quarantine_before):
            typer.echo(f"{PROG}: warning: a corrupt store file was moved to {folder / name} "
                       f"(details in {self._context.state_dir / 'logs' / 'app.log'})", err=True)
        self._context.store.close()
        self._context = None


def _listdir(folder: Path) -> set[str]:
    try:
        return set(os.listdir(folder))
    except OSError:
        return set()


def current_state(ctx: typer.Context) -> CliState:
    """The `CliState` of the running command (extension commands use it too)."""
    state = ctx.meta.get(META_KEY)
    if state is None:
        state = ctx.meta[META_KEY] = CliState()
    assert isinstance(state, CliState)
    return state


def report_error(err: CoordError) -> int:
    typer.echo(f"{PROG}: error: {_one_line(str(err))}", err=True)
    return exit_code_for(err)


def report_internal_error(exc: BaseException, argv: Sequence[str] | None = None) -> int:
    """Log the traceback to ``<state>/logs/app.log``; print one line; return 70."""
    from coord_hooks import logs

    where = "no log written"
    try:
        state_dir = resolve_state_dir()
        log = state_dir / "logs" / "app.log"
        if state_dir.is_dir():
            logs.log_event(state_dir, "error", "internal_error",
                           error=f"{type(exc).__name__}: {exc}",
                           traceback="".join(traceback.format_exception(exc)),
                           argv=list(argv) if argv is not None else sys.argv[1:])
            if log.exists():
                where = f"details in {log}"
        else:
            where = f"no log written: {state_dir} does not exist"
    except Exception:  # never let the error report itself raise
        pass
    typer.echo(f"{PROG}: internal error: {type(exc).__name__}: {_one_line(str(exc))} ({where})",
               err=True)
    return INTERNAL_EXIT


def _one_line(text: str) -> str:
    """Join the lines of a message: errors are always one line."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def seconds(option: str, minimum: float) -> Callable[[str], float]:
    """A Typer ``parser`` for a duration: a finite number of seconds >= ``minimum``.

    ``nan``, ``inf``, ``1e400`` and negatives are refused in one line (exit 2): a lease
    of NaN never lapses the same way twice, an infinite one never does.
    """
    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and number >= minimum):
            raise UsageError(f"{option} {value!r}: expected a number of seconds, at least "
                             f"{minimum:g} and finite")
        return number

    return parse


def json_safe(data: Any) -> Any:
    """``data`` with every non-finite float as null: ``Infinity``/``NaN`` are not JSON."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: json_safe(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(value) for value in data]
    return data


def emit_json(data: Any) -> None:
    """Print one JSON document (stable keys, as built by `coord_hooks.cli.views`)."""
    # A record an older version stored (a lease of 1e400 s) must not make it invalid.
    text = json.dumps(json_safe(data), indent=2, ensure_ascii=False, default=str,
                      allow_nan=False)
    # A lone surrogate (from a hand-edited record) must not crash the output.
    typer.echo(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def console() -> Console:
    from rich.console import Console

    width = None
    if not sys.stdout.isatty():
        # Piped output is not wrapped at 80 columns; $COLUMNS still wins.
        width = int(os.environ.get("COLUMNS", "0") or 0) or 160
    return Console(width=width, markup=False, emoji=False, highlight=False, soft_wrap=False)


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]],
                empty: str) -> None:
    """A Rich table, or one line saying there is nothing (cells are never markup)."""
    out = console()
    if not rows:
        out.print(empty)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", show_lines=False)
    for name in columns:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    out.print(table)


def print_pairs(title: str | None, pairs: Sequence[tuple[str, str]]) -> None:
    """A two-column key/value table."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in pairs:
        table.add_row(Text(key), Text(value))
    console().print(table)


def say(text: str) -> None:
    typer.echo(text)


SessionOpt = Annotated[
    str | None,
    typer.Option("--session", "-s", metavar="ID",
                 help="Act as this session (full id, name, or unique prefix of 4+ characters). "
                      "Default: $CLAUDE_CODE_SESSION_ID."),
]


JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
