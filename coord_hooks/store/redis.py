"""The redis backend: one project's records on a Redis 7+ / Valkey server, shared by
every clone of the repository on every machine.

Keys (``P`` = ``coord:{<sha1 of the project id>}``, `coord_hooks.store.identity`; one
hash slot, so every script may touch them all):

* ``P:meta`` hash: ``last_seq``, ``fence`` (last fencing token), ``generation`` (commits),
  ``project``, ``retired`` (migrated away), ``migrating`` (a copy in progress);
* ``P:sessions`` hash, session id → JSON; ``P:locks`` hash, ``key NUL owner`` →
  ``<fence>|<JSON>``, with three sorted-set indexes (``P:lockidx`` by key, ``P:globidx``
  by a pattern's literal folder, ``P:ownidx`` by owner) so a lock check reads only the
  locks that may overlap its path, as the SQLite backend's indexes do;
* ``P:msgs`` sorted set, score = seq, member = the message's JSON (live messages);
* ``P:waiters`` hash, ``session NUL key`` → JSON: lock hand-off waits (a few);
* ``P:archive`` list of archived messages' JSON, ascending: retention moves messages
  here in the same atomic step that removes them from ``P:msgs``. It is the archive:
  never trimmed, read by `archived_messages` (``coord messages --archived``) from every
  machine (a team has no shared disk for the JSON backends' archive file);
* ``P:mutex``: the store lease; ``P:events``: the pub/sub channel.

Atomicity without duplicating the rules in Lua. The rules stay in
`coord_hooks.coordination`, written once for every backend; a `transaction` here is:

1. take the lease: ``SET P:mutex <token> NX PX <lease>`` (one script, which also returns
   ``last_seq``, the last fence and the retired/migrating flags). Lease lengths are the
   server's clock (``PX``), never a client's. A waiter on the same host whose holder's
   process is gone (pid + start time in the token) frees the lease at once;
2. read through the `RedisWriter` (fresh reads; nobody else commits meanwhile);
3. buffer every write; reads in the transaction see them (read your own writes);
4. commit with ONE script that first checks that the lease still holds our token, then
   applies every write, gives fencing tokens to new grants, bumps ``last_seq`` and
   ``generation``, releases the lease and ``PUBLISH``es on ``P:events``. A holder that
   paused past its lease (GC, SIGSTOP, a slow network) finds another token there and
   its commit is refused whole: it can never write over another's transaction.

That is a fenced, server-side atomic commit on one server (no Redlock). Sequence
numbers and fencing tokens are given under the lease and checked by the commit; the
cursor advance is part of the same commit as everything else. Lock grants carry a
fencing token (``Lock.fence``): larger than every token given before in the project
(so monotonic per key), kept when the same owner renews its lock.

Clocks: `clock` is the server's (``TIME`` in the connection handshake, as an offset),
so ``last_seen``, ``renewed_at`` and lease ages agree across machines; nothing relies
on machines' clocks agreeing.

Faults: a server that is down, unreachable, slow or not Redis raises
`StoreUnavailableError` ("redis at … unreachable: …") within ``redis_connect_timeout``
+ ``redis_timeout`` (each capped at the store's lock timeout, which hooks keep short);
a hook fails open on it. Nothing acknowledged is lost across a server restart when the
server runs with ``appendonly yes`` and ``appendfsync always`` (README).

Standard library only (hook hot path): `coord_hooks.store.resp`, no redis-py.
"""

from __future__ import annotations

import _thread
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from coord_hooks.errors import StoreBusyError, StoreError, StoreUnavailableError
from coord_hooks.model import (
    Lock,
    Message,
    NewMessage,
    Session,
    StoreInfo,
    Waiter,
    glob_prefix,
)
from coord_hooks.paths import STATE_DIR_NAME, ensure_state_dir
from coord_hooks.store import layout, resp
from coord_hooks.store.identity import ProjectIdentity, project_identity
from coord_hooks.store.redis_lua import ACQUIRE, COMMIT, EXTEND, OWNED, RELEASE, TOUCHING

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from coord_hooks.settings import Settings

LEASE_MS = 5000  # the store lease; extended while a long transaction (a migration) runs
ARCHIVE_CHUNK = 1000  # archived messages read per LRANGE


