"""``coord migrate --to sqlite|json|redis``: move a live state directory between layouts.

(To and from redis: `coord_hooks.store.redis_migrate`, called from here.)

Nothing is lost: sessions (with their read cursors and registration points), locks,
live messages, queued broadcasts and the sequence counter are copied; the archive
(``archive/messages.jsonl.gz``) is shared by both layouts and stays where it is. The old
layout's files are moved (never deleted) to ``migrated/<time>-json/`` or
``migrated/<time>-coord.db``.

Concurrency: the JSON store lock (``.lock``) is taken first, then SQLite's (the
creation lock and, from SQLite, a ``BEGIN IMMEDIATE`` transaction), always in that
order. Writers of either layout wait while the copy runs; the migration itself waits at
most ``lock_timeout`` for a writer that holds a lock, then refuses with
`StoreBusyError`. The layout marker (`coord_hooks.store.layout`) is the commit point:
once it names the new layout, every process opens that one; a writer that was waiting
for the old layout's lock finds the marker (JSON) or the retired flag (SQLite) and
refuses instead of writing where nobody reads.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coord_hooks.errors import StoreError, UsageError
from coord_hooks.fsio import FlockLock, atomic_write_bytes, dump_json, fsync_dir, unused_name
from coord_hooks.model import FORMAT_VERSION, Lock, Message, Session, Waiter, waiter_id_for
from coord_hooks.paths import ensure_subdir
from coord_hooks.store import layout
from coord_hooks.store.jsonfiles import (
    JOURNAL_NAME,
    JsonFileStore,
    message_file_name,
    read_generation,
    session_file_name,
)
from coord_hooks.store.sqlite import SqliteStore, SqliteWriter
from coord_hooks.store.sqlite_file import creation_lock, others_attached

BACKUP_DIR = "migrated"
# What belongs to the JSON layout and moves out with it (the archive, logs, quarantine,
# config and the generation counter are shared and stay).
JSON_ENTRIES = ("sessions", "locks", "messages", "waiters", "seq.json", JOURNAL_NAME, "index")


@dataclass
class Snapshot:
    """Every record of a store at one instant (taken under its write lock)."""

    sessions: list[Session] = field(default_factory=list)
    locks: list[Lock] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    last_seq: int = 0
    waiters: list[Waiter] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"sessions": len(self.sessions), "locks": len(self.locks),
                "messages": len(self.messages), "last_seq": self.last_seq}


@dataclass
class MigrationReport:
    state_dir: Path
    source: str | None
    target: str
    changed: bool
    counts: dict[str, int] = field(default_factory=dict)
    archived: int = 0
    backup: Path | None = None
    seconds: float = 0.0
    dry_run: bool = False
    joined: bool = False  # --to redis: this clone joined a namespace another one filled

    def to_dict(self) -> dict[str, Any]:
        return {"state_dir": str(self.state_dir), "from": self.source, "to": self.target,
                "changed": self.changed, "dry_run": self.dry_run, **self.counts,
                "archived": self.archived,
                "backup": str(self.backup) if self.backup else None, "joined": self.joined,
                "seconds": round(self.seconds, 3)}


def migrate(state_dir: Path, to: str, lock_timeout: float = 10.0,
            dry_run: bool = False, settings: Any = None, project_root: Path | None = None,
            join: bool = False) -> MigrationReport:
    """Move ``state_dir`` to the ``to`` layout (``json``, ``sqlite`` or ``redis``).

    ``settings``/``project_root`` name the redis server and namespace (default: from the
    environment and config files, and the state dir's parent); ``join``: see
    `coord_hooks.store.redis_migrate`.
    """
    if to not in layout.LAYOUTS:
        raise UsageError(f"unknown layout {to!r}: use json, sqlite or redis")
    if not state_dir.is_dir():
        raise StoreError(f"no coordination state at {state_dir}: nothing to migrate")
    started = time.monotonic()
    try:
        report = _migrate_locked(state_dir, to, lock_timeout, dry_run,
                                 _Redis(settings, project_root, join))
    except OSError as exc:
        # Every step before the marker leaves the old layout live; the marker is atomic.
        raise StoreError(f"migration of {state_dir} failed: {exc}; the "
                         f"{layout.detect(state_dir) or 'previous'} layout is still in use"
                         ) from None
    if to != layout.REDIS:  # the redis archive was counted by _to_redis
        report.archived = _count_archive(state_dir)
    report.seconds = time.monotonic() - started
    return report


@dataclass
class _Redis:
    """How to reach the redis namespace (only migrations to or from redis use it)."""

    settings: Any
    project_root: Path | None
    join: bool

    def open(self, state_dir: Path, timeout: float) -> Any:
        from coord_hooks.store.redis_migrate import open_redis

        return open_redis(state_dir, timeout, self.settings, self.project_root)


def _migrate_locked(state_dir: Path, to: str, lock_timeout: float,
                    dry_run: bool, redis: _Redis) -> MigrationReport:
    with _json_lock(state_dir, lock_timeout), creation_lock(state_dir, lock_timeout):
        source = layout.detect(state_dir)  # under both locks: no migration runs meanwhile
        report = MigrationReport(state_dir, source, to, changed=source != to, dry_run=dry_run)
        if source == to:
            report.counts = _counts(state_dir, to, lock_timeout, redis)
            if not dry_run and layout.read_marker(state_dir) != to:
                layout.write_marker(state_dir, to, "coord migrate")  # make it explicit
        elif source is None:  # nothing stored yet: only the choice is recorded
            if not dry_run:
                if to == layout.SQLITE:
                    _sqlite(state_dir, lock_timeout).create_database()
                layout.write_marker(state_dir, to, "coord migrate")
        elif to == layout.REDIS:
            _to_redis(state_dir, source, lock_timeout, report, redis)
        elif source == layout.REDIS:
            _from_redis(state_dir, to, lock_timeout, report, redis)
        elif to == layout.SQLITE:
            _json_to_sqlite(state_dir, lock_timeout, report)
        else:
            _sqlite_to_json(state_dir, lock_timeout, report)
    return report


def _counts(state_dir: Path, which: str, timeout: float, redis: _Redis) -> dict[str, int]:
    if which == layout.REDIS:
        store = redis.open(state_dir, timeout)
        try:
            with store.read() as redis_view:
                return _view_snapshot(redis_view).counts()
        finally:
            store.close()
    if which == layout.SQLITE:
        with _sqlite(state_dir, timeout) as store, store.read() as view:
            return _view_snapshot(view).counts()
    with JsonFileStore(state_dir, lock_timeout=timeout).read() as json_view:
        return _view_snapshot(json_view).counts()


def _count_archive(state_dir: Path) -> int:
    from coord_hooks.store import archive

    return sum(1 for _ in archive.read_archive(state_dir))


@contextmanager
def _json_lock(state_dir: Path, timeout: float) -> Iterator[None]:
    # The same sidecar flock the legacy (portalocker) and optimized backends take.
    with FlockLock(state_dir / ".lock", timeout):
        yield


def _sqlite(state_dir: Path, timeout: float) -> SqliteStore:
    return SqliteStore(state_dir, lock_timeout=timeout, check_layout=False)


def _view_snapshot(view: Any) -> Snapshot:
    return Snapshot(sessions=view.sessions(), locks=view.locks(),
                    messages=view.messages_after(0), last_seq=view.last_seq(),
                    waiters=view.waiters())


def _backup_path(state_dir: Path, kind: str) -> Path:
    """A new name under ``migrated/``: ``<time>-<kind>``, numbered if taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return unused_name(ensure_subdir(state_dir / BACKUP_DIR),
                       lambda n: f"{stamp}.{n + 1}-{kind}" if n else f"{stamp}-{kind}")


# --- json -> sqlite -----------------------------------------------------------------------
def _json_to_sqlite(state_dir: Path, timeout: float, report: MigrationReport) -> None:
    # Under the JSON lock nothing changes, so the plain (uncached) reader is consistent;
    # it includes broadcasts still queued in the batch journal.
    with JsonFileStore(state_dir, lock_timeout=timeout).read() as view:
        snap = _view_snapshot(view)
    report.counts = snap.counts()
    if report.dry_run:
        return
    # Crash safety: until the marker says sqlite, any coord.db is not the live store.
    if layout.read_marker(state_dir) != layout.JSON:
        layout.write_marker(state_dir, layout.JSON, "coord migrate (starting)")
    _retire_old_database(state_dir, _backup_path(state_dir, layout.DB_NAME))
    _build_sqlite(state_dir, timeout, snap, "the JSON files were left in place")
    layout.write_marker(state_dir, layout.SQLITE, "coord migrate --to sqlite")
    backup = _backup_path(state_dir, layout.JSON)
    _move_json_out(state_dir, backup)
    report.backup = backup


def _build_sqlite(state_dir: Path, timeout: float, snap: Snapshot, kept: str) -> None:
    """Build coord.db holding ``snap`` (atomically) and check it; ``kept``: what is still
    in use if the check fails."""
    def fill(tx: SqliteWriter) -> None:
        for session in snap.sessions:
            tx.put_session(session)
        for lock in snap.locks:
            tx.put_lock(lock)
        tx.restore_messages(snap.messages)
        tx.bump_last_seq(snap.last_seq)
        for waiter in snap.waiters:
            tx.put_waiter(waiter)

    store = _sqlite(state_dir, timeout)
    try:
        store.create_database(fill)
        with store.read() as check:
            copied = _view_snapshot(check)
    finally:
        store.close()
    if copied.counts() != snap.counts():  # pragma: no cover - a bug, never a user error
        raise StoreError(f"migration check failed: copied {copied.counts()}, "
                         f"expected {snap.counts()}; {kept}")


def _retire_old_database(state_dir: Path, target: Path) -> None:
    """Move a coord.db left by an earlier migration out of the way (never deleted)."""
    db = state_dir / layout.DB_NAME
    if not db.exists():
        return
    if others_attached(db):
        raise StoreError(f"{db} (from an earlier migration) is still open in another "
                         "process, perhaps a `coord monitor`; stop it and run migrate again")
    ensure_subdir(target.parent)
    os.replace(db, target)
    for suffix in ("-wal", "-shm"):
        side = Path(f"{db}{suffix}")
        if side.exists():
            os.replace(side, Path(f"{target}{suffix}"))
    fsync_dir(state_dir)


def _move_json_out(state_dir: Path, backup: Path) -> None:
    moved = False
    for name in JSON_ENTRIES:
        path = state_dir / name
        if os.path.lexists(path):
            if not moved:
                ensure_subdir(backup)
                moved = True
            os.replace(path, backup / name)
    if moved:
        fsync_dir(backup)
        fsync_dir(state_dir)
    _bump_generation(state_dir)


def _bump_generation(state_dir: Path) -> None:
    # Caches of the JSON backends are validated by this counter: never let it go back.
    atomic_write_bytes(state_dir / "generation", str(read_generation(state_dir) + 1).encode())


# --- sqlite -> json -----------------------------------------------------------------------
def _sqlite_to_json(state_dir: Path, timeout: float, report: MigrationReport) -> None:
    store = _sqlite(state_dir, timeout)
    try:
        with store.transaction() as tx:  # BEGIN IMMEDIATE: SQLite writers wait
            snap = _view_snapshot(tx)
            report.counts = snap.counts()
            if report.dry_run:
                return
            _clear_json_entries(state_dir)
            _write_json_layout(state_dir, snap)
            _bump_generation(state_dir)
            layout.write_marker(state_dir, layout.JSON, "coord migrate --to json")
            tx.retire(layout.JSON)  # waiting SQLite writers refuse once this commits
        report.backup = store.path  # kept in place, retired; moved by the next migration
    finally:
        store.close()


def _clear_json_entries(state_dir: Path) -> None:
    """Make room for the JSON layout: empty folders go, anything else moves aside.

    A JSON backend opened on this directory while it was SQLite's leaves empty record
    folders; a stray write or an interrupted migration may leave more.
    """
    stray: Path | None = None
    for name in JSON_ENTRIES:
        path = state_dir / name
        if not os.path.lexists(path):
            continue
        if path.is_dir() and not path.is_symlink():
            with os.scandir(path) as entries:
                empty = next(entries, None) is None
            if empty:
                os.rmdir(path)
                continue
        if stray is None:
            stray = ensure_subdir(_backup_path(state_dir, "stray-json"))
        os.replace(path, stray / name)


def _write_json_layout(state_dir: Path, snap: Snapshot) -> None:
    """Write the JSON layout in a staging folder, sync once, then rename it into place."""
    staging = state_dir / f".migrate-{os.getpid()}-{time.monotonic_ns()}.tmp"
    staging.mkdir(mode=0o700)  # new: never mix in what a crashed run left
    for sub in ("sessions", "locks", "messages", "waiters"):
        ensure_subdir(staging / sub)

    def put(path: Path, data: dict[str, Any]) -> None:
        # One sync for the whole tree below instead of one fsync per file.
        atomic_write_bytes(path, dump_json(data), durable=False)

    for session in snap.sessions:
        put(staging / "sessions" / session_file_name(session.session_id), session.to_dict())
    for lock in snap.locks:
        put(staging / "locks" / f"{lock.lock_id}.json", lock.to_dict())
    for message in snap.messages:
        put(staging / "messages" / message_file_name(message.seq), message.to_dict())
    for waiter in snap.waiters:
        put(staging / "waiters" / f"{waiter_id_for(waiter.session_id, waiter.key)}.json",
            waiter.to_dict())
    put(staging / "seq.json", {"format_version": FORMAT_VERSION, "last_seq": snap.last_seq})
    if hasattr(os, "sync"):
        os.sync()
    for name in ("sessions", "locks", "messages", "waiters", "seq.json"):
        os.replace(staging / name, state_dir / name)  # room made by _clear_json_entries
    os.rmdir(staging)
    fsync_dir(state_dir)


# --- to and from redis ----------------------------------------------------------------------
def _to_redis(state_dir: Path, source: str, timeout: float, report: MigrationReport,
              redis: _Redis) -> None:
    from coord_hooks.store import archive, redis_migrate

    store = redis.open(state_dir, timeout)
    archived = list(archive.read_archive(state_dir))
    try:
        if source == layout.JSON:
            # Under the JSON flock (held by the caller) nothing changes meanwhile.
            with JsonFileStore(state_dir, lock_timeout=timeout).read() as view:
                snap = _view_snapshot(view)
            report.counts = snap.counts()
            copied = redis_migrate.copy_into_redis(store, snap, archived, report, redis.join,
                                                   source)
            report.joined = not copied
            if report.dry_run:
                return
            layout.write_marker(state_dir, layout.REDIS, "coord migrate --to redis")
            backup = _backup_path(state_dir, layout.JSON)
            _move_json_out(state_dir, backup)
            report.backup = backup
        else:
            local = _sqlite(state_dir, timeout)
            try:
                with local.transaction() as tx:  # BEGIN IMMEDIATE: SQLite writers wait
                    snap = _view_snapshot(tx)
                    report.counts = snap.counts()
                    copied = redis_migrate.copy_into_redis(store, snap, archived, report,
                                                           redis.join, source)
                    report.joined = not copied
                    if report.dry_run:
                        return
                    layout.write_marker(state_dir, layout.REDIS, "coord migrate --to redis")
                    tx.retire(layout.REDIS)  # waiting SQLite writers refuse once this commits
                report.backup = local.path  # kept in place, retired
            finally:
                local.close()
        with store.read() as view:
            report.archived = int(view.conn.command("LLEN", store.keys.archive))
    finally:
        store.close()


def _from_redis(state_dir: Path, to: str, timeout: float, report: MigrationReport,
                redis: _Redis) -> None:
    from coord_hooks.store import redis_migrate

    store = redis.open(state_dir, timeout)
    try:
        with store.transaction() as remote:  # the lease: every clone's redis writers wait
            snap = _view_snapshot(remote)
            report.counts = snap.counts()
            archived = list(store.archived_messages())
            if report.dry_run:
                return
            redis_migrate.merged_archive(state_dir, archived)
            if to == layout.JSON:
                _clear_json_entries(state_dir)
                _write_json_layout(state_dir, snap)
                _bump_generation(state_dir)
            else:
                _retire_old_database(state_dir, _backup_path(state_dir, layout.DB_NAME))
                _build_sqlite(state_dir, timeout, snap, "redis is still in use")
            layout.write_marker(state_dir, to, f"coord migrate --to {to}")  # commit point
            redis_migrate.retire(remote, store, to)  # other clones refuse from now on
    finally:
        store.close()
