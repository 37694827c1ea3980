"""The rules of coordination, written once above the `Store` protocol.

* Liveness: a session is live while its Claude Code process runs with the same start time
  (pid reuse cannot keep it alive); without a pid, while its heartbeat is younger than
  ``session_ttl``. Dead sessions are ended lazily by whoever runs next: locks released,
  record marked ended, unread mail kept.
* Locks: a lease lapses when its owner has been inactive for ``ttl`` seconds or is dead.
  Conflicts are decided inside one store transaction: exactly one winner.
* Delivery: one read cursor per session over one message sequence, advanced inside a
  transaction, so each message reaches each recipient once.
* Retention: keep the last N messages; older ones go to the archive once every live
  recipient has read them.

Standard library only (this module is on the hook hot path).
"""

from __future__ import annotations

import os
import re
import time

from coord_hooks import logs, procs
from coord_hooks.coordination import globs
from coord_hooks.errors import (
    AmbiguousHandleError,
    InvalidMessageError,
    LockConflictError,
    NoSessionError,
    NotFoundError,
    UsageError,
)
from coord_hooks.model import BROADCAST, HUMAN_SENDER, Lock, Message, NewMessage, Session
from coord_hooks.plain import Plain

TYPE_CHECKING = False
if TYPE_CHECKING:  # the hook path never imports typing, nor store.base (Protocols need it)
    from collections.abc import Callable, Iterable
    from pathlib import Path
    from typing import Any

    from coord_hooks.settings import Settings
    from coord_hooks.store.base import Store, StoreReader, StoreWriter

MIN_PREFIX = 4
HEARTBEAT_EVERY = 5.0  # seconds: a session record is rewritten at most this often
# Compiled on first use (re caches it): only senders need it, not every hook.
_CONTROL = r"[\x00-\x08\x0b-\x1f\x7f-\x9f]"


