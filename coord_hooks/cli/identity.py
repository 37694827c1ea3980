"""``coord whoami`` and ``name``: which session a command acts as, and naming it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from coord_hooks.cli import views
from coord_hooks.cli.common import (
    ENV_SESSION,
    JsonOpt,
    SessionOpt,
    current_state,
    emit_json,
    say,
)
from coord_hooks.errors import (
    UsageError,
)
from coord_hooks.paths import resolve_state_dir

if TYPE_CHECKING:
    from coord_hooks.context import Context


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


def register(app: typer.Typer) -> None:
    """Add whoami, name to the ``coord`` app (in --help order)."""
    app.command()(whoami)
    app.command()(name)
