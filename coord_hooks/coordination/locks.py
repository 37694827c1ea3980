"""Locks and their leases: take, renew, release and list advisory locks on files and globs.

Conflicts are decided inside one store transaction: exactly one winner. A lock held by
a dead or long-inactive session is cleared on the way (`sessions.lock_active`); one
that cannot be judged stays and blocks. Keys and overlaps come from `globs`.

Every function takes the `Coordinator` as its first argument. Standard library only
(hook hot path: every Edit and Write takes a lock here).
"""

from __future__ import annotations

import os

from coord_hooks import logs
from coord_hooks.coordination import globs
from coord_hooks.coordination.sessions import HEARTBEAT_EVERY, end_session, is_live, lock_active
from coord_hooks.errors import LockConflictError, NoSessionError, NotFoundError, UsageError
from coord_hooks.model import (
    HUMAN_SENDER,
    Lock,
    Plain,
    Session,
    ago,
    peer_words,
    shell_word,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # the hook path never imports typing, nor store.base (Protocols need it)
    from typing import Any

    from coord_hooks.coordination import Coordinator
    from coord_hooks.store.base import StoreReader, StoreWriter


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
        """The command that asks the holder; every value in it is one shell word."""
        ask = f"Could you release {peer_words(key, 300)} when you can?"
        return f"coord send {shell_word(self.handle)} {shell_word(ask)}"

    def describe(self, key: str) -> str:
        """One paragraph: who holds it, what they do, how recently, how to ask."""
        lock = self.lock
        held, wanted = peer_words(lock.key, 300), peer_words(key, 300)  # file names too
        folder = globs.covering_folder(lock.key, lock.is_glob)
        if folder is not None:
            covered = f"all of {peer_words(folder, 300)}/" if folder else "everything"
            what = f"{held} (a malformed pattern, treated as covering {covered})"
        else:
            what = held if lock.key == key else f"{held} (covers {wanted})"
        parts = [f"{what} is locked by session {peer_words(self.holder_label, 100)}"]
        if self.holder is None:
            parts.append("its session record is missing, so the lock holds until its "
                         "lease lapses")
        # A peer's own words, quoted and on this one line: never our framing.
        if self.holder is not None and self.holder.task:
            parts.append(f'working on (in its own words): "{peer_words(self.holder.task)}"')
        if lock.reason:
            parts.append(f'reason (in its own words): "{peer_words(lock.reason)}"')
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


class UnreadableConflict(Conflict):
    """A lock record that exists but cannot be read: it may cover anything, so it counts
    as held (never as absent) until someone with access fixes it."""

    def __init__(self, record: str, now: float) -> None:
        super().__init__(Lock(key=record, owner="", acquired_at=now, renewed_at=now, ttl=0.0),
                         None, now)
        self.record = record

    @property
    def holder_label(self) -> str:
        return "(unknown: its record cannot be read)"

    def describe(self, key: str) -> str:
        return (f"a lock record ({self.record} in the state directory) cannot be read by "
                f"this user, so it may cover {key}; it counts as held until its owner, or "
                "someone allowed to, fixes its permissions (`coord doctor` shows the state "
                "directory's owner and mode).")

    def to_dict(self) -> dict[str, Any]:
        return {**dict.fromkeys(("key", "holder", "holder_handle", "holder_name",
                                 "holder_task", "reason", "ask"), ""),
                "key": self.record, "exclusive": True, "age_s": None, "idle_s": None}


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


def key_for(c: Coordinator, target: str, cwd: str | None = None,
            literal: bool = False, glob: bool = False) -> tuple[str, bool]:
    """The lock key of ``target`` and whether it is a pattern (`globs.canonical_key`)."""
    try:
        return globs.canonical_key(target, cwd or os.getcwd(), c.project_root, literal, glob)
    except ValueError as exc:
        raise UsageError(f"bad path {target!r}: {exc}") from None


def lock_key(c: Coordinator, target: str, cwd: str | None = None,
             literal: bool = False, glob: bool = False) -> tuple[str, bool]:
    """`key_for`, refusing a pattern that cannot be a lock (`globs.pattern_problem`)."""
    key, is_glob = key_for(c, target, cwd, literal, glob)
    problem = globs.pattern_problem(key) if is_glob else None
    if problem is not None:
        raise UsageError(f"bad pattern {target!r}: {problem}")
    return key, is_glob


def try_acquire(c: Coordinator, session_id: str, target: str, *, cwd: str | None = None,
                exclusive: bool = True, ttl: float | None = None, reason: str = "",
                agent_id: str = "", literal: bool = False,
                glob: bool = False) -> AcquireResult:
    """Grant a lease on ``target`` or report who is in the way, atomically.

    ``literal``: ``target`` is a file path, never a pattern (a file tool's target).
    ``glob``: a pattern even if a file of that name exists (`globs.canonical_key`).
    """
    key, is_glob = lock_key(c, target, cwd, literal, glob)
    if ttl is not None and not 0 < ttl < float("inf"):  # NaN fails both comparisons
        raise UsageError(f"lock ttl {ttl!r}: expected a finite number of seconds above 0")
    reason = peer_words(reason)  # shown to other models: one line, capped (stored so too)
    now = c.clock()
    with c.store.transaction() as tx:
        me = tx.get_session(session_id)
        if me is None or me.ended:
            state = "has ended" if me is not None else "is not registered"
            raise NoSessionError(f"session {session_id[:8]} {state}; "
                                 "locks belong to live sessions")
        holders: dict[str, Session | None] = {session_id: me}
        conflicts: list[Conflict] = []
        mine: Lock | None = None
        is_folder = lambda k: _is_folder(c, k)  # noqa: E731 - one closure per call
        for lock in lock_candidates(tx, key, is_glob):
            if lock.owner == session_id:
                if lock.key == key:
                    mine = lock
                continue
            if not globs.keys_overlap(lock.key, lock.is_glob, key, is_glob, is_folder):
                continue
            if not exclusive and not lock.exclusive:
                continue
            if lock.owner not in holders:
                holders[lock.owner] = tx.get_session(lock.owner)
            holder = holders[lock.owner]
            if not lock_active(c, lock, holder, now):
                _clear_stale(c, tx, lock, holder, now)
                continue
            conflicts.append(Conflict(lock, holder, now))
        unreadable = getattr(tx, "unreadable_locks", None)  # the JSON layout's files
        if unreadable is not None:
            conflicts.extend(UnreadableConflict(record, now) for record in unreadable())
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
                        ttl=ttl if ttl is not None else c.settings.lock_ttl,
                        exclusive=exclusive, is_glob=is_glob,
                        reason=reason or (mine.reason if mine else ""), agent_id=agent_id)
            tx.put_lock(lock)
        if now - me.last_seen >= HEARTBEAT_EVERY:
            me.last_seen = now
            tx.put_session(me)
    return AcquireResult(key, is_glob, True, lock=lock, renewed=renewed)


