"""Lock hand-off: a session denied a file waits for it, and hears once when it is free.

* A denial records a `Waiter` (session, key, the holder then) in the store, in the
  transaction that decided it (`locks.try_acquire`).
* Whether a waited-for key is free is decided when the waiter next looks (its next
  tool step or prompt, `delivery.offer`), by the same rule a lock decision uses: no
  other session holds an active lock that overlaps it. So every way a file becomes free
  counts alike — ``coord unlock``, the holder ending or dying, its lease lapsing, its
  locks released at Stop (``release_at_stop``) — and a file taken again by a third
  session before the waiter looked is not reported free.
* The note is delivered at least once with the messages (`delivery.confirm` then
  forgets the wait). A waiter that took the lock itself meanwhile is forgotten quietly.
* `wait_free` blocks until keys are free (``coord wait``).

Every function takes the `Coordinator` first. Standard library only (hook hot path).
"""

from __future__ import annotations

import time

from coord_hooks.coordination import globs
from coord_hooks.coordination.sessions import is_live, lock_active
from coord_hooks.model import Lock, Plain, Waiter

TYPE_CHECKING = False
if TYPE_CHECKING:  # the hook path never imports typing, nor store.base (Protocols need it)
    from collections.abc import Callable, Iterable

    from coord_hooks.coordination import Coordinator
    from coord_hooks.model import Session
    from coord_hooks.store.base import StoreReader, StoreWriter

# How a waited-for key became free (FreeNote.how).
RELEASED, ENDED, GONE, LAPSED, TAKEN = "released", "ended", "gone", "lapsed", "taken"
WAIT_POLL = 0.25  # s between looks in `coord wait`: a store read, cheap at this rate


class FreeNote(Plain):
    """A waited-for key found free: ``how`` it became free and who ``holder`` was."""

    FIELDS = ("waiter", "how", "holder")

    def __init__(self, waiter: Waiter, how: str, holder: Session | None) -> None:
        self.waiter = waiter
        self.how = how
        self.holder = holder

    @property
    def quiet(self) -> bool:
        """The waiter holds the key itself now: nothing to tell it."""
        return self.how == TAKEN


def _overlapping(c: Coordinator, view: StoreReader, key: str,
                 is_glob: bool = False) -> list[Lock]:
    from coord_hooks.coordination.locks import is_folder, lock_candidates

    return [lk for lk in lock_candidates(view, key, is_glob)
            if globs.keys_overlap(lk.key, lk.is_glob, key, is_glob,
                                  lambda k: is_folder(c, k))]


def blockers(c: Coordinator, view: StoreReader, session_id: str | None, key: str, now: float,
             sessions: dict[str, Session | None] | None = None,
             is_glob: bool = False) -> list[Lock]:
    """Active locks of other sessions that would deny ``session_id`` an edit of ``key``."""
    known: dict[str, Session | None] = {} if sessions is None else sessions
    found = []
    for lock in _overlapping(c, view, key, is_glob):
        if lock.owner == session_id:
            continue
        if lock.owner not in known:
            known[lock.owner] = view.get_session(lock.owner)
        if lock_active(c, lock, known[lock.owner], now):
            found.append(lock)
    # A lock record this user cannot read may cover anything: never "free" past it.
    unreadable = getattr(view, "unreadable_locks", None)  # the JSON layout's files
    for record in unreadable() if unreadable is not None else ():
        found.append(Lock(key=record, owner="", acquired_at=now, renewed_at=now, ttl=0.0))
    return found


def waiting(session: Session) -> bool:
    """May the session wait for a file? (Set with its first wait, cleared with its last.)"""
    return bool(session.delivery.get("waiting"))


def free_notes(c: Coordinator, view: StoreReader, session: Session, now: float,
               skip: Iterable[str] = ()) -> list[FreeNote]:
    """The session's waits whose key is free now (``skip``: offered by a live hook)."""
    if not waiting(session):
        return []
    waits = [w for w in view.waiters(session.session_id) if w.well_formed() and w.key not in skip]
    notes = []
    known: dict[str, Session | None] = {}
    for waiter in waits:
        if blockers(c, view, session.session_id, waiter.key, now, known):
            continue
        notes.append(_note(c, view, waiter, now, known))
    return notes


def _note(c: Coordinator, view: StoreReader, waiter: Waiter, now: float,
          known: dict[str, Session | None]) -> FreeNote:
    locks = _overlapping(c, view, waiter.key)
    if any(lk.owner == waiter.session_id for lk in locks):
        return FreeNote(waiter, TAKEN, None)
    if waiter.holder not in known:
        known[waiter.holder] = view.get_session(waiter.holder) if waiter.holder else None
    holder = known[waiter.holder]
    if holder is None:
        how = RELEASED
    elif holder.ended:
        how = GONE if holder.end_reason == "dead" else ENDED
    elif not is_live(c, holder, now):
        how = GONE
    elif any(lk.owner == holder.session_id for lk in locks):
        how = LAPSED  # its lock is still there, but the lease ran out
    else:
        how = RELEASED
    return FreeNote(waiter, how, holder)


def forget(c: Coordinator, session_id: str, keys: Iterable[str]) -> None:
    """Drop waits the session no longer needs told about (it saw the key free)."""
    wanted = set(keys)
    with c.store.read() as view:
        if not any(w.key in wanted for w in view.waiters(session_id)):
            return
    with c.store.transaction() as tx:
        for key in wanted:
            tx.delete_waiter(session_id, key)
        session = tx.get_session(session_id)
        if session is not None:
            settle_waiting(tx, session)


def settle_waiting(tx: StoreWriter, session: Session) -> None:
    """Clear the session's "waiting" mark once it has no wait left (inside ``tx``)."""
    if waiting(session) and not tx.waiters(session.session_id):
        session.delivery = {k: v for k, v in session.delivery.items() if k != "waiting"}
        tx.put_session(session)


def wait_free(c: Coordinator, session_id: str | None, targets: list[str], *,
              cwd: str | None = None, timeout: float, poll: float = WAIT_POLL,
              sleep: Callable[[float], None] = time.sleep,
              monotonic: Callable[[], float] = time.monotonic) -> dict[str, list[Lock]]:
    """Block until no other session holds any of ``targets``, or ``timeout`` passes.

    Returns what still blocks, per key ({} when everything is free). Once free, the
    session's waits for those keys are forgotten: it knows, no note follows.
    """
    from coord_hooks.coordination.locks import key_for

    # A pattern (``coord wait 'src/*.py'``) waits until no file it covers is held.
    wanted = dict(key_for(c, target, cwd) for target in targets)
    keys = list(wanted)
    deadline = monotonic() + timeout
    while True:
        now = c.clock()
        with c.store.read() as view:
            held = {key: found for key, is_glob in wanted.items()
                    if (found := blockers(c, view, session_id, key, now, None, is_glob))}
        if not held:
            if session_id:
                forget(c, session_id, keys)
            return {}
        left = deadline - monotonic()
        if left <= 0:
            return held
        sleep(min(poll, left))
