"""The coordination rules (coord_hooks.coordination), run on every store backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from clocked import T0, Clock

from coord_hooks import procs
from coord_hooks.coordination import Coordinator, addressed_to, ago, clean_body
from coord_hooks.errors import (
    AmbiguousHandleError,
    InvalidMessageError,
    LockConflictError,
    NoSessionError,
    NotFoundError,
    UsageError,
)
from coord_hooks.model import Lock, Message, NewMessage, Session
from coord_hooks.store import Store

ALICE = "aaaa1111-0000-4000-8000-000000000001"
BOB = "bbbb2222-0000-4000-8000-000000000002"
CAROL = "cccc3333-0000-4000-8000-000000000003"
DAVE = "dddd4444-0000-4000-8000-000000000004"


def reg(coord: Coordinator, session_id: str, **kwargs: Any) -> Session:
    """Register a session with no pid: its liveness is its heartbeat."""
    kwargs.setdefault("cwd", str(coord.project_root))
    return coord.register(session_id, **kwargs)


def get(coord: Coordinator, session_id: str) -> Session:
    with coord.store.read() as view:
        session = view.get_session(session_id)
    assert session is not None
    return session


def bodies(messages: list[Message]) -> list[str]:
    return [m.body for m in messages]


def lock_keys(coord: Coordinator) -> list[tuple[str, str]]:
    return sorted((lv.lock.key, lv.lock.owner) for lv in coord.locks())


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A real child process whose pid and start time a session can claim."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield child
    child.kill()
    child.wait()


# --- liveness -------------------------------------------------------------------------
def test_live_while_pid_runs_with_same_start(coord: Coordinator, clock: Clock) -> None:
    session = reg(coord, ALICE, pid=os.getpid())
    assert session.pid_start == procs.process_start(os.getpid())
    clock.advance(10 * coord.settings.session_ttl)  # heartbeats do not matter with a pid
    assert coord.is_live(get(coord, ALICE))
    assert coord.reap() == []


def test_pid_reuse_is_dead(coord: Coordinator, sleeper: subprocess.Popen[bytes]) -> None:
    real_start = procs.process_start(sleeper.pid)
    assert real_start is not None
    reg(coord, ALICE, pid=sleeper.pid, pid_start=real_start)
    # Same pid, another start time: the pid now belongs to a different process.
    reg(coord, BOB, pid=sleeper.pid, pid_start=str(int(real_start) - 1))
    assert coord.is_live(get(coord, ALICE))
    assert not coord.is_live(get(coord, BOB))
    assert [s.session_id for s in coord.reap()] == [BOB]
    assert [v.session.session_id for v in coord.sessions()] == [ALICE]

    sleeper.kill()
    sleeper.wait()
    assert not coord.is_live(get(coord, ALICE))
    assert [s.session_id for s in coord.reap()] == [ALICE]


def test_zombie_process_is_dead(coord: Coordinator) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = procs.process_start(child.pid)
    reg(coord, ALICE, pid=child.pid, pid_start=start)
    child.wait()
    assert not coord.is_live(get(coord, ALICE))


def test_no_pid_uses_heartbeat_ttl(coord: Coordinator, clock: Clock) -> None:
    reg(coord, ALICE)
    ttl = coord.settings.session_ttl
    clock.advance(ttl)
    assert coord.is_live(get(coord, ALICE))
    coord.touch(ALICE)  # a heartbeat renews
    clock.advance(ttl)
    assert coord.is_live(get(coord, ALICE))
    clock.advance(1)
    assert not coord.is_live(get(coord, ALICE))
    assert [s.session_id for s in coord.reap()] == [ALICE]


def test_a_pid_that_cannot_be_seen_falls_back_to_the_heartbeat(
        coord: Coordinator, clock: Clock) -> None:
    # e.g. $CLAUDE_PID from another pid namespace: not "dead at once, locks lost".
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    session = coord.register(ALICE, pid=gone.pid)
    assert session.pid is None
    assert coord.is_live(get(coord, ALICE))
    clock.advance(coord.settings.session_ttl + 1)
    assert not coord.is_live(get(coord, ALICE))


def test_pid_on_another_host_uses_heartbeat(coord: Coordinator, store: Store, project: Path,
                                            clock: Clock) -> None:
    remote = Coordinator(store, coord.settings, project, clock=clock, hostname="elsewhere")
    remote.register(ALICE, pid=os.getpid())  # our pid, but on another machine
    clock.advance(coord.settings.session_ttl + 1)
    assert not coord.is_live(get(coord, ALICE))


def test_touch_registers_unknown_and_rate_limits_writes(coord: Coordinator,
                                                        clock: Clock) -> None:
    first = coord.touch(ALICE, cwd="/x")
    assert first.source == "auto"
    clock.advance(1)
    assert coord.touch(ALICE).last_seen == T0  # within 5 s: no write
    clock.advance(5)
    assert coord.touch(ALICE).last_seen == T0 + 6
    assert get(coord, ALICE).last_seen == T0 + 6


def test_reaping_releases_locks_keeps_mail_marks_ended(coord: Coordinator,
                                                       clock: Clock) -> None:
    reg(coord, ALICE)
    reg(coord, BOB, pid=os.getpid())
    coord.acquire(ALICE, "src/a.py")
    coord.acquire(ALICE, "src/*.md")
    coord.acquire(BOB, "src/b.py")
    coord.send(BOB, ALICE, "are you there?")
    clock.advance(coord.settings.session_ttl + 1)

    reaped = coord.reap()
    assert [s.session_id for s in reaped] == [ALICE]
    alice = get(coord, ALICE)
    assert alice.ended and alice.end_reason == "dead" and alice.ended_at == clock.now
    assert lock_keys(coord) == [("src/b.py", BOB)]
    assert bodies(coord.inbox(ALICE)) == ["are you there?"]  # unread mail was kept
    assert [v.session.session_id for v in coord.sessions()] == [BOB]
    ended = {v.session.session_id: v.live for v in coord.sessions(include_ended=True)}
    assert ended == {ALICE: False, BOB: True}
    assert coord.reap() == []


def test_conflict_with_dead_holder_reaps_it(coord: Coordinator, clock: Clock) -> None:
    reg(coord, ALICE)
    reg(coord, BOB, pid=os.getpid())
    coord.acquire(ALICE, "src/a.py")
    coord.acquire(ALICE, "docs/other.md")
    clock.advance(coord.settings.session_ttl + 1)
    result = coord.try_acquire(BOB, "src/a.py")
    assert result.granted
    assert get(coord, ALICE).ended  # lazily reaped by the next command
    assert lock_keys(coord) == [("src/a.py", BOB)]


def test_end_releases_and_register_revives(coord: Coordinator) -> None:
    reg(coord, ALICE)
    coord.acquire(ALICE, "src/a.py")
    session, released = coord.end(ALICE, "session_end")
    assert session is not None and session.end_reason == "session_end"
    assert [lk.key for lk in released] == ["src/a.py"]
    assert coord.locks() == []
    assert coord.end("unknown-session") == (None, [])
    revived = reg(coord, ALICE, source="resume")
    assert not revived.ended and revived.end_reason == ""


def test_clear_supersedes_old_session_of_same_process(coord: Coordinator) -> None:
    reg(coord, ALICE, pid=os.getpid())
    coord.acquire(ALICE, "src/a.py")
    reg(coord, BOB, pid=os.getpid(), source="clear")
    alice = get(coord, ALICE)
    assert alice.ended and alice.end_reason == "superseded"
    assert coord.locks() == []


# --- resolving handles ----------------------------------------------------------------
@pytest.fixture
def three(coord: Coordinator) -> Coordinator:
    reg(coord, "abcd1234-aaaa", name="alice")
    reg(coord, "abcd5678-bbbb", name="bob")
    reg(coord, "ef012345-cccc")
    return coord


def test_resolve_by_id_name_prefix(three: Coordinator) -> None:
    assert three.resolve("abcd1234-aaaa").session_id == "abcd1234-aaaa"
    assert three.resolve("bob").session_id == "abcd5678-bbbb"
    assert three.resolve("ef01").session_id == "ef012345-cccc"
    assert three.resolve("abcd12").session_id == "abcd1234-aaaa"
    assert three.resolve("  bob ").session_id == "abcd5678-bbbb"


def test_resolve_ambiguous_lists_candidates(three: Coordinator) -> None:
    with pytest.raises(AmbiguousHandleError) as info:
        three.resolve("abcd")
    text = str(info.value)
    assert "abcd1234 (alice)" in text and "abcd5678 (bob)" in text
    assert "ef012345" not in text


def test_resolve_too_short_and_unknown(three: Coordinator) -> None:
    with pytest.raises(NotFoundError, match="at least 4") as short:
        three.resolve("abc")
    assert "abcd1234 (alice)" in str(short.value)
    with pytest.raises(NotFoundError) as unknown:
        three.resolve("zzzz9999")
    text = str(unknown.value)
    assert "zzzz9999" in text
    for label in ("abcd1234 (alice)", "abcd5678 (bob)", "ef012345"):
        assert label in text


def test_resolve_prefers_live_session_for_a_reused_name(coord: Coordinator) -> None:
    reg(coord, ALICE, name="worker")
    coord.end(ALICE)
    reg(coord, BOB, name="worker")
    assert coord.resolve("worker").session_id == BOB
    reg(coord, CAROL)
    with pytest.raises(UsageError, match="already used"):
        coord.set_identity(CAROL, name="worker")
    assert coord.set_identity(CAROL, task="reviewing").task == "reviewing"


# --- locks ----------------------------------------------------------------------------
def test_exclusive_and_shared(coord: Coordinator) -> None:
    for sid in (ALICE, BOB, CAROL):
        reg(coord, sid)
    assert coord.try_acquire(ALICE, "src/a.py", exclusive=False).granted
    assert coord.try_acquire(BOB, "src/a.py", exclusive=False).granted
    denied = coord.try_acquire(CAROL, "src/a.py")
    assert not denied.granted
    assert sorted(c.lock.owner for c in denied.conflicts) == [ALICE, BOB]
    assert coord.try_acquire(CAROL, "src/b.py").granted
    assert not coord.try_acquire(ALICE, "src/b.py", exclusive=False).granted


@pytest.mark.parametrize(("held", "wanted", "overlap"), [
    ("src/*.py", "src/a.py", True),
    ("src/*.py", "src/sub/a.py", False),
    ("src/*.py", "docs/a.py", False),
    ("src/**", "src/sub/deep/x.py", True),
    ("src/**/*.py", "src/a.py", True),
    ("src/**/*.py", "src/sub/x/y.py", True),
    ("src/**/*.py", "src/a.txt", False),  # a file (or nothing yet): nothing inside it
    ("src/**/*.py", "src/newdir", False),
    ("src/sub", "src/sub/a.py", True),  # a folder lock covers its contents
    ("src/sub/a.py", "src/sub", True),
    ("src", "src/*.py", True),
    ("src/*.py", "src", True),
    ("src/sub", "src/*.py", False),
    ("src/sub", "src/sub/**", True),
    ("src/sub", "src/**/*.py", True),
    ("src/*/*.py", "src/sub", True),
    ("src/*/*.py", "src/sub/a.txt", False),
    (".", "src/a.py", True),  # the whole project
    ("src/a.py", ".", True),
    ("src/a.py", "src/a.pyc", False),
    ("src/a", "src/ab", False),
    ("*.md", "README.md", True),
    ("*.md", "docs/README.md", False),
])
def test_glob_and_path_overlap(coord: Coordinator, held: str, wanted: str,
                               overlap: bool) -> None:
    reg(coord, ALICE)
    reg(coord, BOB)
    assert coord.try_acquire(ALICE, held).granted
    assert coord.try_acquire(BOB, wanted).granted is not overlap
    # Overlap is symmetric: the same answer whichever was locked first.
    coord.end(ALICE)
    coord.end(BOB)
    reg(coord, CAROL)
    reg(coord, DAVE)
    assert coord.try_acquire(CAROL, wanted).granted
    assert coord.try_acquire(DAVE, held).granted is not overlap


def test_same_session_never_conflicts_and_renews(coord: Coordinator, clock: Clock) -> None:
    reg(coord, ALICE)
    first = coord.try_acquire(ALICE, "src/a.py", reason="first")
    assert first.granted and not first.renewed
    assert coord.try_acquire(ALICE, "src/*.py", agent_id="sub-1").granted
    clock.advance(30)
    again = coord.try_acquire(ALICE, "src/a.py", exclusive=False)
    assert again.granted and again.renewed and again.lock is not None
    assert again.lock.acquired_at == T0 and again.lock.renewed_at == T0 + 30
    assert again.lock.reason == "first" and not again.lock.exclusive
    assert len([lv for lv in coord.locks() if lv.lock.key == "src/a.py"]) == 1


def test_lease_lapses_after_owner_inactivity(coord: Coordinator, clock: Clock) -> None:
    reg(coord, ALICE, pid=os.getpid())  # alive the whole time, just idle
    reg(coord, BOB)
    coord.acquire(ALICE, "src/a.py", ttl=100)
    clock.advance(90)
    coord.touch(ALICE)  # activity renews the lease
    clock.advance(90)
    assert not coord.try_acquire(BOB, "src/a.py").granted
    assert [lv.active for lv in coord.locks()] == [True]
    clock.advance(11)  # 101 s without activity
    assert [lv.active for lv in coord.locks()] == [False]
    assert [lv.lock.key for lv in coord.expired_locks()] == ["src/a.py"]
    assert coord.try_acquire(BOB, "src/a.py").granted
    assert lock_keys(coord) == [("src/a.py", BOB)]
    assert not get(coord, ALICE).ended  # the lease lapsed, the session lives on


def test_lock_of_a_missing_owner_record_blocks_until_its_lease_lapses(
        coord: Coordinator, clock: Clock) -> None:
    """Issue 9 item 7: a lost or damaged session record never frees its locks early."""
    reg(coord, BOB)
    with coord.store.transaction() as tx:  # locks whose owners' records are gone
        tx.put_lock(Lock("src/a.py", ALICE, T0, T0, 100.0))
        tx.put_lock(Lock("src/b.py", CAROL, T0, T0, 100.0))
    clock.advance(60)
    result = coord.try_acquire(BOB, "src/a.py")
    assert not result.granted and result.conflicts[0].holder is None
    assert "its session record is missing" in result.denial_reason()
    assert [lv.active for lv in coord.locks()] == [True, True]
    assert coord.cleanup()["released_locks"] == 0  # cleanup does not free them either
    reg(coord, ALICE)  # the owner still runs: it re-registers and keeps its lock
    assert coord.try_acquire(ALICE, "src/a.py").renewed
    clock.advance(41)  # 101 s after CAROL's lock was last renewed: its lease lapsed
    assert coord.try_acquire(BOB, "src/b.py").granted
    assert not coord.try_acquire(BOB, "src/a.py").granted
    assert lock_keys(coord) == [("src/a.py", ALICE), ("src/b.py", BOB)]


def test_conflict_details(coord: Coordinator, clock: Clock) -> None:
    reg(coord, ALICE, name="alice", task="refactor the parser")
    reg(coord, BOB)
    coord.acquire(ALICE, "src/*.py", reason="big edit")
    clock.advance(125)
    coord.touch(ALICE)
    clock.advance(5)
    result = coord.try_acquire(BOB, "src/a.py")
    assert not result.granted
    (conflict,) = result.conflicts
    assert conflict.to_dict() == {
        "key": "src/*.py", "holder": ALICE, "holder_handle": ALICE[:8], "holder_name": "alice",
        "holder_task": "refactor the parser", "holder_agent_id": "", "holder_agent_type": "",
        "exclusive": True, "reason": "big edit",
        "age_s": 130.0, "idle_s": 5.0,
        "ask": f"coord send {ALICE[:8]} 'Could you release src/*.py when you can?'",
    }
    text = result.denial_reason()
    for part in ("src/*.py (covers src/a.py)", f"{ALICE[:8]} (alice)", "refactor the parser",
                 "big edit", "exclusive lock taken 2m ago", "last active 5s ago",
                 f"coord send {ALICE[:8]} 'Could you release src/a.py when you can?'"):
        assert part in text
    with pytest.raises(LockConflictError) as info:
        coord.acquire(BOB, "src/a.py")
    assert info.value.conflicts and str(info.value) == text
    assert info.value.exit_code == 3


def test_release_own_and_others(coord: Coordinator, state_dir: Path) -> None:
    reg(coord, ALICE)
    reg(coord, BOB)
    coord.acquire(ALICE, "src/a.py")
    coord.acquire(ALICE, "src/b.py")
    assert [lk.key for lk in coord.release(ALICE, "src/a.py")] == ["src/a.py"]
    with pytest.raises(NotFoundError):
        coord.release(ALICE, "src/a.py")
    with pytest.raises(LockConflictError, match="--force"):
        coord.release(BOB, "src/b.py")
    with pytest.raises(LockConflictError):
        coord.release(None, "src/b.py")  # a human too needs --force
    assert lock_keys(coord) == [("src/b.py", ALICE)]
    assert not (state_dir / "logs" / "app.log").exists()

    forced = coord.release(BOB, "src/b.py", force=True)
    assert [(lk.key, lk.owner) for lk in forced] == [("src/b.py", ALICE)]
    assert coord.locks() == []
    lines = [json.loads(line) for line in
             (state_dir / "logs" / "app.log").read_text().splitlines()]
    events = [ln for ln in lines if ln["event"] == "force_release"]
    assert len(events) == 1
    assert events[0]["key"] == "src/b.py" and events[0]["owners"] == [ALICE]
    assert events[0]["by"] == BOB and events[0]["level"] == "warning"


def test_lock_keys_are_canonical(coord: Coordinator, project: Path, tmp_path: Path) -> None:
    reg(coord, ALICE)
    reg(coord, BOB)
    outside = tmp_path / "elsewhere" / "notes.txt"
    lock = coord.acquire(ALICE, str(outside))
    assert lock.key == os.path.realpath(outside) and os.path.isabs(lock.key)
    assert coord.acquire(ALICE, "../a.py", cwd=str(project / "src" / "sub")).key == "src/a.py"
    (project / "link").symlink_to(project / "src")
    assert not coord.try_acquire(BOB, "link/a.py", cwd=str(project)).granted
    assert coord.acquire(ALICE, "~/x.txt").key == os.path.realpath(
        os.path.expanduser("~/x.txt"))
    with pytest.raises(UsageError):
        coord.acquire(ALICE, "   ")


def test_locks_need_a_live_registered_session(coord: Coordinator) -> None:
    with pytest.raises(NoSessionError):
        coord.try_acquire(ALICE, "src/a.py")
    reg(coord, ALICE)
    coord.end(ALICE)
    with pytest.raises(NoSessionError):
        coord.try_acquire(ALICE, "src/a.py")


# --- messages -------------------------------------------------------------------------
def test_direct_messages_and_cursor(coord: Coordinator) -> None:
    reg(coord, ALICE, name="alice")
    reg(coord, BOB)
    sent = coord.send(ALICE, BOB[:6], "hello bob")
    assert sent.recipient == BOB and sent.sender == ALICE and sent.sender_name == "alice"
    assert bodies(coord.inbox(BOB, peek=True)) == ["hello bob"]
    assert bodies(coord.inbox(BOB)) == ["hello bob"]
    assert coord.inbox(BOB) == []
    assert coord.inbox(ALICE) == []  # the sender does not get its own message
    human = coord.send(None, "alice", "from a person")
    assert human.sender == "human" and human.sender_name.endswith("(human)")
    assert bodies(coord.inbox(ALICE)) == ["from a person"]
    with pytest.raises(NoSessionError):
        coord.inbox("not-registered")


def test_broadcast_reaches_each_live_session_once(coord: Coordinator) -> None:
    for sid in (ALICE, BOB, CAROL):
        reg(coord, sid)
    coord.broadcast(ALICE, "first")
    coord.broadcast(None, "second", urgent=True)
    assert bodies(coord.inbox(BOB)) == ["first", "second"]
    assert bodies(coord.inbox(ALICE)) == ["second"]  # not its own broadcast
    coord.broadcast(BOB, "third")
    assert bodies(coord.inbox(BOB)) == []
    assert bodies(coord.inbox(CAROL)) == ["first", "second", "third"]
    assert bodies(coord.inbox(ALICE)) == ["third"]
    assert coord.inbox(CAROL) == []


def test_broadcasts_before_registration_are_not_delivered(coord: Coordinator) -> None:
    reg(coord, ALICE)
    coord.broadcast(ALICE, "before")
    coord.send(ALICE, ALICE, "note to self")
    reg(coord, BOB)
    assert coord.inbox(BOB) == []
    coord.broadcast(ALICE, "after")
    assert bodies(coord.inbox(BOB)) == ["after"]
    # history shows a session its own mail only
    assert bodies(coord.history(BOB)) == ["after"]
    assert bodies(coord.history()) == ["before", "note to self", "after"]


def test_mail_to_an_ended_session_stays_readable(coord: Coordinator) -> None:
    reg(coord, ALICE)
    reg(coord, BOB)
    coord.send(ALICE, BOB, "before end")
    coord.end(BOB)
    coord.send(ALICE, BOB[:8], "after end")  # ended sessions can still be addressed
    assert bodies(coord.inbox(BOB)) == ["before end", "after end"]
    queue = {row.session.session_id: row for row in coord.queue()}
    assert BOB not in queue


def test_broadcasts_after_end_are_no_backlog_of_an_ended_session(
        coord: Coordinator, clock: Clock) -> None:
    reg(coord, ALICE)
    reg(coord, BOB)
    coord.broadcast(ALICE, "while bob was live")
    clock.advance(1)
    coord.end(BOB)
    clock.advance(1)
    for n in range(3):
        coord.broadcast(ALICE, f"after bob ended {n}")
    coord.send(ALICE, BOB, "direct after end")
    rows = {row.session.session_id: row for row in coord.queue()}
    assert rows[BOB].unread == 2  # the missed broadcast and the direct message
    views = {v.session.session_id: v.unread for v in coord.sessions(include_ended=True)}
    assert views[BOB] == 2


def test_queue_counts_unread(coord: Coordinator, clock: Clock) -> None:
    reg(coord, ALICE)
    reg(coord, BOB)
    coord.send(ALICE, BOB, "one", urgent=True)
    clock.advance(30)
    coord.broadcast(ALICE, "two")
    coord.end(BOB)
    rows = {row.session.session_id: row for row in coord.queue()}
    assert rows[BOB].unread == 2 and rows[BOB].urgent == 1 and not rows[BOB].live
    assert rows[BOB].oldest_unread_age == 30
    assert rows[ALICE].unread == 0 and rows[ALICE].oldest_unread_age is None
    views = {v.session.session_id: v.unread for v in coord.sessions(include_ended=True)}
    assert views == {ALICE: 0, BOB: 2}


@pytest.mark.parametrize("body", ["", "   ", "\n\t \r\n", "\x07\x1b"])
def test_empty_body_refused(coord: Coordinator, body: str) -> None:
    reg(coord, ALICE)
    with pytest.raises(InvalidMessageError, match="empty"):
        coord.broadcast(ALICE, body)
    with coord.store.read() as view:
        assert view.last_seq() == 0


@pytest.mark.parametrize("body", ["nul\x00byte", "bad \udc80 utf8"])
def test_binary_body_refused(coord: Coordinator, body: str) -> None:
    reg(coord, ALICE)
    with pytest.raises(InvalidMessageError, match="binary"):
        coord.send(ALICE, ALICE, body)
    with coord.store.read() as view:
        assert view.last_seq() == 0


def test_body_length_limit(coord: Coordinator) -> None:
    reg(coord, ALICE)
    limit = coord.settings.max_message_chars
    assert len(coord.broadcast(ALICE, "x" * limit).body) == limit
    with pytest.raises(InvalidMessageError, match=f"{limit + 1} characters.*{limit}"):
        coord.broadcast(ALICE, "x" * (limit + 1))
    with coord.store.read() as view:
        assert view.last_seq() == 1


def test_control_characters_stripped_newline_tab_kept() -> None:
    assert clean_body("a\x07b\x1b[31mc\n\td\r\ne\x7f\x9b", 100) == "ab[31mc\n\td\ne"
    assert clean_body("  padded \n", 100) == "padded"


def test_addressed_to_and_ago() -> None:
    me = Session(session_id="me", registered_at=0, last_seen=0, registered_seq=5)
    assert addressed_to(Message(6, "other", "*", "b", 0), me)
    assert not addressed_to(Message(5, "other", "*", "b", 0), me)
    assert not addressed_to(Message(6, "me", "*", "b", 0), me)
    assert addressed_to(Message(1, "other", "me", "b", 0), me)
    assert not addressed_to(Message(9, "other", "you", "b", 0), me)
    assert [ago(s) for s in (-5, 59.9, 60, 3599, 3600, 86400 * 2)] == [
        "0s", "59s", "1m", "59m", "1h", "2d"]


# --- retention ------------------------------------------------------------------------
def keep(coord: Coordinator, n: int) -> None:
    coord.settings = coord.settings.replace(retention_messages=n)


def test_retention_waits_for_every_live_recipient(coord: Coordinator) -> None:
    keep(coord, 5)
    for sid in (ALICE, BOB, CAROL):
        reg(coord, sid)
    for i in range(12):
        coord.broadcast(ALICE, f"b{i}")
    assert coord.retain() == 0  # nobody but the sender has read anything
    coord.inbox(BOB)
    assert coord.retain() == 0  # carol has not
    render: Callable[[Message], str] = lambda m: "x" * 10  # noqa: E731
    shown = coord.deliver(CAROL, 30, render)
    assert len(shown.messages) == 3
    coord.confirm(shown)  # carol read b0..b2
    assert coord.retain() == 3
    with coord.store.read() as view:
        assert [m.body for m in view.messages_after(0)] == [f"b{i}" for i in range(3, 12)]
    coord.inbox(CAROL)
    assert coord.retain() == 4  # now only the last 5 stay live
    with coord.store.read() as view:
        assert view.message_count() == 5
    assert bodies(list(coord.store.archived_messages())) == [f"b{i}" for i in range(7)]
    assert bodies(coord.history(archived=True)) == [f"b{i}" for i in range(12)]
    assert bodies(coord.history()) == [f"b{i}" for i in range(7, 12)]
    assert bodies(coord.history(CAROL, archived=True)) == [f"b{i}" for i in range(12)]


def test_ended_recipients_do_not_hold_back_retention(coord: Coordinator) -> None:
    keep(coord, 2)
    reg(coord, ALICE)
    reg(coord, BOB)
    for i in range(5):
        coord.send(ALICE, BOB, f"d{i}")
    assert coord.retain() == 0
    coord.end(BOB)
    assert coord.retain() == 3
    assert bodies(coord.history(BOB, archived=True)) == [f"d{i}" for i in range(5)]


def test_sending_applies_retention_past_the_slack(coord: Coordinator) -> None:
    keep(coord, 5)
    reg(coord, ALICE)
    for i in range(15):  # slack is max(10, keep // 10) = 10 above keep
        coord.broadcast(ALICE, f"m{i}")
    with coord.store.read() as view:
        assert view.message_count() == 15
    coord.broadcast(ALICE, "m15")
    with coord.store.read() as view:
        assert view.message_count() == 5
    assert bodies(coord.history(archived=True)) == [f"m{i}" for i in range(16)]


# --- cleanup --------------------------------------------------------------------------
def snapshot(folder: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every entry under ``folder``: mode and content (None for folders)."""
    result: dict[str, tuple[int, bytes | None]] = {}
    for path in sorted(folder.rglob("*")):
        stat = path.lstat()
        content = None if path.is_dir() else path.read_bytes()
        result[str(path.relative_to(folder))] = (stat.st_mode, content)
    return result


