"""``coord send``, ``broadcast``, ``inbox`` and ``messages``: mail between sessions (the
work: `cli.commands`).

The plain forms of ``send`` and ``broadcast`` usually never get here: `coord_hooks.cli.fast`
runs them without importing Typer (same functions, output and exit codes).
"""

from __future__ import annotations

from typing import Annotated

import typer

from coord_hooks.cli import commands
from coord_hooks.cli.common import (
    CoordCommand,
    JsonOpt,
    SessionOpt,
    argument,
    current_state,
    exit_with,
    option,
)


def send(
    cli: typer.Context,
    to: Annotated[str, argument("send", "to")],
    text: Annotated[str, argument("send", "text")],
    urgent: Annotated[bool, option("send", "urgent")] = False,
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    exit_with(commands.send(current_state(cli), to, text, urgent, session, as_json))


def broadcast(
    cli: typer.Context,
    text: Annotated[str, argument("broadcast", "text")],
    urgent: Annotated[bool, option("broadcast", "urgent")] = False,
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    exit_with(commands.broadcast(current_state(cli), text, urgent, session, as_json))


def inbox(
    cli: typer.Context,
    peek: Annotated[bool, option("inbox", "peek")] = False,
    all_: Annotated[bool, option("inbox", "all_")] = False,
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    exit_with(commands.inbox(current_state(cli), peek, all_, session, as_json))


def messages(
    cli: typer.Context,
    archived: Annotated[bool, option("messages", "archived")] = False,
    session: Annotated[str | None, option("messages", "session")] = None,
    as_json: JsonOpt = False,
) -> None:
    exit_with(commands.messages(current_state(cli), archived, session, as_json))


def register(app: typer.Typer) -> None:
    """Add send, broadcast, inbox, messages to the ``coord`` app (in --help order)."""
    for command in (send, broadcast, inbox, messages):
        app.command(cls=CoordCommand,
                    help=getattr(commands, command.__name__).__doc__)(command)
