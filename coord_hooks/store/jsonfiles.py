"""JSON-file stores: one file per record, readable with jq.

Layout of a state directory (shared by the legacy and optimized backends, so a user can
switch between them at any time)::

    .lock                    sidecar lock file (flock) taken around every mutation
    generation               integer bumped once by every transaction that writes
    seq.json                 {"last_seq": N}: the last message sequence number given
    sessions/<id>.json       one `Session` per file
    locks/<lock id>.json     one `Lock` per (key, owner); id = sha1(key NUL owner)[:20]
    waiters/<waiter id>.json one `Waiter` per (session, key): sha1(session)[:16]-sha1(key)[:20]
    messages/<seq:012d>.json one live `Message` per file
    broadcasts.jsonl         queued broadcasts not yet written as message files (below)
    archive/messages.jsonl.gz  archived messages (see `coord_hooks.store.archive`)
    index/                   the optimized backend's snapshot (a cache; safe to delete)
    quarantine/              corrupt files moved aside, never deleted (an unreadable one,
                             another uid's or chmod'ed, is left in place and logged)
    logs/                    app.log, performance.log

Every record file carries ``format_version``. Every write is temp file + fsync +
``os.replace``. The sequence counter is written *before* the message file, so a crash
can leave a gap in sequence numbers but never reuse one.

The generation is bumped *before* a transaction's first write (not after its last):
a writer killed half-way leaves a new generation behind, so a snapshot validated by
the generation can never describe files that changed without it.

``broadcasts.jsonl`` (the batch journal, written by the optimized backend): one
`Message` per JSON line, its ``seq`` given at queue time under the store lock, the
line appended and fsynced before the transaction ends. Until a flush turns the lines
into ``messages/`` files (and raises ``seq.json``), readers of every backend merge it
with ``messages/`` by ``seq``: `messages_after`, `last_seq` and `message_count` count
queued broadcasts exactly like filed ones. A crash mid-flush can leave a message both
queued and filed; readers keep one (the file). Readers skip a line they cannot parse (a
torn last line after a power loss during an append that never returned, or one damaged
later); the flush keeps such lines in ``quarantine/`` before the journal goes. Any
backend holding the lock may flush the journal, and archiving always flushes it first,
so archived seqs stay below live ones.
"""

from __future__ import annotations

import errno
import os
import stat
from os.path import join

from coord_hooks import jsontext
from coord_hooks.errors import StoreError, UnreadableRecordError
from coord_hooks.fsio import (
    atomic_write_bytes,
    dump_json,
    fsync_dir,
    open_state_file,
    read_json_record,
    read_state_file,
    write_fully,
)
from coord_hooks.model import (
    FORMAT_VERSION,
    Lock,
    Message,
    NewMessage,
    Session,
    StoreInfo,
    Waiter,
    sha1_hex,
    waiter_id_for,
)
from coord_hooks.paths import ensure_state_dir, ensure_subdir, is_link_error
from coord_hooks.store import layout

# Session ids used as file names as they are: 1-128 of these, not starting with a dot.
# (Plain string tests, not regexes: `re` costs every hook ~4 ms to import.)
_SAFE_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
JOURNAL_NAME = "broadcasts.jsonl"
MANY_RECORDS = 16  # a read of more records than this parses them with json (fsio.parse_json)


TYPE_CHECKING = False  # typing is not imported at run time: it is on the hot path
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path
    from typing import Any, Protocol

    from coord_hooks.paths import StrPath

    class _Mutex(Protocol):
        def __enter__(self) -> Any: ...

        def __exit__(self, *exc: object) -> Any: ...


def session_file_name(session_id: str) -> str:
    """File name for a session id; odd ids are hashed so they cannot escape the folder."""
    if (0 < len(session_id) <= 128 and not session_id.startswith(".")
            and _SAFE_ID_CHARS.issuperset(session_id)):
        return f"{session_id}.json"
    return "x-" + sha1_hex(session_id.encode()) + ".json"


def message_file_name(seq: int) -> str:
    return f"{seq:012d}.json"


