"""``coord sessions``: who is working in this repository."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from coord_hooks.cli import views
from coord_hooks.cli.common import (
    JsonOpt,
    current_state,
    emit_json,
    print_table,
)

if TYPE_CHECKING:
    pass


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


def register(app: typer.Typer) -> None:
    """Add sessions to the ``coord`` app (in --help order)."""
    app.command()(sessions)
