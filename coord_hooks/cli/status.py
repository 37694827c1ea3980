"""``coord status``, ``config`` and ``cleanup``: the state at a glance, the effective
settings, and tidying up (dead sessions, lapsed locks, retention, compaction)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from coord_hooks.cli import commands, views
from coord_hooks.cli.common import (
    CoordCommand,
    JsonOpt,
    current_state,
    emit_json,
    exit_with,
    option,
    say,
)
from coord_hooks.cli.output import PROG, print_table, warn
from coord_hooks.paths import resolve_state_dir


def status(
    cli: typer.Context,
    queue: Annotated[bool, option("status", "queue")] = False,
    cache: Annotated[bool, option("status", "cache")] = False,
    cache_stats: Annotated[bool, option("status", "cache_stats")] = False,
    performance: Annotated[bool, option("status", "performance")] = False,
    as_json: JsonOpt = False,
) -> None:
    chosen = [flag for flag, on in zip(commands.STATUS_VIEWS,
                                       (queue, cache, cache_stats, performance), strict=True)
              if on]
    exit_with(commands.status(current_state(cli), chosen, as_json))


def config(cli: typer.Context, as_json: JsonOpt = False) -> None:
    """Show the effective settings, each with its value and where it came from.

    Sources, highest first: COORD_* variables, the older unprefixed names (CACHE_TTL,
    BROADCAST_BATCH_SIZE, BATCH_FLUSH_INTERVAL, COORDINATION_DEBUG), <state dir>/config.toml,
    the user config file, built-in defaults.
    """
    from coord_hooks.context import choose_backend
    from coord_hooks.paths import find_project_root
    from coord_hooks.settings import load_settings, user_config_file

    state = current_state(cli)
    state_dir = resolve_state_dir()
    settings = load_settings(state_dir if state_dir.is_dir() else None)
    doc: dict[str, Any] = {
        "state_dir": str(state_dir),
        "project_root": str(find_project_root()),
        "backend": choose_backend(settings, state.backend),
        "config_files": [str(user_config_file()), str(state_dir / "config.toml")],
        "settings": views.settings_dict(settings),
        "ignored": views.ignored_settings(settings),
    }
    if as_json:
        emit_json(doc)
        return
    say(f"state dir {doc['state_dir']} · backend in use: {doc['backend']}")
    print_table(None, views.CONFIG_COLUMNS,
                [views.config_row(n, d) for n, d in doc["settings"].items()], "")
    for name in doc["ignored"]:
        warn(f"{PROG}: warning: unknown setting {name!r} in a config file is ignored")


def cleanup(
    cli: typer.Context,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Report what would be cleaned, change nothing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """End dead sessions, drop lapsed locks, archive old messages, compact the store."""
    # No reaping on open: cleanup ends dead sessions itself (and --dry-run changes nothing).
    ctx = current_state(cli).context(write=not dry_run, reap=False)
    report = ctx.coordinator.cleanup(dry_run=dry_run)
    if as_json:
        emit_json(report)
        return
    dead, lapsed = report["dead_sessions"], report["expired_locks"]
    if dry_run:
        archive = report.get("would_archive", report.get("would_archive_at_most", 0))
        say(f"dry run: would end {len(dead)} dead session(s), release {len(lapsed)} lapsed "
            f"lock(s), archive {archive} of {report['live_messages']} message(s) "
            f"(retention {report['retention_limit']})")
    else:
        say(f"ended {len(dead)} dead session(s), released {len(lapsed)} lapsed lock(s), "
            f"archived {report['archived']} of {report['live_messages']} message(s) "
            f"(retention {report['retention_limit']})")
    for sid in dead:
        say(f"  session {sid[:8]}")
    for key in lapsed:
        say(f"  lock {key}")
    quarantine = report.get("quarantine")
    if isinstance(quarantine, dict) and quarantine.get("count"):
        say(f"{quarantine['count']} corrupt file(s) kept in {quarantine['path']} "
            "(never deleted; inspect and remove them yourself)")


def register(app: typer.Typer) -> None:
    """Add status, config, cleanup to the ``coord`` app (in --help order)."""
    app.command(cls=CoordCommand, help=commands.status.__doc__)(status)
    app.command(cls=CoordCommand)(config)
    app.command(cls=CoordCommand)(cleanup)
