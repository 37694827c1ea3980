"""Sessions and their liveness: register, heartbeat, end, reap, name, resolve, list.

* A session is live while its Claude Code process runs with the same start time (pid
  reuse cannot keep it alive); without a pid, while its heartbeat is younger than
  ``session_ttl``. Dead sessions are ended lazily by whoever runs next: locks released,
  record marked ended, unread mail kept.
* A lock's lease lapses when its owner has been inactive for the lock's ``ttl`` seconds
  or is dead (`lock_active`), which is why lease expiry is decided here too; a lock
  whose owner's record is missing lapses with its own lease.

Every function takes the `Coordinator` (store, settings, clock, host) as its first
argument. Standard library only (hook hot path).
"""

from __future__ import annotations

from coord_hooks import procs
from coord_hooks.errors import AmbiguousHandleError, NotFoundError, UsageError
from coord_hooks.model import Lock, Plain, Session, peer_words

TYPE_CHECKING = False
if TYPE_CHECKING:  # the hook path never imports typing, nor store.base (Protocols need it)
    from collections.abc import Iterable
    from typing import Any

    from coord_hooks.coordination import Coordinator
    from coord_hooks.store.base import StoreReader, StoreWriter

MIN_PREFIX = 4
HEARTBEAT_EVERY = 5.0  # seconds: a session record is rewritten at most this often


class SessionView(Plain):
    FIELDS = ("session", "live", "locks", "unread")

    def __init__(self, session: Session, live: bool, locks: list[Lock], unread: int) -> None:
        self.session = session
        self.live = live
        self.locks = locks
        self.unread = unread


# --- liveness --------------------------------------------------------------------------
def is_live(c: Coordinator, session: Session, now: float | None = None) -> bool:
    if session.ended:
        return False
    now = c.clock() if now is None else now
    local = not session.hostname or session.hostname == c.hostname
    if session.pid is not None and local:
        return procs.is_same_process(session.pid, session.pid_start)
    return now - session.last_seen <= c.settings.session_ttl


def lock_active(c: Coordinator, lock: Lock, holder: Session | None, now: float) -> bool:
    """Does ``lock`` still block others?

    A lock whose holder record is missing (lost, corrupt, unreadable) blocks until its own
    lease lapses: damage to a record never frees a lock early, and the holder, if it still
    runs, re-registers on its next hook and keeps it.
    """
    if holder is None:
        return now - lock.renewed_at <= lock.ttl
    if not is_live(c, holder, now):
        return False
    return now - max(lock.renewed_at, holder.last_seen) <= lock.ttl


def end_session(tx: StoreWriter, session: Session, now: float, reason: str) -> list[Lock]:
    """Release a session's locks and mark it ended (inside ``tx``); return the locks."""
    released = owned_locks(tx, session.session_id)
    for lock in released:
        tx.delete_lock(lock.key, lock.owner)
    for waiter in tx.waiters(session.session_id):  # an ended session waits for nothing
        tx.delete_waiter(waiter.session_id, waiter.key)
    if not session.ended:
        session.ended_at = now
        session.end_reason = reason
        tx.put_session(session)
    return released


def reap(c: Coordinator) -> list[Session]:
    """End every session that is no longer live; return them."""
    now = c.clock()
    with c.store.read() as view:
        suspects = [s for s in view.sessions() if not s.ended and not is_live(c, s, now)]
    if not suspects:
        return []
    reaped = []
    with c.store.transaction() as tx:
        for old in suspects:
            fresh = tx.get_session(old.session_id)
            if fresh is not None and not fresh.ended and not is_live(c, fresh, now):
                end_session(tx, fresh, now, "dead")
                reaped.append(fresh)
    return reaped


# --- a session's life ------------------------------------------------------------------
def register(c: Coordinator, session_id: str, *, pid: int | None = None,
             pid_start: str | None = None, cwd: str = "", project_dir: str = "",
             model: str = "", name: str = "", task: str = "", source: str = "") -> Session:
    """Register a session, or refresh it on resume/clear/compact/fork."""
    if not session_id.strip():
        raise UsageError("session id must not be empty")
    if pid is not None and pid_start is None:
        pid_start = procs.process_start(pid)
        if pid_start is None:
            # A pid we cannot see (another pid namespace, a stale $CLAUDE_PID) would
            # make the session look dead at once and cost it its locks: rely on the
            # heartbeat instead.
            pid = None
    task = peer_words(task)  # shown to other models: one line, capped (stored so too)
    now = c.clock()
    with c.store.transaction() as tx:
        session = tx.get_session(session_id)
        if session is None:
            last = tx.last_seq()
            session = Session(session_id=session_id, registered_at=now, last_seen=now,
                              cursor=last, registered_seq=last)
        session.last_seen = now
        session.ended_at, session.end_reason = None, ""
        session.pid, session.pid_start = pid, pid_start
        session.hostname = c.hostname
        for attr, value in (("cwd", cwd), ("project_dir", project_dir), ("model", model),
                            ("name", name), ("task", task), ("source", source)):
            if value:
                setattr(session, attr, value)
        if pid is not None:
            # /clear gives the same claude process a new session id: the old one is over.
            for other in tx.sessions():
                if (other.session_id != session_id and not other.ended
                        and other.pid == pid and other.pid_start == pid_start
                        and other.hostname == c.hostname):
                    end_session(tx, other, now, "superseded")
        tx.put_session(session)
    return session


