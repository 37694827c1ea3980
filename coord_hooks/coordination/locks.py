"""Locks and their leases: take, renew, release and list advisory locks on files and globs.

Conflicts are decided inside one store transaction: exactly one winner. A lock held by
a dead or long-inactive session is cleared on the way (`sessions.lock_active`); one
that cannot be judged stays and blocks. Keys and overlaps come from `globs`. A denied
session is recorded as waiting for the key in the same transaction (`handoff`).

Holders. A lock belongs to a session (``owner``) and, within it, to the conversation
that took it: the main one (``agent_id`` '') or one subagent (``agent_id``,
``agent_type`` from the hook payload). A session keeps one record per key, so:

* another session's lock is in the way, whoever holds it inside that session;
* a sibling subagent's lock is in the way too: subagents run in parallel and would
  clobber each other (unless the ``subagents_share_locks`` setting is on);
* the main conversation never conflicts with its own subagents: it handed them the
  work. A subagent editing a file its main conversation holds takes that lock over (so
  its siblings are kept out); the main conversation editing a subagent's file leaves
  the subagent holding it;
* when a subagent stops, its locks pass to the main conversation (`hand_over`), never
  to nobody: the session still holds them until they lapse or it ends.

Every function takes the `Coordinator` as its first argument. Standard library only
(hook hot path: every Edit and Write takes a lock here).
"""

from __future__ import annotations

import os

from coord_hooks import logs
from coord_hooks.coordination import globs
from coord_hooks.coordination.sessions import (
    HEARTBEAT_EVERY,
    end_session,
    is_live,
    lock_active,
    owned_locks,
)
from coord_hooks.errors import (
    LockConflictError,
    NoSessionError,
    NotFoundError,
    StoreError,
    UsageError,
)
from coord_hooks.model import (
    HUMAN_SENDER,
    Lock,
    Plain,
    Session,
    Waiter,
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
    """A lock held by another session, or a sibling subagent, that stands in the way.

    ``requester`` is the session that asked: a lock it owns itself is a sibling
    subagent's, and is described without a message to send (one cannot message a
    subagent, and the session would be writing to itself).
    """

    FIELDS = ("lock", "holder", "now", "requester")

    def __init__(self, lock: Lock, holder: Session | None, now: float,
                 requester: str = "") -> None:
        self.lock = lock
        self.holder = holder
        self.now = now
        self.requester = requester

    @property
    def sibling(self) -> bool:
        return bool(self.requester) and self.lock.owner == self.requester

    @property
    def session_label(self) -> str:
        return peer_words(self.holder.label() if self.holder else self.lock.owner[:8], 100)

    @property
    def agent_label(self) -> str:
        """``subagent ID (TYPE)`` when a subagent holds the lock, else ''."""
        lock = self.lock
        if not lock.agent_id:
            return ""
        kind = f" ({peer_words(lock.agent_type, 100)})" if lock.agent_type else ""
        return f"subagent {peer_words(lock.agent_id, 100)}{kind}"

    @property
    def holder_label(self) -> str:
        agent = self.agent_label
        return f"{agent} of session {self.session_label}" if agent else \
            f"session {self.session_label}"

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

    def what(self, key: str) -> str:
        """The held key, and how it relates to the one asked for (file names are peers'
        words too)."""
        lock = self.lock
        held, wanted = peer_words(lock.key, 300), peer_words(key, 300)
        folder = globs.covering_folder(lock.key, lock.is_glob)
        if folder is not None:
            covered = f"all of {peer_words(folder, 300)}/" if folder else "everything"
            return f"{held} (a malformed pattern, treated as covering {covered})"
        if lock.key == key:
            return held
        if not lock.is_glob and globs.inside(lock.key, key):  # a folder target (rm -r)
            return f"{held} (inside {'the project' if key == '.' else wanted})"
        return f"{held} (covers {wanted})"

    def describe(self, key: str) -> str:
        """One paragraph: who holds it, what they do, how recently, how to ask."""
        lock = self.lock
        kind = "exclusive" if lock.exclusive else "shared"
        taken = f"{kind} lock taken {ago(self.now - lock.acquired_at)} ago"
        if self.sibling:
            return (f"{self.what(key)} is held by {self.agent_label}, another subagent of "
                    f"this session working in parallel; {taken}. Subagents of one session "
                    "do not share locks: its locks pass to the main conversation when it "
                    "stops.")
        parts = [f"{self.what(key)} is locked by {self.holder_label}"]
        if self.holder is None:
            parts.append("its session record is missing, so the lock holds until its "
                         "lease lapses")
        # A peer's own words, quoted and on this one line: never our framing.
        if self.holder is not None and self.holder.task:
            parts.append(f'working on (in its own words): "{peer_words(self.holder.task)}"')
        if lock.reason:
            parts.append(f'reason (in its own words): "{peer_words(lock.reason)}"')
        parts.append(f"{taken}, holder last active {ago(self.now - self.last_active())} ago")
        return "; ".join(parts) + f". Ask it with: {self.send_command(key)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.lock.key,
            "holder": self.lock.owner,
            "holder_handle": self.handle,
            "holder_name": self.holder.name if self.holder else "",
            "holder_task": self.holder.task if self.holder else "",
            "holder_agent_id": self.lock.agent_id,
            "holder_agent_type": self.lock.agent_type,
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
                                 "holder_task", "holder_agent_id", "holder_agent_type",
                                 "reason", "ask"), ""),
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


