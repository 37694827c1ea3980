"""Two-phase delivery (coordination.delivery), on every backend: offered, then confirmed
once the hook's output is out; urgent first, long messages in parts, the coalescing window."""

from __future__ import annotations

import subprocess
import sys

import pytest
from clocked import Clock

from coord_hooks.coordination import Coordinator
from coord_hooks.coordination.delivery import OFFER_LEASE, Delivery
from coord_hooks.model import Message

ALICE = "aaaa1111-0000-4000-8000-000000000001"
BOB = "bbbb2222-0000-4000-8000-000000000002"


def plain(m: Message) -> str:
    return m.body


def fixed(size: int) -> object:
    return lambda m: "x" * size


def bodies(delivery: Delivery) -> list[str]:
    return [m.body for m in delivery.messages]


@pytest.fixture
def pair(coord: Coordinator) -> Coordinator:
    for sid in (ALICE, BOB):
        coord.register(sid, cwd=str(coord.project_root))
    return coord


def unread(coord: Coordinator) -> list[str]:
    return [m.body for m in coord.inbox(BOB, peek=True)]


def test_nothing_is_marked_delivered_until_confirmed(pair: Coordinator) -> None:
    pair.send(ALICE, BOB, "one")
    pair.broadcast(ALICE, "two")
    shown = pair.deliver(BOB, 1000, plain)
    assert bodies(shown) == ["one", "two"] and shown.remaining == 0
    assert unread(pair) == ["one", "two"]  # offered, not yet delivered
    pair.confirm(shown)
    assert unread(pair) == []
    with pair.store.read() as view:
        me = view.get_session(BOB)
        assert me is not None and me.cursor == view.last_seq() and me.delivery == {}
    assert not pair.deliver(BOB, 1000, plain)


def test_a_live_offer_is_not_offered_twice(pair: Coordinator) -> None:
    pair.send(ALICE, BOB, "one")
    first = pair.deliver(BOB, 1000, plain)  # this process: alive, so its offer stands
    pair.send(ALICE, BOB, "two")
    second = pair.deliver(BOB, 1000, plain)  # a parallel hook gets only the new one
    assert bodies(first) == ["one"] and bodies(second) == ["two"]
    pair.confirm(second)
    assert unread(pair) == ["one"]  # the cursor stays below the first, unconfirmed
    pair.confirm(first)
    assert unread(pair) == []


def test_an_offer_whose_process_died_is_offered_again(pair: Coordinator) -> None:
    pair.send(ALICE, BOB, "lost once")
    first = pair.deliver(BOB, 1000, plain)
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    with pair.store.transaction() as tx:  # as if a hook that is gone now had offered it
        me = tx.get_session(BOB)
        assert me is not None
        me.delivery = {"offers": [{**me.delivery["offers"][0], "pid": int(child.stdout)}]}
        tx.put_session(me)
    again = pair.deliver(BOB, 1000, plain)
    assert bodies(again) == ["lost once"]
    pair.confirm(again)
    pair.confirm(first)  # a late confirm of the same seqs changes nothing
    assert unread(pair) == [] and not pair.deliver(BOB, 1000, plain)


def test_an_offer_older_than_the_lease_is_offered_again(pair: Coordinator,
                                                       clock: Clock) -> None:
    pair.send(ALICE, BOB, "stuck")
    assert bodies(pair.deliver(BOB, 1000, plain)) == ["stuck"]
    clock.advance(OFFER_LEASE - 1)
    assert not pair.deliver(BOB, 1000, plain)
    clock.advance(2)
    assert bodies(pair.deliver(BOB, 1000, plain)) == ["stuck"]


def test_the_budget_leaves_the_rest_unread_and_loses_nothing(pair: Coordinator) -> None:
    for i in range(5):
        pair.send(ALICE, BOB, f"message {i}")
    seen: list[str] = []
    while shown := pair.deliver(BOB, 250, fixed(100)):  # type: ignore[arg-type]
        assert len(shown.messages) <= 2
        assert shown.remaining == 5 - len(seen) - len(shown.messages)
        seen += bodies(shown)
        pair.confirm(shown)
    assert seen == [f"message {i}" for i in range(5)]
    assert not pair.deliver("unknown", 250, plain)


def test_urgent_jumps_a_full_queue_and_is_not_shown_again(pair: Coordinator) -> None:
    for i in range(4):
        pair.send(ALICE, BOB, f"plain {i}")
    pair.send(ALICE, BOB, "URGENT", urgent=True)
    first = pair.deliver(BOB, 250, fixed(100))  # type: ignore[arg-type]
    assert bodies(first) == ["plain 0", "URGENT"]  # urgent first, shown in seq order
    assert first.remaining == 3
    pair.confirm(first)
    assert unread(pair) == ["plain 1", "plain 2", "plain 3"]
    assert [r.unread for r in pair.queue() if r.session.session_id == BOB] == [3]
    rest: list[str] = []
    while shown := pair.deliver(BOB, 250, fixed(100)):  # type: ignore[arg-type]
        rest += bodies(shown)
        pair.confirm(shown)
    assert rest == ["plain 1", "plain 2", "plain 3"]
    with pair.store.read() as view:
        me = view.get_session(BOB)
        assert me is not None and me.cursor == view.last_seq() and me.delivery == {}


