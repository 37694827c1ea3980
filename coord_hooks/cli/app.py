"""The ``coord`` Typer app: global options, the one error handler, and the command groups.

No rules live here (they are in `coord_hooks.coordination`) and no JSON shapes (they are
in `coord_hooks.cli.views`); each command group is its own module (`COMMAND_GROUPS`).

Errors are handled in one place, `CoordGroup.invoke`, which wraps every command: a
`CoordError` becomes ``coord: error: <message>`` on stderr with `exit_code_for`;
anything else is logged with its traceback and reported in one line with exit 70.
`run_cli` is the entry point and the last safety net.
"""

from __future__ import annotations

import errno
import importlib
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from coord_hooks import __version__
from coord_hooks.cli.common import META_KEY, SessionOpt, option, short_help
from coord_hooks.cli.output import PROG, report_error, report_internal_error, warn
from coord_hooks.cli.state import CliState
from coord_hooks.errors import CoordError
from coord_hooks.store import BACKENDS

try:  # Typer >= 0.26 vendors Click; older Typer uses the click package
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - depends on the installed Typer
    from click.exceptions import ClickException  # type: ignore[no-redef,import-not-found]


class CoordGroup(TyperGroup):
    """The top-level group: every command runs inside the one error handler."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, ClickException):
            raise
        except CoordError as err:
            raise typer.Exit(report_error(err)) from None
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # a closed pipe (``coord messages | head``) is not an error
            raise typer.Exit(report_internal_error(exc)) from None
        except Exception as exc:
            raise typer.Exit(report_internal_error(exc)) from None
        finally:
            state = ctx.meta.get(META_KEY)
            if isinstance(state, CliState):
                try:
                    state.finish()
                except Exception:
                    pass

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # Each command's whole first paragraph: Click cuts summaries at 45 characters.
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.short_help:
                command.short_help = short_help(command)
        super().format_commands(ctx, formatter)


app = typer.Typer(
    name=PROG,
    cls=CoordGroup,
    help="Coordinate several Claude Code sessions on one repository: advisory file locks, "
         "messages between sessions, and status.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain Click help: keeps `coord --help` from importing Rich
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# --- global options --------------------------------------------------------------------------
def _version(value: bool) -> None:
    if value:
        typer.echo(f"coord-hooks {__version__}")
        raise typer.Exit()


def _check_backend(value: str | None) -> str | None:
    if value is not None and value not in BACKENDS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(sorted(BACKENDS))}")
    return value


@app.callback()
def main(
    ctx: typer.Context,
    backend: Annotated[str | None, option("", "backend", callback=_check_backend)] = None,
    state_dir: Annotated[Path | None, option("", "state_dir")] = None,
    session: SessionOpt = None,
    version: Annotated[bool, option("", "version", callback=_version, is_eager=True)] = False,
) -> None:
    """Coordinate several Claude Code sessions on one repository.

    Sessions register through the plugin's hooks; these commands show who is working,
    take and release advisory file locks, and send messages between sessions. A model
    runs them from its Bash tool, where $CLAUDE_CODE_SESSION_ID names its own session.
    """
    if state_dir is not None:
        os.environ["COORD_STATE_DIR"] = os.path.abspath(os.path.expanduser(state_dir))
    ctx.meta[META_KEY] = CliState(backend=backend, session=session)


# --- entry point ---------------------------------------------------------------------------
def run_cli(args: list[str]) -> int:
    """Run ``coord`` with ``args``; return the exit status. Never lets a traceback out."""
    try:
        result = app(args=args, prog_name=PROG, standalone_mode=False)
    except ClickException as exc:
        exc.show()
        return exc.exit_code
    except typer.Abort:
        warn("Aborted!")
        return 1
    except CoordError as err:  # raised outside any command (e.g. building the app)
        return report_error(err)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        return report_internal_error(exc, args)
    return result if isinstance(result, int) else 0


# The command groups, registered in this order (it is the order of `coord --help`). Each
# module has a ``register(app: typer.Typer) -> None``; import errors are NOT hidden: a
# listed module that fails to import is a bug, and it should fail loudly. Commands run
# inside `CoordGroup.invoke`, so they all get the same error handling; they use
# `coord_hooks.cli.common` (`current_state(ctx).context()` / `.acting()`, `emit_json`,
# `print_table`).
COMMAND_GROUPS: tuple[str, ...] = (
    "coord_hooks.cli.sessions", "coord_hooks.cli.locks", "coord_hooks.cli.messages",
    "coord_hooks.cli.status", "coord_hooks.cli.identity", "coord_hooks.cli.store",
    "coord_hooks.cli.admin", "coord_hooks.cli.bench", "coord_hooks.cli.health",
)

for _group in COMMAND_GROUPS:
    importlib.import_module(_group).register(app)
