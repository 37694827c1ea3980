"""``coord locks``, ``lock`` and ``unlock``: list, take and release advisory file locks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from coord_hooks.cli import views
from coord_hooks.cli.common import (
    PROG,
    JsonOpt,
    SessionOpt,
    current_state,
    emit_json,
    print_table,
    say,
    seconds,
)
from coord_hooks.errors import (
    CoordError,
    LockConflictError,
    exit_code_for,
)

if TYPE_CHECKING:
    pass

GlobOpt = Annotated[bool, typer.Option(
    "--glob", help="Take PATH_OR_GLOB as a pattern even when a file or folder of that name "
                   "exists (an existing path is otherwise that path: app/[id]/page.tsx).")]


def locks(cli: typer.Context, as_json: JsonOpt = False) -> None:
    """List file locks: key, holder, mode, reason, age, and whether the lease is active."""
    ctx = current_state(cli).context(write=False)
    rows = [views.lock_dict(v) for v in ctx.coordinator.locks()]
    if as_json:
        emit_json({"locks": rows})
        return
    print_table(None, views.LOCK_COLUMNS, [views.lock_row(d) for d in rows], "no locks")


def lock(
    cli: typer.Context,
    targets: Annotated[list[str], typer.Argument(metavar="PATH_OR_GLOB",
                                                 help="Files or glob patterns to lock.")],
    shared: Annotated[bool, typer.Option(
        "--shared", help="Take a shared lock (other shared locks may coexist).")] = False,
    ttl: Annotated[float | None, typer.Option(
        "--ttl", metavar="SECONDS", parser=seconds("--ttl", 1.0),
        help="Lease: seconds of inactivity after which the lock lapses, at least 1 "
             "(default: lock_ttl setting).")] = None,
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT",
                                        help="Why you hold it (shown to others).")] = "",
    glob: GlobOpt = False,
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
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
    state = current_state(cli)
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
        typer.echo(f"{PROG}: denied: {r['denial']}", err=True)
    if denied:
        raise typer.Exit(LockConflictError.exit_code)


def unlock(
    cli: typer.Context,
    targets: Annotated[list[str], typer.Argument(metavar="PATH_OR_GLOB",
                                                 help="Locked files or patterns, as locked.")],
    force: Annotated[bool, typer.Option(
        "--force", help="Release it even if another session holds it (logged).")] = False,
    glob: GlobOpt = False,
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
            typer.echo(f"{PROG}: error: {r['error']}", err=True)
        elif not as_json:
            holders = ", ".join(sorted({lk["holder_handle"] for lk in r["released"]}))
            extra = f" (forced; held by {holders})" if r["forced"] else ""
            say(f"released {r['key']}{extra}")
    if first_error is not None:
        raise typer.Exit(exit_code_for(first_error))


def register(app: typer.Typer) -> None:
    """Add locks, lock, unlock to the ``coord`` app (in --help order)."""
    app.command()(locks)
    app.command()(lock)
    app.command()(unlock)
