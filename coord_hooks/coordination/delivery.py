"""Delivery of unread messages and hand-off notes to a hook, at least once.

Two phases, so that a hook killed before its output reached Claude Code loses nothing:

1. `offer` (one transaction): pick what to show — unread messages addressed to the
   session, urgent ones first, within the character budget; a message too long for one
   block is shown in parts — and record it in the session's ``delivery`` state as an
   *offer* made by this process. The cursor does not move.
2. The hook writes and flushes its output, then `confirm` (another transaction) marks
   what was offered as delivered: the seqs join ``acked``, a part advances ``part``, the
   waits shown are forgotten, and the cursor moves up to the first message still unseen.

An offer whose process is gone (or older than `OFFER_LEASE`) is void: the next hook
offers the same messages again. While the offering process runs, a concurrent hook of the
same session (parallel PostToolUse) skips what it offered, so nothing is shown twice.
A message can only be shown twice when a hook dies after Claude Code took its output and
before it confirmed; Claude Code drops the output of a hook it kills, so in practice it
is not (`scripts/delivery-kill-test.py` counts both).

Mid-turn (PostToolUse, ``due_only``) a block is due when a message is urgent or a lock
hand-off note is ready (at once), or when the oldest unread message has waited
``midturn_wait`` seconds (the coalescing window: a burst arrives as one block) and the
last mid-turn block is ``midturn_interval`` seconds old.

Every function takes the `Coordinator` first. Standard library only (hook hot path).
"""

from __future__ import annotations

import os

from coord_hooks import procs
from coord_hooks.coordination.messages import addressed_to
from coord_hooks.model import Message, Plain

TYPE_CHECKING = False
if TYPE_CHECKING:  # the hook path never imports typing, nor store.base (Protocols need it)
    from collections.abc import Callable
    from typing import Any

    from coord_hooks.coordination import Coordinator
    from coord_hooks.coordination.handoff import FreeNote
    from coord_hooks.model import Session
    from coord_hooks.store.base import StoreReader

# Seconds after which an unconfirmed offer is void even if its process seems to run: far
# longer than any delivering hook may take (hooks.json timeouts are 5-10 s).
OFFER_LEASE = 30.0
# Room a part's label takes next to its text ("part 1, characters 1-5,000 of 15,000").
PART_LABEL = 120
# Never cut a part shorter than this (a budget set very low still shows something).
MIN_PART = 200


class Part(Plain):
    """A slice ``[start, end)`` of a message's body too long for one block."""

    FIELDS = ("seq", "start", "end", "total")

    def __init__(self, seq: int, start: int, end: int, total: int) -> None:
        self.seq = seq
        self.start = start
        self.end = end
        self.total = total

    @property
    def last(self) -> bool:
        return self.end >= self.total


class Delivery(Plain):
    """What one hook should show: ``messages`` (a part's body already sliced) in seq
    order, hand-off ``notes``, and how many unread messages wait for a later block."""

    FIELDS = ("session_id", "messages", "remaining", "notes", "part", "offer_id")

    def __init__(self, session_id: str = "", messages: list[Message] | None = None,
                 remaining: int = 0, notes: list[FreeNote] | None = None,
                 part: Part | None = None, offer_id: str = "") -> None:
        self.session_id = session_id
        self.messages: list[Message] = [] if messages is None else messages
        self.remaining = remaining
        self.notes: list[FreeNote] = [] if notes is None else notes
        self.part = part
        self.offer_id = offer_id

    def __bool__(self) -> bool:
        return bool(self.messages or self.notes)


# --- reading the delivery state ---------------------------------------------------------
def acked(session: Session) -> set[int]:
    """Seqs above the cursor already delivered (urgent ones jump the queue)."""
    found = session.delivery.get("acked")
    return {s for s in found if isinstance(s, int)} if isinstance(found, list) else set()


def shown_part(session: Session) -> tuple[int, int] | None:
    """(seq, characters shown) of a long message delivered in parts so far."""
    part = session.delivery.get("part")
    if (isinstance(part, list) and len(part) == 2
            and all(isinstance(x, int) for x in part)):
        return part[0], part[1]
    return None


def _offers(session: Session) -> list[dict[str, Any]]:
    found = session.delivery.get("offers")
    return [o for o in found if isinstance(o, dict)] if isinstance(found, list) else []


def _offer_alive(c: Coordinator, offer: dict[str, Any], now: float) -> bool:
    at = offer.get("at")
    if not isinstance(at, (int, float)) or not 0 <= now - at < OFFER_LEASE:
        return False
    pid = offer.get("pid")
    if offer.get("host") != c.hostname or not isinstance(pid, int):
        return True  # cannot see the process: the lease decides
    start = offer.get("start")
    return procs.is_same_process(pid, start if isinstance(start, str) else None)


