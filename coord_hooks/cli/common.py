"""What the Typer commands share: the `CliState` kept in click's context, options built from
the declarations in `coord_hooks.cli.usage`, and a help layout without Typer's type tags.

Printing, error reports and the per-invocation state are standard library
(`coord_hooks.cli.output`, `coord_hooks.cli.state`): the standard-library path uses them too.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from coord_hooks.cli import usage
from coord_hooks.cli.output import emit_json, say
from coord_hooks.cli.state import CliState

__all__ = ["META_KEY", "CoordCommand", "JsonOpt", "SessionOpt", "argument", "current_state",
           "emit_json", "exit_with", "option", "say"]

META_KEY = "coord_hooks.cli"  # where the CliState sits in click's ctx.meta


def current_state(ctx: typer.Context) -> CliState:
    """The `CliState` of the running command (extension commands use it too)."""
    state = ctx.meta.get(META_KEY)
    if state is None:
        state = ctx.meta[META_KEY] = CliState()
    assert isinstance(state, CliState)
    return state


def exit_with(code: int) -> None:
    """End a command with ``code`` (0 returns normally)."""
    if code:
        raise typer.Exit(code)


def option(command: str, dest: str, **extra: Any) -> Any:
    """A ``typer.Option`` from its declaration in `coord_hooks.cli.usage`."""
    p = usage.param(command, dest)
    return typer.Option(*p.flags, metavar=p.metavar or None, help=p.help, **extra)


def argument(command: str, dest: str) -> Any:
    p = usage.param(command, dest)
    return typer.Argument(metavar=p.metavar, help=p.help)


class CoordCommand(TyperCommand):
    """Help as a person reads it: ``PATH_OR_GLOB...`` in the usage line, not Typer's
    ``{PATH_OR_GLOB}...``, and no ``<list[str]>`` type tags on arguments."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = param.metavar or (param.name or "").upper()
                name += "..." if param.nargs != 1 else ""
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                name = param.metavar or (param.name or "").upper()
                arguments.append((name + ("..." if param.nargs != 1 else ""), record[1]))
            else:
                options.append(record)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


def short_help(command: Any) -> str:
    """A command's first paragraph, whole (Click would cut it at 45 characters with "...")."""
    text = inspect.cleandoc(command.help or "").split("\n\n")[0]
    return " ".join(text.split()).rstrip(".")


SessionOpt = Annotated[str | None, option("", "session")]
JsonOpt = Annotated[bool, option("locks", "as_json")]