def test_cleanup_dry_run_changes_nothing(coord: Coordinator, clock: Clock,
                                         state_dir: Path) -> None:
    keep(coord, 3)
    reg(coord, ALICE)
    reg(coord, BOB, pid=os.getpid())
    coord.acquire(ALICE, "src/a.py")
    coord.acquire(BOB, "src/b.py", ttl=10)
    for i in range(8):
        coord.broadcast(BOB, f"m{i}")
    coord.inbox(ALICE)
    clock.advance(coord.settings.session_ttl + 1)  # alice dead, bob's lease lapsed
    before = snapshot(state_dir)
    # Files that a plain read already changes (a database's shared-memory index) are
    # not state; everything else must stay byte for byte.
    coord.sessions(include_ended=True)
    coord.locks()
    coord.queue()
    coord.history()
    noise = {k for k, v in snapshot(state_dir).items() if before.get(k) != v}
    assert all(not k.endswith((".json", ".gz")) for k in noise)
    before = snapshot(state_dir)

    report = coord.cleanup(dry_run=True)
    after = snapshot(state_dir)
    assert {k: v for k, v in after.items() if k not in noise} == {
        k: v for k, v in before.items() if k not in noise}
    assert report["dry_run"] is True
    assert report["dead_sessions"] == [ALICE]
    assert sorted(report["expired_locks"]) == ["src/a.py", "src/b.py"]
    assert report["live_messages"] == 8 and report["would_archive_at_most"] == 5

    done = coord.cleanup(dry_run=False)
    assert done["archived"] == 5
    assert get(coord, ALICE).ended and not get(coord, BOB).ended
    assert coord.locks() == []
    with coord.store.read() as view:
        assert view.message_count() == 3


def test_retain_with_a_limit_archives_at_most_that_many(coord: Coordinator) -> None:
    keep = coord.settings.retention_messages
    reg(coord, ALICE)
    with coord.store.transaction() as tx:
        for n in range(keep + 30):
            tx.append_message(NewMessage(sender=ALICE, recipient=ALICE, body=f"m{n}",
                                         created_at=0.0))
    coord.inbox(ALICE)
    assert coord.retain(limit=7) == 7
    assert coord.retain() == 23
    assert coord.retain() == 0
