"""The SQLite backend: one database file, ``<state dir>/coord.db``.

* Every `transaction()` is one short ``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on
  any exception): SQLite's write lock is taken *before* the first read, so a
  check-and-grant (lock conflicts, cursor advances, sequence numbers) can never
  interleave with another writer's. This is what fixed mcp_agent_mail #129/#130.
* `read()` is a deferred transaction: one consistent snapshot, never blocked by writers
  (WAL).
* Connections are opened on first use, kept for the life of the store (a hook runs a few
  transactions; opening costs ~0.5 ms each time) and closed by `close()`, when the store
  is garbage-collected, or at once when an error leaves one in doubt. A forked child
  never touches its parent's connection.
* The schema is an ordered list of named migrations, recorded in ``_migrations``; a new
  database is built in a temporary file and renamed into place, so no process ever sees
  a half-made one (`store.sqlite_file`, which also keeps the file small and replaces it
  when corrupt).
* sqlite3 errors become the project's exceptions in one place, `translate_error`.
* A corrupt database (``file is not a database``, ``database disk image is malformed``,
  confirmed by ``PRAGMA quick_check`` under a lock) is moved to ``quarantine/`` — never
  deleted — with a warning in ``logs/app.log``; whatever rows can still be read are
  copied into a fresh database and coordination carries on. Sequence numbers never go
  back, so cursors stay valid.

Standard library only (hook hot path).
"""

from __future__ import annotations

import _thread  # what `threading` wraps; importing threading costs every hook ~1 ms
import json
import os
import sqlite3
import stat
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from coord_hooks.errors import (
    CorruptRecordError,
    LayoutChangedError,
    StoreBusyError,
    StoreError,
)
from coord_hooks.model import (
    Lock,
    Message,
    NewMessage,
    Session,
    StoreInfo,
    Waiter,
    glob_prefix,
)
from coord_hooks.paths import ensure_state_dir
from coord_hooks.store import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DB_NAME = layout.DB_NAME
DB_FILES = ("", "-wal", "-shm", "-journal")  # suffixes of the files SQLite opens
CREATE_LOCK = "coord.db.lock"  # sidecar flock: creating or quarantining the database only
CACHE_KIB = 8192  # page cache per connection (a long-lived `coord monitor` keeps it warm)
WAL_LIMIT = 8 * 1024 * 1024  # the WAL is truncated back to this size after checkpoints

# SQLite primary result codes (the low byte of an extended code).
BUSY, LOCKED, CORRUPT, FULL, NOTADB = 5, 6, 11, 13, 26

SESSION_COLUMNS = Session.FIELDS
LOCK_COLUMNS = Lock.FIELDS
MESSAGE_COLUMNS = Message.FIELDS
WAITER_COLUMNS = Waiter.FIELDS


