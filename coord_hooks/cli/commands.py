"""The commands a model and the slash commands run, written once on the standard library:
status, sessions, locks, lock, unlock, wait, send, broadcast, inbox, messages, whoami, name.

Each takes a `CliState` and the parsed options, prints through `coord_hooks.cli.output`
and returns the exit status (or raises a `CoordError`). The Typer commands parse their
options and call these; so does the standard-library path (`coord_hooks.cli.fast`), which
``bin/coord`` runs when no Python with the CLI's packages is around (a plugin installed
by Claude Code gets no pip install). The docstrings are the commands' help on both paths.
"""

from __future__ import annotations

import sys

from coord_hooks.cli import views
from coord_hooks.cli.output import PROG, emit_json, print_pairs, print_table, say, warn
from coord_hooks.cli.state import ENV_SESSION, CliState
from coord_hooks.errors import (
    CoordError,
    LockConflictError,
    NoSessionError,
    NotFoundError,
    UsageError,
    exit_code_for,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from coord_hooks.context import Context
    from coord_hooks.model import Session

STATUS_VIEWS = ("--queue", "--cache", "--cache-stats", "--performance")


def no_state_line(state_dir: object, what: str = "sessions") -> str:
    """What a read command says in a project where no session has registered yet."""
    return (f"no {what} yet: no Claude Code session has registered in this project "
            f"(its state will be in {state_dir})")


# --- status ----------------------------------------------------------------------------------
def status(state: CliState, views_chosen: list[str], as_json: bool) -> int:
    """Sessions, locks and the message queue at a glance, or one detailed view.

    The overview starts with what the hook guards (Edit, Write, MultiEdit, NotebookEdit,
    and Bash commands it can parse) and how many recent Bash commands it could not judge
    (those run unchecked: scripts, interpreters, build tools, variables in paths).
    """
    if len(views_chosen) > 1:
        raise UsageError(f"choose one view, not {' and '.join(views_chosen)}")
    view = views_chosen[0] if views_chosen else ""
    if state.no_state_yet():
        from coord_hooks.context import choose_backend
        from coord_hooks.paths import find_project_root, resolve_state_dir
        from coord_hooks.settings import load_settings

        settings = load_settings(None)
        backend = choose_backend(settings, state.backend)
        state_dir, root, coordinator, details = resolve_state_dir(), find_project_root(), None, {}
        if view in ("", "--queue") and not as_json:
            say(no_state_line(state_dir))
            return 0
    else:
        ctx = state.context(write=False)
        settings, backend, state_dir, root = (ctx.settings, ctx.backend, ctx.state_dir,
                                              ctx.project_root)
        coordinator, details = ctx.coordinator, ctx.store.info().details
    if view == "--queue":
        _show_queue(views.queue_view(backend, settings, coordinator, details), as_json)
    elif view in ("--cache", "--cache-stats"):
        _show_cache(views.cache_view(backend, settings, details), as_json)
    elif view == "--performance":
        _show_performance(views.performance_view(backend, settings, state_dir), as_json)
    else:
        _show_overview(views.overview_view(backend, settings, state_dir, root, coordinator,
                                           details), as_json)
    return 0


def _show_overview(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(doc)
        return
    say(f"backend {doc['backend']} · state {doc['state_dir']}")
    store = doc.get("store") or {}
    if store.get("url"):
        say(f"redis at {store['url']} · {store.get('project', '')} · this machine is "
            f"{store.get('host_id', '?')}")
    for line in views.guard_lines(doc["guard"]):
        say(line)
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
    import json

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
    import time

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


# --- sessions and locks ----------------------------------------------------------------------
def sessions(state: CliState, all_: bool, as_json: bool) -> int:
    """List live sessions: handle, name, task, last activity, locks held, unread mail."""
    if state.no_state_yet():
        rows: list[dict[str, Any]] = []
        empty = no_state_line(_state_dir())
    else:
        ctx = state.context(write=False)
        now = ctx.coordinator.clock()
        rows = [views.session_dict(v, now) for v in ctx.coordinator.sessions(include_ended=all_)]
        empty = ("no sessions" if all_
                 else "no live sessions (coord sessions --all shows ended ones)")
    if as_json:
        emit_json({"sessions": rows})
        return 0
    print_table(None, views.SESSION_COLUMNS, [views.session_row(d) for d in rows], empty)
    return 0


def locks(state: CliState, as_json: bool) -> int:
    """List file locks: key, holder, mode, reason, age, and whether the lease is active."""
    if state.no_state_yet():
        rows: list[dict[str, Any]] = []
        empty = no_state_line(_state_dir(), "locks")
    else:
        ctx = state.context(write=False)
        rows = [views.lock_dict(v) for v in ctx.coordinator.locks()]
        empty = "no locks"
    if as_json:
        emit_json({"locks": rows}, len(rows))
        return 0
    print_table(None, views.LOCK_COLUMNS, [views.lock_row(d) for d in rows], empty)
    return 0


def lock(state: CliState, targets: list[str], shared: bool, ttl: float | None, reason: str,
         glob: bool, session: str | None, as_json: bool) -> int:
    """Lock files or globs for the acting session (or renew its own locks).

    Each target is reported on its own; targets that are free are locked even if
    another is denied. Exit status 3 when any target is held by another session, with
    who holds it and how to ask them. A malformed pattern (a reversed range such as
    [z-a], a POSIX class, ".." after a wildcard, a trailing /) is refused before
    anything is taken.

    A target that names an existing file or folder is that path, even with [ ] * ? in
    its name (app/[id]/page.tsx); --glob takes it as a pattern instead.

    \b
    Examples:
      coord lock src/app.py --reason "refactoring the router"
      coord lock 'docs/**/*.md' --shared --ttl 600
    """
    ctx = state.context()
    acting = state.require_session(ctx, session, "lock", heartbeat=True)
    assert acting.session_id is not None
    for target in targets:  # every pattern is checked before any lock is taken
        ctx.coordinator.lock_key(target, glob=glob)
    results = []
    for target in targets:
        result = ctx.coordinator.try_acquire(acting.session_id, target, exclusive=not shared,
                                             ttl=ttl, reason=reason.strip(), glob=glob)
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
        warn(f"{PROG}: denied: {r['denial']}")
    return LockConflictError.exit_code if denied else 0


def unlock(state: CliState, targets: list[str], force: bool, glob: bool,
           session: str | None, as_json: bool) -> int:
    """Release the acting session's locks; --force releases another session's lock.

    Without a session, only --force works (a person clearing a stale lock).
    """
    ctx = state.context()
    if force:
        acting = state.heartbeat(ctx, state.acting(ctx, session))
    else:
        acting = state.require_session(ctx, session, "unlock (without --force)",
                                       heartbeat=True)
    results = []
    first_error: CoordError | None = None
    for target in targets:
        try:
            key, _ = ctx.coordinator.key_for(target, glob=glob)
            released = ctx.coordinator.release(acting.session_id, target, force=force,
                                               glob=glob)
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
            warn(f"{PROG}: error: {r['error']}")
        elif not as_json:
            holders = ", ".join(sorted({lk["holder_handle"] for lk in r["released"]}))
            extra = f" (forced; held by {holders})" if r["forced"] else ""
            say(f"released {r['key']}{extra}")
    return exit_code_for(first_error) if first_error is not None else 0


def wait(state: CliState, targets: list[str], timeout: float, session: str | None,
         as_json: bool) -> int:
    """Wait until no other session holds these files (exit 0), or the timeout (exit 3).

    Free means what an edit would find: no other session holds an active lock that
    covers the file (released, its holder ended or gone, or its lease lapsed). Once they
    are free, the acting session is not told again at its next step. Nothing is locked:
    edit the file (or `coord lock` it) next.

    \b
    Examples:
      coord wait src/app.py && echo "free now"
      coord wait src/app.py src/router.py --timeout 60
    """
    ctx = state.context(write=False)
    acting = state.acting(ctx, session)
    held = ctx.coordinator.wait_free(acting.session_id, targets, timeout=timeout)
    keys = [ctx.coordinator.key_for(target)[0] for target in targets]
    now = ctx.coordinator.clock()
    if as_json:
        emit_json({"session_id": acting.session_id, "free": not held, "timeout_s": timeout,
                   "keys": keys,
                   "held": {key: [views.lock_record(lk, None, True, now) for lk in found]
                            for key, found in held.items()}})
    elif not held:
        for key in keys:
            say(f"free: {key}")
    if not held:
        return 0
    holders = "; ".join(f"{key} (held by {', '.join(lk.owner[:8] for lk in found)})"
                        for key, found in held.items())
    warn(f"{PROG}: still locked after {views.duration_text(timeout)}: {holders}")
    return LockConflictError.exit_code


# --- messages --------------------------------------------------------------------------------
def read_text(text: str) -> str:
    """The message text; ``-`` reads standard input (bytes, so binary is detected)."""
    if text != "-":
        return text
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        return sys.stdin.read()
    # surrogateescape keeps invalid UTF-8 visible to clean_body, which refuses it.
    raw: bytes = stream.read()
    return raw.decode("utf-8", "surrogateescape")


def send(state: CliState, to: str, text: str, urgent: bool, session: str | None,
         as_json: bool) -> int:
    """Send a direct message to one session (delivered into its model's context).

    The sender is the acting session, or you (a human) when there is none. Messages to
    ended sessions are kept and stay readable.

    \b
    Examples:
      coord send a1b2c3d4 "Could you release src/app.py when you can?"
      git diff | coord send alice -
    """
    ctx = state.context()
    acting = state.heartbeat(ctx, state.acting(ctx, session))
    message = ctx.coordinator.send(acting.session_id, to, read_text(text), urgent=urgent)
    recipient = ctx.coordinator.resolve(message.recipient)
    if as_json:
        emit_json({"message": views.message_dict(message, ctx.coordinator.clock(),
                                                 {recipient.session_id: recipient})})
        return 0
    say(f"sent #{message.seq} to {recipient.label()}" + (" (urgent)" if urgent else ""))
    return 0


def broadcast(state: CliState, text: str, urgent: bool, session: str | None,
              as_json: bool) -> int:
    """Send a message to every live session (each receives it exactly once)."""
    ctx = state.context()
    acting = state.heartbeat(ctx, state.acting(ctx, session))
    message = ctx.coordinator.broadcast(acting.session_id, read_text(text), urgent=urgent)
    recipients = [v.session.session_id for v in ctx.coordinator.sessions()
                  if v.session.session_id != acting.session_id]
    if as_json:
        emit_json({"message": views.message_dict(message, ctx.coordinator.clock(), {}),
                   "recipients": recipients})
        return 0
    count = len(recipients)
    say(f"broadcast #{message.seq} to {count} live session{'' if count == 1 else 's'}"
        + (" (urgent)" if urgent else ""))
    return 0


def _all_sessions(ctx: Context) -> list[Session]:
    return [v.session for v in ctx.coordinator.sessions(include_ended=True)]


def inbox(state: CliState, peek: bool, all_: bool, session: str | None, as_json: bool) -> int:
    """Show the acting session's unread messages and mark them read."""
    write = not (peek or all_)
    empty = "no messages" if all_ else "no unread messages"
    if not write and state.no_state_yet():
        acting = state.require_session(None, session, "inbox")
        return _show_messages(acting.session_id, write, [], empty, as_json)
    ctx = state.context(write=write)
    acting = state.require_session(ctx, session, "inbox", heartbeat=write)
    assert acting.session_id is not None
    if all_:
        from coord_hooks.coordination.messages import addressed_to

        me = acting.session
        if me is None:
            raise NoSessionError(f"session {acting.session_id} is not registered")
        found = [m for m in ctx.coordinator.history(me.session_id, archived=True)
                 if addressed_to(m, me)]
    else:
        found = ctx.coordinator.inbox(acting.session_id, peek=peek)
    rows = views.messages_dicts(found, ctx.coordinator.clock(), _all_sessions(ctx))
    return _show_messages(acting.session_id, write, rows, empty, as_json)


def _show_messages(session_id: str | None, marked_read: bool, rows: list[dict[str, Any]],
                   empty: str, as_json: bool) -> int:
    if as_json:
        emit_json({"session_id": session_id, "marked_read": marked_read, "messages": rows},
                  len(rows))
        return 0
    print_table(None, views.MESSAGE_COLUMNS, [views.message_row(d) for d in rows], empty)
    return 0


def messages(state: CliState, archived: bool, session: str | None, as_json: bool) -> int:
    """List all messages, read or not, oldest first (nothing is marked read)."""
    handle = session or state.session
    if state.no_state_yet():
        if handle:
            raise NotFoundError(f"no session matches {handle!r} (no sessions yet in this "
                                "project)")
        who, rows = None, []
    else:
        ctx = state.context(write=False)
        who = ctx.coordinator.resolve(handle).session_id if handle else None
        found = ctx.coordinator.history(who, archived=archived)
        rows = views.messages_dicts(found, ctx.coordinator.clock(), _all_sessions(ctx))
    if as_json:
        emit_json({"session_id": who, "archived": archived, "messages": rows}, len(rows))
        return 0
    print_table(None, views.MESSAGE_COLUMNS, [views.message_row(d) for d in rows],
                "no messages" if archived else "no messages (coord messages --archived shows "
                                               "archived ones)")
    return 0


# --- identity --------------------------------------------------------------------------------
def whoami(state: CliState, session: str | None, as_json: bool) -> int:
    """Show the acting session (from --session or $CLAUDE_CODE_SESSION_ID), or 'human'."""
    from coord_hooks.paths import resolve_state_dir

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
        return 0
    if acting.session_id is None:
        say(f"human (no acting session: pass --session ID or set ${ENV_SESSION})")
        return 0
    label = s.label() if s else acting.session_id[:8]
    state_text = "not registered" if s is None else "live" if live else "not live"
    say(f"{label} · {acting.session_id} · {state_text} · from {acting.origin}"
        + (f" · working on: {s.task}" if s and s.task else ""))
    return 0


def name(state: CliState, new_name: str, task: str | None, session: str | None,
         as_json: bool) -> int:
    """Name the acting session (and optionally say what it works on).

    Others can then use the name wherever a session is expected: coord send NAME ...
    """
    cleaned = new_name.strip()
    if not cleaned or any(ch.isspace() or not ch.isprintable() for ch in cleaned):
        raise UsageError(f"bad name {new_name!r}: use one word without spaces")
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
        return 0
    say(f"{updated.handle} is now {updated.name}"
        + (f", working on: {updated.task}" if updated.task else ""))
    return 0


def _state_dir() -> object:
    from coord_hooks.paths import resolve_state_dir

    return resolve_state_dir()
