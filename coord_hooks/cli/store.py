"""``coord migrate``: move the state directory between the JSON layout, SQLite and redis.

A command group of `coord_hooks.cli.app` (`register`). The work is in
`coord_hooks.store.migrate`; this module parses, calls and formats.
"""

from __future__ import annotations

from typing import Annotated

import typer

from coord_hooks.cli.common import CoordCommand, emit_json, say
from coord_hooks.cli.usage import seconds
from coord_hooks.store import layout


def migrate_cmd(
    to: Annotated[str, typer.Option(
        "--to", metavar="LAYOUT",
        help="json (legacy/optimized backends), sqlite, or redis (the redis_url server).")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Count what would move; change nothing.")] = False,
    wait: Annotated[float | None, typer.Option(
        "--wait", metavar="SECONDS", parser=seconds("--wait", 0.0),
        help="How long to wait for a writer holding the store lock before refusing "
             "(default: the store_lock_timeout setting).")] = None,
    join: Annotated[bool, typer.Option(
        "--join", help="--to redis when another clone already moved this project there: "
                       "use its records; this clone's own are kept in migrated/.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Move this project's coordination state to another layout, losing nothing.

    Sessions (with read cursors), locks, messages, queued broadcasts and the sequence
    counter are copied while both layouts' write locks are held: hooks running at that
    moment wait, or the command refuses after --wait seconds. The archive is shared
    and stays. The old files are kept in <state dir>/migrated/. Hooks and commands of
    this project follow the new layout at once, whichever backend the shim selects.

    To redis, the project's namespace on the server is filled (the archive is copied
    too) and every clone of the repository shares it; from redis, the namespace is kept
    but retired, so other clones' writers refuse instead of writing where nobody reads.
    """
    from coord_hooks.errors import UsageError
    from coord_hooks.paths import find_project_root, resolve_state_dir
    from coord_hooks.settings import load_settings
    from coord_hooks.store import migrate

    target = to.strip().lower()
    if target not in layout.LAYOUTS:
        raise UsageError(f"--to {to!r}: use json, sqlite or redis")
    if join and target != layout.REDIS:
        raise UsageError("--join only goes with --to redis")
    state_dir = resolve_state_dir()
    settings = load_settings(state_dir if state_dir.is_dir() else None)
    timeout = wait if wait is not None else settings.store_lock_timeout
    report = migrate.migrate(state_dir, target, lock_timeout=timeout, dry_run=dry_run,
                             settings=settings, project_root=find_project_root(), join=join)
    if as_json:
        emit_json(report.to_dict())
        return
    counts = report.counts
    what = (f"{counts.get('sessions', 0)} session(s), {counts.get('locks', 0)} lock(s), "
            f"{counts.get('messages', 0)} live message(s) (last seq "
            f"{counts.get('last_seq', 0)}); {report.archived} archived message(s) "
            + ("in the redis archive" if target == layout.REDIS else "stay in archive/"))
    if not report.changed:
        say(f"{state_dir} already uses the {target} layout: {what}")
        return
    if dry_run:
        say(f"dry run: would move {state_dir} from {report.source} to {target}: {what}")
        return
    if report.source is None:
        say(f"{state_dir} held no records yet; it now uses the {target} layout")
        return
    if report.joined:
        say(f"joined the project's records on redis ({what}); this clone's own "
                f"{report.source} records were kept at {report.backup}")
        return
    say(f"moved {state_dir} from {report.source} to {target} in {report.seconds:.2f}s: "
            f"{what}")
    if report.backup is not None:
        kept = "moved" if report.source == layout.JSON else "kept (retired)"
        say(f"the old {report.source} files were {kept} at {report.backup}")
    if report.source == layout.REDIS:
        say("the project's redis keys were kept on the server, retired: other clones "
                "still on redis refuse to write until they migrate too")
    backends = {layout.SQLITE: "sqlite", layout.REDIS: "redis"}.get(target,
                                                                   "optimized or legacy")
    say(f"hooks and commands for this project now use the {target} layout "
            f"(backend {backends}), whatever `coord backend` selects")


def register(app: typer.Typer) -> None:
    """Add ``migrate`` to the ``coord`` app."""
    app.command("migrate", cls=CoordCommand)(migrate_cmd)
