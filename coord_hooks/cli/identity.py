"""``coord whoami`` and ``name``: which session a command acts as, and naming it (the
work: `cli.commands`)."""

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


def whoami(cli: typer.Context, session: SessionOpt = None, as_json: JsonOpt = False) -> None:
    exit_with(commands.whoami(current_state(cli), session, as_json))


def name(
    cli: typer.Context,
    new_name: Annotated[str, argument("name", "new_name")],
    task: Annotated[str | None, option("name", "task")] = None,
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    exit_with(commands.name(current_state(cli), new_name, task, session, as_json))


def register(app: typer.Typer) -> None:
    """Add whoami, name to the ``coord`` app (in --help order)."""
    for command in (whoami, name):
        app.command(cls=CoordCommand,
                    help=getattr(commands, command.__name__).__doc__)(command)
