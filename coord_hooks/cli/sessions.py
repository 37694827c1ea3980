"""``coord sessions``: who is working in this repository (the work: `cli.commands`)."""

from __future__ import annotations

from typing import Annotated

import typer

from coord_hooks.cli import commands
from coord_hooks.cli.common import CoordCommand, JsonOpt, current_state, exit_with, option


def sessions(
    cli: typer.Context,
    all_: Annotated[bool, option("sessions", "all_")] = False,
    as_json: JsonOpt = False,
) -> None:
    exit_with(commands.sessions(current_state(cli), all_, as_json))


def register(app: typer.Typer) -> None:
    """Add sessions to the ``coord`` app (in --help order)."""
    app.command(cls=CoordCommand, help=commands.sessions.__doc__)(sessions)
