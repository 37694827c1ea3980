"""Lock hand-off (coordination.handoff), on every backend: a denial records a wait; the
waiter is told once, at its next delivery, however the file became free."""

from __future__ import annotations

import subprocess
import sys

import pytest
from clocked import Clock

from coord_hooks.coordination import Coordinator, handoff
from coord_hooks.coordination.delivery import OFFER_LEASE, Delivery
from coord_hooks.coordination.handoff import ENDED, GONE, LAPSED, RELEASED
from coord_hooks.model import Message

ALICE = "aaaa1111-0000-4000-8000-000000000001"
BOB = "bbbb2222-0000-4000-8000-000000000002"
CAROL = "cccc3333-0000-4000-8000-000000000003"


def plain(m: Message) -> str:
    return m.body


@pytest.fixture
def denied(coord: Coordinator) -> Coordinator:
    """Alice holds src/app.py; bob was denied it (and so waits for it)."""
    for sid in (ALICE, BOB, CAROL):
        coord.register(sid)
    coord.set_identity(ALICE, name="alice")
    coord.acquire(ALICE, "src/app.py")
    assert not coord.try_acquire(BOB, "src/app.py").granted
    return coord


def waits(coord: Coordinator, sid: str = BOB) -> list[tuple[str, str]]:
    with coord.store.read() as view:
        return [(w.key, w.holder) for w in view.waiters(sid)]


def notes(delivery: Delivery) -> list[tuple[str, str]]:
    return [(n.waiter.key, n.how) for n in delivery.notes]


def test_a_denial_records_one_wait_with_the_holder(denied: Coordinator) -> None:
    assert waits(denied) == [("src/app.py", ALICE)]
    with denied.store.read() as view:
        me = view.get_session(BOB)
        assert me is not None and me.delivery.get("waiting") is True
    assert not denied.try_acquire(BOB, "src/app.py").granted  # denied again: still one
    assert waits(denied) == [("src/app.py", ALICE)]
    assert waits(denied, ALICE) == [] and waits(denied, CAROL) == []
    assert not denied.deliver(BOB, 1000, plain)  # not free: nothing to say


def test_released_the_waiter_is_told_once(denied: Coordinator) -> None:
    denied.release(ALICE, "src/app.py")
    shown = denied.deliver(BOB, 1000, plain, due_only=True)  # at once, even mid-turn
    assert notes(shown) == [("src/app.py", RELEASED)]
    assert shown.notes[0].holder is not None and shown.notes[0].holder.name == "alice"
    denied.confirm(shown)
    assert waits(denied) == [] and not denied.deliver(BOB, 1000, plain)
    with denied.store.read() as view:  # its hooks stop looking for waits
        me = view.get_session(BOB)
        assert me is not None and "waiting" not in me.delivery


def test_holder_ended(denied: Coordinator) -> None:
    denied.end(ALICE, "session-end:other")
    assert notes(denied.deliver(BOB, 1000, plain)) == [("src/app.py", ENDED)]


def test_holder_died(denied: Coordinator) -> None:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    with denied.store.transaction() as tx:  # alice's claude process is gone now
        alice = tx.get_session(ALICE)
        assert alice is not None
        alice.pid, alice.pid_start = int(child.stdout), "12345"
        tx.put_session(alice)
    assert notes(denied.deliver(BOB, 1000, plain)) == [("src/app.py", GONE)]
    denied.reap()  # ended as dead: still "gone"
    assert notes(denied.deliver(BOB, 1000, plain)) == []  # offered above, not yet confirmed


def test_lease_lapsed(denied: Coordinator, clock: Clock) -> None:
    denied.acquire(ALICE, "src/short.py", ttl=60)
    assert not denied.try_acquire(BOB, "src/short.py").granted
    denied.release(ALICE, "src/app.py")
    denied.confirm(denied.deliver(BOB, 1000, plain))  # told about app.py
    clock.advance(61)  # alice is alive (heartbeat age < session_ttl), idle past the lease
    assert notes(denied.deliver(BOB, 1000, plain)) == [("src/short.py", LAPSED)]


def test_released_at_stop(denied: Coordinator) -> None:
    assert [lk.key for lk in denied.release_all(ALICE)] == ["src/app.py"]
    assert denied.release_all(ALICE) == []
    assert notes(denied.deliver(BOB, 1000, plain)) == [("src/app.py", RELEASED)]


def test_taken_by_another_before_the_waiter_looked(denied: Coordinator) -> None:
    denied.release(ALICE, "src/app.py")
    assert denied.try_acquire(CAROL, "src/app.py").granted
    assert not denied.deliver(BOB, 1000, plain)  # never reported free
    denied.release(CAROL, "src/app.py")
    assert notes(denied.deliver(BOB, 1000, plain)) == [("src/app.py", RELEASED)]


def test_a_waiter_that_took_the_file_itself_is_not_told(denied: Coordinator) -> None:
    denied.release(ALICE, "src/app.py")
    assert denied.try_acquire(BOB, "src/app.py").granted
    assert not denied.deliver(BOB, 1000, plain)
    assert waits(denied) == []


def test_a_glob_holder_and_a_note_with_messages(denied: Coordinator) -> None:
    denied.acquire(CAROL, "docs/**")
    assert not denied.try_acquire(BOB, "docs/guide/intro.md").granted
    denied.release(CAROL, "docs/**")
    denied.send(ALICE, BOB, "also, hello")
    shown = denied.deliver(BOB, 1000, plain)
    assert notes(shown) == [("docs/guide/intro.md", RELEASED)]  # src/app.py still held
    assert [m.body for m in shown.messages] == ["also, hello"]


def test_an_unconfirmed_note_comes_again(denied: Coordinator, clock: Clock) -> None:
    denied.release(ALICE, "src/app.py")
    assert notes(denied.deliver(BOB, 1000, plain)) == [("src/app.py", RELEASED)]
    assert not denied.deliver(BOB, 1000, plain)  # offered by a live hook
    clock.advance(OFFER_LEASE + 1)  # ... that never confirmed
    assert notes(denied.deliver(BOB, 1000, plain)) == [("src/app.py", RELEASED)]


def test_an_ended_waiter_waits_for_nothing(denied: Coordinator) -> None:
    denied.end(BOB)
    assert waits(denied) == []


def test_wait_free_times_out_with_what_still_blocks(denied: Coordinator) -> None:
    ticks = iter([0.0, 0.4, 0.8, 1.2])
    slept: list[float] = []
    left = handoff.wait_free(denied, BOB, ["src/app.py", "src/other.py"], timeout=1.0,
                             poll=0.5, sleep=slept.append, monotonic=lambda: next(ticks))
    assert list(left) == ["src/app.py"] and [lk.owner for lk in left["src/app.py"]] == [ALICE]
    assert slept == pytest.approx([0.5, 0.2])  # never sleeps past the deadline
    assert waits(denied) == [("src/app.py", ALICE)]  # still waiting: the note will come


def test_wait_free_returns_once_free_and_forgets_the_wait(denied: Coordinator) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            denied.release(ALICE, "src/app.py")

    assert handoff.wait_free(denied, BOB, ["src/app.py"], timeout=60, poll=0.5, sleep=sleep,
                             monotonic=lambda: 0.0) == {}
    assert slept == [0.5, 0.5, 0.5]
    assert waits(denied) == []  # it knows: no note follows
    assert not denied.deliver(BOB, 1000, plain)
    assert denied.wait_free(None, ["src/app.py"], timeout=0) == {}  # a human asks too
