"""The SQLite backend's file: built atomically, measured, kept small, and replaced when corrupt.

`SqliteStore` (`store.sqlite`) runs connections and transactions; this is the rest of
its work on ``coord.db`` itself, imported only when there is such work (creating the
database, ``coord cleanup``, ``status``, a corrupt file): no hook pays for it otherwise.

* A new database is built in a temporary file and renamed into place (`build`), so no
  process ever sees a half-made one; `creation_lock` serialises creating, replacing and
  migrating it.
* A corrupt database (confirmed by ``PRAGMA quick_check`` under that lock) is moved to
  ``quarantine/``, never deleted; whatever rows can still be read are copied into a fresh
  database (`recover_corrupt`). Sequence numbers never go back, so cursors stay valid.

Standard library only.
"""

from __future__ import annotations

import _thread
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from coord_hooks.errors import CorruptRecordError, StoreError
from coord_hooks.fsio import FlockLock, fsync_dir
from coord_hooks.model import Lock, Message, Session
from coord_hooks.paths import FILE_MODE
from coord_hooks.store import layout
from coord_hooks.store.sqlite import (
    BUSY,
    CREATE_LOCK,
    LOCK_SELECT,
    LOCKED,
    MESSAGE_SELECT,
    SESSION_SELECT,
    SqliteWriter,
    apply_migrations,
    is_corrupt,
    lock_from_row,
    message_from_row,
    primary_code,
    rollback,
    session_from_row,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from coord_hooks.store.sqlite import SqliteStore


def others_attached(path: Path) -> bool:
    """Does another process have the database open (WAL mode)?

    Every connection holds a shared POSIX lock on byte 128 of the ``-shm`` file (the
    "dead man switch", ``UNIX_SHM_DMS`` in SQLite's os_unix.c) while it is open.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no way to tell, assume not
        return False
    try:
        fd = os.open(f"{path}-shm", os.O_RDWR)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)  # also drops the probe lock


_HELD = _thread._local()

@contextmanager
def creation_lock(state_dir: Path, timeout: float) -> Iterator[None]:
    """The sidecar flock taken to create, replace or migrate ``coord.db``.

    Re-entrant within a thread (`coord migrate` holds it while it builds the database);
    flock itself is not: a second descriptor in the same process would wait for the first.
    """
    path = str(state_dir / CREATE_LOCK)
    held: dict[str, int] = getattr(_HELD, "paths", None) or {}
    _HELD.paths = held
    if held.get(path):
        held[path] += 1
        try:
            yield
        finally:
            held[path] -= 1
        return
    with FlockLock(Path(path), timeout):
        held[path] = 1
        try:
            yield
        finally:
            held.pop(path, None)


def create(store: SqliteStore) -> None:
    """Build a new database in a temporary file and rename it into place."""
    with creation_lock(store.state_dir, store.lock_timeout):
        if os.path.exists(store.path):
            return  # another process made it while we waited
        if store.check_layout:
            layout.check(store.state_dir, store.name, waited=True)
        build(store, store.path)
        if store.check_layout and layout.read_marker(store.state_dir) != layout.SQLITE:
            layout.write_marker(store.state_dir, layout.SQLITE, "the sqlite backend")


def build(store: SqliteStore, target: Path, rows: Callable[[SqliteWriter], None] | None = None
           ) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        db = store._connect(tmp)
        try:
            # Both are fixed at creation: auto_vacuum cannot be turned on once tables
            # exist, and WAL mode is recorded in the file header.
            db.execute("PRAGMA auto_vacuum = INCREMENTAL")
            db.execute("PRAGMA journal_mode = WAL")
            apply_migrations(db)
            if rows is not None:
                db.execute("BEGIN IMMEDIATE")
                try:
                    rows(SqliteWriter(db, store.state_dir))
                    db.execute("COMMIT")
                except BaseException:
                    rollback(db)
                    raise
        finally:
            db.close()  # checkpoints and removes the temporary WAL
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except sqlite3.Error as exc:
        raise store._error(exc) from None
    except OSError as exc:
        raise StoreError(f"cannot create {target}: {exc.strerror or exc}") from None
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(f"{tmp}{suffix}")
            except OSError:
                pass


def recover_corrupt(store: SqliteStore, why: str) -> Path | None:
    """Quarantine a corrupt database and start a fresh one; return where it went.

    Done under the creation lock and only once ``PRAGMA quick_check`` confirms the
    damage, so two processes noticing at once move it once and never move a fresh
    one. Returns None when the file is (no longer) damaged. Refuses while another
    process still has the file open: its connection would later unlink the fresh
    database's WAL by name (SQLite's "how to corrupt" list, renaming an open file).
    """
    with creation_lock(store.state_dir, store.lock_timeout):
        if not os.path.exists(store.path) or not is_damaged(store.path, store.lock_timeout):
            return None
        if others_attached(store.path):
            raise CorruptRecordError(
                f"store database {store.path} is corrupt and still open in another "
                "process; it will be moved to quarantine/ by the first command that "
                "runs after those processes exit")
        salvage = _salvage(store.path)
        from coord_hooks.fsio import quarantine

        moved = quarantine(store.path, store.state_dir, f"corrupt sqlite database: {why}")
        for suffix in ("-wal", "-shm"):
            side = Path(f"{store.path}{suffix}")
            if side.exists():
                quarantine(side, store.state_dir, "belongs to a corrupt database")
        # Sequence numbers must never go back: cursors and the archive hold them.
        floor = max([salvage.last_seq, *(s.cursor for s in salvage.sessions),
                     *(m.seq for m in store.archived_messages())], default=0)
        build(store, store.path, lambda tx: salvage.restore(tx, floor))
        from coord_hooks import logs

        logs.log_event(store.state_dir, "warning", "sqlite_corrupt_replaced",
                       path=str(store.path), moved_to=str(moved), reason=why,
                       salvaged_sessions=len(salvage.sessions),
                       salvaged_locks=len(salvage.locks),
                       salvaged_messages=len(salvage.messages))
        return moved


def is_damaged(path: Path, timeout: float) -> bool:
    try:
        # Read-only: a read-write close could checkpoint into the damaged file.
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True,
                             timeout=timeout)
    except sqlite3.Error as exc:
        return is_corrupt(exc)
    try:
        rows = db.execute("PRAGMA quick_check(1)").fetchall()
        return rows != [("ok",)]
    except sqlite3.Error as exc:
        return is_corrupt(exc)
    finally:
        db.close()


def stats(store: SqliteStore) -> dict[str, Any]:
    try:
        with store._checkout() as db:
            pragma = {name: db.execute(f"PRAGMA {name}").fetchone()[0]
                      for name in ("page_size", "page_count", "freelist_count",
                                   "journal_mode", "auto_vacuum", "user_version")}
            names = [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
    except sqlite3.Error as exc:
        raise store._error(exc) from None

    def size(path: str) -> int:
        try:
            return os.path.getsize(path)
        except OSError:
            return 0

    return {"path": str(store.path), "size_bytes": size(str(store.path)),
            "wal_bytes": size(f"{store.path}-wal"), **pragma,
            "migrations": names, "sqlite_version": sqlite3.sqlite_version}


def maintenance(store: SqliteStore, dry_run: bool = False) -> dict[str, Any]:
    """Incremental vacuum (give free pages back) and a truncating WAL checkpoint."""
    before = stats(store)
    report: dict[str, Any] = {"free_pages": before["freelist_count"],
                              "wal_bytes": before["wal_bytes"]}
    if dry_run:
        report["would"] = ["incremental_vacuum", "wal_checkpoint(TRUNCATE)", "optimize"]
        return report
    with store.transaction() as tx:
        # Inside BEGIN IMMEDIATE: run in autocommit, these start as reads and fail at
        # once (SQLITE_BUSY_SNAPSHOT, no busy handler) if a writer commits meanwhile.
        tx.db.execute("PRAGMA incremental_vacuum").fetchall()  # steps until done
        tx.db.execute("PRAGMA optimize")
    with store._checkout() as db:
        try:
            busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if primary_code(exc) not in (BUSY, LOCKED):
                raise store._error(exc) from None
            busy = 1  # another process is checkpointing right now: fine, next time
    after = stats(store)
    report.update(pages_freed=before["freelist_count"] - after["freelist_count"],
                  wal_bytes_after=after["wal_bytes"], checkpoint_complete=not busy,
                  size_bytes=after["size_bytes"])
    return report


class _Salvage:
    """What could still be read from a damaged database."""

    def __init__(self) -> None:
        self.sessions: list[Session] = []
        self.locks: list[Lock] = []
        self.messages: list[Message] = []
        self.last_seq = 0

    def restore(self, tx: SqliteWriter, floor: int) -> None:
        for session in self.sessions:
            tx.put_session(session)
        for lock in self.locks:
            tx.put_lock(lock)
        for message in self.messages:
            tx.restore_message(message)
        tx.bump_last_seq(max(floor, self.last_seq))


def _salvage(path: Path) -> _Salvage:
    """Read every row that still reads, table by table, stopping at the first bad page."""
    found = _Salvage()
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return found
    try:
        for sql, convert, into in ((SESSION_SELECT, session_from_row, found.sessions),
                                   (LOCK_SELECT, lock_from_row, found.locks),
                                   (f"{MESSAGE_SELECT} ORDER BY seq", message_from_row,
                                    found.messages)):
            try:
                for row in db.execute(sql):
                    try:
                        into.append(convert(row))  # type: ignore[arg-type]
                    except (TypeError, ValueError):
                        continue
            except sqlite3.Error:
                continue
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
            found.last_seq = int(row[0]) if row else 0
        except (sqlite3.Error, TypeError, ValueError):
            pass
    finally:
        db.close()
    found.last_seq = max([found.last_seq, *(m.seq for m in found.messages)])
    return found