def seq_of_name(name: str) -> int | None:
    """The sequence number of a message file name (twelve digits, ``.json``), else None."""
    digits = name[:12]
    if len(name) == 17 and name.endswith(".json") and digits.isdecimal():
        return int(digits)
    return None


def read_journal(state_dir: StrPath) -> list[Message]:
    """Queued broadcasts, ascending by ``seq``, each once; damaged lines skipped."""
    return parse_journal(_journal_bytes(state_dir))[0]


def _journal_bytes(state_dir: StrPath) -> bytes:
    try:
        return read_state_file(join(state_dir, JOURNAL_NAME), state_dir)
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise unreadable(join(state_dir, JOURNAL_NAME), exc) from None


def parse_journal(raw: bytes) -> tuple[list[Message], list[tuple[int, bytes]]]:
    """(queued broadcasts ascending by ``seq``, each once; damaged lines with their number).

    A torn last line (its append never returned) and a line damaged later look alike:
    readers skip both, and the flush keeps them in ``quarantine/`` (`flush_journal`).
    """
    found: dict[int, Message] = {}
    damaged: list[tuple[int, bytes]] = []
    for number, line in enumerate(raw.splitlines(keepends=True), 1):
        if not line.strip():
            continue
        try:
            message = Message.from_dict(jsontext.loads(line))
            if not isinstance(message.seq, int) or isinstance(message.seq, bool):
                raise TypeError("seq is not an integer")
        except (ValueError, TypeError, AttributeError):
            damaged.append((number, line))
            continue
        found.setdefault(message.seq, message)
    return [found[seq] for seq in sorted(found)], damaged


def append_journal(state_dir: StrPath, messages: list[Message]) -> None:
    """Append queued broadcasts durably: one ``write``, then fsync (the commit point)."""
    path = join(state_dir, JOURNAL_NAME)
    data = "".join(jsontext.dumps(m.to_dict(), sort_keys=True, ensure_ascii=False) + "\n"
                   for m in messages).encode("utf-8")
    created = False
    try:
        try:
            fd = open_state_file(path, os.O_RDWR | os.O_APPEND, state_dir)
        except FileNotFoundError:
            fd = open_state_file(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, state_dir)
            created = True
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # never glue a new line onto a torn one
            write_fully(fd, data)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StoreError(f"cannot append to {path}: {exc.strerror or exc}") from None
    if created:
        fsync_dir(state_dir)


def read_generation(state_dir: StrPath) -> int:
    """The ``generation`` counter: 0 when absent, damaged, or a planted symlink (the next
    bump replaces it); a directory or a file we may not read is a one-line error."""
    path = join(state_dir, "generation")
    try:
        raw = read_state_file(path)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        if is_link_error(exc):
            return 0
        raise unreadable(path, exc) from None
    try:
        return int(raw or b"0")
    except ValueError:
        return 0


def unreadable(path: StrPath, exc: OSError) -> StoreError:
    """The error for a state file we cannot read, naming its owner when it is not us."""
    try:
        owner = os.lstat(path).st_uid
    except OSError:
        owner = None
    if exc.errno == errno.EACCES and owner is not None and owner != os.geteuid():
        from coord_hooks.paths import foreign_owner_message

        return StoreError(foreign_owner_message(path, owner, "file"))
    return StoreError(f"cannot read {path}: {exc.strerror or exc}")


def archived_last_seq(state_dir: StrPath) -> int:
    """The highest archived seq (0 without an archive); reads the whole archive."""
    try:  # archive.archive_path(), without importing gzip: a new store, on the hook path
        if not stat.S_ISREG(os.lstat(join(state_dir, "archive", "messages.jsonl.gz")).st_mode):
            return 0  # a folder (say) is no archive; appending to it fails loudly
    except OSError:
        return 0
    from coord_hooks.store import archive

    return max((m.seq for m in archive.read_archive(state_dir)), default=0)


