"""The options and arguments of the commands that run on the standard library alone, declared
once: the Typer commands take their flags, metavars and help from here, and
`coord_hooks.cli.fast` parses a command line with them the way Click does (same option
forms, same usage errors, same exit status 2), so both paths accept the same commands.

Standard library only.
"""

from __future__ import annotations

from coord_hooks.cli.output import PROG
from coord_hooks.store import BACKENDS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any


class Param:
    """One option (``flags`` given) or positional argument (``flags`` empty)."""

    def __init__(self, dest: str, flags: tuple[str, ...] = (), *, metavar: str = "",
                 help: str = "", value: Callable[[str], Any] | None = None,
                 nargs: int = 1, default: Any = None) -> None:
        self.dest = dest
        self.flags = flags
        self.metavar = metavar
        self.help = help
        self.value = value  # converts an option's value; None for a flag
        self.nargs = nargs  # arguments only: -1 takes every remaining one
        self.default = default  # an option's value when it is not given

    @property
    def is_option(self) -> bool:
        return bool(self.flags)

    def hint(self) -> str:
        """How Click names it in errors: ``'--ttl'``, ``'PATH_OR_GLOB'``."""
        if self.is_option:
            return "'" + " / ".join(f for f in self.flags if f.startswith("--")) + "'"
        return f"'{self.metavar}'"

    def usage(self) -> str:
        return self.metavar + ("..." if self.nargs != 1 else "")


class Usage(Exception):
    """A command line that cannot be parsed: shown the way Click shows it, exit 2."""

    exit_code = 2

    def __init__(self, message: str, command: str | None = None,
                 usage_line: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.command = command  # "coord lock"; None: no usage block (as Click's parser)
        self.usage_line = usage_line

    def text(self) -> str:
        head = ""
        if self.command is not None:
            head = f"{self.usage_line}\nTry '{self.command} -h' for help.\n\n"
        return f"{head}Error: {self.message}"


def seconds(option: str, minimum: float) -> Callable[[str], float]:
    """A duration option's parser: a finite number of seconds >= ``minimum``.

    ``nan``, ``inf``, ``1e400`` and negatives are refused in one line (exit 2): a lease
    of NaN never lapses the same way twice, an infinite one never does. Typer uses it as
    the option's ``parser``, and so does the standard-library path.
    """
    def parse(value: str) -> float:
        import math

        from coord_hooks.errors import UsageError

        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and number >= minimum):
            raise UsageError(f"{option} {value!r}: expected a number of seconds, at least "
                             f"{minimum:g} and finite")
        return number

    return parse


# Claude Code's Bash tool stops a command after 2 minutes unless told otherwise: `coord wait`
# must end first, with its own answer, and leave time to start the process.
WAIT_DEFAULT = 110.0

JSON = Param("as_json", ("--json",), help="Print one JSON document.")
SESSION = Param("session", ("-s", "--session"), metavar="ID", value=str,
                help="Act as this session (full id, name, or unique prefix of 4+ characters). "
                     "Default: $CLAUDE_CODE_SESSION_ID.")
URGENT = "Deliver mid-turn, not only at the recipient's next prompt."
GLOB = Param("glob", ("--glob",),
             help="Take PATH_OR_GLOB as a pattern even when a file or folder of that name "
                  "exists (an existing path is otherwise that path: app/[id]/page.tsx).")

# The global options of `coord` (before the command).
GLOBAL: tuple[Param, ...] = (
    Param("backend", ("--backend",), metavar="NAME", value=str,
          help=f"Store backend for this command ({', '.join(BACKENDS)}); "
               "$COORD_BACKEND still wins."),
    Param("state_dir", ("--state-dir",), metavar="PATH", value=str,
          help="Use this state directory (sets $COORD_STATE_DIR for this process)."),
    SESSION,
    Param("version", ("--version",), help="Print the version and exit."),
)