def _cols(names: Iterable[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _marks(names: tuple[str, ...]) -> str:
    return ", ".join("?" * len(names))


SESSION_SELECT = f"SELECT {_cols(SESSION_COLUMNS)} FROM sessions"
LOCK_SELECT = f"SELECT {_cols(LOCK_COLUMNS)} FROM locks"
MESSAGE_SELECT = f"SELECT {_cols(MESSAGE_COLUMNS)} FROM messages"
WAITER_SELECT = f"SELECT {_cols(WAITER_COLUMNS)} FROM waiters"
_SESSION_PUT = (f"INSERT OR REPLACE INTO sessions ({_cols(SESSION_COLUMNS)}) "
                f"VALUES ({_marks(SESSION_COLUMNS)})")
_LOCK_PUT = (f"INSERT OR REPLACE INTO locks ({_cols(LOCK_COLUMNS)}, glob_prefix) "
             f"VALUES ({_marks(LOCK_COLUMNS)}, ?)")
_WAITER_PUT = (f"INSERT OR REPLACE INTO waiters ({_cols(WAITER_COLUMNS)}) "
               f"VALUES ({_marks(WAITER_COLUMNS)})")
_MESSAGE_PUT = (f"INSERT INTO messages ({_cols(MESSAGE_COLUMNS)}) "
                f"VALUES ({_marks(MESSAGE_COLUMNS)})")


# --- schema migrations -------------------------------------------------------------------
Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(func: Migration) -> Migration:
    """Register a schema step; it runs once per database, in order, and is recorded."""
    MIGRATIONS.append(func)
    return func


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    # Migrations are history: their SQL is frozen, later changes get a new function.
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value)")
    db.execute("INSERT INTO meta (key, value) VALUES ('last_seq', 0), ('live_messages', 0)")
    db.execute("""CREATE TABLE sessions (
        "session_id" TEXT PRIMARY KEY NOT NULL,
        "registered_at" REAL NOT NULL,
        "last_seen" REAL NOT NULL,
        "name" TEXT NOT NULL DEFAULT '',
        "task" TEXT NOT NULL DEFAULT '',
        "pid" INTEGER,
        "pid_start" TEXT,
        "hostname" TEXT NOT NULL DEFAULT '',
        "cwd" TEXT NOT NULL DEFAULT '',
        "project_dir" TEXT NOT NULL DEFAULT '',
        "model" TEXT NOT NULL DEFAULT '',
        "source" TEXT NOT NULL DEFAULT '',
        "cursor" INTEGER NOT NULL DEFAULT 0,
        "registered_seq" INTEGER NOT NULL DEFAULT 0,
        "ended_at" REAL,
        "end_reason" TEXT NOT NULL DEFAULT '',
        "last_midturn" REAL NOT NULL DEFAULT 0)""")
    # Live sessions: status views and reaping look only at sessions not yet ended.
    db.execute("CREATE INDEX sessions_live ON sessions (last_seen) WHERE ended_at IS NULL")
    # No foreign key from locks.owner to sessions: a lock whose session record was lost
    # must still block until it lapses, exactly as in the JSON layout.
    db.execute("""CREATE TABLE locks (
        "key" TEXT NOT NULL,
        "owner" TEXT NOT NULL,
        "acquired_at" REAL NOT NULL,
        "renewed_at" REAL NOT NULL,
        "ttl" REAL NOT NULL,
        "exclusive" INTEGER NOT NULL DEFAULT 1,
        "is_glob" INTEGER NOT NULL DEFAULT 0,
        "reason" TEXT NOT NULL DEFAULT '',
        "agent_id" TEXT NOT NULL DEFAULT '',
        PRIMARY KEY ("key", "owner"))""")
    db.execute("CREATE INDEX locks_owner ON locks (owner)")
    # seq is the rowid: "messages after my cursor" is a range scan of the table itself.
    db.execute("""CREATE TABLE messages (
        "seq" INTEGER PRIMARY KEY,
        "sender" TEXT NOT NULL,
        "recipient" TEXT NOT NULL,
        "body" TEXT NOT NULL,
        "created_at" REAL NOT NULL,
        "sender_name" TEXT NOT NULL DEFAULT '',
        "urgent" INTEGER NOT NULL DEFAULT 0)""")
    db.execute("CREATE INDEX messages_recipient ON messages (recipient, seq)")
    # count(*) walks a whole index; retention asks for the count on every send.
    db.execute("""CREATE TRIGGER messages_counted AFTER INSERT ON messages BEGIN
        UPDATE meta SET value = value + 1 WHERE key = 'live_messages'; END""")
    db.execute("""CREATE TRIGGER messages_uncounted AFTER DELETE ON messages BEGIN
        UPDATE meta SET value = value - 1 WHERE key = 'live_messages'; END""")


@migration
def m002_glob_locks(db: sqlite3.Connection) -> None:
    # Patterns can cover any path, so every lock check reads them all: keep them apart.
    db.execute("CREATE INDEX locks_glob ON locks (key) WHERE is_glob = 1")


@migration
def m003_glob_prefix(db: sqlite3.Connection) -> None:
    # m002's index still read every pattern on each lock check (200 of them at 10k
    # locks in the benchmark state); index their literal folder instead.
    db.execute("DROP INDEX IF EXISTS locks_glob")
    db.execute("ALTER TABLE locks ADD COLUMN glob_prefix TEXT")
    rows = db.execute("SELECT key, owner FROM locks WHERE is_glob = 1").fetchall()
    db.executemany("UPDATE locks SET glob_prefix = ? WHERE key = ? AND owner = ?",
                   [(glob_prefix(key), key, owner) for key, owner in rows])
    db.execute("CREATE INDEX locks_glob_prefix ON locks (glob_prefix) WHERE is_glob = 1")


@migration
def m004_lock_fence(db: sqlite3.Connection) -> None:
    # Lock.fence (fencing tokens, given by the redis backend); 0 here, kept by migrations.
    db.execute('ALTER TABLE locks ADD COLUMN "fence" INTEGER NOT NULL DEFAULT 0')


@migration
def m005_lock_agent_type(db: sqlite3.Connection) -> None:
    # Subagents hold locks of their own (issue 10): a deny names the subagent's type.
    db.execute("ALTER TABLE locks ADD COLUMN \"agent_type\" TEXT NOT NULL DEFAULT ''")


@migration
def m006_delivery_and_waiters(db: sqlite3.Connection) -> None:
    # Delivery beyond the cursor (acked seqs, a long message's part, pending offers) as
    # JSON text, when the session went idle; lock hand-off waits, one per (session, key).
    db.execute("""ALTER TABLE sessions ADD COLUMN "delivery" TEXT NOT NULL DEFAULT '{}'""")
    db.execute('ALTER TABLE sessions ADD COLUMN "idle_since" REAL')
    db.execute("""CREATE TABLE waiters (
        "session_id" TEXT NOT NULL,
        "key" TEXT NOT NULL,
        "since" REAL NOT NULL,
        "holder" TEXT NOT NULL DEFAULT '',
        PRIMARY KEY ("session_id", "key"))""")


SCHEMA_VERSION = len(MIGRATIONS)


def apply_migrations(db: sqlite3.Connection) -> list[str]:
    """Apply the pending migrations in one IMMEDIATE transaction; return their names."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("CREATE TABLE IF NOT EXISTS _migrations "
                   "(name TEXT PRIMARY KEY NOT NULL, applied_at REAL NOT NULL)")
        done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
        applied = []
        for step in MIGRATIONS:
            if step.__name__ in done:
                continue
            step(db)
            db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                       (step.__name__, time.time()))
            applied.append(step.__name__)
        # user_version mirrors the table so that an up-to-date database costs one read.
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        rollback(db)
        raise
    return applied


# --- errors ------------------------------------------------------------------------------
def primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
    if isinstance(code, int):
        return code & 0xFF
    text = str(exc).lower()  # older Pythons: the message is all there is
    if "locked" in text or "busy" in text:
        return BUSY
    if "malformed" in text or "not a database" in text:
        return CORRUPT
    if "disk is full" in text or "database or disk is full" in text:
        return FULL
    return None


def is_corrupt(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.Error) and primary_code(exc) in (CORRUPT, NOTADB)


def translate_error(exc: sqlite3.Error, path: Path, timeout: float) -> StoreError:
    """The one place where sqlite3 errors become coord-hooks errors."""
    code = primary_code(exc)
    if code in (BUSY, LOCKED):
        return StoreBusyError(f"store database {path} busy for {timeout:g}s "
                              "(another process holds its write lock)")
    if code in (CORRUPT, NOTADB):
        return CorruptRecordError(f"store database {path} is corrupt ({exc})")
    if code == FULL:
        return StoreError(f"cannot write {path}: the disk is full")
    return StoreError(f"store database {path}: {exc}")


def rollback(db: sqlite3.Connection) -> None:
    try:
        if db.in_transaction:
            db.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # the connection is then dropped by whoever notices in_transaction


# --- row conversion ----------------------------------------------------------------------
_DELIVERY = SESSION_COLUMNS.index("delivery")  # a dict, kept as JSON text


def session_from_row(row: tuple[Any, ...]) -> Session:
    session = Session(*row)
    try:
        session.delivery = json.loads(row[_DELIVERY]) if row[_DELIVERY] else {}
    except (TypeError, ValueError):  # written by hand: delivery state only refines the
        session.delivery = {}  # cursor, so at worst a message is shown once more
    if not isinstance(session.delivery, dict):
        session.delivery = {}
    return session


def session_values(session: Session) -> tuple[Any, ...]:
    values = list(_values(session, SESSION_COLUMNS))
    values[_DELIVERY] = json.dumps(session.delivery, separators=(",", ":"))
    return tuple(values)


def waiter_from_row(row: tuple[Any, ...]) -> Waiter:
    return Waiter(*row)


def lock_from_row(row: tuple[Any, ...]) -> Lock:
    (key, owner, acquired, renewed, ttl, exclusive, is_glob, reason, agent, fence,
     agent_type) = row
    return Lock(key, owner, acquired, renewed, ttl, bool(exclusive), bool(is_glob), reason,
                agent, fence or 0, agent_type or "")


def message_from_row(row: tuple[Any, ...]) -> Message:
    seq, sender, recipient, body, created, sender_name, urgent = row
    return Message(seq, sender, recipient, body, created, sender_name, bool(urgent))


def _values(record: Any, columns: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(getattr(record, name) for name in columns)


# --- reader and writer -------------------------------------------------------------------
class SqliteReader:
    """Queries inside one snapshot (a deferred or an IMMEDIATE transaction)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def get_session(self, session_id: str) -> Session | None:
        row = self.db.execute(f"{SESSION_SELECT} WHERE session_id = ?",
                              (session_id,)).fetchone()
        return None if row is None else session_from_row(row)

    def sessions(self) -> list[Session]:
        rows = self.db.execute(f"{SESSION_SELECT} ORDER BY session_id")
        return [session_from_row(r) for r in rows]

    def live_sessions(self) -> list[Session]:
        """Sessions not marked ended (served by the ``sessions_live`` index)."""
        return [session_from_row(r) for r in self.db.execute(
            f"{SESSION_SELECT} WHERE ended_at IS NULL ORDER BY last_seen")]

    def locks(self) -> list[Lock]:
        return [lock_from_row(r) for r in self.db.execute(f"{LOCK_SELECT} ORDER BY key, owner")]

    def locks_touching(self, key: str, is_glob: bool) -> list[Lock]:
        """Every lock that may overlap ``key``: a superset, narrowed by the indexes.

        For a path: the locks on it, on a folder above it (and the project root
        ``.``), on anything below it, and the patterns whose literal folder
        (`glob_prefix`) is one of those or empty. For a pattern (or the root): all.
        `coord_hooks.coordination` still decides overlaps with `globs.keys_overlap`;
        this only spares a lock check reading 10k unrelated rows.
        """
        if is_glob or key in (".", ""):
            return self.locks()
        parts = key.split("/")
        exact = [key, ".", *("/".join(parts[:n]) for n in range(1, len(parts)))]
        marks = ", ".join("?" * len(exact))
        below = (key + "/", key + "0")  # every "key/..." string sorts in between
        rows = self.db.execute(
            f"{LOCK_SELECT} WHERE key IN ({marks}) UNION "
            f"{LOCK_SELECT} WHERE key >= ? AND key < ? UNION "
            f"{LOCK_SELECT} WHERE is_glob = 1 AND glob_prefix IN ('', {marks}) UNION "
            f"{LOCK_SELECT} WHERE is_glob = 1 AND glob_prefix >= ? AND glob_prefix < ? UNION "
            # A pattern row written by hand (sqlite3 shell) has no prefix: keep it.
            f"{LOCK_SELECT} WHERE is_glob = 1 AND glob_prefix IS NULL",
            (*exact, *below, *exact, *below))
        return [lock_from_row(r) for r in rows]

    def locks_owned_by(self, owner: str) -> list[Lock]:
        """The locks one session holds (``locks_owner`` index): ending a session."""
        return [lock_from_row(r) for r in self.db.execute(f"{LOCK_SELECT} WHERE owner = ?",
                                                   (owner,))]

    def get_lock(self, key: str, owner: str) -> Lock | None:
        row = self.db.execute(f"{LOCK_SELECT} WHERE key = ? AND owner = ?",
                              (key, owner)).fetchone()
        return None if row is None else lock_from_row(row)

    def messages_after(self, seq: int, limit: int | None = None) -> list[Message]:
        cursor = self.db.execute(f"{MESSAGE_SELECT} WHERE seq > ? ORDER BY seq LIMIT ?",
                                 (seq, -1 if limit is None else limit))
        return [message_from_row(r) for r in cursor]

    def messages_for(self, recipient: str, after: int) -> list[Message]:
        """Live messages to one recipient (a session id or ``*``) after a cursor."""
        cursor = self.db.execute(f"{MESSAGE_SELECT} WHERE recipient = ? AND seq > ? "
                                 "ORDER BY seq", (recipient, after))
        return [message_from_row(r) for r in cursor]

    def waiters(self, session_id: str | None = None) -> list[Waiter]:
        if session_id is None:
            rows = self.db.execute(f"{WAITER_SELECT} ORDER BY session_id, key")
        else:
            rows = self.db.execute(f"{WAITER_SELECT} WHERE session_id = ? ORDER BY key",
                                   (session_id,))
        return [waiter_from_row(r) for r in rows]

    def last_seq(self) -> int:
        counted = self._meta("last_seq")
        # max(): a row inserted by hand (sqlite3 shell) must not get its seq reused.
        row = self.db.execute("SELECT max(seq) FROM messages").fetchone()
        return max(counted, row[0] or 0)

    def message_count(self) -> int:
        return self._meta("live_messages")

    def _meta(self, key: str) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row is not None and row[0] is not None else 0


class SqliteWriter(SqliteReader):
    """Mutations; only created inside ``BEGIN IMMEDIATE``."""

    def __init__(self, db: sqlite3.Connection, state_dir: Path) -> None:
        super().__init__(db)
        self.state_dir = state_dir

    def put_session(self, session: Session) -> None:
        self.db.execute(_SESSION_PUT, session_values(session))

    def put_lock(self, lock: Lock) -> None:
        prefix = glob_prefix(lock.key) if lock.is_glob else None
        self.db.execute(_LOCK_PUT, (*_values(lock, LOCK_COLUMNS), prefix))

    def delete_lock(self, key: str, owner: str) -> None:
        self.db.execute("DELETE FROM locks WHERE key = ? AND owner = ?", (key, owner))

    def put_waiter(self, waiter: Waiter) -> None:
        self.db.execute(_WAITER_PUT, _values(waiter, WAITER_COLUMNS))

    def delete_waiter(self, session_id: str, key: str) -> None:
        self.db.execute("DELETE FROM waiters WHERE session_id = ? AND key = ?",
                        (session_id, key))

    def append_message(self, message: NewMessage) -> Message:
        stored = message.with_seq(self.last_seq() + 1)
        self.restore_message(stored)
        return stored

    def restore_message(self, message: Message) -> None:
        """Store a message under the sequence number it already has (migration)."""
        self.db.execute(_MESSAGE_PUT, _values(message, MESSAGE_COLUMNS))
        self.bump_last_seq(message.seq)

    def restore_messages(self, messages: list[Message]) -> None:
        """`restore_message` for many at once (a migration copies 100k in seconds)."""
        self.db.executemany(_MESSAGE_PUT, (_values(m, MESSAGE_COLUMNS) for m in messages))
        if messages:
            self.bump_last_seq(max(m.seq for m in messages))

    def bump_last_seq(self, seq: int) -> None:
        """Never hand out a sequence number at or below ``seq`` (cursors rely on it)."""
        self.db.execute("UPDATE meta SET value = max(value, ?) WHERE key = 'last_seq'", (seq,))

    def archive_messages(self, upto_seq: int) -> int:
        doomed = [message_from_row(r) for r in self.db.execute(
            f"{MESSAGE_SELECT} WHERE seq <= ? ORDER BY seq", (upto_seq,))]
        if not doomed:
            return 0
        from coord_hooks.store import archive  # gzip: only retention pays for it

        # Durable in the archive before the rows go; a rollback after this point
        # leaves duplicates, which the archive reader drops by seq.
        archive.append_to_archive(self.state_dir, doomed)
        self.db.execute("DELETE FROM messages WHERE seq <= ?", (upto_seq,))
        return len(doomed)

    def retire(self, layout_name: str) -> None:
        """Mark this database as migrated away: later transactions refuse to run."""
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('retired', ?)",
                        (layout_name,))


