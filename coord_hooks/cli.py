"""The ``coord`` command line (Typer): parse, call the `Coordinator`, format.

No rules live here (they are in `coord_hooks.coordination`) and no JSON shapes (they are
in `coord_hooks.views`). Rich is imported inside the functions that draw tables so that
``coord --help`` stays light.

Errors are handled in one place, `CoordGroup.invoke`, which wraps every command
(extensions included): a `CoordError` becomes ``coord: error: <message>`` on stderr
with `exit_code_for`; anything else is logged with its traceback and reported in one
line with exit 70. `run_cli` is the entry point and the last safety net.
"""

from __future__ import annotations

import errno
import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from coord_hooks import __version__, views
from coord_hooks.errors import (
    CoordError,
    LockConflictError,
    NoSessionError,
    StoreError,
    UsageError,
    exit_code_for,
)
from coord_hooks.model import Session
from coord_hooks.paths import resolve_state_dir
from coord_hooks.store import BACKENDS

try:  # Typer >= 0.26 vendors Click; older Typer uses the click package
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - depends on the installed Typer
    from click.exceptions import ClickException  # type: ignore[no-redef,import-not-found]

if TYPE_CHECKING:
    from rich.console import Console

    from coord_hooks.context import Context

PROG = "coord"
ENV_SESSION = "CLAUDE_CODE_SESSION_ID"
INTERNAL_EXIT = 70
_META_KEY = "coord_hooks.cli"


# --- per-invocation state --------------------------------------------------------------------
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
        """Warn about files quarantined during this command; close the store."""
        if self._context is None:
            return
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
    state = ctx.meta.get(_META_KEY)
    if state is None:
        state = ctx.meta[_META_KEY] = CliState()
    assert isinstance(state, CliState)
    return state


# --- error handling in one place -------------------------------------------------------------
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


class CoordGroup(TyperGroup):
    """The top-level group: every command runs inside the one error handler."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, ClickException):
            raise
        except CoordError as err:
            raise typer.Exit(report_error(err)) from None
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # a closed pipe (``coord messages | head``) is not an error
            raise typer.Exit(report_internal_error(exc)) from None
        except Exception as exc:
            raise typer.Exit(report_internal_error(exc)) from None
        finally:
            state = ctx.meta.get(_META_KEY)
            if isinstance(state, CliState):
                try:
                    state.finish()
                except Exception:
                    pass


app = typer.Typer(
    name=PROG,
    cls=CoordGroup,
    help="Coordinate several Claude Code sessions on one repository: advisory file locks, "
         "messages between sessions, and status.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain Click help: keeps `coord --help` from importing Rich
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# --- output helpers --------------------------------------------------------------------------
def emit_json(data: Any) -> None:
    """Print one JSON document (stable keys, as built by `coord_hooks.views`)."""
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
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


# --- global options --------------------------------------------------------------------------
def _version(value: bool) -> None:
    if value:
        typer.echo(f"coord-hooks {__version__}")
        raise typer.Exit()


def _check_backend(value: str | None) -> str | None:
    if value is not None and value not in BACKENDS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(sorted(BACKENDS))}")
    return value


SessionOpt = Annotated[
    str | None,
    typer.Option("--session", "-s", metavar="ID",
                 help="Act as this session (full id, name, or unique prefix of 4+ characters). "
                      "Default: $CLAUDE_CODE_SESSION_ID."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


@app.callback()
def main(
    ctx: typer.Context,
    backend: Annotated[str | None, typer.Option(
        "--backend", metavar="NAME", callback=_check_backend,
        help=f"Store backend for this command ({', '.join(BACKENDS)}); "
             "$COORD_BACKEND still wins.")] = None,
    state_dir: Annotated[Path | None, typer.Option(
        "--state-dir", metavar="PATH", help="Use this state directory "
        "(sets $COORD_STATE_DIR for this process).")] = None,
    session: SessionOpt = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    """Coordinate several Claude Code sessions on one repository.

    Sessions register through the plugin's hooks; these commands show who is working,
    take and release advisory file locks, and send messages between sessions. A model
    runs them from its Bash tool, where $CLAUDE_CODE_SESSION_ID names its own session.
    """
    if state_dir is not None:
        os.environ["COORD_STATE_DIR"] = os.path.abspath(os.path.expanduser(state_dir))
    ctx.meta[_META_KEY] = CliState(backend=backend, session=session)


# --- commands ----------------------------------------------------------------------------------
@app.command()
def sessions(
    cli: typer.Context,
    all_: Annotated[bool, typer.Option("--all", "-a",
                                       help="Include ended and dead sessions.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List live sessions: handle, name, task, last activity, locks held, unread mail."""
    ctx = current_state(cli).context(write=False)
    now = ctx.coordinator.clock()
    rows = [views.session_dict(v, now) for v in ctx.coordinator.sessions(include_ended=all_)]
    if as_json:
        emit_json({"sessions": rows})
        return
    print_table(None, views.SESSION_COLUMNS, [views.session_row(d) for d in rows],
                "no sessions" if all_ else "no live sessions (coord sessions --all shows ended "
                                           "ones)")


