"""``coord locks``, ``lock``, ``unlock`` and ``wait``: list, take, release advisory file
locks, and wait until files are free (the work: `cli.commands`)."""

from __future__ import annotations

from typing import Annotated

import typer

from coord_hooks.cli import commands, usage
from coord_hooks.cli.common import (
    CoordCommand,
    JsonOpt,
    SessionOpt,
    argument,
    current_state,
    exit_with,
    option,
)


def locks(cli: typer.Context, as_json: JsonOpt = False) -> None:
    exit_with(commands.locks(current_state(cli), as_json))


def lock(
    cli: typer.Context,
    targets: Annotated[list[str], argument("lock", "targets")],
    shared: Annotated[bool, option("lock", "shared")] = False,
    ttl: Annotated[float | None, option("lock", "ttl", parser=usage.seconds("--ttl", 1.0))
                   ] = None,
    reason: Annotated[str, option("lock", "reason")] = "",
    glob: Annotated[bool, option("lock", "glob")] = False,
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    exit_with(commands.lock(current_state(cli), targets, shared, ttl, reason, glob, session,
                            as_json))


def unlock(
    cli: typer.Context,
    targets: Annotated[list[str], argument("unlock", "targets")],
    force: Annotated[bool, option("unlock", "force")] = False,
    glob: Annotated[bool, option("unlock", "glob")] = False,
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    exit_with(commands.unlock(current_state(cli), targets, force, glob, session, as_json))


def wait(
    cli: typer.Context,
    targets: Annotated[list[str], argument("wait", "targets")],
    timeout: Annotated[float, option("wait", "timeout", parser=usage.seconds("--timeout", 0.0))
                       ] = usage.WAIT_DEFAULT,
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    exit_with(commands.wait(current_state(cli), targets, timeout, session, as_json))


def register(app: typer.Typer) -> None:
    """Add locks, lock, unlock, wait to the ``coord`` app (in --help order)."""
    for command in (locks, lock, unlock, wait):
        app.command(cls=CoordCommand,
                    help=getattr(commands, command.__name__).__doc__)(command)
