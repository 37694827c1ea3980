"""The optimized backend: the legacy JSON layout, plus a persisted snapshot and batches.

Every hook is a new process, so an in-memory cache is never warm (the seed's bash
arrays could not work). What persists instead, in ``index/`` of the state dir:

* ``index/manifest``: the ``generation`` it describes, ``last_seq``, the live message
  files' lower bound and count, the batch journal's summary, the stamp of each part,
  and cumulative cache counters.
* ``index/sessions``, ``index/locks``: every record of that kind as rows, each part
  stamped with the generation it was written at (the manifest names the stamp).

Files are ``marshal`` (builtin module, ~5x faster to load than json) behind a magic
line; a torn or foreign file reads as absent. Everything in ``index/`` is a cache: the
record files stay the truth, and deleting the folder only costs one rebuild.

Validation is one read of ``generation``, which every transaction of both backends
bumps under the store lock before its first write (`JsonFileTransaction.begin_write`).
Inside a transaction a manifest of the current generation is therefore *exactly*
current, and only then may it decide a lock or a delivery; after a legacy write (or a
crash) it is not, and each part is rebuilt from the record files when first needed and
written back at commit. Outside transactions, reads (status views) may also use a
snapshot younger than ``cache_ttl``; single-record reads (``get_session``) always read
the one file, which is cheaper than a part and always fresh. ``cache_ttl = 0`` turns
the snapshot off (reads then cost what legacy reads cost).

Lazy loading: a hook loads only what its event touches — the manifest (a few hundred
bytes), its own session file, the message files after its cursor, and the locks part
only when it takes a lock. Message ranges are read by file name between the manifest's
bounds, so no hook lists a large ``messages/`` folder. ``SESSION_DATA_LOADED``,
``LOCKS_DATA_LOADED`` and ``GLOBAL_STATE_LOADED`` (truthy) load the sessions part, the
locks part and the message bounds/journal eagerly when a store is first read (tests).

Batched broadcasts go to ``broadcasts.jsonl`` (see `coord_hooks.store.jsonfiles`): the
sequence number is given at queue time under the lock, the line is fsynced before the
transaction ends, and the batch is filed at ``broadcast_batch_size`` entries, at the
first transaction after ``batch_flush_interval`` seconds (read-only hooks never take
the lock just for that: readers see queued broadcasts anyway), by `flush` (Stop,
SessionEnd, ``coord cleanup``), and before any archiving.

Standard library only (hook hot path).
"""

from __future__ import annotations

import marshal
import os
import time
from os.path import join

from coord_hooks.errors import StoreBusyError, StoreError
from coord_hooks.fsio import FlockLock, atomic_write_bytes, open_state_file, read_state_file
from coord_hooks.model import (
    BROADCAST,
    Lock,
    Message,
    NewMessage,
    Session,
    StoreInfo,
    glob_prefix,
)
from coord_hooks.paths import ensure_subdir
from coord_hooks.store import layout
from coord_hooks.store.jsonfiles import (
    JOURNAL_NAME,
    Entered,
    JsonFileStore,
    JsonFileTransaction,
    JsonFileView,
    Transaction,
    append_journal,
    message_file_name,
    read_journal,
)

TYPE_CHECKING = False  # typing is not imported at run time: it is on the hot path
if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from typing import Any

    from coord_hooks.paths import StrPath
    from coord_hooks.settings import Settings
    from coord_hooks.store.jsonfiles import _Mutex

INDEX_DIR = "index"
MANIFEST = "manifest"
STATS_LOG = "stats.log"
MAGIC = b"coord-hooks index v1 marshal\n"


def field_names(cls: type) -> tuple[str, ...]:
    """A record's fields in constructor order (rows are built positionally from them)."""
    names = getattr(cls, "FIELDS", None)  # plain record classes list them
    if names:
        return tuple(names)
    from dataclasses import fields  # dataclass records

    return tuple(f.name for f in fields(cls))


PARTS: dict[str, tuple[str, ...]] = {
    "sessions": field_names(Session),
    "locks": field_names(Lock),
}
MESSAGE_FIELDS = frozenset(field_names(Message))
_LOCK_KEY = PARTS["locks"].index("key")
_LOCK_IS_GLOB = PARTS["locks"].index("is_glob")
COUNTERS = ("hits", "misses", "evictions", "rebuilds")
EAGER_FLAGS = {"SESSION_DATA_LOADED": "sessions", "LOCKS_DATA_LOADED": "locks",
               "GLOBAL_STATE_LOADED": "messages"}