COMMANDS: dict[str, tuple[Param, ...]] = {
    "sessions": (Param("all_", ("--all", "-a"), help="Include ended and dead sessions."), JSON),
    "locks": (JSON,),
    "lock": (
        Param("targets", metavar="PATH_OR_GLOB", nargs=-1,
              help="Files or glob patterns to lock."),
        Param("shared", ("--shared",),
              help="Take a shared lock (other shared locks may coexist)."),
        Param("ttl", ("--ttl",), metavar="SECONDS", value=seconds("--ttl", 1.0),
              help="Lease: seconds of inactivity after which the lock lapses, at least 1 "
                   "(default: lock_ttl setting)."),
        Param("reason", ("--reason",), metavar="TEXT", value=str, default="",
              help="Why you hold it (shown to others)."),
        GLOB, SESSION, JSON),
    "unlock": (
        Param("targets", metavar="PATH_OR_GLOB", nargs=-1,
              help="Locked files or patterns, as locked."),
        Param("force", ("--force",),
              help="Release it even if another session holds it (logged)."),
        GLOB, SESSION, JSON),
    "wait": (
        Param("targets", metavar="PATH", nargs=-1,
              help="Files to wait for (a folder: every file under it; a quoted pattern: "
                   "every file it covers)."),
        Param("timeout", ("--timeout",), metavar="SECONDS", value=seconds("--timeout", 0.0),
              default=WAIT_DEFAULT,
              help=f"Give up after this long (exit 3). The default, {WAIT_DEFAULT:g}, fits "
                   "Claude Code's 2-minute Bash tool limit."),
        SESSION, JSON),
    "send": (
        Param("to", metavar="SESSION", help="Recipient: full id, name, or unique prefix."),
        Param("text", metavar="TEXT", help="The message; '-' reads it from stdin."),
        Param("urgent", ("--urgent",), help=URGENT),
        SESSION, JSON),
    "broadcast": (
        Param("text", metavar="TEXT", help="The message; '-' reads it from stdin."),
        Param("urgent", ("--urgent",),
              help="Deliver mid-turn, not only at each recipient's next prompt."),
        SESSION, JSON),
    "inbox": (
        Param("peek", ("--peek",), help="Show unread messages without marking them read."),
        Param("all_", ("--all", "-a"),
              help="Every message addressed to the session, read or not, archived ones too "
                   "(marks nothing read)."),
        SESSION, JSON),
    "messages": (
        Param("archived", ("--archived",), help="Include archived (older) messages."),
        Param("session", ("--session", "-s"), metavar="ID", value=str,
              help="Only messages to or from this session (id, name or prefix)."),
        JSON),
    "status": (
        Param("queue", ("--queue",),
              help="Unread messages per recipient, oldest unread age, and broadcasts "
                   "waiting in the batch queue."),
        Param("cache", ("--cache",), help="The backend's cache: TTL, entries, last rebuild."),
        Param("cache_stats", ("--cache-stats",),
              help="Cache counters: hits, misses, evictions, rebuilds."),
        Param("performance", ("--performance",),
              help="Hook latency per event (p50/p95/max) and slow operations."),
        JSON),
    "whoami": (SESSION, JSON),
    "name": (
        Param("new_name", metavar="NAME", help="A short name others can address you by."),
        Param("task", ("--task",), metavar="TEXT", value=str,
              help="What the session is working on."),
        SESSION, JSON),
}
HELP_FLAGS = ("-h", "--help")


def param(command: str, dest: str) -> Param:
    """The declaration of ``command``'s parameter ``dest`` (for the Typer commands)."""
    params = GLOBAL if command == "" else COMMANDS[command]
    return next(p for p in params if p.dest == dest)


def usage_line(command: str) -> str:
    """``Usage: coord lock [OPTIONS] PATH_OR_GLOB...``, as Click prints it."""
    if not command:
        return f"Usage: {PROG} [OPTIONS] COMMAND [ARGS]..."
    pieces = [p.usage() for p in COMMANDS[command] if not p.is_option]
    return " ".join([f"Usage: {PROG} {command} [OPTIONS]", *pieces])


def parse(params: Sequence[Param], args: Sequence[str], command: str,
          interspersed: bool = True) -> tuple[dict[str, Any], list[str]]:
    """Parse ``args`` like Click: (values by dest, the arguments left over).

    ``interspersed=False`` stops at the first positional (a group's options before its
    command); the rest is returned unparsed. Raises `Usage` for a bad command line;
    ``-h``/``--help`` (eager, as in Click) returns ``{"help": True}``.
    """
    where = f"{PROG} {command}".rstrip()
    line = usage_line(command)
    by_flag = {flag: p for p in params if p.is_option for flag in p.flags}
    by_flag.update({flag: Param("help", HELP_FLAGS) for flag in HELP_FLAGS})
    raw: dict[str, list[Any]] = {}  # dest -> raw values, in order
    seen: list[str] = []  # dests in the order they appeared (Click processes them so)
    positional: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            if interspersed:
                positional += rest
                rest = []
            break
        if arg[:1] != "-" or len(arg) == 1:
            if not interspersed:
                rest.insert(0, arg)
                break
            positional.append(arg)
        else:
            for option, value in _options_in(arg, rest, by_flag, where, line):
                raw.setdefault(option.dest, []).append(value)
                if option.dest not in seen:
                    seen.append(option.dest)
    if "help" in raw:
        return {"help": True}, rest
    return _finish(params, raw, seen, positional, where, line), rest