@app.command()
def locks(cli: typer.Context, as_json: JsonOpt = False) -> None:
    """List file locks: key, holder, mode, reason, age, and whether the lease is active."""
    ctx = current_state(cli).context(write=False)
    rows = [views.lock_dict(v) for v in ctx.coordinator.locks()]
    if as_json:
        emit_json({"locks": rows})
        return
    print_table(None, views.LOCK_COLUMNS, [views.lock_row(d) for d in rows], "no locks")


@app.command()
def lock(
    cli: typer.Context,
    targets: Annotated[list[str], typer.Argument(metavar="PATH_OR_GLOB",
                                                 help="Files or glob patterns to lock.")],
    shared: Annotated[bool, typer.Option(
        "--shared", help="Take a shared lock (other shared locks may coexist).")] = False,
    ttl: Annotated[float | None, typer.Option(
        "--ttl", metavar="SECONDS", min=1.0,
        help="Lease: seconds of inactivity after which the lock lapses "
             "(default: lock_ttl setting).")] = None,
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT",
                                        help="Why you hold it (shown to others).")] = "",
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Lock files or globs for the acting session (or renew its own locks).

    Each target is reported on its own; targets that are free are locked even if
    another is denied. Exit status 3 when any target is held by another session, with
    who holds it and how to ask them.

    \b
    Examples:
      coord lock src/app.py --reason "refactoring the router"
      coord lock 'docs/**/*.md' --shared --ttl 600
    """
    state = current_state(cli)
    ctx = state.context()
    acting = state.require_session(ctx, session, "lock", heartbeat=True)
    assert acting.session_id is not None
    results = []
    for target in targets:
        result = ctx.coordinator.try_acquire(acting.session_id, target, exclusive=not shared,
                                             ttl=ttl, reason=reason.strip())
        results.append(views.acquire_dict(target, result))
    denied = [r for r in results if not r["granted"]]
    if as_json:
        emit_json({"session_id": acting.session_id, "results": results})
    else:
        for r in results:
            if r["granted"]:
                verb = "renewed" if r["renewed"] else "locked"
                mode = "exclusive" if r["exclusive"] else "shared"
                say(f"{verb} {r['key']} ({mode}, lease {views.duration_text(r['ttl_s'])})")
    for r in denied:
        typer.echo(f"{PROG}: denied: {r['denial']}", err=True)
    if denied:
        raise typer.Exit(LockConflictError.exit_code)


@app.command()
def unlock(
    cli: typer.Context,
    targets: Annotated[list[str], typer.Argument(metavar="PATH_OR_GLOB",
                                                 help="Locked files or patterns, as locked.")],
    force: Annotated[bool, typer.Option(
        "--force", help="Release it even if another session holds it (logged).")] = False,
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Release the acting session's locks; --force releases another session's lock.

    Without a session, only --force works (a person clearing a stale lock).
    """
    state = current_state(cli)
    ctx = state.context()
    if force:
        acting = state.acting(ctx, session)
        acting = state.heartbeat(ctx, acting)
    else:
        acting = state.require_session(ctx, session, "unlock (without --force)",
                                       heartbeat=True)
    results = []
    first_error: CoordError | None = None
    for target in targets:
        try:
            key, _ = ctx.coordinator.key_for(target)
            released = ctx.coordinator.release(acting.session_id, target, force=force)
        except CoordError as err:
            first_error = first_error or err
            results.append(views.release_dict(target, None, [], force, str(err)))
            continue
        forced = any(lk.owner != acting.session_id for lk in released)
        results.append(views.release_dict(target, key, released, forced, None))
    if as_json:
        emit_json({"session_id": acting.session_id, "results": results})
    for r in results:
        if r["error"]:
            typer.echo(f"{PROG}: error: {r['error']}", err=True)
        elif not as_json:
            holders = ", ".join(sorted({lk["holder_handle"] for lk in r["released"]}))
            extra = f" (forced; held by {holders})" if r["forced"] else ""
            say(f"released {r['key']}{extra}")
    if first_error is not None:
        raise typer.Exit(exit_code_for(first_error))


