"""``coord`` on the standard library alone: the commands a model and the slash commands run.

Claude Code installs no Python packages for a plugin, so ``bin/coord`` must work with a
bare ``python3`` >= 3.10. `run_plain` parses the command line as Click would (the
declarations in `coord_hooks.cli.usage`) and runs the same functions as the Typer app
(`coord_hooks.cli.commands`), printing through the same output functions: same output,
``--json`` documents, error lines and exit codes (tests/cli/test_fast.py runs both).
Tables are plain text unless Rich can be imported. Commands that need the full CLI say
so and how to install it.

`run_fast` is the speed path of a full install: the plain forms of ``coord send`` and
``coord broadcast`` (what the model runs for every message) skip importing Typer, Click
and the CLI's extensions, about 100 ms of a ~170 ms process:

    coord send SESSION TEXT [--urgent]
    coord broadcast TEXT [--urgent]
"""

from __future__ import annotations

import os

from coord_hooks.cli import usage
from coord_hooks.cli.output import PROG, report_error, report_internal_error, say, warn
from coord_hooks.errors import CoordError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from coord_hooks.cli.state import CliState

FAST_COMMANDS = {"send": 2, "broadcast": 1}  # command -> positional arguments
# Commands of the full CLI (Typer): without its packages they explain how to install it.
FULL_ONLY = ("config", "cleanup", "migrate", "install", "uninstall", "doctor", "demo",
             "bench", "diagnose", "monitor", "shims", "backend")
CLI_PACKAGES = ("typer", "rich", "platformdirs", "portalocker")


def parse(args: list[str]) -> tuple[str, list[str], bool] | None:
    """(command, positional arguments, urgent) for the plain send/broadcast forms."""
    if not args or args[0] not in FAST_COMMANDS:
        return None
    positional: list[str] = []
    urgent = False
    for arg in args[1:]:
        if arg == "--urgent":
            urgent = True
        elif arg.startswith("-"):
            return None  # --json, --session, -s, -, --help, -- ...: the full CLI's job
        else:
            positional.append(arg)
    if len(positional) != FAST_COMMANDS[args[0]]:
        return None
    return args[0], positional, urgent


def run_fast(args: list[str]) -> int | None:
    """Run a plain send/broadcast; None means "use the Typer CLI instead"."""
    if parse(args) is None:
        return None
    return run_plain(args)


def run_plain(args: list[str]) -> int:
    """Run ``coord ARGS`` without Typer; return the exit status."""
    try:
        options, rest = usage.parse(usage.GLOBAL, args, "", interspersed=False)
        if options.get("version"):
            from coord_hooks import __version__

            say(f"coord-hooks {__version__}")
            return 0
        if options.get("help") or not rest:
            say(overview())
            return 0 if options.get("help") else 2
        _check_backend(options["backend"])
        command = rest[0]
        if command in FULL_ONLY:
            warn(needs_full_cli(f"`{PROG} {command}`"))
            return 1
        if command not in usage.COMMANDS:
            raise usage.Usage(f"No such command {_quoted(command)}.", PROG,
                              usage.usage_line(""))
        values, _ = usage.parse(usage.COMMANDS[command], rest[1:], command)
    except usage.Usage as problem:
        warn(problem.text())
        return problem.exit_code
    except CoordError as err:  # an option's value refused by its parser (--ttl nan)
        return report_error(err)
    if values.get("help"):
        from coord_hooks.cli import commands

        say(usage.help_text(command, getattr(commands, command).__doc__ or ""))
        return 0
    run = RUNNERS[command]
    if options["state_dir"] is not None:
        os.environ["COORD_STATE_DIR"] = os.path.abspath(os.path.expanduser(
            options["state_dir"]))
    from coord_hooks.cli.state import CliState

    state = CliState(backend=options["backend"], session=options["session"])
    return guarded(lambda: run(state, values), state, args)


def guarded(body: Callable[[], int], state: CliState, argv: list[str]) -> int:
    """The one error handler of this path (as `coord_hooks.cli.app.CoordGroup.invoke`)."""
    try:
        return body()
    except CoordError as err:
        return report_error(err)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        return report_internal_error(exc, argv)
    finally:
        try:
            state.finish()
        except Exception:
            pass


def _check_backend(name: str | None) -> None:
    from coord_hooks.store import BACKENDS

    if name is not None and name not in BACKENDS:
        raise usage.Usage(f"Invalid value for '--backend': {name!r} is not one of "
                          f"{', '.join(sorted(BACKENDS))}", PROG, usage.usage_line(""))


def _quoted(value: str) -> str:
    return "'" + usage._escape(value) + "'"


def needs_full_cli(what: str) -> str:
    from coord_hooks.paths import PLUGIN_ROOT

    return (f"{PROG}: {what} needs the full coord CLI ({', '.join(CLI_PACKAGES)}), which "
            f"this Python does not have; install it with: pipx install '{PLUGIN_ROOT}' "
            f"(these work without it: {', '.join(sorted(usage.COMMANDS))})")


def overview() -> str:
    """``coord --help`` without the full CLI."""
    from coord_hooks.cli import commands
    from coord_hooks.paths import PLUGIN_ROOT

    width = max(len(name) for name in usage.COMMANDS)
    lines = [f"{usage.usage_line('')}", "",
             "  Coordinate several Claude Code sessions on one repository (standard-library",
             "  mode: the full coord CLI is not installed here).", "", "Commands:"]
    for name in usage.COMMANDS:
        doc = getattr(commands, name).__doc__ or ""
        lines.append(f"  {name:<{width}}  {doc.strip().splitlines()[0]}")
    lines += ["", f"Global options: {', '.join(p.flags[-1] for p in usage.GLOBAL)}, --help.",
              f"More commands ({', '.join(FULL_ONLY)}) need the full CLI: "
              f"pipx install '{PLUGIN_ROOT}'"]
    return "\n".join(lines)


# --- the commands, from parsed values ------------------------------------------------------
def _status(state: CliState, v: dict[str, Any]) -> int:
    from coord_hooks.cli import commands

    chosen = [flag for flag, dest in (("--queue", "queue"), ("--cache", "cache"),
                                      ("--cache-stats", "cache_stats"),
                                      ("--performance", "performance")) if v[dest]]
    return commands.status(state, chosen, v["as_json"])


def _call(name: str) -> Callable[[CliState, dict[str, Any]], int]:
    def run(state: CliState, values: dict[str, Any]) -> int:
        from coord_hooks.cli import commands

        function: Callable[..., int] = getattr(commands, name)
        return function(state, **values)

    return run


RUNNERS: dict[str, Callable[[CliState, dict[str, Any]], int]] = {
    name: _status if name == "status" else _call(name) for name in usage.COMMANDS}
