"""How every ``coord`` command prints: lines, one JSON document, tables, and the one-line
error reports with their exit codes.

Standard library only: the Typer app and the standard-library path (`coord_hooks.cli.fast`,
what ``bin/coord`` runs with a bare ``python3``) print through these same functions, so
their output is the same. Tables are drawn by Rich when it can be imported, else as plain
aligned text; every cell is cleaned first, because names, tasks, lock reasons and message
bodies are written by other sessions and must not reach a terminal as control sequences.
"""

from __future__ import annotations

import math
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from rich.console import Console

    from coord_hooks.errors import CoordError

PROG = "coord"
INTERNAL_EXIT = 70
PLAIN_COLUMN_WIDTH = 40  # a longer cell is shown whole but stops aligning its column


def say(text: str = "") -> None:
    """Print to stdout; control characters (from peer-written values) shown, not sent."""
    _write(sys.stdout, clean_cell(text, keep_newlines=True))


def warn(text: str) -> None:
    """One line on stderr (warnings, denials, error reports)."""
    _write(sys.stderr, clean_cell(text, keep_newlines=True))


def _write(stream: Any, text: str) -> None:
    stream.write(text + "\n")
    stream.flush()


def one_line(text: str) -> str:
    """Join the lines of a message: errors are always one line."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def report_error(err: CoordError) -> int:
    from coord_hooks.errors import exit_code_for

    warn(f"{PROG}: error: {one_line(str(err))}")
    return exit_code_for(err)


def report_internal_error(exc: BaseException, argv: Sequence[str] | None = None) -> int:
    """Log the traceback to ``<state>/logs/app.log``; print one line; return 70."""
    import traceback

    where = "no log written"
    try:
        from coord_hooks import logs
        from coord_hooks.paths import resolve_state_dir

        state_dir = resolve_state_dir()
        log = state_dir / "logs" / "app.log"
        if state_dir.is_dir():
            logs.log_event(state_dir, "error", "internal_error",
                           error=f"{type(exc).__name__}: {exc}",
                           traceback="".join(traceback.format_exception(exc)),
                           argv=list(argv) if argv is not None else sys.argv[1:])
            if log.exists():
                where = f"details in {log}"
        else:
            where = f"no log written: {state_dir} does not exist"
    except Exception:  # never let the error report itself raise
        pass
    warn(f"{PROG}: internal error: {type(exc).__name__}: {one_line(str(exc))} ({where})")
    return INTERNAL_EXIT


def json_safe(data: Any) -> Any:
    """``data`` with every non-finite float as null: ``Infinity``/``NaN`` are not JSON."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: json_safe(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(value) for value in data]
    return data


# From this many records on, orjson (when installed: the full CLI has it) writes the
# document: 0.64x the whole command's time at 10,000 messages, 0.51x at 100,000
# (scripts/measure-orjson.py); below it, its import is not repaid.
ORJSON_FROM_RECORDS = 1000


def emit_json(data: Any, records: int = 0) -> None:
    """Print one JSON document (stable keys, as built by `coord_hooks.cli.views`).

    ``records``: how many records it holds (large documents are written by orjson).
    """
    text = _dumps(data, records)
    # A lone surrogate (from a hand-edited record) must not crash the output.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if not text.replace("\n", "").isprintable():
        # json leaves DEL, C1 controls (CSI) and bidi overrides raw: escape them too.
        text = "".join(ch if ch.isprintable() or ch == "\n" else _json_escape(ch)
                       for ch in text)
    _write(sys.stdout, text)


def _dumps(data: Any, records: int) -> str:
    """``json.dumps(indent=2)``; the same text from orjson for a large document.

    A record an older version stored (a lease of 1e400 s) must not make it invalid JSON.
    """
    data = json_safe(data)
    if records >= ORJSON_FROM_RECORDS:
        try:
            import orjson

            option = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
            return orjson.dumps(data, default=str, option=option).decode("utf-8")
        except (ImportError, TypeError, ValueError):
            pass  # not installed, or a value it refuses (a lone surrogate): json's turn
    import json

    return json.dumps(data, indent=2, ensure_ascii=False, default=str, allow_nan=False)


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def clean_cell(text: str, keep_newlines: bool = False) -> str:
    """``text`` with control characters made visible (``\\x1b``), never interpreted."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable() or (keep_newlines and ch == "\n"):
            out.append(ch)
        elif ch == "\t":
            out.append(" ")
        else:
            out.append(repr(ch)[1:-1])  # "\\n", "\\x1b", "\\u2028"
    return "".join(out)


def _rich_available() -> bool:
    try:
        import rich.console  # noqa: F401
    except ImportError:
        return False
    return True


def console() -> Console:
    from rich.console import Console

    width = None
    if not sys.stdout.isatty():
        # Piped output is not wrapped at 80 columns; $COLUMNS still wins.
        width = int(os.environ.get("COLUMNS", "0") or 0) or 160
    return Console(width=width, markup=False, emoji=False, highlight=False, soft_wrap=False)


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]],
                empty: str) -> None:
    """A table (Rich, or plain text), or one line saying there is nothing."""
    if not rows:
        say(empty)
        return
    if not _rich_available():
        say(plain_table(title, columns, [[clean_cell(c) for c in row] for row in rows]))
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", show_lines=False)
    for name in columns:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(Text(clean_cell(cell, keep_newlines=True)) for cell in row))
    console().print(table)


def plain_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]]
                ) -> str:
    """Columns aligned with two spaces; the last column is never padded."""
    widths = [min(PLAIN_COLUMN_WIDTH, max(len(str(columns[i])), *(len(r[i]) for r in rows)))
              for i in range(len(columns))]

    def line(cells: Sequence[str]) -> str:
        padded = [cell.ljust(width) for cell, width in zip(cells[:-1], widths[:-1], strict=True)]
        return "  ".join([*padded, cells[-1]]).rstrip()

    lines = [title] if title else []
    lines.append(line(columns))
    lines.extend(line(row) for row in rows)
    return "\n".join(lines)


def print_pairs(title: str | None, pairs: Sequence[tuple[str, str]]) -> None:
    """A two-column key/value table."""
    cleaned = [(clean_cell(k), clean_cell(v)) for k, v in pairs]
    if not _rich_available():
        width = max((len(k) for k, _ in cleaned), default=0)
        say("\n".join([*([title] if title else []),
                       *(f"{k.ljust(width)}  {v}".rstrip() for k, v in cleaned)]))
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in cleaned:
        table.add_row(Text(key), Text(value))
    console().print(table)