class Want(Plain):
    """One key a holder asks for: check it, and lock it (``take``) when nothing is in
    the way. A check-only key (a folder ``rm -r`` removes) is denied like any other but
    not locked itself."""

    FIELDS = ("key", "is_glob", "take")

    def __init__(self, key: str, is_glob: bool, take: bool = True) -> None:
        self.key = key
        self.is_glob = is_glob
        self.take = take


class Asker(Plain):
    """Who asks, and how: the session, its subagent ('' = main conversation), the lease."""

    FIELDS = ("session_id", "agent_id", "agent_type", "exclusive", "ttl", "reason")

    def __init__(self, session_id: str, agent_id: str = "", agent_type: str = "",
                 exclusive: bool = True, ttl: float | None = None, reason: str = "") -> None:
        self.session_id = session_id
        self.agent_id = agent_id
        self.agent_type = agent_type
        self.exclusive = exclusive
        self.ttl = ttl
        self.reason = reason


def try_acquire(c: Coordinator, session_id: str, target: str, *, cwd: str | None = None,
                exclusive: bool = True, ttl: float | None = None, reason: str = "",
                agent_id: str = "", agent_type: str = "", literal: bool = False,
                glob: bool = False) -> AcquireResult:
    """Grant a lease on ``target`` or report who is in the way, atomically.

    ``literal``: ``target`` is a file path, never a pattern (a file tool's target).
    ``glob``: a pattern even if a file of that name exists (`globs.canonical_key`).
    ``agent_id``/``agent_type``: the subagent asking ('' for the main conversation).
    """
    key, is_glob = lock_key(c, target, cwd, literal, glob)
    asker = Asker(session_id, agent_id, agent_type, exclusive, ttl, reason)
    [result] = try_acquire_keys(c, asker, [Want(key, is_glob)])
    return result