def _busy(c: Coordinator, session: Session, now: float
          ) -> tuple[list[dict[str, Any]], set[int], set[str]]:
    """Live offers of other hooks, and the seqs and waits they cover."""
    live = [o for o in _offers(session) if _offer_alive(c, o, now)]
    seqs = {s for o in live for s in o.get("seqs", ()) if isinstance(s, int)}
    waits = {k for o in live for k in o.get("waits", ()) if isinstance(k, str)}
    for o in live:
        part = o.get("part")
        if isinstance(part, list) and part and isinstance(part[0], int):
            seqs.add(part[0])
    return live, seqs, waits


def unread(view: StoreReader, session: Session) -> list[Message]:
    """Messages addressed to ``session`` that it has not been shown, ascending."""
    done = acked(session)
    return [m for m in view.messages_after(session.cursor)
            if addressed_to(m, session) and m.seq not in done]


def _due(c: Coordinator, session: Session, pending: list[Message], now: float) -> bool:
    if any(m.urgent for m in pending):
        return True  # --urgent jumps every queue: no window, no rate limit
    if not pending or now - session.last_midturn < c.settings.midturn_interval:
        return False
    return now - min(m.created_at for m in pending) >= c.settings.midturn_wait


# --- phase 1: offer ---------------------------------------------------------------------
def offer(c: Coordinator, session_id: str, max_chars: int, render: Callable[[Message], str],
          due_only: bool = False,
          render_note: Callable[[FreeNote], str] | None = None) -> Delivery:
    """Pick and record what the hook of ``session_id`` should show (see the module doc).

    ``render`` and ``render_note`` give a message's or note's text as it will be shown:
    its length is what counts against ``max_chars``. Notes go first (at most half the
    budget, at least one); the first message always goes, in parts if it is too long.
    """
    from coord_hooks.coordination import handoff

    now = c.clock()
    with c.store.read() as view:  # a look first: most hooks find nothing to do
        session = view.get_session(session_id)
        if session is None:
            return Delivery(session_id)
        pending = unread(view, session)
        ready = handoff.free_notes(c, view, session, now, skip=set())
    if not ready and (not pending or (due_only and not _due(c, session, pending, now))):
        return Delivery(session_id, remaining=len(pending))
    with c.store.transaction() as tx:
        session = tx.get_session(session_id)
        if session is None:
            return Delivery(session_id)
        live, busy_seqs, busy_waits = _busy(c, session, now)
        pending = [m for m in unread(tx, session) if m.seq not in busy_seqs]
        notes: list[FreeNote] = []
        used = 0
        for note in handoff.free_notes(c, tx, session, now, skip=busy_waits):
            if note.quiet:  # it took the lock itself: nothing to say
                tx.delete_waiter(session_id, note.waiter.key)
                handoff.settle_waiting(tx, session)
                continue
            size = len(render_note(note)) if render_note is not None else 0
            if notes and used + size > max_chars // 2:
                break  # the rest at the next step
            notes.append(note)
            used += size
        if not notes and (not pending or (due_only and not _due(c, session, pending, now))):
            return Delivery(session_id, remaining=len(pending))
        chosen, part = _choose(pending, shown_part(session), max_chars - used, render)
        offer_id = f"{c.hostname}:{os.getpid()}:{now!r}"
        record: dict[str, Any] = {
            "id": offer_id, "host": c.hostname, "pid": os.getpid(),
            "start": procs.process_start(os.getpid()), "at": now,
            "seqs": [m.seq for m in chosen if part is None or m.seq != part.seq],
            "waits": [n.waiter.key for n in notes]}
        if part is not None:
            record["part"] = [part.seq, part.start, part.end]
        session.delivery = {**session.delivery, "offers": [*live, record]}
        if due_only:
            session.last_midturn = now
        session.last_seen = now
        tx.put_session(session)
    complete = sum(1 for m in chosen if part is None or m.seq != part.seq or part.last)
    return Delivery(session_id, chosen, len(pending) - complete, notes, part, offer_id)


def _choose(pending: list[Message], part_state: tuple[int, int] | None, max_chars: int,
            render: Callable[[Message], str]) -> tuple[list[Message], Part | None]:
    """Urgent messages first, then the oldest, while they fit; shown in seq order."""
    order = [m for m in pending if m.urgent] + [m for m in pending if not m.urgent]
    chosen: list[Message] = []
    part: Part | None = None
    used = 0
    for message in order:
        start = part_state[1] if part_state is not None and part_state[0] == message.seq else 0
        body = message.body[start:] if start else message.body
        shown = message if not start else _with_body(message, body)
        size = len(render(shown)) + (PART_LABEL if start else 0)
        if used + size <= max_chars:
            chosen.append(shown)
            used += size
            if start:
                part = Part(message.seq, start, len(message.body), len(message.body))
            continue
        if chosen:
            break
        # The first message alone is too long: show what fits, the rest comes next time.
        end = _cut(message, start, max_chars, render)
        chosen.append(_with_body(message, message.body[start:end]))
        part = Part(message.seq, start, end, len(message.body))
        break
    chosen.sort(key=lambda m: m.seq)
    return chosen, part