class JsonFileView:
    """Reads straight from disk on every call (no cache)."""

    def __init__(self, store: JsonFileStore) -> None:
        self.store = store
        self.dir = store.root
        self.unreadable: list[str] = []  # record files this view could not read

    def _read(self, path: StrPath, many: bool = False) -> dict[str, Any] | None:
        try:
            return read_json_record(path, self.dir, many)
        except UnreadableRecordError as exc:
            # Left in place and logged; a record that cannot be read counts as missing
            # here, and an unreadable lock as held (`unreadable_locks`).
            name = os.fspath(path)
            if name not in self.unreadable:
                self.unreadable.append(name)
                _log_unreadable(self.dir, name, str(exc))
            return None

    def unreadable_locks(self) -> list[str]:
        """Lock files this view met but could not read (state-dir relative paths)."""
        return [f"locks/{os.path.basename(p)}" for p in self.unreadable
                if os.path.basename(os.path.dirname(p)) == "locks"]

    def get_session(self, session_id: str) -> Session | None:
        session: Session | None = self._load_path(
            Session, join(self.dir, "sessions", session_file_name(session_id)))
        return session

    def sessions(self) -> list[Session]:
        return self._load_all(Session, "sessions")

    def locks(self) -> list[Lock]:
        return self._load_all(Lock, "locks")

    def _load_all(self, cls: Any, folder: str) -> list[Any]:
        """Every readable record of a folder (json's parser only for many of them)."""
        paths = _json_files(join(self.dir, folder))
        many = len(paths) > MANY_RECORDS
        return [r for r in (self._load_path(cls, p, many) for p in paths) if r is not None]

    def _waiters_dir(self) -> str | None:
        """``waiters/`` if it is a real folder (made on first wait; a planted link is
        neither read nor written through: waits are hints, never worth a lock decision)."""
        folder = join(self.dir, "waiters")
        try:
            info = os.lstat(folder)
        except OSError:
            return None
        return folder if stat.S_ISDIR(info.st_mode) else None

    def waiters(self, session_id: str | None = None) -> list[Waiter]:
        folder = self._waiters_dir()
        if folder is None:
            return []
        # A session's waits share a file-name prefix: only its own files are read.
        prefix = waiter_id_for(session_id, "")[:17] if session_id is not None else ""
        found = [self._load_path(Waiter, join(folder, n)) for n in sorted(_names(folder))
                 if n.startswith(prefix) and n.endswith(".json") and not n.startswith(".")]
        return [w for w in found if w is not None
                and (session_id is None or w.session_id == session_id)]

    def _load_path(self, cls: Any, path: StrPath, many: bool = False) -> Any:
        return _load(cls, self._read(path, many), path, self.dir)

    def message_seqs(self) -> list[int]:
        seqs = []
        for name in _names(join(self.dir, "messages")):
            seq = seq_of_name(name)
            if seq is not None:
                seqs.append(seq)
        seqs.sort()
        return seqs

    def journal(self) -> list[Message]:
        """Broadcasts queued in ``broadcasts.jsonl`` (see the module docstring)."""
        return read_journal(self.dir)

    def messages_after(self, seq: int, limit: int | None = None) -> list[Message]:
        # The journal is read before the folder is listed: a flush in between then shows
        # a message twice (deduplicated) rather than not at all.
        queued = {m.seq: m for m in self.journal() if m.seq > seq}
        filed = {n for n in self.message_seqs() if n > seq}
        many = len(filed) > MANY_RECORDS
        result: list[Message] = []
        for number in sorted(filed | queued.keys()):
            message = None
            if number in filed:
                message = self._load_path(
                    Message, join(self.dir, "messages", message_file_name(number)), many)
            if message is None:
                message = queued.get(number)
            if message is not None:
                result.append(message)
                if limit is not None and len(result) >= limit:
                    break
        return result

    def counter(self) -> int | None:
        """``seq.json``'s value; None when the file is missing or unreadable."""
        data = self._read(join(self.dir, "seq.json"))
        if data is None:
            return None
        try:
            return int(data.get("last_seq", 0))
        except (TypeError, ValueError):
            return None

    def last_seq(self) -> int:
        counted = self.counter()
        seqs = self.message_seqs()
        queued = self.journal()
        # The counter is written first, so it is normally >= every file; max() also covers
        # a counter file that was quarantined, and broadcasts still in the journal.
        last = max(counted or 0, seqs[-1] if seqs else 0, queued[-1].seq if queued else 0)
        if counted is None:
            # No counter (damaged, or never written): archived messages count too, or a
            # send after everything was archived would reuse seq 1 (issue 9, item 13).
            last = max(last, archived_last_seq(self.dir))
        return last

    def message_count(self) -> int:
        return len(set(self.message_seqs()) | {m.seq for m in self.journal()})