# --- records as stored ---------------------------------------------------------------------
def lock_field(key: str, owner: str) -> str:
    return f"{key}\0{owner}"


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def _session(raw: str) -> Session:
    return Session.from_dict(json.loads(raw))


def _lock(raw: str) -> Lock:
    fence, _, body = raw.partition("|")
    lock = Lock.from_dict(json.loads(body))
    lock.fence = int(fence) if fence.isdigit() else 0
    return lock


def _message(raw: str) -> Message:
    return Message.from_dict(json.loads(raw))


def waiter_field(session_id: str, key: str) -> str:
    return f"{session_id}\0{key}"


def _waiter(raw: str) -> Waiter | None:
    """A stored wait, or None if it is not one (a wait is a hint: a bad one is skipped)."""
    try:
        data = json.loads(raw)
        return Waiter.from_dict(data) if isinstance(data, dict) else None
    except (ValueError, TypeError):
        return None


def _pairs(reply: Any) -> dict[str, str]:
    """A hash as a dict, from a RESP3 map or a RESP2 flat list."""
    if isinstance(reply, dict):
        return reply
    items = list(reply or [])
    return dict(zip(items[::2], items[1::2], strict=True))


def _copy_lock(lock: Lock) -> Lock:
    return Lock(lock.key, lock.owner, lock.acquired_at, lock.renewed_at, lock.ttl,
                lock.exclusive, lock.is_glob, lock.reason, lock.agent_id, lock.fence,
                lock.agent_type)