def ago(seconds: float) -> str:
    """Human wording for a duration in the past: '42s', '5m', '3h', '2d'."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


class Conflict(Plain):
    """A lock held by another session that stands in the way of a grant."""

    FIELDS = ("lock", "holder", "now")

    def __init__(self, lock: Lock, holder: Session | None, now: float) -> None:
        self.lock = lock
        self.holder = holder
        self.now = now

    @property
    def holder_label(self) -> str:
        return self.holder.label() if self.holder else self.lock.owner[:8]

    @property
    def handle(self) -> str:
        return self.holder.handle if self.holder else self.lock.owner[:8]

    def last_active(self) -> float:
        seen = self.holder.last_seen if self.holder else 0.0
        return max(self.lock.renewed_at, seen)

    def send_command(self, key: str) -> str:
        return f'coord send {self.handle} "Could you release {key} when you can?"'

    def describe(self, key: str) -> str:
        """One paragraph: who holds it, what they do, how recently, how to ask."""
        lock = self.lock
        what = lock.key if lock.key == key else f"{lock.key} (covers {key})"
        parts = [f"{what} is locked by session {self.holder_label}"]
        if self.holder is not None and self.holder.task:
            parts.append(f"working on: {self.holder.task}")
        if lock.reason:
            parts.append(f"reason: {lock.reason}")
        kind = "exclusive" if lock.exclusive else "shared"
        parts.append(f"{kind} lock taken {ago(self.now - lock.acquired_at)} ago, "
                     f"holder last active {ago(self.now - self.last_active())} ago")
        return "; ".join(parts) + f". Ask it with: {self.send_command(key)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.lock.key,
            "holder": self.lock.owner,
            "holder_handle": self.handle,
            "holder_name": self.holder.name if self.holder else "",
            "holder_task": self.holder.task if self.holder else "",
            "exclusive": self.lock.exclusive,
            "reason": self.lock.reason,
            "age_s": round(self.now - self.lock.acquired_at, 1),
            "idle_s": round(self.now - self.last_active(), 1),
            "ask": self.send_command(self.lock.key),
        }


class AcquireResult(Plain):
    """Outcome of `Coordinator.try_acquire`."""

    FIELDS = ("key", "is_glob", "granted", "lock", "conflicts", "renewed")

    def __init__(self, key: str, is_glob: bool, granted: bool, lock: Lock | None = None,
                 conflicts: list[Conflict] | None = None, renewed: bool = False) -> None:
        self.key = key
        self.is_glob = is_glob
        self.granted = granted
        self.lock = lock
        self.conflicts: list[Conflict] = [] if conflicts is None else conflicts
        self.renewed = renewed

    def denial_reason(self) -> str:
        return " ".join(c.describe(self.key) for c in self.conflicts)


class LockView(Plain):
    FIELDS = ("lock", "holder", "active", "now")

    def __init__(self, lock: Lock, holder: Session | None, active: bool, now: float) -> None:
        self.lock = lock
        self.holder = holder
        self.active = active
        self.now = now


class SessionView(Plain):
    FIELDS = ("session", "live", "locks", "unread")

    def __init__(self, session: Session, live: bool, locks: list[Lock], unread: int) -> None:
        self.session = session
        self.live = live
        self.locks = locks
        self.unread = unread


class QueueRow(Plain):
    FIELDS = ("session", "live", "unread", "urgent", "oldest_unread_age")

    def __init__(self, session: Session, live: bool, unread: int, urgent: int,
                 oldest_unread_age: float | None) -> None:
        self.session = session
        self.live = live
        self.unread = unread
        self.urgent = urgent
        self.oldest_unread_age = oldest_unread_age


class Delivery(Plain):
    FIELDS = ("messages", "remaining")

    def __init__(self, messages: list[Message], remaining: int) -> None:
        self.messages = messages
        self.remaining = remaining


def addressed_to(message: Message, session: Session) -> bool:
    """Is ``message`` meant for ``session`` (and not its own broadcast)?"""
    if message.recipient == session.session_id:
        return True
    return (message.recipient == BROADCAST and message.sender != session.session_id
            and message.seq > session.registered_seq)


def clean_body(body: str, limit: int) -> str:
    """Validate a message body: strip control characters, refuse empty/long/binary."""
    if "\x00" in body or any("\udc80" <= ch <= "\udcff" for ch in body):
        raise InvalidMessageError("message looks binary (NUL bytes or invalid UTF-8); "
                                  "nothing was sent")
    cleaned = re.sub(_CONTROL, "", body.replace("\r\n", "\n")).strip()
    if not cleaned:
        raise InvalidMessageError("message is empty; nothing was sent")
    if len(cleaned) > limit:
        raise InvalidMessageError(
            f"message is {len(cleaned)} characters, the limit is {limit} "
            "(COORD_MAX_MESSAGE_CHARS); nothing was sent")
    return cleaned


class Coordinator:
    """Sessions, locks and messages for one project, on top of one `Store`."""

    def __init__(self, store: Store, settings: Settings, project_root: Path,
                 state_dir: Path | None = None, clock: Callable[[], float] = time.time,
                 hostname: str | None = None) -> None:
        self.store = store
        self.settings = settings
        self.project_root = project_root
        self.state_dir = state_dir
        self.clock = clock
        self.hostname = hostname if hostname is not None else _hostname()

    # --- liveness ----------------------------------------------------------------------
    def is_live(self, session: Session, now: float | None = None) -> bool:
        if session.ended:
            return False
        now = self.clock() if now is None else now
        local = not session.hostname or session.hostname == self.hostname
        if session.pid is not None and local:
            return procs.is_same_process(session.pid, session.pid_start)
        return now - session.last_seen <= self.settings.session_ttl

    def lock_active(self, lock: Lock, holder: Session | None, now: float) -> bool:
        if holder is None or not self.is_live(holder, now):
            return False
        return now - max(lock.renewed_at, holder.last_seen) <= lock.ttl

    def _end(self, tx: StoreWriter, session: Session, now: float, reason: str) -> list[Lock]:
        released = _owned_locks(tx, session.session_id)
        for lock in released:
            tx.delete_lock(lock.key, lock.owner)
        if not session.ended:
            session.ended_at = now
            session.end_reason = reason
            tx.put_session(session)
        return released

    def reap(self) -> list[Session]:
        """End every session that is no longer live; return them."""
        now = self.clock()
        with self.store.read() as view:
            suspects = [s for s in view.sessions() if not s.ended and not self.is_live(s, now)]
        if not suspects:
            return []
        reaped = []
        with self.store.transaction() as tx:
            for old in suspects:
                fresh = tx.get_session(old.session_id)
                if fresh is not None and not fresh.ended and not self.is_live(fresh, now):
                    self._end(tx, fresh, now, "dead")
                    reaped.append(fresh)
        return reaped

    # --- sessions ----------------------------------------------------------------------
    def register(self, session_id: str, *, pid: int | None = None, pid_start: str | None = None,
                 cwd: str = "", project_dir: str = "", model: str = "", name: str = "",
                 task: str = "", source: str = "") -> Session:
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
        now = self.clock()
        with self.store.transaction() as tx:
            session = tx.get_session(session_id)
            if session is None:
                last = tx.last_seq()
                session = Session(session_id=session_id, registered_at=now, last_seen=now,
                                  cursor=last, registered_seq=last)
            session.last_seen = now
            session.ended_at, session.end_reason = None, ""
            session.pid, session.pid_start = pid, pid_start
            session.hostname = self.hostname
            for attr, value in (("cwd", cwd), ("project_dir", project_dir), ("model", model),
                                ("name", name), ("task", task), ("source", source)):
                if value:
                    setattr(session, attr, value)
            if pid is not None:
                # /clear gives the same claude process a new session id: the old one is over.
                for other in tx.sessions():
                    if (other.session_id != session_id and not other.ended
                            and other.pid == pid and other.pid_start == pid_start
                            and other.hostname == self.hostname):
                        self._end(tx, other, now, "superseded")
            tx.put_session(session)
        return session

    def touch(self, session_id: str, **register_args: Any) -> Session:
        """Heartbeat; registers the session first if no SessionStart was seen."""
        now = self.clock()
        with self.store.read() as view:
            session = view.get_session(session_id)
        if session is not None and not session.ended and now - session.last_seen < HEARTBEAT_EVERY:
            return session
        if session is None or session.ended:
            return self.register(session_id, source=register_args.pop("source", "auto"),
                                 **register_args)
        with self.store.transaction() as tx:
            fresh = tx.get_session(session_id) or session
            fresh.last_seen = now
            tx.put_session(fresh)
        return fresh

    def end(self, session_id: str, reason: str = "ended") -> tuple[Session | None, list[Lock]]:
        """Mark a session ended and release its locks; its unread mail is kept."""
        now = self.clock()
        with self.store.transaction() as tx:
            session = tx.get_session(session_id)
            if session is None:
                return None, []
            released = self._end(tx, session, now, reason)
        return session, released

    def set_identity(self, session_id: str, name: str | None = None,
                     task: str | None = None) -> Session:
        """Give a session a human name and/or task."""
        with self.store.transaction() as tx:
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
                session.task = task
            tx.put_session(session)
        return session

    def resolve(self, handle: str, sessions: Iterable[Session] | None = None) -> Session:
        """Find a session by full id, name, or unique id prefix (>= 4 characters)."""
        if sessions is None:
            with self.store.read() as view:
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

    def sessions(self, include_ended: bool = False) -> list[SessionView]:
        now = self.clock()
        with self.store.read() as view:
            all_sessions = view.sessions()
            locks = view.locks()
            unread = self._unread_counts(view, all_sessions)
        result = []
        for s in sorted(all_sessions, key=lambda s: s.registered_at):
            live = self.is_live(s, now)
            if not include_ended and not live:
                continue
            owned = [lk for lk in locks if lk.owner == s.session_id]
            result.append(SessionView(s, live, owned, unread.get(s.session_id, (0, 0, None))[0]))
        return result

    # --- locks -------------------------------------------------------------------------
    def key_for(self, target: str, cwd: str | None = None,
                literal: bool = False) -> tuple[str, bool]:
        try:
            return globs.canonical_key(target, cwd or os.getcwd(), self.project_root, literal)
        except ValueError as exc:
            raise UsageError(f"bad path {target!r}: {exc}") from None

    def _is_folder(self, key: str) -> bool:
        return os.path.isdir(key if os.path.isabs(key) else self.project_root / key)

    def try_acquire(self, session_id: str, target: str, *, cwd: str | None = None,
                    exclusive: bool = True, ttl: float | None = None, reason: str = "",
                    agent_id: str = "", literal: bool = False) -> AcquireResult:
        """Grant a lease on ``target`` or report who is in the way, atomically.

        ``literal``: ``target`` is a file path, never a pattern (a file tool's target).
        """
        key, is_glob = self.key_for(target, cwd, literal)
        now = self.clock()
        with self.store.transaction() as tx:
            me = tx.get_session(session_id)
            if me is None or me.ended:
                state = "has ended" if me is not None else "is not registered"
                raise NoSessionError(f"session {session_id[:8]} {state}; "
                                     "locks belong to live sessions")
            holders: dict[str, Session | None] = {session_id: me}
            conflicts: list[Conflict] = []
            mine: Lock | None = None
            for lock in _lock_candidates(tx, key, is_glob):
                if lock.owner == session_id:
                    if lock.key == key:
                        mine = lock
                    continue
                if not globs.keys_overlap(lock.key, lock.is_glob, key, is_glob,
                                          self._is_folder):
                    continue
                if not exclusive and not lock.exclusive:
                    continue
                if lock.owner not in holders:
                    holders[lock.owner] = tx.get_session(lock.owner)
                holder = holders[lock.owner]
                if not self.lock_active(lock, holder, now):
                    self._clear_stale(tx, lock, holder, now)
                    continue
                conflicts.append(Conflict(lock, holder, now))
            if conflicts:
                return AcquireResult(key, is_glob, False, conflicts=conflicts)
            renewed = mine is not None
            unchanged = (mine is not None and mine.exclusive == exclusive
                         and (not reason or reason == mine.reason)
                         and (ttl is None or ttl == mine.ttl))
            if mine is not None and unchanged:
                lock = mine
            else:
                lock = Lock(key=key, owner=session_id,
                            acquired_at=mine.acquired_at if mine else now, renewed_at=now,
                            ttl=ttl if ttl is not None else self.settings.lock_ttl,
                            exclusive=exclusive, is_glob=is_glob,
                            reason=reason or (mine.reason if mine else ""), agent_id=agent_id)
                tx.put_lock(lock)
            if now - me.last_seen >= HEARTBEAT_EVERY:
                me.last_seen = now
                tx.put_session(me)
        return AcquireResult(key, is_glob, True, lock=lock, renewed=renewed)

    def _clear_stale(self, tx: StoreWriter, lock: Lock, holder: Session | None,
                     now: float) -> None:
        if holder is not None and not holder.ended and not self.is_live(holder, now):
            self._end(tx, holder, now, "dead")
        else:
            tx.delete_lock(lock.key, lock.owner)

    def acquire(self, session_id: str, target: str, **kwargs: Any) -> Lock:
        """`try_acquire` that raises `LockConflictError` on a conflict."""
        result = self.try_acquire(session_id, target, **kwargs)
        if not result.granted or result.lock is None:
            raise LockConflictError(result.denial_reason(), list(result.conflicts))
        return result.lock

    def release(self, session_id: str | None, target: str, *, cwd: str | None = None,
                force: bool = False) -> list[Lock]:
        """Release the acting session's lock on ``target`` (others' only with force)."""
        key, is_glob = self.key_for(target, cwd)
        with self.store.transaction() as tx:
            matching = [lk for lk in _lock_candidates(tx, key, is_glob) if lk.key == key]
            own = [lk for lk in matching if lk.owner == session_id]
            if own:
                for lock in own:
                    tx.delete_lock(lock.key, lock.owner)
                return own
            if not matching:
                raise NotFoundError(f"no lock on {key}")
            if not force:
                owners = ", ".join(sorted({lk.owner[:8] for lk in matching}))
                raise LockConflictError(
                    f"{key} is held by {owners}, not by you; use --force to release it anyway")
            for lock in matching:
                tx.delete_lock(lock.key, lock.owner)
        if self.state_dir is not None:
            logs.log_event(self.state_dir, "warning", "force_release", key=key,
                           owners=[lk.owner for lk in matching], by=session_id or HUMAN_SENDER)
        return matching

    def locks(self) -> list[LockView]:
        now = self.clock()
        with self.store.read() as view:
            sessions = {s.session_id: s for s in view.sessions()}
            locks = view.locks()
        return [LockView(lk, sessions.get(lk.owner), self.lock_active(lk, sessions.get(lk.owner),
                                                                       now), now)
                for lk in sorted(locks, key=lambda lk: (lk.key, lk.acquired_at))]

    # --- messages ----------------------------------------------------------------------
    def _sender(self, tx: StoreReader, sender_id: str | None) -> tuple[str, str]:
        if not sender_id:
            import getpass  # lazy: only human senders need it

            try:
                user = getpass.getuser()
            except Exception:
                user = "user"
            return HUMAN_SENDER, f"{user} (human)"
        session = tx.get_session(sender_id)
        return sender_id, session.name if session and session.name else sender_id[:8]

    def send(self, sender_id: str | None, handle: str, body: str,
             urgent: bool = False) -> Message:
        """Send a direct message to the session ``handle`` names (ended sessions too)."""
        text = clean_body(body, self.settings.max_message_chars)
        with self.store.read() as view:
            recipient = self.resolve(handle, view.sessions())
        return self._append(sender_id, recipient.session_id, text, urgent)

    def broadcast(self, sender_id: str | None, body: str, urgent: bool = False) -> Message:
        """Send to every live session (each receives it exactly once)."""
        text = clean_body(body, self.settings.max_message_chars)
        return self._append(sender_id, BROADCAST, text, urgent)

    def _append(self, sender_id: str | None, recipient: str, text: str,
                urgent: bool) -> Message:
        now = self.clock()
        with self.store.transaction() as tx:
            sender, sender_name = self._sender(tx, sender_id)
            message = tx.append_message(NewMessage(sender=sender, recipient=recipient,
                                                   body=text, created_at=now,
                                                   sender_name=sender_name, urgent=urgent))
            keep = self.settings.retention_messages
            if tx.message_count() > keep + max(10, keep // 10):
                self._retain(tx, now)
        return message

    def inbox(self, session_id: str, peek: bool = False) -> list[Message]:
        """Unread messages for a session; marks them read unless ``peek``."""
        if peek:
            with self.store.read() as view:
                session = self._require(view, session_id)
                return [m for m in view.messages_after(session.cursor)
                        if addressed_to(m, session)]
        with self.store.transaction() as tx:
            session = self._require(tx, session_id)
            unread = [m for m in tx.messages_after(session.cursor) if addressed_to(m, session)]
            last = tx.last_seq()
            if last > session.cursor:
                session.cursor = last
                tx.put_session(session)
        return unread

    def history(self, session_id: str | None = None, archived: bool = False) -> list[Message]:
        """Messages, read or not; for one session (its own mail) or all of them."""
        with self.store.read() as view:
            session = self._require(view, session_id) if session_id else None
            live = view.messages_after(0)
        messages = list(self.store.archived_messages()) if archived else []
        seen = {m.seq for m in messages}
        messages += [m for m in live if m.seq not in seen]
        if session is not None:
            messages = [m for m in messages if addressed_to(m, session)
                        or m.sender == session.session_id]
        return messages

    def deliver(self, session_id: str, max_chars: int, render: Callable[[Message], str],
                due_only: bool = False) -> Delivery:
        """Hand unread messages to a hook, oldest first, within ``max_chars`` of text.

        Messages that do not fit stay unread (the cursor stops at the last one shown).
        With ``due_only`` (mid-turn), nothing is delivered unless a message is urgent or
        has waited ``midturn_wait`` seconds, and at most once per ``midturn_interval``.
        """
        now = self.clock()
        with self.store.read() as view:
            session = view.get_session(session_id)
            if session is None:
                return Delivery([], 0)
            peek = [m for m in view.messages_after(session.cursor) if addressed_to(m, session)]
        if not peek or (due_only and not self._due(session, peek, now)):
            return Delivery([], len(peek))
        with self.store.transaction() as tx:
            session = tx.get_session(session_id)
            if session is None:
                return Delivery([], 0)
            unread = [m for m in tx.messages_after(session.cursor) if addressed_to(m, session)]
            if due_only and not self._due(session, unread, now):
                return Delivery([], len(unread))
            shown: list[Message] = []
            used = 0
            for message in unread:
                size = len(render(message))
                if shown and used + size > max_chars:
                    break
                shown.append(message)
                used += size
            remaining = len(unread) - len(shown)
            session.cursor = shown[-1].seq if remaining else max(tx.last_seq(), session.cursor)
            if due_only:
                session.last_midturn = now
            session.last_seen = now
            tx.put_session(session)
        return Delivery(shown, remaining)

    def _due(self, session: Session, unread: list[Message], now: float) -> bool:
        if now - session.last_midturn < self.settings.midturn_interval:
            return False
        return any(m.urgent or now - m.created_at >= self.settings.midturn_wait for m in unread)

    @staticmethod
    def _require(view: StoreReader, session_id: str) -> Session:
        session = view.get_session(session_id)
        if session is None:
            raise NoSessionError(f"session {session_id} is not registered")
        return session

    def _unread_counts(self, view: StoreReader, sessions: list[Session]
                       ) -> dict[str, tuple[int, int, float | None]]:
        if not sessions:
            return {}
        floor = min(s.cursor for s in sessions)
        pending = view.messages_after(floor)
        counts: dict[str, tuple[int, int, float | None]] = {}
        for s in sessions:
            # An ended session keeps its direct mail and the broadcasts it missed while
            # live; broadcasts sent after it ended are no backlog of its own (counting
            # them would grow without end in `status --queue`).
            mine = [m for m in pending if m.seq > s.cursor and addressed_to(m, s)
                    and not (m.is_broadcast and s.ended_at is not None
                             and m.created_at > s.ended_at)]
            oldest = min((m.created_at for m in mine), default=None)
            counts[s.session_id] = (len(mine), sum(m.urgent for m in mine), oldest)
        return counts

    def queue(self) -> list[QueueRow]:
        """Unread counts per recipient: live sessions, and ended ones with mail left."""
        now = self.clock()
        with self.store.read() as view:
            sessions = view.sessions()
            counts = self._unread_counts(view, sessions)
        rows = []
        for s in sorted(sessions, key=lambda s: s.registered_at):
            unread, urgent, oldest = counts.get(s.session_id, (0, 0, None))
            live = self.is_live(s, now)
            if live or unread:
                rows.append(QueueRow(s, live, unread, urgent,
                                     None if oldest is None else now - oldest))
        return rows

    # --- retention and cleanup ---------------------------------------------------------
    def _archivable(self, view: StoreReader, now: float,
                    limit: int | None = None) -> tuple[int, int]:
        """(highest seq, how many) of the oldest messages retention may archive now."""
        keep = self.settings.retention_messages
        count = view.message_count()
        if count <= keep:
            return 0, 0
        wanted = count - keep if limit is None else min(count - keep, limit)
        candidates = view.messages_after(0, limit=wanted)
        live = [s for s in view.sessions() if self.is_live(s, now)]
        upto = n = 0
        for message in candidates:
            if any(addressed_to(message, s) and s.cursor < message.seq for s in live):
                break  # never archive what a live recipient has not read yet
            upto, n = message.seq, n + 1
        return upto, n

    def _retain(self, tx: StoreWriter, now: float, limit: int | None = None) -> int:
        upto, _ = self._archivable(tx, now, limit)
        return tx.archive_messages(upto) if upto else 0

    def retain(self, limit: int | None = None) -> int:
        """Archive what retention allows; at most ``limit`` messages in this run.

        Hooks pass a limit so that a huge backlog (say an imported 100k messages) is
        worked off over several runs instead of stalling one hook for seconds.
        """
        with self.store.transaction() as tx:
            return self._retain(tx, self.clock(), limit)

    def expired_locks(self) -> list[LockView]:
        return [lv for lv in self.locks() if not lv.active]

    def cleanup(self, dry_run: bool = False) -> dict[str, Any]:
        """Dead sessions, lapsed locks, retention, backend compaction, quarantine report.

        With ``dry_run`` nothing is written: the report says what a real run would do.
        """
        from coord_hooks.health import quarantine_report  # stdlib; only cleanup needs it

        now = self.clock()
        with self.store.read() as view:
            dead = [s for s in view.sessions() if not s.ended and not self.is_live(s, now)]
            count = view.message_count()
            _, archivable = self._archivable(view, now)
        lapsed = self.expired_locks()
        report: dict[str, Any] = {
            "dry_run": dry_run,
            "dead_sessions": [s.session_id for s in dead],
            "expired_locks": [lv.lock.key for lv in lapsed],
            "live_messages": count,
            "retention_limit": self.settings.retention_messages,
            "quarantine": quarantine_report(self.state_dir),
        }
        if dry_run:
            report["would_archive_at_most"] = max(0, count - self.settings.retention_messages)
            report["would_archive"] = archivable
            report["store"] = self.store.maintenance(dry_run=True)
            return report
        self.store.flush()
        report["reaped"] = [s.session_id for s in self.reap()]
        released = 0
        with self.store.transaction() as tx:
            current = {(lk.key, lk.owner): lk for lk in tx.locks()}
            for lv in lapsed:
                lock = current.get((lv.lock.key, lv.lock.owner))
                holder = tx.get_session(lv.lock.owner)
                if lock is not None and not self.lock_active(lock, holder, now):
                    tx.delete_lock(lock.key, lock.owner)
                    released += 1
            report["released_locks"] = released
            report["archived"] = self._retain(tx, now)
        report["store"] = self.store.maintenance(dry_run=False)
        return report


def _hostname() -> str:
    # os.uname() is what socket.gethostname() asks on POSIX, without importing socket
    # (~4 ms on every hook run).
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


def _lock_candidates(tx: StoreReader, key: str, is_glob: bool) -> list[Lock]:
    """The locks that could overlap ``key``: all of them, unless the store can narrow.

    A backend may offer ``locks_touching(key, is_glob)``, a superset of the overlapping
    locks found with its indexes (SQLite: 10k unrelated locks are never read); the
    overlap rule itself is applied here either way.
    """
    touching = getattr(tx, "locks_touching", None)
    if touching is not None:
        found: list[Lock] = touching(key, is_glob)
        return found
    return tx.locks()


def _owned_locks(tx: StoreReader, owner: str) -> list[Lock]:
    """The locks ``owner`` holds (through the store's index when it has one)."""
    owned = getattr(tx, "locks_owned_by", None)
    if owned is not None:
        found: list[Lock] = owned(owner)
        return found
    return [lk for lk in tx.locks() if lk.owner == owner]


def _candidates(sessions: Iterable[Session]) -> str:
    labels = [s.label() for s in sessions]
    return ", ".join(labels) if labels else "(none)"