def try_acquire_keys(c: Coordinator, asker: Asker, wants: list[Want]) -> list[AcquireResult]:
    """Check every wanted key in ONE transaction; lock all the ``take`` ones, or none.

    One result per want, in order. When any key is in the way nothing is locked and
    every result says ``granted=False`` (those with ``conflicts`` are the reason).
    """
    ttl = asker.ttl
    if ttl is not None and not 0 < ttl < float("inf"):  # NaN fails both comparisons
        raise UsageError(f"lock ttl {ttl!r}: expected a finite number of seconds above 0")
    asker.reason = peer_words(asker.reason)  # shown to other models: one line, capped
    now = c.clock()
    with c.store.transaction() as tx:
        me = tx.get_session(asker.session_id)
        if me is None or me.ended:
            state = "has ended" if me is not None else "is not registered"
            raise NoSessionError(f"session {asker.session_id[:8]} {state}; "
                                 "locks belong to live sessions")
        scan = _Scan(c, tx, asker, me, now)
        found = [scan.check(want) for want in wants]
        unreadable = getattr(tx, "unreadable_locks", None)  # the JSON layout's files
        if unreadable is not None:  # such a record may cover anything: it blocks every key
            for _, conflicts in found:
                conflicts.extend(UnreadableConflict(record, now) for record in unreadable())
        if any(conflicts for _, conflicts in found):
            for want, (_, conflicts) in zip(wants, found, strict=True):
                if conflicts and not want.is_glob:  # a denied file: told when it is free
                    _record_wait(c, tx, me, want.key, conflicts[0].lock.owner, now)
            return [AcquireResult(want.key, want.is_glob, False, conflicts=conflicts)
                    for want, (_, conflicts) in zip(wants, found, strict=True)]
        results = [_grant(c, tx, asker, want, mine, now) if want.take
                   else AcquireResult(want.key, want.is_glob, True, lock=mine,
                                      renewed=mine is not None)
                   for want, (mine, _) in zip(wants, found, strict=True)]
        if now - me.last_seen >= HEARTBEAT_EVERY:
            me.last_seen = now
            tx.put_session(me)
    return results


class _Scan:
    """The conflict check of one transaction, for one or more keys."""

    def __init__(self, c: Coordinator, tx: StoreWriter, asker: Asker, me: Session,
                 now: float) -> None:
        self.c, self.tx, self.asker, self.now = c, tx, asker, now
        self.holders: dict[str, Session | None] = {asker.session_id: me}
        self.every: list[Lock] | None = None  # all locks, read once when the store can't narrow
        self.is_folder = lambda key: is_folder(c, key)

    def candidates(self, want: Want) -> list[Lock]:
        if getattr(self.tx, "locks_touching", None) is not None:
            return lock_candidates(self.tx, want.key, want.is_glob)
        if self.every is None:
            self.every = self.tx.locks()
        return self.every

    def check(self, want: Want) -> tuple[Lock | None, list[Conflict]]:
        """(the asker's session's own record on this key, the locks in the way)."""
        asker = self.asker
        candidates = self.candidates(want)
        mine = next((lk for lk in candidates
                     if lk.owner == asker.session_id and lk.key == want.key), None)
        # Who holds the record once granted (`_grant`): renewing a subagent's record leaves
        # that subagent holding it, so its siblings' other locks are in the way too.
        keeper = mine.agent_id if mine is not None and mine.agent_id else asker.agent_id
        conflicts: list[Conflict] = []
        for lock in candidates:
            own = lock.owner == asker.session_id
            if own and not _sibling(self.c, lock, asker.agent_id if lock is mine else keeper):
                continue
            if not globs.keys_overlap(lock.key, lock.is_glob, want.key, want.is_glob,
                                      self.is_folder):
                continue
            if not asker.exclusive and not lock.exclusive:
                continue
            if lock.owner not in self.holders:
                self.holders[lock.owner] = self.tx.get_session(lock.owner)
            holder = self.holders[lock.owner]
            if not lock_active(self.c, lock, holder, self.now):
                _clear_stale(self.c, self.tx, lock, holder, self.now)
                if own and mine is lock:
                    mine = None
                continue
            conflicts.append(Conflict(lock, holder, self.now, asker.session_id))
        return mine, conflicts