# With unknown bounds, a range longer than this is listed rather than probed by name.
PROBE_LIMIT = 2048
STATS_COMPACT_BYTES = 16 * 1024
EMPTY_JOURNAL: tuple[int, int, int, float] = (0, 0, 0, 0.0)  # count, first, last, oldest


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def load_index_file(path: str) -> dict[str, Any] | None:
    """A manifest or part as written by `_dump_index_file`; None if absent or damaged."""
    try:
        raw = read_state_file(path)  # a planted symlink is refused: it reads as absent
    except OSError:
        return None
    if not raw.startswith(MAGIC):
        return None
    try:
        data = marshal.loads(memoryview(raw)[len(MAGIC):])
    except (ValueError, EOFError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def _dump_index_file(path: str, data: dict[str, Any]) -> None:
    # A cache file needs no fsync: whatever a crash leaves is re-validated or rebuilt.
    atomic_write_bytes(path, MAGIC + marshal.dumps(data), durable=False)


def _row(record: Session | Lock, names: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(getattr(record, name) for name in names)


class CacheStats:
    """Counters for this process, folded into the manifest (or ``stats.log``) later."""

    def __init__(self) -> None:
        self.pending = dict.fromkeys(COUNTERS, 0)

    def add(self, name: str, n: int = 1) -> None:
        self.pending[name] += n

    def take(self) -> dict[str, int]:
        taken, self.pending = self.pending, dict.fromkeys(COUNTERS, 0)
        return taken

    def any(self) -> bool:
        return any(self.pending.values())


class Index:
    """What one process knows of ``index/`` at one generation.

    ``exact``: the manifest was written at ``generation``, so every part it stamps and
    every bound it holds describe the record files as they are at that generation.
    """

    def __init__(self, folder: str, generation: int, manifest: dict[str, Any] | None,
                 exact: bool) -> None:
        self.folder = folder
        self.generation = generation
        self.manifest: dict[str, Any] = manifest if manifest is not None else {}
        self.exact = exact
        self.rows: dict[str, dict[Any, tuple[Any, ...]]] = {}  # loaded or rebuilt parts
        self.changed: set[str] = set()  # parts rebuilt or patched: written back at commit
        self.unknown: set[str] = set()  # parts changed without their rows in hand
        self.rebuilt_at: float | None = None
        self.last_seq: int | None = None
        self.msgs: tuple[int, int] | None = None  # (lower bound of file seqs, file count)
        self.journal_meta: tuple[int, int, int, float] | None = None
        self.journal: list[Message] | None = None
        if exact:
            try:
                self.last_seq = int(self.manifest["last_seq"])
                msgs = self.manifest.get("msgs")
                self.msgs = (int(msgs[0]), int(msgs[1])) if msgs else None
                meta = self.manifest["journal"]
                self.journal_meta = (int(meta[0]), int(meta[1]), int(meta[2]), float(meta[3]))
            except (KeyError, TypeError, ValueError, IndexError):
                self.exact = False
                self.last_seq, self.msgs, self.journal_meta = None, None, None

    def stamp(self, name: str) -> Any:
        parts = self.manifest.get("parts")
        return parts.get(name) if isinstance(parts, dict) else None

    def load_part(self, name: str) -> dict[Any, tuple[Any, ...]] | None:
        """The part's rows if the manifest stamps them and the file matches the stamp."""
        if name in self.rows:
            return self.rows[name]
        stamp = self.stamp(name)
        if stamp is None or name in self.unknown:
            return None
        data = load_index_file(join(self.folder, name))
        if (data is None or data.get("stamp") != stamp or data.get("fields") != PARTS[name]
                or not isinstance(data.get("rows"), dict)):
            return None
        rows: dict[Any, tuple[Any, ...]] = data["rows"]
        self.rows[name] = rows
        return rows

    def age(self, now: float) -> float:
        written = self.manifest.get("written_at")
        return now - written if isinstance(written, (int, float)) else float("inf")


class OptimizedView(JsonFileView):
    """Reads through the snapshot where it is current (or young enough, unlocked)."""

    def __init__(self, store: OptimizedStore, index: Index, locked: bool) -> None:
        super().__init__(store)
        self.opt = store
        self.index = index
        self.locked = locked

    # --- parts (sessions, locks) -----------------------------------------------------
    def _part(self, name: str) -> dict[Any, tuple[Any, ...]] | None:
        """A part's rows when the snapshot may answer; None means read the files."""
        if self.opt.cache_ttl <= 0:
            return None
        index = self.index
        if name in index.rows:
            return index.rows[name]
        if index.exact:
            rows = index.load_part(name)
            if rows is not None:
                self.opt.stats.add("hits")
                return rows
        if self.locked:
            self.opt.stats.add("misses")
            return self._rebuild(name)
        # Outside a transaction: rebuild under the lock if it is free right now (the next
        # reader then hits exactly). If it is busy, a snapshot younger than the TTL may
        # answer (status views only: lock decisions and deliveries run in transactions,
        # where only an exact snapshot counts); else read the files like legacy does.
        rebuilt = self.opt.rebuild_nowait(name)  # counts its own miss
        if rebuilt is not None and name in rebuilt.rows:
            self.index = rebuilt
            return rebuilt.rows[name]
        if index.age(time.time()) < self.opt.cache_ttl:
            rows = index.load_part(name)
            if rows is not None:
                self.opt.stats.add("hits")
                return rows
        self.opt.stats.add("misses")
        return None

    def _rebuild(self, name: str) -> dict[Any, tuple[Any, ...]]:
        """Read every record of a part from its files (under the lock only)."""
        names = PARTS[name]
        rows: dict[Any, tuple[Any, ...]]
        unreadable = len(self.unreadable)
        if name == "sessions":
            rows = {s.session_id: _row(s, names) for s in super().sessions()}
        else:
            rows = {lk.lock_id: _row(lk, names) for lk in super().locks()}
        if len(self.unreadable) > unreadable:
            # A record we could not read must never be left out of a snapshot others
            # trust: answer from the files every time until it is readable again.
            self.index.unknown.add(name)
            self.index.rows.pop(name, None)
            return rows
        self.index.rows[name] = rows
        self.index.changed.add(name)
        self.index.unknown.discard(name)
        self.index.rebuilt_at = time.time()
        self.opt.stats.add("rebuilds")
        return rows

    def get_session(self, session_id: str) -> Session | None:
        rows = self.index.rows.get("sessions")
        if rows is not None and (self.locked or self.index.exact):
            row = rows.get(session_id)
            return Session(*row) if row is not None else None
        # One small file: cheaper than loading a part, and always fresh.
        return super().get_session(session_id)

    def sessions(self) -> list[Session]:
        rows = self._part("sessions")
        if rows is None:
            return super().sessions()
        return [Session(*rows[key]) for key in sorted(rows)]

    def locks(self) -> list[Lock]:
        rows = self._part("locks")
        if rows is None:
            return super().locks()
        return [Lock(*rows[key]) for key in sorted(rows)]

    def locks_touching(self, key: str, is_glob: bool) -> list[Lock]:
        """Every lock that may overlap ``key``: a superset, picked from the snapshot's rows
        as SQLite picks it with its indexes (`SqliteView.locks_touching`): for a path,
        the locks on it, on a folder above it (and ``.``), below it, and the patterns
        whose literal folder is one of those or empty; for a pattern, all. The rule
        itself (`globs.keys_overlap`) is applied by the caller: this spares a lock check
        building and testing a record for each of hundreds of unrelated locks."""
        rows = self._part("locks")
        if rows is None or is_glob or key in (".", ""):
            return self.locks()
        parts = key.split("/")
        around = {key, ".", *("/".join(parts[:n]) for n in range(1, len(parts)))}
        below = key + "/"
        found = []
        for lock_id in sorted(rows):
            row = rows[lock_id]
            other = row[_LOCK_KEY]
            folder = glob_prefix(other) if row[_LOCK_IS_GLOB] else other
            if folder in around or folder.startswith(below) or (
                    row[_LOCK_IS_GLOB] and folder == ""):
                found.append(Lock(*row))
        return found

    # --- messages --------------------------------------------------------------------
    def journal(self) -> list[Message]:
        index = self.index
        if index.journal is None:
            if index.journal_meta is not None and index.journal_meta[0] == 0:
                index.journal = []
            else:
                index.journal = read_journal(self.dir)
                if index.journal_meta is None:
                    index.journal_meta = _journal_meta(index.journal, None)
        return index.journal

    def _journal_meta(self) -> tuple[int, int, int, float]:
        if self.index.journal_meta is None:
            self.journal()
        assert self.index.journal_meta is not None
        return self.index.journal_meta

    def last_seq(self) -> int:
        index = self.index
        if index.last_seq is None:
            counted = self.counter()
            if counted is None:
                # seq.json missing or quarantined: the folder listing is the truth.
                index.last_seq = super().last_seq()
            else:
                index.last_seq = max(counted, self._journal_meta()[2])
        return index.last_seq

    def _bounds(self, seq: int) -> tuple[int, int] | None:
        """(first seq to probe, last seq); None when the range must be listed instead."""
        last = self.last_seq()
        index = self.index
        if index.msgs is None:
            if last - seq <= PROBE_LIMIT:
                return seq + 1, last
            if not self.locked:
                return None
            self._count_files()
        assert index.msgs is not None
        # No message file lies below the lower bound; queued broadcasts may.
        count, first = self._journal_meta()[:2]
        low = min(index.msgs[0], first) if count else index.msgs[0]
        return max(seq + 1, low), last

    def _count_files(self) -> None:
        seqs = self.message_seqs()
        last = self.last_seq()
        if seqs and seqs[-1] > last:  # never expected: the counter is written first
            last = self.index.last_seq = seqs[-1]
        self.index.msgs = (seqs[0] if seqs else last + 1, len(seqs))

    def messages_after(self, seq: int, limit: int | None = None) -> list[Message]:
        bounds = self._bounds(seq)
        if bounds is None:
            return super().messages_after(seq, limit)
        return self._range(bounds[0], bounds[1], limit)

    def _range(self, start: int, last: int, limit: int | None = None) -> list[Message]:
        """Messages with ``start <= seq <= last``, read by file name (no listing)."""
        queued = {m.seq: m for m in self.journal()} if self._journal_meta()[0] else {}
        folder = join(self.dir, "messages")
        result: list[Message] = []
        for number in range(start, last + 1):
            message = queued.get(number)
            if message is None:
                message = self._message_file(join(folder, message_file_name(number)))
            if message is not None:
                result.append(message)
                if limit is not None and len(result) >= limit:
                    break
        return result

    def _message_file(self, path: str) -> Message | None:
        data = self._read(path)
        if data is None:
            return None
        try:
            # Not Message.from_dict: with dataclasses it called fields() per record.
            return Message(**{k: v for k, v in data.items() if k in MESSAGE_FIELDS})
        except (TypeError, ValueError):
            bad: Message | None = self._load_path(Message, path)  # quarantines it
            return bad

    def message_count(self) -> int:
        index = self.index
        if index.msgs is None:
            if not self.locked and self.opt.cache_ttl <= 0:
                return super().message_count()
            self._count_files()
        assert index.msgs is not None
        return index.msgs[1] + self._journal_meta()[0]


def _journal_meta(entries: list[Message], queued_at: float | None
                  ) -> tuple[int, int, int, float]:
    if not entries:
        return EMPTY_JOURNAL
    oldest = queued_at if queued_at is not None else min(m.created_at for m in entries)
    return (len(entries), entries[0].seq, entries[-1].seq, oldest)


class OptimizedTransaction(OptimizedView, JsonFileTransaction):
    """Mutations that keep the snapshot in step (write-through at commit)."""

    def __init__(self, store: OptimizedStore, index: Index) -> None:
        super().__init__(store, index, locked=True)

    def _patch(self, name: str) -> dict[Any, tuple[Any, ...]] | None:
        """The part's rows to change along with a record, or None (part then unknown)."""
        if self.opt.cache_ttl <= 0:
            return None
        rows = self.index.rows.get(name)
        if rows is None and self.index.exact:
            rows = self.index.load_part(name)
        if rows is None:
            self.index.unknown.add(name)
        else:
            self.index.changed.add(name)
        return rows

    def put_session(self, session: Session) -> None:
        super().put_session(session)
        rows = self._patch("sessions")
        if rows is not None:
            rows[session.session_id] = _row(session, PARTS["sessions"])

    def put_lock(self, lock: Lock) -> None:
        super().put_lock(lock)
        rows = self._patch("locks")
        if rows is not None:
            rows[lock.lock_id] = _row(lock, PARTS["locks"])

    def delete_lock(self, key: str, owner: str) -> None:
        from coord_hooks.model import lock_id_for

        rows = self.index.rows.get("locks")
        lock_id = lock_id_for(key, owner)
        if rows is not None and lock_id not in rows:
            return  # the part is exact: no such lock (and no file to stat)
        super().delete_lock(key, owner)
        rows = self._patch("locks")
        if rows is not None:
            rows.pop(lock_id, None)

    def append_message(self, message: NewMessage) -> Message:
        index = self.index
        if message.recipient == BROADCAST and self.opt.batch_size > 1:
            seq = self.last_seq() + 1
            stored = message.with_seq(seq)
            meta = self._journal_meta()
            entries = self.journal()
            self.begin_write()
            append_journal(self.dir, [stored])
            entries.append(stored)
            index.journal_meta = (meta[0] + 1, meta[1] or seq, seq,
                                  meta[3] if meta[0] else time.time())
            index.last_seq = seq
            if index.journal_meta[0] >= self.opt.batch_size:
                self.flush_journal()
            return stored
        stored = super().append_message(message)
        index.last_seq = stored.seq
        if index.msgs is not None:
            low, count = index.msgs
            index.msgs = (low if count else stored.seq, count + 1)
        return stored

    def flush_journal(self) -> int:
        index = self.index
        exact = index.exact and index.journal_meta is not None
        meta = self._journal_meta()
        # An exact manifest that says nothing is queued saves the stat; otherwise a file
        # with only torn lines still gets removed by the base class.
        if meta[0] == 0 and (exact or not os.path.lexists(join(self.dir, JOURNAL_NAME))):
            return 0
        n = super().flush_journal()
        if index.msgs is not None and meta[0]:
            low, count = index.msgs
            index.msgs = (min(low, meta[1]) if count else meta[1], count + meta[0])
        if index.last_seq is not None:
            index.last_seq = max(index.last_seq, meta[2])
        index.journal, index.journal_meta = [], EMPTY_JOURNAL
        return n

    def archive_messages(self, upto_seq: int) -> int:
        self.flush_journal()  # archived seqs must stay below every live one
        index = self.index
        if index.msgs is None:
            self._count_files()
        assert index.msgs is not None
        low, count = index.msgs
        upto = min(upto_seq, self.last_seq())
        if upto < low:
            return 0
        doomed = self._range(low, upto)
        if doomed:
            self.begin_write()
            from coord_hooks.store.archive import append_to_archive  # gzip: retention only

            append_to_archive(self.dir, doomed)
            for message in doomed:
                try:
                    os.unlink(join(self.dir, "messages", message_file_name(message.seq)))
                except FileNotFoundError:
                    pass
        remaining = count - len(doomed)
        index.msgs = (upto + 1, remaining) if remaining > 0 else (self.last_seq() + 1, 0)
        return len(doomed)


class OptimizedStore(JsonFileStore):
    """JSON layout, stdlib ``flock``, persisted snapshot, batched broadcasts."""

    name = "optimized"

    def __init__(self, state_dir: StrPath, lock_timeout: float = 10.0, durable: bool = True,
                 create: bool = True, settings: Settings | None = None) -> None:
        super().__init__(state_dir, lock_timeout=lock_timeout, durable=durable, create=create)
        self.index_dir = join(self.root, INDEX_DIR)
        self.stats = CacheStats()
        self._index: Index | None = None  # the newest index this process validated
        self._settings = settings
        self._eager = {part for flag, part in EAGER_FLAGS.items()
                       if _truthy(os.environ.get(flag))}
        self._eager_done = False

    # --- settings ----------------------------------------------------------------------
    def configure(self, settings: Settings) -> None:
        """Use these settings (`open_store` passes the context's; else loaded lazily)."""
        self._settings = settings

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from coord_hooks.settings import load_settings

            self._settings = load_settings(self.root)
        return self._settings

    @property
    def cache_ttl(self) -> float:
        return self.settings.cache_ttl

    @property
    def batch_size(self) -> int:
        return self.settings.broadcast_batch_size

    # --- index -------------------------------------------------------------------------
    def _mutex(self) -> _Mutex:
        return FlockLock(join(self.root, ".lock"), self.lock_timeout)

    def current_index(self) -> Index:
        """Validate against the generation on disk (one small read); reuse if unchanged."""
        generation = self.generation()
        known = self._index
        if known is not None and known.generation == generation and known.exact:
            return known
        if self.cache_ttl <= 0:
            return Index(self.index_dir, generation, None, False)
        manifest = load_index_file(join(self.index_dir, MANIFEST))
        exact = manifest is not None and manifest.get("generation") == generation
        if manifest is not None and not exact:
            self.stats.add("evictions")  # another writer (or a crash) made it stale
        index = Index(self.index_dir, generation, manifest, exact)
        if index.exact:
            self._index = index
        return index

    def _view(self) -> OptimizedView:
        view = OptimizedView(self, self.current_index(), locked=False)
        if self._eager and not self._eager_done:
            self._eager_done = True
            self._load_eagerly(view)
        return view

    @staticmethod
    def _load_eagerly(view: OptimizedView) -> None:
        parts = view.opt._eager
        if "sessions" in parts:
            view.sessions()
        if "locks" in parts:
            view.locks()
        if "messages" in parts:
            view.journal()
            view.message_count()

    def read(self) -> AbstractContextManager[OptimizedView]:
        return Entered(self._view)

    def transaction(self) -> AbstractContextManager[OptimizedTransaction]:
        return Transaction(self, self._mutex())

    def _begin(self) -> OptimizedTransaction:
        """The start of a transaction; the caller holds the store lock."""
        # `coord migrate --to sqlite` may have run while we waited for the lock.
        layout.check(self.root, self.name, waited=True)
        index = self.current_index()
        tx = OptimizedTransaction(self, index)
        if not index.exact and any(
                os.path.lexists(join(self.root, "messages", message_file_name(m.seq)))
                for m in tx.journal()):
            tx.flush_journal()  # a flush crashed half-way: finish it before counting
        else:
            self._flush_if_due(tx)
        return tx

    def _end(self, tx: JsonFileTransaction, ok: bool) -> None:
        """The end of a transaction, whether its body raised or not (the lock is held)."""
        assert isinstance(tx, OptimizedTransaction)
        if tx.dirty:
            self._committed(tx)
        if not ok:
            self._index = None  # whatever it holds may not have reached the files
            return
        try:
            self._write_back(tx)
        except StoreError as exc:
            # The records are committed; only the cache could not be written.
            # The manifest on disk is now stale by generation: nobody trusts it.
            self._index = None
            from coord_hooks import logs

            logs.log_event(self.root, "warning", "snapshot_write_failed", error=str(exc))

    def _flush_if_due(self, tx: OptimizedTransaction) -> None:
        count, _, _, oldest = tx._journal_meta()
        if count and (count >= self.batch_size
                      or time.time() - oldest >= self.settings.batch_flush_interval):
            tx.flush_journal()

    def rebuild_nowait(self, name: str) -> Index | None:
        """Rebuild one part under the lock if it is free right now; else None."""
        if self.cache_ttl <= 0:
            return None
        try:
            with Transaction(self, FlockLock(join(self.root, ".lock"), 0.0)) as tx:
                if tx._part(name) is None:  # only when the cache is off
                    return None
        except StoreBusyError:
            return None
        return self._index

    def _write_back(self, tx: OptimizedTransaction) -> None:
        """Persist what this transaction knows, stamped with the generation now on disk."""
        index = tx.index
        generation = tx.generation if tx.dirty and tx.generation is not None else index.generation
        if self.cache_ttl <= 0:
            return
        if not tx.dirty and index.exact and not index.changed:
            return  # nothing new to say: keep the I/O off read-only transactions
        ensure_subdir(self.index_dir)
        old_parts = index.manifest.get("parts") if index.exact else None
        parts: dict[str, Any] = {}
        counts: dict[str, int] = {}
        for name in PARTS:
            if name in index.changed and name in index.rows and name not in index.unknown:
                rows = index.rows[name]
                _dump_index_file(join(self.index_dir, name),
                                 {"stamp": generation, "fields": PARTS[name], "rows": rows})
                parts[name], counts[name] = generation, len(rows)
            elif isinstance(old_parts, dict) and name not in index.unknown:
                parts[name] = old_parts.get(name)
                old_counts = index.manifest.get("counts")
                if isinstance(old_counts, dict) and name in old_counts:
                    counts[name] = old_counts[name]
        totals = manifest_totals(index.manifest)
        for key, value in self.stats.take().items():
            totals[key] = totals.get(key, 0) + value
        totals.update(self._compact_stats_log(totals))
        now = time.time()
        last_rebuild = index.rebuilt_at or index.manifest.get("last_rebuild")
        manifest = {
            "generation": generation,
            "written_at": now,
            "last_seq": tx.last_seq(),
            "msgs": list(index.msgs) if index.msgs is not None else None,
            "journal": list(tx._journal_meta()),
            "parts": parts,
            "counts": counts,
            "stats": totals,
            "stats_since": index.manifest.get("stats_since", now),
            "last_rebuild": last_rebuild,
        }
        _dump_index_file(join(self.index_dir, MANIFEST), manifest)
        fresh = Index(self.index_dir, generation, manifest, True)
        fresh.rows = {name: rows for name, rows in index.rows.items() if name in parts}
        fresh.journal = index.journal
        self._index = fresh

    def _compact_stats_log(self, totals: dict[str, int]) -> dict[str, int]:
        """Fold a large ``stats.log`` into the manifest totals (under the store lock)."""
        path = join(self.index_dir, STATS_LOG)
        try:
            if os.lstat(path).st_size < STATS_COMPACT_BYTES:
                return {}
            moved = join(self.index_dir, f"{STATS_LOG}.{os.getpid()}")
            os.replace(path, moved)
        except OSError:
            return {}
        folded = dict(totals)
        for key, value in read_stats_log(moved).items():
            folded[key] = folded.get(key, 0) + value
        try:
            os.unlink(moved)
        except OSError:
            pass
        return folded

    # --- Store protocol ----------------------------------------------------------------
    def flush(self) -> int:
        index = self.current_index()
        if index.exact and index.journal_meta is not None and index.journal_meta[0] == 0:
            return 0  # the manifest says nothing is queued: no lock, no stat
        if not os.path.lexists(join(self.root, JOURNAL_NAME)):
            return 0
        with self.transaction() as tx:
            return tx.flush_journal()

    def maintenance(self, dry_run: bool = False) -> dict[str, Any]:
        """File queued broadcasts and rebuild the whole snapshot from the record files."""
        if dry_run:
            return {"would_flush": len(read_journal(self.root)),
                    "would_rebuild": list(PARTS) if self.cache_ttl > 0 else []}
        flushed = self.flush()
        rebuilt: list[str] = []
        if self.cache_ttl > 0:
            with self.transaction() as tx:
                for name in PARTS:
                    tx._rebuild(name)
                    rebuilt.append(name)
                tx._count_files()
        return {"flushed": flushed, "rebuilt": rebuilt}

    def info(self) -> StoreInfo:
        from coord_hooks.store import optimized_info  # status and diagnose only

        return optimized_info.describe(self)

    def close(self) -> None:
        """Record the cache counters no transaction folded into the manifest.

        An overdue batch is not filed here: read-only hooks stay read-only (readers see
        queued broadcasts anyway); the next transaction or Stop/SessionEnd files it.
        """
        if self.stats.any() and self.cache_ttl > 0:
            counts = self.stats.take()
            line = " ".join(str(counts[key]) for key in COUNTERS) + "\n"
            try:
                ensure_subdir(self.index_dir)
                fd = open_state_file(join(self.index_dir, STATS_LOG),
                                     os.O_WRONLY | os.O_CREAT | os.O_APPEND, self.root)
                try:
                    os.write(fd, line.encode())
                finally:
                    os.close(fd)
            except (OSError, StoreError):
                pass  # counters are diagnostics; never fail a hook for them


def manifest_totals(manifest: dict[str, Any]) -> dict[str, int]:
    """The cache counters a manifest has folded in so far."""
    stats = manifest.get("stats")
    if not isinstance(stats, dict):
        return dict.fromkeys(COUNTERS, 0)
    return {key: int(stats.get(key, 0)) for key in COUNTERS}


def read_stats_log(path: str) -> dict[str, int]:
    """Sum the ``hits misses evictions rebuilds`` lines of a stats log."""
    totals = dict.fromkeys(COUNTERS, 0)
    try:
        raw = read_state_file(path)
    except OSError:
        return totals
    for line in raw.splitlines():
        parts = line.split()
        if len(parts) != len(COUNTERS):
            continue
        try:
            values = [int(p) for p in parts]
        except ValueError:
            continue
        for key, value in zip(COUNTERS, values, strict=True):
            totals[key] += value
    return totals