def test_a_message_longer_than_a_block_comes_in_parts(coord: Coordinator) -> None:
    coord.settings = coord.settings.replace(max_message_chars=20_000)
    for sid in (ALICE, BOB):
        coord.register(sid)
    body = " ".join(f"{i:05d}" for i in range(2500))  # 14,999 characters
    coord.send(ALICE, BOB, body)
    coord.send(ALICE, BOB, "after")
    pieces: list[str] = []
    while True:
        shown = coord.deliver(BOB, 6000, plain)
        assert shown.part is not None and shown.messages[0].seq == 1
        assert sum(len(m.body) for m in shown.messages) <= 6000
        pieces.append(shown.messages[0].body)
        assert unread(coord) == [body, "after"]  # not read until every part is out
        coord.confirm(shown)
        if shown.part.last:
            break
        assert bodies(shown) == [pieces[-1]] and shown.remaining == 2
    assert "".join(pieces) == body and len(pieces) == 3
    assert bodies(shown)[1:] == ["after"]  # the last part left room for it
    assert unread(coord) == [] and not coord.deliver(BOB, 6000, plain)


def test_an_unconfirmed_part_is_offered_again_from_the_same_place(coord: Coordinator,
                                                                 clock: Clock) -> None:
    coord.settings = coord.settings.replace(max_message_chars=20_000)
    for sid in (ALICE, BOB):
        coord.register(sid)
    coord.send(ALICE, BOB, "a" * 5000 + "b" * 5000)
    first = coord.deliver(BOB, 5500, plain)
    assert first.part is not None and first.part.start == 0
    coord.confirm(first)
    lost = coord.deliver(BOB, 5500, plain)
    clock.advance(OFFER_LEASE + 1)  # that hook died: the same part again
    again = coord.deliver(BOB, 5500, plain)
    assert again.part is not None and lost.part is not None
    assert (again.part.start, again.part.end) == (lost.part.start, lost.part.end)
    assert again.part.start == first.part.end


def test_mid_turn_window_interval_and_urgent(pair: Coordinator, clock: Clock) -> None:
    pair.settings = pair.settings.replace(midturn_wait=3.0, midturn_interval=5.0)
    pair.send(ALICE, BOB, "first of a burst")
    clock.advance(1)
    pair.send(ALICE, BOB, "second of a burst")
    early = pair.deliver(BOB, 1000, plain, due_only=True)
    assert not early and early.remaining == 2  # inside the coalescing window
    clock.advance(2)  # the oldest has waited 3 s: the whole burst, as one block
    burst = pair.deliver(BOB, 1000, plain, due_only=True)
    assert bodies(burst) == ["first of a burst", "second of a burst"]
    pair.confirm(burst)
    pair.send(ALICE, BOB, "later")
    clock.advance(3.5)  # due by age, but the last block was 3.5 s ago
    assert not pair.deliver(BOB, 1000, plain, due_only=True)
    pair.send(ALICE, BOB, "now!", urgent=True)  # urgent: no window, no rate limit
    jumped = pair.deliver(BOB, 1000, plain, due_only=True)
    assert bodies(jumped) == ["later", "now!"]
    pair.confirm(jumped)
    pair.send(ALICE, BOB, "at the prompt")  # a prompt delivers whatever is unread
    assert bodies(pair.deliver(BOB, 1000, plain)) == ["at the prompt"]


def test_messages_arriving_between_offer_and_confirm_stay_unread(pair: Coordinator) -> None:
    pair.send(ALICE, BOB, "offered")
    shown = pair.deliver(BOB, 1000, plain)
    pair.broadcast(ALICE, "meanwhile, to all")
    pair.send(ALICE, BOB, "meanwhile, to bob")
    pair.confirm(shown)
    assert unread(pair) == ["meanwhile, to all", "meanwhile, to bob"]


def test_inbox_reads_everything_and_clears_the_delivery_state(pair: Coordinator) -> None:
    for i in range(3):
        pair.send(ALICE, BOB, f"m{i}")
    pair.send(ALICE, BOB, "hot", urgent=True)
    shown = pair.deliver(BOB, 150, fixed(100))  # type: ignore[arg-type]
    pair.confirm(shown)  # acked: the urgent one, above the cursor
    assert [m.body for m in pair.inbox(BOB)] == ["m0", "m1", "m2"]
    with pair.store.read() as view:
        me = view.get_session(BOB)
        assert me is not None and me.cursor == view.last_seq() and me.delivery == {}