def _sibling(c: Coordinator, lock: Lock, agent_id: str) -> bool:
    """Is ``lock`` (the asker's own session's) held by another subagent than the asker?"""
    return (bool(lock.agent_id) and bool(agent_id) and lock.agent_id != agent_id
            and not c.settings.subagents_share_locks)


def _grant(c: Coordinator, tx: StoreWriter, asker: Asker, want: Want, mine: Lock | None,
           now: float) -> AcquireResult:
    # A subagent takes over its main conversation's record; the main conversation (or
    # a sharing sibling) renewing a subagent's record leaves that subagent holding it.
    if mine is None or not mine.agent_id:
        agent = (asker.agent_id, asker.agent_type if asker.agent_id else "")
    else:
        agent = (mine.agent_id, mine.agent_type)
    unchanged = (mine is not None and mine.exclusive == asker.exclusive
                 and (not asker.reason or asker.reason == mine.reason)
                 and (asker.ttl is None or asker.ttl == mine.ttl)
                 and (mine.agent_id, mine.agent_type) == agent)
    if mine is not None and unchanged:
        lock = mine
    else:
        lock = Lock(key=want.key, owner=asker.session_id,
                    acquired_at=mine.acquired_at if mine else now, renewed_at=now,
                    ttl=asker.ttl if asker.ttl is not None else c.settings.lock_ttl,
                    exclusive=asker.exclusive, is_glob=want.is_glob,
                    reason=asker.reason or (mine.reason if mine else ""),
                    agent_id=agent[0], agent_type=agent[1])
        tx.put_lock(lock)
    return AcquireResult(want.key, want.is_glob, True, lock=lock, renewed=mine is not None)


def hand_over(c: Coordinator, session_id: str, agent_id: str | None = None,
              keep: frozenset[str] = frozenset()) -> list[Lock]:
    """Give a session's subagent locks to its main conversation; return them.

    ``agent_id``: only that subagent's (SubagentStop). None: every subagent's but those
    in ``keep`` (Stop: the subagents still running in the background keep theirs).
    The session keeps holding every lock: they pass up, never to nobody.
    """
    moved = []
    with c.store.transaction() as tx:
        for lock in owned_locks(tx, session_id):
            if not lock.agent_id or lock.agent_id in keep:
                continue
            if agent_id is not None and lock.agent_id != agent_id:
                continue
            lock.agent_id, lock.agent_type = "", ""
            tx.put_lock(lock)
            moved.append(lock)
    return moved


def _record_wait(c: Coordinator, tx: StoreWriter, me: Session, key: str, holder: str,
                 now: float) -> None:
    """A denied session waits for ``key``: it is told once it is free (`handoff`).

    Its record says so too ("waiting"), so that its other hooks look for waits only
    then (one read fewer per prompt and tool step otherwise).
    """
    waiting = bool(me.delivery.get("waiting"))
    try:
        if not waiting or not any(w.key == key for w in tx.waiters(me.session_id)):
            tx.put_waiter(Waiter(session_id=me.session_id, key=key, since=now, holder=holder))
    except StoreError as exc:
        # A wait is a courtesy: never let its record (a planted link, a full disk) turn
        # the denial into a failing hook, which would let the edit through.
        if c.state_dir is not None:
            logs.log_event(c.state_dir, "warning", "wait_not_recorded", key=key,
                           error=str(exc))
        return
    if not waiting:
        me.delivery = {**me.delivery, "waiting": True}
        tx.put_session(me)


def is_folder(c: Coordinator, key: str) -> bool:
    return os.path.isdir(key if os.path.isabs(key) else os.path.join(c.project_root, key))


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


def release_all(c: Coordinator, session_id: str) -> list[Lock]:
    """Release every lock ``session_id`` holds; the session stays live."""
    with c.store.read() as view:
        if not owned_locks(view, session_id):
            return []
    with c.store.transaction() as tx:
        released = owned_locks(tx, session_id)
        for lock in released:
            tx.delete_lock(lock.key, lock.owner)
    return released


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
