"""``coord migrate --to redis`` and back (``--to json|sqlite`` from redis).

Same discipline as `coord_hooks.store.migrate` (which calls these): the old layout's writers
wait while the copy runs, the copy is checked, and the layout marker of this clone's
state directory is the commit point; nothing is deleted.

To redis (from the JSON layout or SQLite), under the JSON flock (and SQLite's ``BEGIN
IMMEDIATE``), then under the project's redis lease:

* the project's namespace must be empty; if another clone moved there first, this one
  ``--join``s it instead: its own records are kept in ``migrated/`` (JSON) or in the
  retired ``coord.db``, and it uses the shared ones;
* sessions, locks (each given a fencing token), live messages with their sequence
  numbers, the sequence counter and the archive (``archive/messages.jsonl.gz``, copied
  into the redis archive; the file stays) are written in chunks of commits; a copy cut
  short leaves the ``migrating`` flag, which makes every writer refuse until
  ``coord migrate --to redis`` runs again (it starts over in an emptied namespace);
* the counts are read back and compared; then the marker says ``redis``; then the JSON
  files move to ``migrated/<time>-json/`` (a SQLite database is retired in place).

From redis, under the project's redis lease (redis writers of every clone wait): the
records and the redis archive (merged into the local archive file, each seq once) are
written in the chosen layout, the marker is written (this clone's commit point), and
the namespace is marked ``retired`` in the same lease: other clones' writers then refuse
with a message instead of writing where nobody reads. Its keys are kept.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from coord_hooks.errors import StoreError
from coord_hooks.model import Message
from coord_hooks.store.redis import RedisStore, RedisWriter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from coord_hooks.settings import Settings
    from coord_hooks.store.migrate import MigrationReport, Snapshot

CHUNK_OPS = 60_000  # ARGV entries per commit while copying (a few MB per script call)
MIGRATION_LEASE_MS = 60_000  # extended at every chunk; a crashed copy frees it on expiry


def open_redis(state_dir: Path, timeout: float, settings: Settings | None,
               project_root: Path | None) -> RedisStore:
    store = RedisStore(state_dir, lock_timeout=timeout, check_layout=False, settings=settings)
    if project_root is not None:
        store.bind_project(project_root)
    store.lease_ms = MIGRATION_LEASE_MS
    return store


def namespace_counts(tx: RedisWriter, store: RedisStore) -> dict[str, int]:
    from coord_hooks.store.migrate import _view_snapshot

    counts = _view_snapshot(tx).counts()
    counts["archived"] = int(tx.conn.command("LLEN", store.keys.archive))
    return counts


def _stamp(store: RedisStore, what: str) -> str:
    return f"{what} by {store.host_id} at {time.strftime('%Y-%m-%d %H:%M:%S %z')}"


# --- to redis -------------------------------------------------------------------------------
def copy_into_redis(store: RedisStore, snap: Snapshot, archived: list[Message],
                    report: MigrationReport, join: bool, source: str) -> bool:
    """Fill the empty namespace (or join a used one); False when joined without copying.

    Runs under the namespace's lease; the caller holds the old layout's locks.
    """
    with store.transaction() as tx:
        meta = tx.conn.command("HGETALL", store.keys.meta)
        meta = meta if isinstance(meta, dict) else dict(zip(meta[::2], meta[1::2],
                                                            strict=True))
        existing = namespace_counts(tx, store)
        partial = bool(meta.get("migrating"))
        used = any(existing[k] for k in ("sessions", "locks", "messages", "last_seq",
                                         "archived"))
        if meta.get("retired") or partial:
            _set_aside(tx, store, "retired" if meta.get("retired") else "partial")
            used = False
        if used and not join:
            raise StoreError(
                f"the redis namespace of {store.identity.project_id} at {store.display} "
                f"already holds {existing['sessions']} session(s), {existing['locks']} "
                f"lock(s) and {existing['messages']} message(s): another clone moved there "
                "first. Run `coord migrate --to redis --join` to use them; this clone's "
                "own records are then kept in migrated/")
        if used:
            report.counts = {k: existing[k] for k in ("sessions", "locks", "messages",
                                                      "last_seq")}
            return False
        if report.dry_run:
            return True
        tx.set_meta("migrating", _stamp(store, f"copy from {source}"))
        tx.set_meta("project", store.identity.project_id)
        tx.checkpoint()
        for session in snap.sessions:
            tx.put_session(session)
        for lock in snap.locks:
            tx.put_lock(lock)
            _maybe_checkpoint(tx)
        for message in snap.messages:
            tx.restore_message(message)
            _maybe_checkpoint(tx)
        for waiter in snap.waiters:
            tx.put_waiter(waiter)
        tx.bump_last_seq(max([snap.last_seq, *(m.seq for m in archived)]))
        for start in range(0, len(archived), CHUNK_OPS // 2):
            tx.append_archived(archived[start:start + CHUNK_OPS // 2])
            _maybe_checkpoint(tx)
        tx.set_meta("migrating", None)
        tx.set_meta("migrated_from", _stamp(store, source))
    with store.transaction() as check:
        copied = namespace_counts(check, store)
    want = {**snap.counts(), "archived": len(archived)}
    want["last_seq"] = max(want["last_seq"], *(m.seq for m in archived), 0)
    if copied != want:  # pragma: no cover - a bug, never a user error
        raise StoreError(f"migration check failed: copied {copied}, expected {want}; "
                         f"this clone still uses the {source} layout")
    return True


def _maybe_checkpoint(tx: RedisWriter) -> None:
    if len(tx.ops) >= CHUNK_OPS:
        tx.checkpoint()


def _set_aside(tx: RedisWriter, store: RedisStore, why: str) -> None:
    """Rename a retired or half-copied namespace's keys out of the way (kept, not deleted)."""
    suffix = f"{why}-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(2).hex()}"
    for key in store.keys.data_keys:
        if tx.conn.command("EXISTS", key):
            # The same hash slot: `{…}` stays at the front of the new name.
            tx.conn.command("RENAME", key, f"{key}:{suffix}")


# --- from redis -----------------------------------------------------------------------------
def retire(tx: RedisWriter, store: RedisStore, to: str) -> None:
    tx.set_meta("retired", _stamp(store, f"coord migrate --to {to}"))


def merged_archive(state_dir: Path, archived: list[Message]) -> int:
    """Append the redis archive's messages the local archive file lacks; how many."""
    from coord_hooks.store import archive

    have = {m.seq for m in archive.read_archive(state_dir)}
    missing = [m for m in archived if m.seq not in have]
    try:
        return archive.append_to_archive(state_dir, missing)
    except OSError as exc:
        raise StoreError(f"cannot write {archive.archive_path(state_dir)}: {exc}") from None