def refuse_links(db_path: Path, state_dir: Path) -> None:
    """Move symlinks planted as ``coord.db`` or its side files to ``quarantine/``.

    SQLite follows them (and puts the WAL beside the link's target), so a repository
    that commits ``coord.db-wal -> ~/.bashrc`` would have us write there.
    """
    for suffix in DB_FILES:
        path = f"{db_path}{suffix}"
        try:
            if not stat.S_ISLNK(os.lstat(path).st_mode):
                continue
        except OSError:
            continue
        from coord_hooks.fsio import quarantine  # rare: only a planted link gets here

        if quarantine(Path(path), state_dir, "a symbolic link where the database belongs") is None:
            raise StoreError(f"{path} is a symbolic link, which coord-hooks never follows: "
                             "remove it")


def _in_transaction(db: sqlite3.Connection) -> bool:
    try:
        return db.in_transaction
    except sqlite3.ProgrammingError:  # already closed
        return False


# Connections a forked child inherited: never closed or used there (closing one could
# checkpoint or unlink the parent's WAL), only kept referenced.
_INHERITED: list[sqlite3.Connection] = []


def _close_quietly(holder: list[Any]) -> None:
    """Finalizer: close the store's idle connection if this process opened it."""
    if holder and holder[0] is not None and holder[1] == os.getpid():
        try:
            holder[0].close()
        except sqlite3.Error:
            pass
    holder[0] = None