def touch(c: Coordinator, session_id: str, busy: bool = False, idle: bool = False,
          **register_args: Any) -> Session:
    """Heartbeat; registers the session first if no SessionStart was seen.

    ``busy`` (a prompt came): it no longer waits for its user; ``idle`` (its turn
    ended): it does from now on. Either is written in the heartbeat's own write.
    """
    now = c.clock()
    with c.store.read() as view:
        session = view.get_session(session_id)
    if session is None or session.ended:
        session = register(c, session_id, source=register_args.pop("source", "auto"),
                           **register_args)
        if not idle:
            return session
    waking = busy and session.idle_since is not None
    resting = idle and session.idle_since is None
    if not waking and not resting and now - session.last_seen < HEARTBEAT_EVERY:
        return session
    with c.store.transaction() as tx:
        fresh = tx.get_session(session_id) or session
        fresh.last_seen = now
        if busy:
            fresh.idle_since = None
        elif idle and fresh.idle_since is None:
            fresh.idle_since = now
        tx.put_session(fresh)
    return fresh


def set_idle(c: Coordinator, session_id: str, idle: bool) -> None:
    """Its turn ended (Stop), or it works again: the idle watcher rings only for a
    session that waits for its user. Writes only on a change (see also `touch`)."""
    with c.store.read() as view:
        session = view.get_session(session_id)
    if session is None or (session.idle_since is not None) == idle:
        return
    now = c.clock()
    with c.store.transaction() as tx:
        fresh = tx.get_session(session_id)
        if fresh is None or (fresh.idle_since is not None) == idle:
            return
        fresh.idle_since = now if idle else None
        fresh.last_seen = now
        tx.put_session(fresh)


def end(c: Coordinator, session_id: str, reason: str = "ended"
        ) -> tuple[Session | None, list[Lock]]:
    """Mark a session ended and release its locks; its unread mail is kept."""
    now = c.clock()
    with c.store.transaction() as tx:
        session = tx.get_session(session_id)
        if session is None:
            return None, []
        released = end_session(tx, session, now, reason)
    return session, released


def set_identity(c: Coordinator, session_id: str, name: str | None = None,
                 task: str | None = None) -> Session:
    """Give a session a human name and/or task."""
    with c.store.transaction() as tx:
        session = tx.get_session(session_id)
        if session is None:
            raise NotFoundError(f"no session {session_id}")
        if name is not None:
            clash = [s for s in tx.sessions() if s.name == name and not s.ended
                     and s.session_id != session_id]
            if clash:
                raise UsageError(f"name {name!r} is already used by session "
                                 f"{clash[0].handle}")
            session.name = name
        if task is not None:
            session.task = peer_words(task)  # shown to other models: one line, capped
        tx.put_session(session)
    return session


# --- finding and listing ---------------------------------------------------------------
def resolve(c: Coordinator, handle: str, sessions: Iterable[Session] | None = None) -> Session:
    """Find a session by full id, name, or unique id prefix (>= 4 characters)."""
    if sessions is None:
        with c.store.read() as view:
            sessions = view.sessions()
    pool = list(sessions)
    handle = handle.strip()
    for s in pool:
        if s.session_id == handle:
            return s
    by_name = [s for s in pool if s.name and s.name == handle]
    if len(by_name) > 1:
        by_name = [s for s in by_name if not s.ended] or by_name
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        raise AmbiguousHandleError(
            f"name {handle!r} matches several sessions: {_candidates(by_name)}")
    live = [s for s in pool if not s.ended]
    if len(handle) < MIN_PREFIX:
        raise NotFoundError(f"no session named {handle!r} and a prefix needs at least "
                            f"{MIN_PREFIX} characters; sessions: {_candidates(live)}")
    matches = [s for s in pool if s.session_id.startswith(handle)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise AmbiguousHandleError(
            f"{handle!r} matches several sessions: {_candidates(matches)}")
    raise NotFoundError(f"no session {handle!r}; sessions: {_candidates(live)}")


def sessions(c: Coordinator, include_ended: bool = False) -> list[SessionView]:
    """Every live session (and ended ones if asked) with its locks and unread count."""
    from coord_hooks.coordination.messages import unread_counts  # not on the lock path

    now = c.clock()
    with c.store.read() as view:
        all_sessions = view.sessions()
        locks = view.locks()
        unread = unread_counts(view, all_sessions)
    result = []
    for s in sorted(all_sessions, key=lambda s: s.registered_at):
        live = is_live(c, s, now)
        if not include_ended and not live:
            continue
        owned = [lk for lk in locks if lk.owner == s.session_id]
        result.append(SessionView(s, live, owned, unread.get(s.session_id, (0, 0, None))[0]))
    return result


def of_process(c: Coordinator, view: StoreReader, pid: int) -> Session | None:
    """The live session a Claude Code process runs now (after /clear: the newest)."""
    mine = [s for s in view.sessions() if s.pid == pid and not s.ended
            and (not s.hostname or s.hostname == c.hostname)]
    return max(mine, key=lambda s: s.registered_at, default=None)


def owned_locks(tx: StoreReader, owner: str) -> list[Lock]:
    """The locks ``owner`` holds (through the store's index when it has one)."""
    owned = getattr(tx, "locks_owned_by", None)
    if owned is not None:
        found: list[Lock] = owned(owner)
        return found
    return [lk for lk in tx.locks() if lk.owner == owner]


def _candidates(sessions: Iterable[Session]) -> str:
    labels = [s.label() for s in sessions]
    return ", ".join(labels) if labels else "(none)"