def _cut(message: Message, start: int, max_chars: int,
         render: Callable[[Message], str]) -> int:
    """Where a part starting at ``start`` must end for its text to fit ``max_chars``."""
    overhead = len(render(_with_body(message, ""))) + PART_LABEL
    end = min(len(message.body), start + max(MIN_PART, max_chars - overhead))
    while end - start > MIN_PART:  # indented continuation lines make the text longer
        excess = len(render(_with_body(message, message.body[start:end]))) + PART_LABEL
        excess -= max_chars
        if excess <= 0:
            break
        end = max(start + MIN_PART, end - excess)
    return end


def _with_body(message: Message, body: str) -> Message:
    return Message(message.seq, message.sender, message.recipient, body, message.created_at,
                   message.sender_name, message.urgent)


# --- waking an idle session -------------------------------------------------------------
def wake_for(c: Coordinator, view: StoreReader, session: Session, now: float,
             urgent_only: bool = False) -> tuple[list[int], list[str]]:
    """What an idle session should be woken for now: the seqs of unread messages that
    are due (urgent, or past the coalescing window) and the keys of waits now free.

    Nothing while it works (``idle_since`` unset): its next step delivers anyway.
    """
    from coord_hooks.coordination import handoff

    if session.idle_since is None:
        return [], []
    _, busy_seqs, busy_waits = _busy(c, session, now)
    pending = [m for m in unread(view, session) if m.seq not in busy_seqs
               and (m.urgent or not urgent_only)]
    due = pending and (any(m.urgent for m in pending)
                       or now - min(m.created_at for m in pending) >= c.settings.midturn_wait)
    keys = [n.waiter.key for n in handoff.free_notes(c, view, session, now, skip=busy_waits)
            if not n.quiet]
    return ([m.seq for m in pending] if due else []), keys


# --- phase 2: confirm -------------------------------------------------------------------
def confirm(c: Coordinator, delivery: Delivery) -> None:
    """The hook's output is written and flushed: mark what it offered as delivered."""
    if not delivery.offer_id:
        return
    now = c.clock()
    with c.store.transaction() as tx:
        session = tx.get_session(delivery.session_id)
        if session is None:
            return
        done = acked(session)
        part = shown_part(session)
        for message in delivery.messages:
            if delivery.part is not None and message.seq == delivery.part.seq:
                if delivery.part.last:
                    done.add(message.seq)
                    part = None
                else:
                    part = (message.seq, delivery.part.end)
            else:
                done.add(message.seq)
        for note in delivery.notes:
            tx.delete_waiter(session.session_id, note.waiter.key)
        _settle(c, tx, session, done, part, now, drop=delivery.offer_id,
                waiting=bool(tx.waiters(session.session_id)) if delivery.notes else None)
        tx.put_session(session)


def _settle(c: Coordinator, view: StoreReader, session: Session, done: set[int],
            part: tuple[int, int] | None, now: float, drop: str = "",
            waiting: bool | None = None) -> None:
    """Move the cursor up to the first message not yet delivered; keep the rest small.

    ``waiting``: whether it still waits for a file (None: as before).
    """
    undelivered = [m.seq for m in view.messages_after(session.cursor)
                   if addressed_to(m, session) and m.seq not in done]
    if undelivered:
        session.cursor = max(session.cursor, undelivered[0] - 1)
    else:
        session.cursor = max(session.cursor, view.last_seq())
    state: dict[str, Any] = {}
    left = sorted(s for s in done if s > session.cursor)
    if left:
        state["acked"] = left
    if part is not None and part[0] > session.cursor:
        state["part"] = [part[0], part[1]]
    offers = [o for o in _offers(session) if o.get("id") != drop and _offer_alive(c, o, now)]
    if offers:
        state["offers"] = offers
    if session.delivery.get("waiting") if waiting is None else waiting:
        state["waiting"] = True
    session.delivery = state


def mark_all_read(c: Coordinator, view: StoreReader, session: Session) -> None:
    """`coord inbox`: everything up to the last seq is read (inside a transaction)."""
    session.cursor = max(session.cursor, view.last_seq())
    _settle(c, view, session, set(), None, c.clock())