class SqliteStore:
    """Sessions, locks and messages in ``<state dir>/coord.db``."""

    name = "sqlite"

    def __init__(self, state_dir: Path, lock_timeout: float = 10.0, create: bool = True,
                 durable: bool = True, cache_kib: int = CACHE_KIB,
                 check_layout: bool = True, **_: Any) -> None:
        self.state_dir = ensure_state_dir(Path(state_dir), create=create)
        self.path = self.state_dir / DB_NAME
        self._dir = str(self.state_dir)  # str: the marker check runs on every write
        self.lock_timeout = lock_timeout
        self.durable = durable
        self.cache_kib = cache_kib
        # `coord migrate` builds the database before the layout marker says sqlite.
        self.check_layout = check_layout
        if check_layout:
            layout.check(self.state_dir, self.name)
        self._mutex = _thread.RLock()
        self._local = _thread._local()
        # [connection, pid that opened it]; shared with the finalizer.
        self._holder: list[Any] = [None, 0]
        self._finalizer = weakref.finalize(self, _close_quietly, self._holder)

    # --- Store protocol ------------------------------------------------------------------
    def read(self) -> AbstractContextManager[SqliteReader]:
        return self._read()

    def transaction(self) -> AbstractContextManager[SqliteWriter]:
        return self._transaction()

    def archived_messages(self) -> Iterator[Message]:
        from coord_hooks.store import archive

        return archive.read_archive(self.state_dir)

    def flush(self) -> int:
        return 0  # nothing is batched: every append is committed at once

    def maintenance(self, dry_run: bool = False) -> dict[str, Any]:
        """Incremental vacuum and a truncating WAL checkpoint (`sqlite_file.maintenance`)."""
        from coord_hooks.store import sqlite_file

        return sqlite_file.maintenance(self, dry_run)

    def info(self) -> StoreInfo:
        from coord_hooks.store import sqlite_file  # status and diagnose only

        details = sqlite_file.stats(self)
        with self.read() as view:
            details.update(sessions=len(view.sessions()), locks=len(view.locks()),
                           live_messages=view.message_count(), last_seq=view.last_seq())
        return StoreInfo(backend=self.name, location=str(self.path), details=details)

    def close(self) -> None:
        """Close the connection (a later call opens a new one)."""
        with self._mutex:
            if getattr(self._local, "active", None) is None:
                _close_quietly(self._holder)

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transactions --------------------------------------------------------------------
    @contextmanager
    def _read(self) -> Iterator[SqliteReader]:
        active = getattr(self._local, "active", None)
        if active is not None:
            yield active  # nested in a read or transaction: same snapshot
            return
        with self._checkout() as db:
            reader = SqliteReader(db)
            self._local.active = reader
            try:
                db.execute("BEGIN")  # deferred: the snapshot starts at the first read
                self._refuse_if_retired(db, writing=False)
                yield reader
            except sqlite3.Error as exc:
                rollback(db)
                raise self._error(exc) from None
            finally:
                self._local.active = None
                rollback(db)  # a read transaction has nothing to commit

    @contextmanager
    def _transaction(self) -> Iterator[SqliteWriter]:
        active = getattr(self._local, "active", None)
        if isinstance(active, SqliteWriter):
            yield active  # nested: part of the outer transaction
            return
        if active is not None:
            # A write inside a read of this thread: its own connection (WAL readers never
            # block a writer), closed right after.
            with self._scratch() as db:
                yield from self._write(db)
            return
        with self._checkout() as db:
            yield from self._write(db)

    def _write(self, db: sqlite3.Connection) -> Iterator[SqliteWriter]:
        try:
            self._begin_immediate(db)
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        writer = SqliteWriter(db, self.state_dir)
        previous = getattr(self._local, "active", None)
        self._local.active = writer
        try:
            self._refuse_if_retired(db, writing=True)
            yield writer
        except BaseException as exc:
            rollback(db)
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc) from None
            raise
        else:
            try:
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                rollback(db)
                raise self._error(exc) from None
        finally:
            self._local.active = previous

    def _begin_immediate(self, db: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE``, retried with a short backoff until ``lock_timeout``.

        SQLite's own busy handler sleeps 1, 2, 5 … 50, 100 ms between tries: under
        contention a hook would sleep long after the lock was free (16 racing processes
        took 170 ms a round). The busy timeout is turned off only for this statement.
        """
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.0002
        db.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    db.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if primary_code(exc) not in (BUSY, LOCKED):
                        raise
                    if time.monotonic() >= deadline:
                        raise
                # Jitter: waiters that collided once should not collide again in step.
                time.sleep(delay * (0.5 + (time.perf_counter_ns() % 1009) / 1009))
                delay = min(delay * 1.6, 0.008)
        finally:
            db.execute(f"PRAGMA busy_timeout = {int(self.lock_timeout * 1000)}")

    def _refuse_if_retired(self, db: sqlite3.Connection, writing: bool) -> None:
        # A writer that waited for the lock while `coord migrate` ran must not write
        # where nobody reads any more: the retired flag (set in the migration's own
        # transaction) or the marker (its commit point, in case it died after it).
        row = db.execute("SELECT value FROM meta WHERE key = 'retired'").fetchone()
        moved_to = row[0] if row is not None and row[0] else None
        if moved_to is None and writing and self.check_layout:
            marked = layout.read_marker(self._dir)
            if marked not in (None, layout.SQLITE):
                moved_to = marked
        if moved_to is not None:
            raise LayoutChangedError(
                f"{self.path} is no longer used: the state directory was migrated to the "
                f"{moved_to} layout (coord migrate); run the command again")

    # --- connections ---------------------------------------------------------------------
    @contextmanager
    def _checkout(self) -> Iterator[sqlite3.Connection]:
        """The store's connection, opened if needed, used by one thread at a time."""
        if not self._mutex.acquire(timeout=max(self.lock_timeout, 0.001)):
            raise StoreBusyError(f"store {self.path} busy in this process for "
                                 f"{self.lock_timeout:g}s")
        try:
            holder = self._holder
            if holder[0] is not None and holder[1] != os.getpid():
                _INHERITED.append(holder[0])  # forked: leave the parent's handle alone
                holder[0] = None
            if holder[0] is None:
                holder[0], holder[1] = self._open(), os.getpid()
            db: sqlite3.Connection = holder[0]
            try:
                yield db
            except CorruptRecordError as exc:
                # Our handle must be closed before the file moves: closing it later
                # could checkpoint into, or unlink the WAL of, the fresh database.
                _close_quietly(holder)
                raise self._after_corruption(exc) from None
            finally:
                if holder[0] is db and _in_transaction(db):
                    _close_quietly(holder)  # ROLLBACK failed: never reuse a doubtful handle
        finally:
            self._mutex.release()

    @contextmanager
    def _scratch(self) -> Iterator[sqlite3.Connection]:
        db = self._open()
        try:
            yield db
        finally:
            db.close()

    def _connect(self, path: Path) -> sqlite3.Connection:
        """A configured connection; sqlite3 errors propagate (callers translate them)."""
        db = sqlite3.connect(str(path), timeout=self.lock_timeout, isolation_level=None,
                             check_same_thread=False)
        try:
            for pragma in ("foreign_keys = ON", "temp_store = MEMORY",
                           f"cache_size = -{int(self.cache_kib)}",
                           # FULL: a commit is on disk when it returns, as the JSON
                           # backends' fsync'd files are.
                           f"synchronous = {'FULL' if self.durable else 'NORMAL'}",
                           f"journal_size_limit = {WAL_LIMIT}"):
                db.execute(f"PRAGMA {pragma}")
        except BaseException:
            db.close()
            raise
        return db

    def _open(self) -> sqlite3.Connection:
        """Connect, creating, migrating or (if corrupt) replacing the database."""
        refuse_links(self.path, self.state_dir)
        for attempt in (1, 2):
            if not os.path.exists(self.path):
                from coord_hooks.store import sqlite_file  # only the first open

                sqlite_file.create(self)
            db: sqlite3.Connection | None = None
            try:
                db = self._connect(self.path)
                self._prepare(db)
                return db
            except sqlite3.Error as exc:
                if db is not None:
                    db.close()
                error = self._error(exc)
                if attempt == 2 or not isinstance(error, CorruptRecordError):
                    raise error from None
                self.recover_corrupt(str(exc))  # then try once more on the fresh file
            except BaseException:
                if db is not None:
                    db.close()
                raise
        raise StoreError(f"cannot open {self.path}")  # pragma: no cover - loop returns

    def _prepare(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema version {version}, newer than this "
                             f"coord-hooks understands ({SCHEMA_VERSION}); upgrade coord-hooks")
        db.execute("PRAGMA journal_mode = WAL")
        apply_migrations(db)

    def create_database(self, rows: Callable[[SqliteWriter], None] | None = None) -> None:
        """Build the database with ``rows`` filled in, atomically; refuse if it exists."""
        from coord_hooks.store import sqlite_file

        with sqlite_file.creation_lock(self.state_dir, self.lock_timeout):
            if os.path.exists(self.path):
                raise StoreError(f"{self.path} already exists")
            sqlite_file.build(self, self.path, rows)


    def _error(self, exc: sqlite3.Error) -> StoreError:
        return translate_error(exc, self.path, self.lock_timeout)

    def _after_corruption(self, error: CorruptRecordError) -> CorruptRecordError:
        """Quarantine the damaged file now, so that the next command starts clean."""
        try:
            moved = self.recover_corrupt(str(error))
        except StoreError as failure:
            return CorruptRecordError(f"{error}; {failure}")
        if moved is None:
            return error
        return CorruptRecordError(
            f"store database {self.path} was corrupt; it was moved to {moved} and a fresh "
            "one was started with every record that could still be read. Run the command "
            "again.")

    # --- corruption ----------------------------------------------------------------------
    def recover_corrupt(self, why: str) -> Path | None:
        """Quarantine a corrupt database and start a fresh one (`sqlite_file.recover_corrupt`)."""
        from coord_hooks.store import sqlite_file

        return sqlite_file.recover_corrupt(self, why)