class JsonFileTransaction(JsonFileView):
    """Mutations; only created while the store's sidecar lock is held."""

    def __init__(self, store: JsonFileStore) -> None:
        super().__init__(store)
        self.dirty = False
        self.generation: int | None = None  # the value bumped to, once dirty
        self.durable = store.durable

    def begin_write(self) -> None:
        """Bump the generation before the first change (see the module docstring)."""
        if not self.dirty:
            self.generation = self.store.bump_generation()
            self.dirty = True

    def _write(self, path: StrPath, data: dict[str, Any]) -> None:
        self.begin_write()
        atomic_write_bytes(path, dump_json(data), durable=self.durable)

    def put_session(self, session: Session) -> None:
        self._write(join(self.dir, "sessions", session_file_name(session.session_id)),
                    session.to_dict())

    def put_lock(self, lock: Lock) -> None:
        self._write(join(self.dir, "locks", f"{lock.lock_id}.json"), lock.to_dict())

    def delete_lock(self, key: str, owner: str) -> None:
        from coord_hooks.model import lock_id_for

        self._delete(join(self.dir, "locks", f"{lock_id_for(key, owner)}.json"))

    def _delete(self, path: StrPath) -> None:
        """Remove one record file; absent is a no-op (and writes nothing)."""
        if not os.path.lexists(path):
            return
        self.begin_write()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def put_waiter(self, waiter: Waiter) -> None:
        # Made on first use, not at every open: most state dirs never see a wait.
        folder = ensure_subdir(join(self.dir, "waiters"))
        self._write(join(folder, f"{waiter_id_for(waiter.session_id, waiter.key)}.json"),
                    waiter.to_dict())

    def delete_waiter(self, session_id: str, key: str) -> None:
        folder = self._waiters_dir()
        if folder is not None:
            self._delete(join(folder, f"{waiter_id_for(session_id, key)}.json"))

    def append_message(self, message: NewMessage) -> Message:
        seq = self.last_seq() + 1
        self._write(join(self.dir, "seq.json"), {"format_version": FORMAT_VERSION, "last_seq": seq})
        stored = message.with_seq(seq)
        self._write(join(self.dir, "messages", message_file_name(seq)), stored.to_dict())
        return stored

    def flush_journal(self) -> int:
        """Write queued broadcasts as message files, then drop the journal; how many."""
        path = join(self.dir, JOURNAL_NAME)
        if not os.path.lexists(path):
            return 0
        queued, damaged = parse_journal(_journal_bytes(self.dir))
        self.begin_write()
        if damaged:  # kept before the journal goes: nothing a user sent is deleted
            self._quarantine_lines(path, damaged)
        folder = join(self.dir, "messages")
        for message in queued:
            target = join(folder, message_file_name(message.seq))
            if not os.path.lexists(target):  # already filed by a flush that crashed
                atomic_write_bytes(target, dump_json(message.to_dict()),
                                   durable=self.durable, sync_dir=False)
        if queued and self.durable:
            fsync_dir(folder)  # one folder fsync for the whole batch
        if queued and (self.counter() or 0) < queued[-1].seq:
            self._write(join(self.dir, "seq.json"),
                        {"format_version": FORMAT_VERSION, "last_seq": queued[-1].seq})
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return len(queued)

    def _quarantine_lines(self, path: StrPath, damaged: list[tuple[int, bytes]]) -> None:
        from coord_hooks import logs
        from coord_hooks.fsio import quarantine_data

        moved = quarantine_data(path, self.dir, b"".join(line for _, line in damaged))
        logs.log_event(self.dir, "warning", "journal_lines_quarantined", path=str(path),
                       lines=[number for number, _ in damaged], moved_to=str(moved),
                       reason="not a queued broadcast (damaged, or torn by a crash)")

    def archive_messages(self, upto_seq: int) -> int:
        self.flush_journal()  # archived seqs must stay below every live one
        doomed = [m for m in self.messages_after(0) if m.seq <= upto_seq]
        if not doomed:
            return 0
        self.begin_write()
        from coord_hooks.store import archive  # gzip: only retention pays for the import

        archive.append_to_archive(self.dir, doomed)
        for message in doomed:
            try:
                os.unlink(join(self.dir, "messages", message_file_name(message.seq)))
            except FileNotFoundError:
                pass
        return len(doomed)