def _read_text(text: str) -> str:
    """The message text; ``-`` reads standard input (bytes, so binary is detected)."""
    if text != "-":
        return text
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        return sys.stdin.read()
    # surrogateescape keeps invalid UTF-8 visible to clean_body, which refuses it.
    raw: bytes = stream.read()
    return raw.decode("utf-8", "surrogateescape")


@app.command()
def send(
    cli: typer.Context,
    to: Annotated[str, typer.Argument(metavar="SESSION",
                                      help="Recipient: full id, name, or unique prefix.")],
    text: Annotated[str, typer.Argument(metavar="TEXT",
                                        help="The message; '-' reads it from stdin.")],
    urgent: Annotated[bool, typer.Option(
        "--urgent", help="Deliver mid-turn, not only at the recipient's next prompt.")] = False,
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a direct message to one session (delivered into its model's context).

    The sender is the acting session, or you (a human) when there is none. Messages to
    ended sessions are kept and stay readable.

    \b
    Examples:
      coord send a1b2c3d4 "Could you release src/app.py when you can?"
      git diff | coord send alice -
    """
    state = current_state(cli)
    ctx = state.context()
    acting = state.heartbeat(ctx, state.acting(ctx, session))
    message = ctx.coordinator.send(acting.session_id, to, _read_text(text), urgent=urgent)
    recipient = ctx.coordinator.resolve(message.recipient)
    if as_json:
        emit_json({"message": views.message_dict(message, ctx.coordinator.clock(),
                                                 {recipient.session_id: recipient})})
        return
    say(f"sent #{message.seq} to {recipient.label()}" + (" (urgent)" if urgent else ""))


@app.command()
def broadcast(
    cli: typer.Context,
    text: Annotated[str, typer.Argument(metavar="TEXT",
                                        help="The message; '-' reads it from stdin.")],
    urgent: Annotated[bool, typer.Option(
        "--urgent", help="Deliver mid-turn, not only at each recipient's next prompt.")
    ] = False,
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a message to every live session (each receives it exactly once)."""
    state = current_state(cli)
    ctx = state.context()
    acting = state.heartbeat(ctx, state.acting(ctx, session))
    message = ctx.coordinator.broadcast(acting.session_id, _read_text(text), urgent=urgent)
    recipients = [v.session.session_id for v in ctx.coordinator.sessions()
                  if v.session.session_id != acting.session_id]
    if as_json:
        emit_json({"message": views.message_dict(message, ctx.coordinator.clock(), {}),
                   "recipients": recipients})
        return
    count = len(recipients)
    say(f"broadcast #{message.seq} to {count} live session{'' if count == 1 else 's'}"
        + (" (urgent)" if urgent else ""))


def _all_sessions(ctx: Context) -> list[Session]:
    return [v.session for v in ctx.coordinator.sessions(include_ended=True)]


@app.command()
def inbox(
    cli: typer.Context,
    peek: Annotated[bool, typer.Option(
        "--peek", help="Show unread messages without marking them read.")] = False,
    all_: Annotated[bool, typer.Option(
        "--all", "-a", help="Every message addressed to the session, read or not, archived "
                            "ones too (marks nothing read).")] = False,
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the acting session's unread messages and mark them read."""
    state = current_state(cli)
    write = not (peek or all_)
    ctx = state.context(write=write)
    acting = state.require_session(ctx, session, "inbox", heartbeat=write)
    assert acting.session_id is not None
    if all_:
        from coord_hooks.coordination import addressed_to

        me = acting.session
        if me is None:
            raise NoSessionError(f"session {acting.session_id} is not registered")
        messages = [m for m in ctx.coordinator.history(me.session_id, archived=True)
                    if addressed_to(m, me)]
    else:
        messages = ctx.coordinator.inbox(acting.session_id, peek=peek)
    rows = views.messages_dicts(messages, ctx.coordinator.clock(), _all_sessions(ctx))
    if as_json:
        emit_json({"session_id": acting.session_id, "marked_read": write, "messages": rows})
        return
    empty = "no messages" if all_ else "no unread messages"
    print_table(None, views.MESSAGE_COLUMNS, [views.message_row(d) for d in rows], empty)


@app.command()
def messages(
    cli: typer.Context,
    archived: Annotated[bool, typer.Option(
        "--archived", help="Include archived (older) messages.")] = False,
    session: Annotated[str | None, typer.Option(
        "--session", "-s", metavar="ID",
        help="Only messages to or from this session (id, name or prefix).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List all messages, read or not, oldest first (nothing is marked read)."""
    state = current_state(cli)
    ctx = state.context(write=False)
    handle = session or state.session
    who = ctx.coordinator.resolve(handle).session_id if handle else None
    found = ctx.coordinator.history(who, archived=archived)
    rows = views.messages_dicts(found, ctx.coordinator.clock(), _all_sessions(ctx))
    if as_json:
        emit_json({"session_id": who, "archived": archived, "messages": rows})
        return
    print_table(None, views.MESSAGE_COLUMNS, [views.message_row(d) for d in rows],
                "no messages" if archived else "no messages (coord messages --archived shows "
                                               "archived ones)")


def _status_overview(ctx: Context) -> dict[str, Any]:
    coordinator = ctx.coordinator
    now = coordinator.clock()
    return {
        "backend": ctx.backend,
        "state_dir": str(ctx.state_dir),
        "project_root": str(ctx.project_root),
        "sessions": [views.session_dict(v, now) for v in coordinator.sessions()],
        "locks": [views.lock_dict(v) for v in coordinator.locks()],
        "queue": [views.queue_dict(r) for r in coordinator.queue()],
        "pending_broadcasts": _pending_broadcasts(ctx),
    }


def _pending_broadcasts(ctx: Context) -> int:
    value = ctx.store.info().details.get("pending_broadcasts", 0)
    return value if isinstance(value, int) else 0


def _status_queue(ctx: Context) -> dict[str, Any]:
    return {
        "backend": ctx.backend,
        "queue": [views.queue_dict(r) for r in ctx.coordinator.queue()],
        "pending_broadcasts": _pending_broadcasts(ctx),
        "batch": views.batch_view(ctx),
    }


@app.command()
def status(
    cli: typer.Context,
    queue: Annotated[bool, typer.Option(
        "--queue", help="Unread messages per recipient, oldest unread age, and broadcasts "
                        "waiting in the batch queue.")] = False,
    cache: Annotated[bool, typer.Option(
        "--cache", help="The backend's cache: TTL, entries, last rebuild.")] = False,
    cache_stats: Annotated[bool, typer.Option(
        "--cache-stats", help="Cache counters: hits, misses, evictions, rebuilds.")] = False,
    performance: Annotated[bool, typer.Option(
        "--performance", help="Hook latency per event (p50/p95/max) and slow operations.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Sessions, locks and the message queue at a glance, or one detailed view."""
    chosen = [name for name, on in (("--queue", queue), ("--cache", cache),
                                    ("--cache-stats", cache_stats),
                                    ("--performance", performance)) if on]
    if len(chosen) > 1:
        raise UsageError(f"choose one view, not {' and '.join(chosen)}")
    ctx = current_state(cli).context(write=False)
    if queue:
        _show_queue(_status_queue(ctx), as_json)
    elif cache or cache_stats:
        _show_cache(views.cache_view(ctx), as_json)
    elif performance:
        _show_performance(views.performance_view(ctx), as_json)
    else:
        _show_overview(_status_overview(ctx), as_json)


def _show_overview(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(doc)
        return
    say(f"backend {doc['backend']} · state {doc['state_dir']}")
    print_table("Sessions", views.SESSION_COLUMNS,
                [views.session_row(d) for d in doc["sessions"]], "Sessions: none live")
    print_table("Locks", views.LOCK_COLUMNS, [views.lock_row(d) for d in doc["locks"]],
                "Locks: none")
    _show_queue(doc, False)


def _show_queue(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(doc)
        return
    print_table("Queue", views.QUEUE_COLUMNS, [views.queue_row(d) for d in doc["queue"]],
                "Queue: no sessions")
    say(f"broadcasts waiting in the batch queue: {doc['pending_broadcasts']}")
    batch = doc.get("batch")
    if batch and batch["pending"]:
        say(f"  oldest queued {views.age_text(batch['oldest_age_s'])}; filed at "
            f"{batch['batch_size']} queued, after {batch['flush_interval_s']:g}s, or at "
            "Stop/SessionEnd (already delivered to readers meanwhile)")


def _show_cache(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(doc)
        return
    if not doc["available"]:
        say(f"{doc['note']} (cache_ttl setting: {doc['cache_ttl_s']:g}s)")
        return
    print_pairs(f"Cache ({doc['backend']} backend)",
                [(str(k), json.dumps(v) if isinstance(v, (dict, list)) else str(v))
                 for k, v in doc["cache"].items()])


def _show_performance(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(doc)
        return
    if not doc["runs"]:
        say(f"{doc['note']} ({doc['log']})")
        return
    print_table(f"Hook latency, last {doc['runs']} runs", views.PERFORMANCE_COLUMNS,
                [views.performance_row(e, d) for e, d in doc["events"].items()], "")
    slow = doc["slow_operations"]
    if slow:
        say(f"recent slow operations (over {doc['slow_threshold_ms']:g} ms):")
        now = time.time()
        for r in slow:
            when = views.age_text(now - r["ts"]) if isinstance(r["ts"], (int, float)) else "-"
            took = "?" if r["ms"] is None else f"{r['ms']:g} ms"
            extra = ", ".join(x for x in (r["backend"], r["outcome"]) if x)
            say(f"  {when}: {r['event']} took {took}" + (f" ({extra})" if extra else ""))


@app.command()
def config(cli: typer.Context, as_json: JsonOpt = False) -> None:
    """Show the effective settings, each with its value and where it came from.

    Sources, highest first: COORD_* variables, the seed's names (CACHE_TTL, ...),
    <state dir>/config.toml, the user config file, built-in defaults.
    """
    from coord_hooks.context import choose_backend
    from coord_hooks.paths import find_project_root
    from coord_hooks.settings import load_settings, user_config_file

    state = current_state(cli)
    state_dir = resolve_state_dir()
    settings = load_settings(state_dir if state_dir.is_dir() else None)
    doc: dict[str, Any] = {
        "state_dir": str(state_dir),
        "project_root": str(find_project_root()),
        "backend": choose_backend(settings, state.backend),
        "config_files": [str(user_config_file()), str(state_dir / "config.toml")],
        "settings": views.settings_dict(settings),
        "ignored": views.ignored_settings(settings),
    }
    if as_json:
        emit_json(doc)
        return
    say(f"state dir {doc['state_dir']} · backend in use: {doc['backend']}")
    print_table(None, views.CONFIG_COLUMNS,
                [views.config_row(n, d) for n, d in doc["settings"].items()], "")
    for name in doc["ignored"]:
        typer.echo(f"{PROG}: warning: unknown setting {name!r} in a config file is ignored",
                   err=True)


@app.command()
def cleanup(
    cli: typer.Context,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Report what would be cleaned, change nothing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """End dead sessions, drop lapsed locks, archive old messages, compact the store."""
    # No reaping on open: cleanup ends dead sessions itself (and --dry-run changes nothing).
    ctx = current_state(cli).context(write=not dry_run, reap=False)
    report = ctx.coordinator.cleanup(dry_run=dry_run)
    if as_json:
        emit_json(report)
        return
    dead, lapsed = report["dead_sessions"], report["expired_locks"]
    if dry_run:
        archive = report.get("would_archive", report.get("would_archive_at_most", 0))
        say(f"dry run: would end {len(dead)} dead session(s), release {len(lapsed)} lapsed "
            f"lock(s), archive {archive} of {report['live_messages']} message(s) "
            f"(retention {report['retention_limit']})")
    else:
        say(f"ended {len(dead)} dead session(s), released {len(lapsed)} lapsed lock(s), "
            f"archived {report['archived']} of {report['live_messages']} message(s) "
            f"(retention {report['retention_limit']})")
    for sid in dead:
        say(f"  session {sid[:8]}")
    for key in lapsed:
        say(f"  lock {key}")
    quarantine = report.get("quarantine")
    if isinstance(quarantine, dict) and quarantine.get("count"):
        say(f"{quarantine['count']} corrupt file(s) kept in {quarantine['path']} "
            "(never deleted; inspect and remove them yourself)")


@app.command()
def whoami(cli: typer.Context, session: SessionOpt = None, as_json: JsonOpt = False
           ) -> None:
    """Show the acting session (from --session or $CLAUDE_CODE_SESSION_ID), or 'human'."""
    state = current_state(cli)
    ctx: Context | None = None
    if session or state.session or resolve_state_dir().is_dir():
        ctx = state.context(write=False)
    acting = state.acting(ctx, session)
    live = bool(ctx and acting.session and ctx.coordinator.is_live(acting.session))
    s = acting.session
    doc = {
        "session_id": acting.session_id,
        "handle": acting.session_id[:8] if acting.session_id else None,
        "name": s.name if s else "",
        "task": s.task if s else "",
        "origin": acting.origin,
        "registered": s is not None,
        "live": live,
    }
    if as_json:
        emit_json(doc)
        return
    if acting.session_id is None:
        say(f"human (no acting session: pass --session ID or set ${ENV_SESSION})")
        return
    label = s.label() if s else acting.session_id[:8]
    state_text = "not registered" if s is None else "live" if live else "not live"
    say(f"{label} · {acting.session_id} · {state_text} · from {acting.origin}"
        + (f" · working on: {s.task}" if s and s.task else ""))


@app.command()
def name(
    cli: typer.Context,
    new_name: Annotated[str, typer.Argument(metavar="NAME",
                                            help="A short name others can address you by.")],
    task: Annotated[str | None, typer.Option(
        "--task", metavar="TEXT", help="What the session is working on.")] = None,
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Name the acting session (and optionally say what it works on).

    Others can then use the name wherever a session is expected: coord send NAME ...
    """
    cleaned = new_name.strip()
    if not cleaned or any(ch.isspace() or not ch.isprintable() for ch in cleaned):
        raise UsageError(f"bad name {new_name!r}: use one word without spaces")
    state = current_state(cli)
    ctx = state.context()
    acting = state.require_session(ctx, session, "name", heartbeat=True)
    assert acting.session_id is not None
    updated = ctx.coordinator.set_identity(acting.session_id, name=cleaned,
                                           task=task.strip() if task is not None else None)
    if as_json:
        now = ctx.coordinator.clock()
        view = next((v for v in ctx.coordinator.sessions(include_ended=True)
                     if v.session.session_id == updated.session_id), None)
        emit_json({"session": views.session_dict(view, now) if view else None})
        return
    say(f"{updated.handle} is now {updated.name}"
        + (f", working on: {updated.task}" if updated.task else ""))


# --- entry point ---------------------------------------------------------------------------
def run_cli(args: list[str]) -> int:
    """Run ``coord`` with ``args``; return the exit status. Never lets a traceback out."""
    try:
        result = app(args=args, prog_name=PROG, standalone_mode=False)
    except ClickException as exc:
        exc.show()
        return exc.exit_code
    except typer.Abort:
        typer.echo("Aborted!", err=True)
        return 1
    except CoordError as err:  # raised outside any command (e.g. building the app)
        return report_error(err)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        return report_internal_error(exc, args)
    return result if isinstance(result, int) else 0


# Extension point: other modules add commands to this app. Each name listed here is
# imported and its ``register(app: typer.Typer) -> None`` is called. Import errors are
# NOT hidden: a listed module that fails to import is a bug, and it should fail loudly.
# To add one, append its module name, e.g. "coord_hooks.cli_admin". Extension commands
# run inside `CoordGroup.invoke`, so they get the same error handling; they may use
# `current_state(ctx).context()` / `.acting()`, `emit_json` and `print_table`.
EXTENSIONS: tuple[str, ...] = ("coord_hooks.cli_store", "coord_hooks.cli_admin",
                               "coord_hooks.cli_bench", "coord_hooks.cli_health")

for _extension in EXTENSIONS:
    importlib.import_module(_extension).register(app)
