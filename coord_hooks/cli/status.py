"""``coord status``, ``config`` and ``cleanup``: the state at a glance, the effective
settings, and tidying up (dead sessions, lapsed locks, retention, compaction)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from coord_hooks.cli import views
from coord_hooks.cli.common import (
    PROG,
    JsonOpt,
    current_state,
    emit_json,
    print_pairs,
    print_table,
    say,
)
from coord_hooks.errors import (
    UsageError,
)
from coord_hooks.paths import resolve_state_dir

if TYPE_CHECKING:
    from coord_hooks.context import Context


def _status_overview(ctx: Context) -> dict[str, Any]:
    coordinator = ctx.coordinator
    now = coordinator.clock()
    details = ctx.store.info().details
    return {
        "backend": ctx.backend,
        "state_dir": str(ctx.state_dir),
        "project_root": str(ctx.project_root),
        # A shared server (redis): where, which project (and why that name), this host.
        "store": {k: details[k] for k in ("url", "project_id", "project_source", "project",
                                           "host_id") if k in details},
        "sessions": [views.session_dict(v, now) for v in coordinator.sessions()],
        "locks": [views.lock_dict(v) for v in coordinator.locks()],
        "queue": [views.queue_dict(r) for r in coordinator.queue()],
        "pending_broadcasts": _pending_broadcasts(ctx),
        "guard": views.guard_view(ctx),
    }


def _pending_broadcasts(ctx: Context) -> int:
    value = ctx.store.info().details.get("pending_broadcasts", 0)
    return value if isinstance(value, int) else 0


def _status_queue(ctx: Context) -> dict[str, Any]:
    return {
        "backend": ctx.backend,
        "queue": [views.queue_dict(r) for r in ctx.coordinator.queue()],
        "pending_broadcasts": _pending_broadcasts(ctx),
        "batch": views.batch_view(ctx),
    }


def status(
    cli: typer.Context,
    queue: Annotated[bool, typer.Option(
        "--queue", help="Unread messages per recipient, oldest unread age, and broadcasts "
                        "waiting in the batch queue.")] = False,
    cache: Annotated[bool, typer.Option(
        "--cache", help="The backend's cache: TTL, entries, last rebuild.")] = False,
    cache_stats: Annotated[bool, typer.Option(
        "--cache-stats", help="Cache counters: hits, misses, evictions, rebuilds.")] = False,
    performance: Annotated[bool, typer.Option(
        "--performance", help="Hook latency per event (p50/p95/max) and slow operations.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Sessions, locks and the message queue at a glance, or one detailed view.

    The overview starts with what the hook guards (Edit, Write, MultiEdit, NotebookEdit,
    and Bash commands it can parse) and how many recent Bash commands it could not judge
    (those run unchecked: scripts, interpreters, build tools, variables in paths).
    """
    chosen = [name for name, on in (("--queue", queue), ("--cache", cache),
                                    ("--cache-stats", cache_stats),
                                    ("--performance", performance)) if on]
    if len(chosen) > 1:
        raise UsageError(f"choose one view, not {' and '.join(chosen)}")
    ctx = current_state(cli).context(write=False)
    if queue:
        _show_queue(_status_queue(ctx), as_json)
    elif cache or cache_stats:
        _show_cache(views.cache_view(ctx), as_json)
    elif performance:
        _show_performance(views.performance_view(ctx), as_json)
    else:
        _show_overview(_status_overview(ctx), as_json)


def _show_overview(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(doc)
        return
    say(f"backend {doc['backend']} · state {doc['state_dir']}")
    store = doc.get("store") or {}
    if store.get("url"):
        say(f"redis at {store['url']} · {store.get('project', '')} · this machine is "
            f"{store.get('host_id', '?')}")
    for line in views.guard_lines(doc["guard"]):
        say(line)
    print_table("Sessions", views.SESSION_COLUMNS,
                [views.session_row(d) for d in doc["sessions"]], "Sessions: none live")
    print_table("Locks", views.LOCK_COLUMNS, [views.lock_row(d) for d in doc["locks"]],
                "Locks: none")
    _show_queue(doc, False)


def _show_queue(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(doc)
        return
    print_table("Queue", views.QUEUE_COLUMNS, [views.queue_row(d) for d in doc["queue"]],
                "Queue: no sessions")
    say(f"broadcasts waiting in the batch queue: {doc['pending_broadcasts']}")
    batch = doc.get("batch")
    if batch and batch["pending"]:
        say(f"  oldest queued {views.age_text(batch['oldest_age_s'])}; filed at "
            f"{batch['batch_size']} queued, after {batch['flush_interval_s']:g}s, or at "
            "Stop/SessionEnd (already delivered to readers meanwhile)")


def _show_cache(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(doc)
        return
    if not doc["available"]:
        say(f"{doc['note']} (cache_ttl setting: {doc['cache_ttl_s']:g}s)")
        return
    print_pairs(f"Cache ({doc['backend']} backend)",
                [(str(k), json.dumps(v) if isinstance(v, (dict, list)) else str(v))
                 for k, v in doc["cache"].items()])


def _show_performance(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(doc)
        return
    if not doc["runs"]:
        say(f"{doc['note']} ({doc['log']})")
        return
    print_table(f"Hook latency, last {doc['runs']} runs", views.PERFORMANCE_COLUMNS,
                [views.performance_row(e, d) for e, d in doc["events"].items()], "")
    slow = doc["slow_operations"]
    if slow:
        say(f"recent slow operations (over {doc['slow_threshold_ms']:g} ms):")
        now = time.time()
        for r in slow:
            when = views.age_text(now - r["ts"]) if isinstance(r["ts"], (int, float)) else "-"
            took = "?" if r["ms"] is None else f"{r['ms']:g} ms"
            extra = ", ".join(x for x in (r["backend"], r["outcome"]) if x)
            say(f"  {when}: {r['event']} took {took}" + (f" ({extra})" if extra else ""))


def config(cli: typer.Context, as_json: JsonOpt = False) -> None:
    """Show the effective settings, each with its value and where it came from.

    Sources, highest first: COORD_* variables, the seed's names (CACHE_TTL, ...),
    <state dir>/config.toml, the user config file, built-in defaults.
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
        typer.echo(f"{PROG}: warning: unknown setting {name!r} in a config file is ignored",
                   err=True)


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
    app.command()(status)
    app.command()(config)
    app.command()(cleanup)