class JsonFileStore:
    """Base of the JSON backends; subclasses choose the mutex and may add caching."""

    name = "json"
    SUBDIRS = ("sessions", "locks", "messages")

    def __init__(self, state_dir: StrPath, lock_timeout: float = 10.0, durable: bool = True,
                 create: bool = True) -> None:
        # A str: the hook path never builds a pathlib.Path (`state_dir` is one, on demand).
        self.root: str = os.fspath(ensure_state_dir(state_dir, create=create))
        for sub in self.SUBDIRS:
            ensure_subdir(join(self.root, sub))
        self.lock_timeout = lock_timeout
        self.durable = durable

    @property
    def state_dir(self) -> Path:
        """The state dir as a Path, for the CLI and tools (the hook path uses `root`)."""
        from pathlib import Path

        return Path(self.root)

    # --- hooks for subclasses -------------------------------------------------------
    def _mutex(self) -> _Mutex:
        raise NotImplementedError

    def _view(self) -> JsonFileView:
        return JsonFileView(self)

    def _txn(self) -> JsonFileTransaction:
        return JsonFileTransaction(self)

    def _committed(self, txn: JsonFileTransaction) -> None:
        """Called under the lock after a transaction that changed something.

        The generation was already bumped before its first write (`begin_write`).
        """

    def _begin(self) -> JsonFileTransaction:
        """The start of a transaction; the caller holds the store lock."""
        # `coord migrate --to sqlite` may have run while we waited for the lock:
        # refuse rather than write files nobody reads (see `store.layout`).
        layout.check(self.root, self.name, waited=True)
        return self._txn()

    def _end(self, txn: JsonFileTransaction, ok: bool) -> None:
        """The end of a transaction, whether its body raised or not (the lock is held)."""
        # Even a failing transaction may have written some files: readers that
        # validate caches by generation must notice.
        if txn.dirty:
            self._committed(txn)

    # --- Store protocol -------------------------------------------------------------
    def read(self) -> AbstractContextManager[JsonFileView]:
        return Entered(self._view)

    def transaction(self) -> AbstractContextManager[JsonFileTransaction]:
        return Transaction(self, self._mutex())

    def archived_messages(self) -> Iterator[Message]:
        from coord_hooks.store import archive

        return archive.read_archive(self.root)

    def flush(self) -> int:
        """Turn broadcasts another backend queued into message files (any backend may)."""
        if not os.path.lexists(join(self.root, JOURNAL_NAME)):
            return 0
        with self.transaction() as tx:
            return tx.flush_journal()

    def maintenance(self, dry_run: bool = False) -> dict[str, Any]:
        return {}

    def info(self) -> StoreInfo:
        return StoreInfo(backend=self.name, location=str(self.root),
                         details={"generation": self.generation(),
                                  "pending_broadcasts": len(read_journal(self.root))})

    def close(self) -> None:
        pass

    # --- generation counter ---------------------------------------------------------
    def generation(self) -> int:
        return read_generation(self.root)

    def bump_generation(self) -> int:
        value = self.generation() + 1
        atomic_write_bytes(join(self.root, "generation"), str(value).encode(),
                           durable=self.durable)
        return value