def _is_folder(c: Coordinator, key: str) -> bool:
    return os.path.isdir(key if os.path.isabs(key) else c.project_root / key)


def _clear_stale(c: Coordinator, tx: StoreWriter, lock: Lock, holder: Session | None,
                 now: float) -> None:
    if holder is not None and not holder.ended and not is_live(c, holder, now):
        end_session(tx, holder, now, "dead")
    else:
        tx.delete_lock(lock.key, lock.owner)


def acquire(c: Coordinator, session_id: str, target: str, **kwargs: Any) -> Lock:
    """`try_acquire` that raises `LockConflictError` on a conflict."""
    result = try_acquire(c, session_id, target, **kwargs)
    if not result.granted or result.lock is None:
        raise LockConflictError(result.denial_reason(), list(result.conflicts))
    return result.lock


def release(c: Coordinator, session_id: str | None, target: str, *, cwd: str | None = None,
            force: bool = False, glob: bool = False) -> list[Lock]:
    """Release the acting session's lock on ``target`` (others' only with force)."""
    key, is_glob = key_for(c, target, cwd, glob=glob)
    with c.store.transaction() as tx:
        matching = [lk for lk in lock_candidates(tx, key, is_glob) if lk.key == key]
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
    if c.state_dir is not None:
        logs.log_event(c.state_dir, "warning", "force_release", key=key,
                       owners=[lk.owner for lk in matching], by=session_id or HUMAN_SENDER)
    return matching


def locks(c: Coordinator) -> list[LockView]:
    now = c.clock()
    with c.store.read() as view:
        sessions = {s.session_id: s for s in view.sessions()}
        all_locks = view.locks()
    return [LockView(lk, sessions.get(lk.owner),
                     lock_active(c, lk, sessions.get(lk.owner), now), now)
            for lk in sorted(all_locks, key=lambda lk: (lk.key, lk.acquired_at))]


def expired_locks(c: Coordinator) -> list[LockView]:
    return [lv for lv in c.locks() if not lv.active]


def lock_candidates(tx: StoreReader, key: str, is_glob: bool) -> list[Lock]:
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