def _options_in(arg: str, rest: list[str], by_flag: dict[str, Param], where: str,
                line: str) -> list[tuple[Param, Any]]:
    """The option(s) ``arg`` holds (``--x``, ``--x=v``, ``-ab``, ``-sVALUE``)."""
    if arg[:2] == "--":
        name, eq, explicit = arg.partition("=")
        option = by_flag.get(name)
        if option is None:
            from difflib import get_close_matches

            longs = [flag for flag in by_flag if flag.startswith("--")]
            close = get_close_matches(name, longs)
            suggestion = f" (Possible options: {', '.join(sorted(close))})" if close else ""
            raise Usage(f"No such option: {_escape(name)}{suggestion}", where, line)
        if option.value is None:
            if eq:
                raise Usage(f"Option {name!r} does not take a value.")
            return [(option, True)]
        if eq:
            return [(option, explicit)]
        if not rest:
            raise Usage(f"Option {name!r} requires an argument.")
        return [(option, rest.pop(0))]
    found: list[tuple[Param, Any]] = []
    for i, ch in enumerate(arg[1:], start=2):
        option = by_flag.get(f"-{ch}")
        if option is None:
            raise Usage(f"No such option: {_escape('-' + ch)}", where, line)
        if option.value is None:
            found.append((option, True))
            continue
        if i < len(arg):
            found.append((option, arg[i:]))
        elif rest:
            found.append((option, rest.pop(0)))
        else:
            raise Usage(f"Option '-{ch}' requires an argument.")
        break
    return found


def _finish(params: Sequence[Param], raw: dict[str, list[Any]], seen: list[str],
            positional: list[str], where: str, line: str) -> dict[str, Any]:
    """Assign positionals, convert values and report problems in Click's order."""
    arguments = [p for p in params if not p.is_option]
    values: dict[str, Any] = {}
    left = list(positional)
    for p in arguments:
        if p.nargs == -1:
            values[p.dest], left = left, []
        else:
            values[p.dest] = left.pop(0) if left else None
    # Click handles the options given first (in order), then the arguments, then the rest.
    order = ([p for dest in seen for p in params if p.dest == dest]
             + arguments + [p for p in params if p.is_option and p.dest not in seen])
    for p in order:
        if not p.is_option:
            if values[p.dest] in (None, []):
                raise Usage(f"Missing argument {p.hint()}.", where, line)
            continue
        given = raw.get(p.dest)
        if p.value is None:
            values[p.dest] = bool(given)
        elif given is None:
            values[p.dest] = p.default
        else:
            try:
                values[p.dest] = p.value(given[-1])
            except ValueError as exc:
                raise Usage(f"Invalid value for {p.hint()}: {exc}", where, line) from None
    if left:
        extra = " ".join(_escape(a) for a in left)
        raise Usage(f"Got unexpected extra argument(s) ({extra})", where, line)
    return values


def _escape(value: str) -> str:
    """Control characters shown as ``\\x1b`` (as Click shows untrusted values)."""
    return "".join(f"\\x{ord(ch):02x}" if ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F else ch
                   for ch in value)


def help_text(command: str, doc: str) -> str:
    """``coord COMMAND --help`` on the standard-library path."""
    from textwrap import dedent

    params = COMMANDS[command]
    first, _, body = doc.strip().partition("\n")
    text = "\n".join([first, *dedent(body).splitlines()])
    lines = [usage_line(command), ""]
    lines += ["  " + ln if ln.strip() else "" for ln in text.splitlines() if ln != "\b"]
    arguments = [p for p in params if not p.is_option]
    if arguments:
        lines += ["", "Arguments:"]
        lines += [f"  {p.usage():<18} {p.help}" for p in arguments]
    lines += ["", "Options:"]
    for p in [*params, Param("help", HELP_FLAGS, help="Show this message and exit.")]:
        if p.is_option:
            flags = ", ".join(p.flags) + (f" {p.metavar}" if p.metavar else "")
            lines.append(f"  {flags:<18} {p.help}")
    return "\n".join(lines)
