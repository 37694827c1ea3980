"""``coord send``, ``broadcast``, ``inbox`` and ``messages``: mail between sessions.

The plain forms of ``send`` and ``broadcast`` usually never get here: `coord_hooks.cli.fast`
runs them with the standard library alone (same steps, output and exit codes).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from coord_hooks.cli import views
from coord_hooks.cli.common import (
    JsonOpt,
    SessionOpt,
    current_state,
    emit_json,
    print_table,
    say,
)
from coord_hooks.errors import (
    NoSessionError,
)
from coord_hooks.model import Session

if TYPE_CHECKING:
    from coord_hooks.context import Context


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
        from coord_hooks.coordination.messages import addressed_to

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


def register(app: typer.Typer) -> None:
    """Add send, broadcast, inbox, messages to the ``coord`` app (in --help order)."""
    app.command()(send)
    app.command()(broadcast)
    app.command()(inbox)
    app.command()(messages)