class LegacyStore(JsonFileStore):
    """The legacy backend: portalocker around every mutation, reads from disk always."""

    name = "legacy"

    def __init__(self, state_dir: StrPath, lock_timeout: float = 10.0, durable: bool = True,
                 create: bool = True) -> None:
        super().__init__(state_dir, lock_timeout=lock_timeout, durable=durable, create=create)
        # portalocker would create the sidecar with the umask's mode (0644): files are 0600.
        # It also follows a symlink, so a planted one is quarantined here, first.
        try:
            os.close(open_state_file(join(self.root, ".lock"), os.O_WRONLY | os.O_CREAT,
                                     self.root))
        except OSError as exc:
            raise StoreError(f"cannot create {join(self.root, '.lock')}: {exc.strerror}") from None

    def _mutex(self) -> _Mutex:
        try:
            import portalocker  # lazy: costs ~60 ms to import, only legacy pays it
        except ImportError:
            # A marketplace install runs no pip, and the shims may run an interpreter
            # without site-packages: take the same flock through the standard library
            # (portalocker uses flock on POSIX, so both exclude each other).
            from coord_hooks.fsio import FlockLock

            return FlockLock(join(self.root, ".lock"), self.lock_timeout)
        from coord_hooks.errors import StoreBusyError

        lock = portalocker.Lock(str(join(self.root, ".lock")), mode="a",
                                timeout=self.lock_timeout, check_interval=0.005,
                                flags=portalocker.LockFlags.EXCLUSIVE
                                | portalocker.LockFlags.NON_BLOCKING)
        return _PortalockerMutex(lock, StoreBusyError, self.root, self.lock_timeout)


class _PortalockerMutex:
    def __init__(self, lock: Any, busy: type[Exception], state_dir: StrPath,
                 timeout: float) -> None:
        self.lock, self.busy, self.state_dir, self.timeout = lock, busy, state_dir, timeout

    def __enter__(self) -> None:
        import portalocker

        try:
            self.lock.acquire()
        except portalocker.exceptions.LockException:
            raise self.busy(
                f"store lock {join(self.state_dir, '.lock')} busy for {self.timeout:g}s") from None

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


_LOGGED_UNREADABLE: set[str] = set()


def _log_unreadable(state_dir: StrPath, path: str, error: str) -> None:
    if path in _LOGGED_UNREADABLE:
        return  # once per process: a hook may read the same record several times
    _LOGGED_UNREADABLE.add(path)
    from coord_hooks import logs

    logs.log_event(state_dir, "warning", "unreadable_record", path=str(path), error=error,
                   uid=os.geteuid() if hasattr(os, "geteuid") else None)


def _load(cls: Any, data: dict[str, Any] | None, path: StrPath, state_dir: StrPath) -> Any:
    if data is None:
        return None
    try:
        return cls.from_dict(data)
    except (TypeError, ValueError) as exc:
        from coord_hooks.fsio import quarantine

        quarantine(path, state_dir, f"not a valid {cls.__name__}: {exc}")
        return None


def _names(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except FileNotFoundError:
        return []


def _json_files(folder: str) -> list[str]:
    return [join(folder, n) for n in sorted(_names(folder))
            if n.endswith(".json") and not n.startswith(".")]


# Context managers as plain classes, not @contextmanager generators: contextlib costs
# every hook ~1.5 ms to import (it brings functools and collections).
class Entered:
    """``with``: what ``factory`` makes, and nothing to undo (a read takes no lock)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory

    def __enter__(self) -> Any:
        return self.factory()

    def __exit__(self, *exc: object) -> None:
        return None


class Transaction:
    """``with store.transaction() as tx``: ``mutex`` held from `_begin` to `_end`, and
    `_end` runs whatever happened in between (told whether the body raised)."""

    def __init__(self, store: JsonFileStore, mutex: _Mutex) -> None:
        self.store = store
        self.mutex = mutex

    def __enter__(self) -> Any:
        self.mutex.__enter__()
        try:
            self.txn = self.store._begin()
        except BaseException:
            self.mutex.__exit__(None, None, None)
            raise
        return self.txn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self.store._end(self.txn, ok=exc_type is None)
        finally:
            self.mutex.__exit__(exc_type, exc, tb)
