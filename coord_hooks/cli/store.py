"""``coord migrate``: move the state directory between the JSON layout and SQLite.

A command group of `coord_hooks.cli.app` (`register`). The work is in
`coord_hooks.store.migrate`; this module parses, calls and formats.
"""

from __future__ import annotations

from typing import Annotated

import typer

from coord_hooks.cli.common import emit_json, say
from coord_hooks.store import layout


def migrate_cmd(
    to: Annotated[str, typer.Option(
        "--to", metavar="LAYOUT", help="json (legacy/optimized backends) or sqlite.")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Count what would move; change nothing.")] = False,
    wait: Annotated[float | None, typer.Option(
        "--wait", metavar="SECONDS", help="How long to wait for a writer holding the "
        "store lock before refusing (default: the store_lock_timeout setting).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Move this project's coordination state to another layout, losing nothing.

    Sessions (with read cursors), locks, messages, queued broadcasts and the sequence
    counter are copied while both layouts' write locks are held: hooks running at that
    moment wait, or the command refuses after --wait seconds. The archive is shared
    and stays. The old files are kept in <state dir>/migrated/. Hooks and commands of
    this project follow the new layout at once, whichever backend the shim selects.
    """
    from coord_hooks.errors import UsageError
    from coord_hooks.paths import resolve_state_dir
    from coord_hooks.settings import load_settings
    from coord_hooks.store import migrate

    target = to.strip().lower()
    if target not in layout.LAYOUTS:
        raise UsageError(f"--to {to!r}: use json or sqlite")
    state_dir = resolve_state_dir()
    timeout = wait if wait is not None else load_settings(
        state_dir if state_dir.is_dir() else None).store_lock_timeout
    report = migrate.migrate(state_dir, target, lock_timeout=timeout, dry_run=dry_run)
    if as_json:
        emit_json(report.to_dict())
        return
    counts = report.counts
    what = (f"{counts.get('sessions', 0)} session(s), {counts.get('locks', 0)} lock(s), "
            f"{counts.get('messages', 0)} live message(s) (last seq "
            f"{counts.get('last_seq', 0)}); {report.archived} archived message(s) stay in "
            "archive/")
    if not report.changed:
        say(f"{state_dir} already uses the {target} layout: {what}")
        return
    if dry_run:
        say(f"dry run: would move {state_dir} from {report.source} to {target}: {what}")
        return
    if report.source is None:
        say(f"{state_dir} held no records yet; it now uses the {target} layout")
        return
    say(f"moved {state_dir} from {report.source} to {target} in {report.seconds:.2f}s: "
            f"{what}")
    if report.backup is not None:
        kept = "kept (retired)" if target == layout.JSON else "moved"
        say(f"the old {report.source} files were {kept} at {report.backup}")
    backends = "sqlite" if target == layout.SQLITE else "optimized or legacy"
    say(f"hooks and commands for this project now use the {target} layout "
            f"(backend {backends}), whatever `coord backend` selects")


def register(app: typer.Typer) -> None:
    """Add ``migrate`` to the ``coord`` app."""
    app.command("migrate")(migrate_cmd)