class Keys:
    """The key names of one project."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        for name in ("mutex", "meta", "sessions", "locks", "lockidx", "globidx", "ownidx",
                     "msgs", "archive", "events", "waiters"):
            setattr(self, name, f"{namespace}:{name}")

    mutex: str
    meta: str
    sessions: str
    locks: str
    lockidx: str
    globidx: str
    ownidx: str
    msgs: str
    archive: str
    events: str
    waiters: str

    @property
    def commit_keys(self) -> tuple[str, ...]:
        return (self.mutex, self.meta, self.sessions, self.locks, self.lockidx, self.globidx,
                self.ownidx, self.msgs, self.archive, self.waiters)

    @property
    def data_keys(self) -> tuple[str, ...]:
        return self.commit_keys[1:]


# --- reader and writer -------------------------------------------------------------------
class RedisReader:
    """Queries; outside a transaction each sees the latest commit (read committed)."""

    def __init__(self, store: RedisStore, conn: resp.Connection) -> None:
        self.store = store
        self.conn = conn
        self.keys = store.keys

    def _cmd(self, *args: Any) -> Any:
        return self.conn.command(*args)

    def _script(self, script: resp.Script, keys: tuple[str, ...], args: list[Any]) -> Any:
        return self.conn.call_script(script, keys, args)

    def get_session(self, session_id: str) -> Session | None:
        raw = self._cmd("HGET", self.keys.sessions, session_id)
        return None if raw is None else _session(raw)

    def _server_sessions(self) -> dict[str, Session]:
        raw = _pairs(self._cmd("HGETALL", self.keys.sessions))
        return {sid: _session(value) for sid, value in raw.items()}

    def sessions(self) -> list[Session]:
        found = self._server_sessions()
        return [found[sid] for sid in sorted(found)]

    def _server_locks(self) -> list[Lock]:
        return [_lock(raw) for raw in self._cmd("HVALS", self.keys.locks) or []]

    def locks(self) -> list[Lock]:
        return sorted(self._server_locks(), key=lambda lk: (lk.key, lk.owner))

    def locks_touching(self, key: str, is_glob: bool) -> list[Lock]:
        """Every lock that may overlap ``key`` (a superset; the rules decide overlaps)."""
        if is_glob or key in (".", ""):
            return self.locks()
        parts = key.split("/")
        exact = [key, ".", "", *("/".join(parts[:n]) for n in range(1, len(parts)))]
        found = self._script(TOUCHING, (self.keys.locks, self.keys.lockidx,
                                        self.keys.globidx), [key, *exact])
        return [_lock(raw) for raw in found or []]

    def locks_owned_by(self, owner: str) -> list[Lock]:
        found = self._script(OWNED, (self.keys.locks, self.keys.ownidx), [owner])
        return [_lock(raw) for raw in found or []]

    def get_lock(self, key: str, owner: str) -> Lock | None:
        raw = self._cmd("HGET", self.keys.locks, lock_field(key, owner))
        return None if raw is None else _lock(raw)

    def messages_after(self, seq: int, limit: int | None = None) -> list[Message]:
        args: list[Any] = ["ZRANGEBYSCORE", self.keys.msgs, f"({seq}", "+inf"]
        if limit is not None:
            args += ["LIMIT", 0, limit]
        return [_message(raw) for raw in self._cmd(*args) or []]

    def last_seq(self) -> int:
        return int(self._cmd("HGET", self.keys.meta, "last_seq") or 0)

    def message_count(self) -> int:
        return int(self._cmd("ZCARD", self.keys.msgs))

    def _server_waiters(self) -> dict[str, Waiter]:
        raw = _pairs(self._cmd("HGETALL", self.keys.waiters))
        found = {field: _waiter(value) for field, value in raw.items()}
        return {field: w for field, w in found.items() if w is not None}

    def waiters(self, session_id: str | None = None) -> list[Waiter]:
        # One small hash (a wait per session and denied file): read whole, filtered here.
        return [w for _, w in sorted(self._server_waiters().items())
                if session_id is None or w.session_id == session_id]


class RedisWriter(RedisReader):
    """Reads under the lease, writes buffered for the one commit (read your own writes).

    The ops, as the COMMIT script reads them (``ARGV`` after token, release, channel):
    ``S id json`` session; ``L field key owner prefix is_glob fence json`` lock (fence 0:
    give one, or keep the renewed lock's); ``D field key owner prefix is_glob`` delete a
    lock; ``M seq json`` message; ``A upto`` archive; ``R json`` append an archived
    message as it is (migration); ``Q seq`` raise last_seq;
    ``H name value``/``h name`` set/delete a meta field; ``W field json``/``w field``
    put/delete a lock hand-off wait.
    """

    def __init__(self, store: RedisStore, conn: resp.Connection, token: str,
                 last_seq: int) -> None:
        super().__init__(store, conn)
        self.token = token
        self.ops: list[Any] = []
        self._base_last = last_seq
        self._sessions: dict[str, str] = {}
        self._locks: dict[tuple[str, str], Lock | None] = {}  # None: deleted
        self._waiters: dict[str, Waiter | None] = {}  # by field; None: deleted
        self._fenced: list[Lock] = []  # put_lock objects, given their fence at commit
        self._appended: list[Message] = []
        self._archived_upto = 0
        self._server_archived = 0
        self._server_count: int | None = None
        self._leased_at = time.monotonic()

    # --- the lease -----------------------------------------------------------------------
    def _cmd(self, *args: Any) -> Any:
        self._keep_lease()
        return self.conn.command(*args)

    def _script(self, script: resp.Script, keys: tuple[str, ...], args: list[Any]) -> Any:
        self._keep_lease()
        return self.conn.call_script(script, keys, args)

    def _keep_lease(self, force: bool = False) -> None:
        if force or time.monotonic() - self._leased_at > self.store.lease_ms / 3000:
            if not self.conn.call_script(EXTEND, (self.keys.mutex,),
                                         [self.token, self.store.lease_ms]):
                raise StoreError(f"redis at {self.store.display}: the store lease expired "
                                 "during a long transaction; nothing was written")
            self._leased_at = time.monotonic()

    # --- sessions ------------------------------------------------------------------------
    def get_session(self, session_id: str) -> Session | None:
        if session_id in self._sessions:
            return _session(self._sessions[session_id])
        return super().get_session(session_id)

    def _server_sessions(self) -> dict[str, Session]:
        found = super()._server_sessions()
        found.update({sid: _session(raw) for sid, raw in self._sessions.items()})
        return found

    def put_session(self, session: Session) -> None:
        raw = _dumps(session.to_dict())
        self._sessions[session.session_id] = raw
        self.ops += ["S", session.session_id, raw]

    # --- locks ---------------------------------------------------------------------------
    def _overlay(self, found: list[Lock], only: Any = None) -> list[Lock]:
        result = [lk for lk in found if (lk.key, lk.owner) not in self._locks]
        result += [_copy_lock(lk) for lk in self._locks.values()
                   if lk is not None and (only is None or only(lk))]
        return result

    def locks(self) -> list[Lock]:
        return sorted(self._overlay(self._server_locks()), key=lambda lk: (lk.key, lk.owner))

    def locks_touching(self, key: str, is_glob: bool) -> list[Lock]:
        if is_glob or key in (".", ""):
            return self.locks()
        return self._overlay(super().locks_touching(key, is_glob))

    def locks_owned_by(self, owner: str) -> list[Lock]:
        return self._overlay(super().locks_owned_by(owner), lambda lk: lk.owner == owner)

    def get_lock(self, key: str, owner: str) -> Lock | None:
        if (key, owner) in self._locks:
            lock = self._locks[(key, owner)]
            return None if lock is None else _copy_lock(lock)
        return super().get_lock(key, owner)

    def put_lock(self, lock: Lock) -> None:
        self._locks[(lock.key, lock.owner)] = _copy_lock(lock)
        self._fenced.append(lock)
        prefix = glob_prefix(lock.key) if lock.is_glob else ""
        body = lock.to_dict()
        body.pop("fence", None)  # kept beside the JSON: the script may give it
        self.ops += ["L", lock_field(lock.key, lock.owner), lock.key, lock.owner, prefix,
                     "1" if lock.is_glob else "0", int(lock.fence or 0), _dumps(body)]

    def delete_lock(self, key: str, owner: str) -> None:
        self._locks[(key, owner)] = None
        # The glob index entry is removed whatever the lock was (the prefix is derived).
        self.ops += ["D", lock_field(key, owner), key, owner, glob_prefix(key),
                     "1" if any(ch in key for ch in "*?[") else "0"]

    # --- lock hand-off waits -------------------------------------------------------------
    def _server_waiters(self) -> dict[str, Waiter]:
        found = super()._server_waiters()
        for field, waiter in self._waiters.items():
            if waiter is None:
                found.pop(field, None)
            else:
                found[field] = waiter
        return found

    def put_waiter(self, waiter: Waiter) -> None:
        field = waiter_field(waiter.session_id, waiter.key)
        self._waiters[field] = Waiter(waiter.session_id, waiter.key, waiter.since,
                                      waiter.holder)
        self.ops += ["W", field, _dumps(waiter.to_dict())]

    def delete_waiter(self, session_id: str, key: str) -> None:
        field = waiter_field(session_id, key)
        self._waiters[field] = None
        self.ops += ["w", field]

    # --- messages ------------------------------------------------------------------------
    def last_seq(self) -> int:
        return max([self._base_last, *(m.seq for m in self._appended)])

    def append_message(self, message: NewMessage) -> Message:
        stored = message.with_seq(self.last_seq() + 1)
        self.restore_message(stored)
        return stored

    def restore_message(self, message: Message) -> None:
        """Store a message under the sequence number it already has (migration)."""
        self._appended.append(message)
        self.ops += ["M", message.seq, _dumps(message.to_dict())]

    def bump_last_seq(self, seq: int) -> None:
        self._base_last = max(self._base_last, seq)
        self.ops += ["Q", int(seq)]

    def messages_after(self, seq: int, limit: int | None = None) -> list[Message]:
        floor = max(seq, self._archived_upto)
        found = super().messages_after(floor, limit)
        found += [m for m in self._appended if m.seq > floor]
        return found if limit is None else found[:limit]

    def message_count(self) -> int:
        if self._server_count is None:
            self._server_count = super().message_count()
        fresh = sum(1 for m in self._appended if m.seq > self._archived_upto)
        return self._server_count - self._server_archived + fresh

    def archive_messages(self, upto_seq: int) -> int:
        if upto_seq <= self._archived_upto:
            return 0
        low = self._archived_upto
        on_server = int(self._cmd("ZCOUNT", self.keys.msgs, f"({low}", upto_seq))
        fresh = sum(1 for m in self._appended if low < m.seq <= upto_seq)
        self._archived_upto = upto_seq
        self._server_archived += on_server
        if on_server or fresh:
            self.ops += ["A", int(upto_seq)]
        return on_server + fresh

    def append_archived(self, messages: list[Message]) -> None:
        """Add messages to the archive as they are (a migration copies an archive)."""
        for message in messages:
            self.ops += ["R", _dumps(message.to_dict())]

    # --- meta ----------------------------------------------------------------------------
    def set_meta(self, name: str, value: str | None) -> None:
        self.ops += ["H", name, value] if value is not None else ["h", name]

    def checkpoint(self) -> None:
        """Commit what is buffered and keep the lease (a migration copies in chunks)."""
        if self.ops:
            self.store._commit(self.conn, self, release=False)
            # The server holds all of it now: reads need no overlay any more.
            self._base_last = self.last_seq()
            self.ops, self._fenced, self._appended = [], [], []
            self._sessions, self._locks, self._waiters = {}, {}, {}
            self._archived_upto = self._server_archived = 0
            self._server_count = None
        self._keep_lease(force=True)


# --- the store ---------------------------------------------------------------------------
class Lease:
    """The store lease of one `RedisStore`: a token in ``P:mutex``, taken with ``SET NX PX``.

    The token names the holder (host id, pid, process start time, random part), so a
    waiter on the same host frees the lease of a process that is gone at once instead
    of waiting out ``PX``; a holder on another host is only ever waited for.
    """

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self.pid_start: str | None = None

    def token(self) -> str:
        if self.pid_start is None:
            from coord_hooks import procs

            self.pid_start = procs.process_start(os.getpid()) or ""
        host = self.store.host_id.replace("|", "_")
        return f"{host}|{os.getpid()}|{self.pid_start}|{os.urandom(6).hex()}"

    def acquire(self, conn: resp.Connection) -> tuple[str, list[Any]]:
        """Take the store lease; wait up to ``lock_timeout`` while another holds it."""
        token = self.token()
        deadline = time.monotonic() + self.store.lock_timeout
        delay = 0.0003
        keys = (self.store.keys.mutex, self.store.keys.meta)
        while True:
            reply = conn.call_script(ACQUIRE, keys, [token, self.store.lease_ms])
            if reply[0] == 1:
                return token, list(reply)
            holder = str(reply[1] or "")
            if holder and self.holder_gone(holder):
                conn.call_script(RELEASE, (self.store.keys.mutex,), [holder])
                continue
            if time.monotonic() >= deadline:
                who = holder.split("|")
                held = f" (held by {who[0]} pid {who[1]})" if len(who) > 2 else ""
                store = self.store
                raise StoreBusyError(f"redis store of {store.identity.project_id} at "
                                     f"{store.display} busy for {store.lock_timeout:g}s{held}")
            # Jitter: waiters that collided once should not collide again in step.
            time.sleep(delay * (0.5 + (time.perf_counter_ns() % 1009) / 1009))
            delay = min(delay * 1.6, 0.01)

    def holder_gone(self, holder: str) -> bool:
        """Is the lease held by a process of this host that no longer runs?"""
        parts = holder.split("|")
        if len(parts) != 4 or parts[0] != self.store.host_id.replace("|", "_"):
            return False
        if not parts[1].isdigit():
            return False
        from coord_hooks import procs

        return not procs.is_same_process(int(parts[1]), parts[2] or None)

    def release_quietly(self, conn: resp.Connection, token: str) -> None:
        try:
            conn.call_script(RELEASE, (self.store.keys.mutex,), [token])
        except (resp.RespUnavailable, resp.RespError):
            pass  # the lease lapses by itself


class RedisStore:
    """Sessions, locks and messages of one project on a Redis/Valkey server."""

    name = "redis"

    def __init__(self, state_dir: Path, lock_timeout: float = 10.0, create: bool = True,
                 check_layout: bool = True, settings: Settings | None = None,
                 **_: Any) -> None:
        self.state_dir = ensure_state_dir(Path(state_dir), create=create)
        self.lock_timeout = lock_timeout
        self.lease_ms = LEASE_MS
        self.check_layout = check_layout
        if check_layout:
            layout.check(self.state_dir, self.name)
            if create and layout.detect(self.state_dir, layout.REDIS) is None:
                # Like coord.db for sqlite: this project's records now live in redis, and
                # a JSON backend must not start an empty store beside them.
                layout.write_marker(self.state_dir, layout.REDIS, "the redis backend")
        self._settings = settings
        self._project_root: Path | None = None
        self._identity: ProjectIdentity | None = None
        self._keys: Keys | None = None
        self._address: resp.Address | None = None
        self._conn: resp.Connection | None = None
        self._conn_pid = 0
        self._mutex = _thread.RLock()
        self._active: RedisReader | None = None
        self._lease = Lease(self)

    # --- configuration -------------------------------------------------------------------
    def configure(self, settings: Settings) -> None:
        """Use these settings (URL, password, timeouts, host and project ids)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._settings = settings
        self._address = None
        self._identity = None
        self._keys = None

    def bind_project(self, project_root: Path) -> None:
        """The repository whose identity names the namespace (else found from paths)."""
        self._project_root = Path(project_root)
        self._identity = None
        self._keys = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from coord_hooks.settings import load_settings

            self._settings = load_settings(self.state_dir)
        return self._settings

    @property
    def address(self) -> resp.Address:
        if self._address is None:
            settings = self.settings
            try:
                self._address = resp.parse_url(settings.redis_url, settings.redis_password)
            except ValueError as exc:
                from coord_hooks.errors import ConfigError

                raise ConfigError(f"redis_url: {exc}") from None
        return self._address

    @property
    def display(self) -> str:
        try:
            return self.address.display
        except StoreError:
            return "(bad redis_url)"
        except Exception:
            return "(bad redis_url)"

    @property
    def host_id(self) -> str:
        explicit = self.settings.host_id.strip()
        return explicit or os.uname().nodename

    @property
    def project_root(self) -> Path:
        if self._project_root is None:
            if self.state_dir.name == STATE_DIR_NAME:
                self._project_root = self.state_dir.parent
            else:
                from coord_hooks.paths import find_project_root

                self._project_root = find_project_root()
        return self._project_root

    @property
    def identity(self) -> ProjectIdentity:
        if self._identity is None:
            self._identity = project_identity(self.project_root, self.settings.project_id)
        return self._identity

    @property
    def keys(self) -> Keys:
        if self._keys is None:
            self._keys = Keys(self.identity.namespace)
        return self._keys

    # --- connection ----------------------------------------------------------------------
    def connection(self) -> resp.Connection:
        """This process's connection (opened on first use; a forked child opens its own)."""
        conn = self._conn
        if conn is not None and self._conn_pid != os.getpid():
            conn = None  # the parent's socket: never talk over it from here
        if conn is None:
            settings = self.settings
            wait = max(self.lock_timeout, 0.05)
            conn = resp.Connection(
                self.address, connect_timeout=min(settings.redis_connect_timeout, wait),
                timeout=min(settings.redis_timeout, wait),
                client_name=resp.client_name(self.host_id))
            self._conn, self._conn_pid = conn, os.getpid()
        try:
            conn.connect()
        except resp.RespUnavailable as exc:
            raise self.unavailable(exc) from None
        return conn

    def unavailable(self, exc: BaseException) -> StoreUnavailableError:
        return StoreUnavailableError(f"redis at {self.display} unreachable: {exc}")

    def _server_error(self, exc: resp.RespError) -> StoreError:
        code = exc.code
        if code in ("LOADING", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"):
            return self.unavailable(exc)
        if code == "COORDLOST":
            return StoreBusyError(f"redis at {self.display}: {str(exc)[len(code) + 1:]}")
        if code == "READONLY":
            return StoreError(f"redis at {self.display} is a read-only replica; point "
                              "redis_url at the primary")
        if code == "OOM":
            return StoreError(f"redis at {self.display} is out of memory (maxmemory); "
                              "nothing was written")
        return StoreError(f"redis at {self.display}: {exc}")

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except resp.RespUnavailable as exc:
            raise self.unavailable(exc) from None
        except resp.RespError as exc:
            raise self._server_error(exc) from None

    def clock(self) -> float:
        """Now on the server's clock: every machine stamps records alike."""
        with self._mutex, self._translated():
            return time.time() + self.connection().time_offset

    @property
    def round_trips(self) -> int:
        return self._conn.round_trips if self._conn is not None else 0

    # --- Store protocol ------------------------------------------------------------------
    @contextmanager
    def read(self) -> Iterator[RedisReader]:
        with self._mutex:
            if self._active is not None:
                yield self._active  # nested in a transaction: see its writes
                return
            with self._translated():
                reader = RedisReader(self, self.connection())
                self._active = reader
                try:
                    yield reader
                finally:
                    self._active = None

    @contextmanager
    def transaction(self) -> Iterator[RedisWriter]:
        with self._mutex:
            if isinstance(self._active, RedisWriter):
                yield self._active  # nested: part of the outer transaction
                return
            outer = self._active
            with self._translated():
                conn = self.connection()
                token, meta = self._lease.acquire(conn)
                writer = RedisWriter(self, conn, token, int(meta[1] or 0))
                self._active = writer
                try:
                    self._refuse_if_retired(meta)
                    yield writer
                except BaseException:
                    self._lease.release_quietly(conn, token)
                    raise
                else:
                    if writer.ops:
                        self._commit(conn, writer)
                    else:
                        conn.call_script(RELEASE, (self.keys.mutex,), [token])
                finally:
                    self._active = outer

    def _commit(self, conn: resp.Connection, writer: RedisWriter,
                release: bool = True) -> None:
        try:
            fences = conn.call_script(COMMIT, self.keys.commit_keys,
                                      [writer.token, "1" if release else "0",
                                       self.keys.events, *writer.ops])
        except resp.RespUnavailable as exc:
            raise StoreUnavailableError(
                f"redis at {self.display} unreachable during a commit ({exc}); it may or "
                "may not have been applied") from None
        for lock, fence in zip(writer._fenced, _fence_list(fences, writer), strict=False):
            lock.fence = int(fence)

    def _refuse_if_retired(self, meta: list[Any]) -> None:
        retired, migrating = str(meta[3] or ""), str(meta[4] or "")
        if migrating and self.check_layout:
            raise StoreError(
                f"redis namespace of {self.identity.project_id} at {self.display} holds a "
                f"partial copy from an interrupted `coord migrate --to redis` ({migrating}); "
                "run that migration again")
        if retired and self.check_layout:
            raise StoreError(
                f"the redis data of {self.identity.project_id} at {self.display} is no longer "
                f"used: it was migrated away ({retired}). Run `coord migrate` on the machine "
                "that holds the data now, or migrate this clone too")

    def archived_messages(self) -> Iterator[Message]:
        """The archive list, ascending by seq, each message once."""
        with self._mutex, self._translated():
            conn = self.connection()
            seen: set[int] = set()
            found: list[Message] = []
            start = 0
            while True:
                chunk = conn.command("LRANGE", self.keys.archive, start,
                                     start + ARCHIVE_CHUNK - 1) or []
                for raw in chunk:
                    try:
                        message = _message(raw)
                    except (ValueError, TypeError):
                        continue
                    if message.seq not in seen:
                        seen.add(message.seq)
                        found.append(message)
                if len(chunk) < ARCHIVE_CHUNK:
                    break
                start += ARCHIVE_CHUNK
        found.sort(key=lambda m: m.seq)
        return iter(found)

    def flush(self) -> int:
        return 0  # nothing is batched: every commit is visible at once

    def maintenance(self, dry_run: bool = False) -> dict[str, Any]:
        from coord_hooks.store.redis_info import maintenance

        return maintenance(self, dry_run)

    def info(self) -> StoreInfo:
        from coord_hooks.store.redis_info import store_info

        return store_info(self)

    def subscribe(self) -> resp.Subscriber:
        """A new connection subscribed to this project's commit channel (watchers)."""
        settings = self.settings
        conn = resp.Connection(self.address, connect_timeout=settings.redis_connect_timeout,
                               timeout=settings.redis_timeout,
                               client_name=resp.client_name(self.host_id))
        subscriber = resp.Subscriber(conn)
        with self._translated():
            subscriber.subscribe(self.keys.events)
        return subscriber

    def close(self) -> None:
        with self._mutex:
            if self._active is None and self._conn is not None:
                if self._conn_pid == os.getpid():
                    self._conn.close()
                self._conn = None

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fence_list(reply: Any, writer: RedisWriter) -> list[Any]:
    if isinstance(reply, list) and len(reply) == len(writer._fenced):
        return reply
    raise StoreError("redis: the commit script answered unexpectedly "
                     f"({len(reply) if isinstance(reply, list) else reply!r} fences for "
                     f"{len(writer._fenced)} locks)")
