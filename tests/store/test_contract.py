"""Contract tests for the `Store` protocol, written once and run on every backend.

Nothing here knows how a backend stores records: only `BACKENDS`, `open_store` and the
protocol in `coord_hooks.store.base`. A new backend added to `BACKENDS` runs this suite.
The only backend knowledge is `SHARED_STORAGE`: which backends read the same records
from one state directory (the JSON layout shared by legacy and optimized).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from coord_hooks.errors import StoreBusyError, StoreError
from coord_hooks.model import Lock, Message, NewMessage, Session, Waiter
from coord_hooks.store import BACKENDS, Store

StoreFactory = Callable[..., Store]

# Backends in one group read and write the same records on one state directory.
SHARED_STORAGE = ({"legacy", "optimized"},)


def _shares_storage(a: str, b: str) -> bool:
    return any(a in group and b in group for group in SHARED_STORAGE)


SHARED_PAIRS = [(a, b) for a, b in itertools.permutations(sorted(BACKENDS), 2)
                if _shares_storage(a, b)]


def make_session(session_id: str, **changes: object) -> Session:
    session = Session(session_id=session_id, registered_at=100.5, last_seen=200.25,
                      name="alice", task="refactor the parser", pid=4242,
                      pid_start="987654", hostname="box", cwd="/p/sub", project_dir="/p",
                      model="opus", source="startup", cursor=7, registered_seq=3,
                      ended_at=None, end_reason="", last_midturn=150.0,
                      delivery={"acked": [9, 12], "part": [8, 4000],
                                "offers": [{"id": "box:1:2:3.5", "seqs": [10], "waits": ["a"]}]},
                      idle_since=180.5)
    for key, value in changes.items():
        setattr(session, key, value)
    return session


def make_lock(key: str, owner: str, **changes: object) -> Lock:
    lock = Lock(key=key, owner=owner, acquired_at=10.0, renewed_at=20.0, ttl=1800.0,
                exclusive=True, is_glob=False, reason="editing", agent_id="")
    for name, value in changes.items():
        setattr(lock, name, value)
    return lock


def new_message(body: str, sender: str = "s1", recipient: str = "*",
                urgent: bool = False) -> NewMessage:
    return NewMessage(sender=sender, recipient=recipient, body=body, created_at=1000.0,
                      sender_name="alice", urgent=urgent)


def append(store: Store, *bodies: str) -> list[Message]:
    with store.transaction() as tx:
        return [tx.append_message(new_message(body)) for body in bodies]


@pytest.fixture
def store(backend_name: str, store_factory: StoreFactory, state_dir: Path) -> Store:
    return store_factory(backend_name, state_dir)


@pytest.fixture
def reopen(backend_name: str, store_factory: StoreFactory,
           state_dir: Path) -> Callable[[], Store]:
    """A second, independent instance of the same backend on the same state dir."""
    return lambda: store_factory(backend_name, state_dir)


# --- empty store ----------------------------------------------------------------------
def test_empty_store_has_nothing(store: Store, backend_name: str) -> None:
    with store.read() as view:
        assert view.sessions() == []
        assert view.locks() == []
        assert view.messages_after(0) == []
        assert view.last_seq() == 0
        assert view.message_count() == 0
        assert view.get_session("nobody") is None
    assert list(store.archived_messages()) == []
    assert store.info().backend == backend_name


def test_open_without_create_refuses_missing_dir(backend_name: str, store_factory: StoreFactory,
                                                  tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "state"
    with pytest.raises(StoreError, match="nope"):
        store_factory(backend_name, missing, create=False)
    assert not missing.exists()


# --- sessions -------------------------------------------------------------------------
def test_session_round_trip(store: Store, reopen: Callable[[], Store]) -> None:
    alice = make_session("11111111-aaaa")
    bob = make_session("22222222-bbbb", name="", task="", pid=None, pid_start=None,
                       ended_at=300.0, end_reason="dead", cursor=0)
    with store.transaction() as tx:
        tx.put_session(alice)
        tx.put_session(bob)
        assert tx.get_session(alice.session_id) == alice  # read your own writes
    for instance in (store, reopen()):
        with instance.read() as view:
            assert view.get_session(alice.session_id) == alice
            assert view.get_session(bob.session_id) == bob
            assert sorted(view.sessions(), key=lambda s: s.session_id) == [alice, bob]


def test_put_session_replaces(store: Store) -> None:
    with store.transaction() as tx:
        tx.put_session(make_session("s1", cursor=1))
    with store.transaction() as tx:
        tx.put_session(make_session("s1", cursor=9, name="bob"))
    with store.read() as view:
        assert [(s.cursor, s.name) for s in view.sessions()] == [(9, "bob")]


@pytest.mark.parametrize("session_id", [
    "../escape", "a/b", "..", ".hidden", "with space", "ünïcødé-ß", "x" * 300, "a\\b",
    "-leading-dash", "trailing.json",
])
def test_any_session_id_round_trips(store: Store, reopen: Callable[[], Store],
                                    session_id: str, state_dir: Path) -> None:
    with store.transaction() as tx:
        tx.put_session(make_session(session_id))
        tx.put_session(make_session("plain"))
    with reopen().read() as view:
        assert view.get_session(session_id) == make_session(session_id)
        assert sorted(s.session_id for s in view.sessions()) == sorted([session_id, "plain"])
    # Nothing escaped the state directory.
    assert not (state_dir.parent / "escape").exists()
    assert not (state_dir.parent / "escape.json").exists()


# --- locks ----------------------------------------------------------------------------
def test_lock_put_list_delete(store: Store, reopen: Callable[[], Store]) -> None:
    a = make_lock("src/a.py", "s1")
    a2 = make_lock("src/a.py", "s2", exclusive=False)
    glob = make_lock("src/**/*.py", "s1", is_glob=True, agent_id="agent-7",
                     agent_type="general-purpose", ttl=60.0)
    outside = make_lock("/abs/outside/ü.txt", "s3", reason="")
    with store.transaction() as tx:
        for lock in (a, a2, glob, outside):
            tx.put_lock(lock)

    def current(instance: Store) -> list[Lock]:
        with instance.read() as view:
            return sorted(view.locks(), key=lambda lk: (lk.key, lk.owner))

    assert current(reopen()) == sorted([a, a2, glob, outside], key=lambda lk: (lk.key, lk.owner))
    with store.transaction() as tx:
        tx.delete_lock("src/a.py", "s1")
        tx.delete_lock("src/a.py", "nobody")  # absent: a no-op
        tx.delete_lock("never/locked", "s1")
        assert sorted(lk.owner for lk in tx.locks() if lk.key == "src/a.py") == ["s2"]
    assert current(reopen()) == sorted([a2, glob, outside], key=lambda lk: (lk.key, lk.owner))


def test_fencing_tokens_grow_and_survive_renewal(store: Store,
                                                 reopen: Callable[[], Store]) -> None:
    """A backend gives no fences (all 0), or gives every new grant a larger one."""
    first, other = make_lock("src/a.py", "s1"), make_lock("src/b.py", "s2")
    with store.transaction() as tx:
        tx.put_lock(first)
        tx.put_lock(other)
    if first.fence == 0:  # a backend without fencing tokens
        assert other.fence == 0
        return
    assert 0 < first.fence < other.fence
    renewed = make_lock("src/a.py", "s1", renewed_at=99.0, reason="renewed")
    with store.transaction() as tx:
        tx.put_lock(renewed)  # the same owner renews: the grant keeps its token
        tx.delete_lock("src/b.py", "s2")
    assert renewed.fence == first.fence
    again = make_lock("src/b.py", "s2")
    with store.transaction() as tx:
        tx.put_lock(again)  # a new grant on a freed key: larger than any before
    assert again.fence > other.fence
    restored = make_lock("src/c.py", "s3", fence=again.fence + 100)
    with store.transaction() as tx:
        tx.put_lock(restored)  # a migration copies a token as it is ...
    with reopen().transaction() as tx:
        assert tx.get_lock("src/c.py", "s3") == restored
        later = make_lock("src/d.py", "s3")
        tx.put_lock(later)
    assert later.fence > restored.fence  # ... and later tokens stay above it


def test_put_lock_replaces_same_key_and_owner(store: Store) -> None:
    with store.transaction() as tx:
        tx.put_lock(make_lock("k", "s1", renewed_at=20.0))
    with store.transaction() as tx:
        tx.put_lock(make_lock("k", "s1", renewed_at=99.0, exclusive=False))
    with store.read() as view:
        assert [(lk.renewed_at, lk.exclusive) for lk in view.locks()] == [(99.0, False)]


def test_a_subagent_lock_changes_hands_in_place(store: Store,
                                                reopen: Callable[[], Store]) -> None:
    # One record per (key, owner): a subagent taking its parent's lock and handing it
    # back at SubagentStop rewrite that record (coordination.locks); every backend keeps
    # who holds it.
    with store.transaction() as tx:
        tx.put_lock(make_lock("src/a.py", "s1"))
    with store.transaction() as tx:
        tx.put_lock(make_lock("src/a.py", "s1", agent_id="a16c0a5686fa4c219",
                              agent_type="Explore"))
    with reopen().read() as view:
        assert [(lk.agent_id, lk.agent_type) for lk in view.locks()] == [
            ("a16c0a5686fa4c219", "Explore")]
    with store.transaction() as tx:
        tx.put_lock(make_lock("src/a.py", "s1"))
    with reopen().read() as view:
        assert [(lk.owner, lk.agent_id, lk.agent_type) for lk in view.locks()] == [
            ("s1", "", "")]


# --- waiters (lock hand-off) ---------------------------------------------------------
def test_waiters_put_list_delete(store: Store, reopen: Callable[[], Store]) -> None:
    w1 = Waiter(session_id="s1", key="src/a.py", since=10.5, holder="s9")
    w2 = Waiter(session_id="s1", key="/abs/ü [x].py", since=11.0, holder="s8")
    w3 = Waiter(session_id="odd/id", key="src/a.py", since=12.0, holder="s9")
    with store.transaction() as tx:
        for waiter in (w1, w2, w3):
            tx.put_waiter(waiter)
        assert sorted(tx.waiters("s1"), key=lambda w: w.since) == [w1, w2]  # own writes
    for instance in (store, reopen()):
        with instance.read() as view:
            assert sorted(view.waiters("s1"), key=lambda w: w.since) == [w1, w2]
            assert view.waiters("odd/id") == [w3]
            assert view.waiters("nobody") == []
            assert sorted(view.waiters(), key=lambda w: w.since) == [w1, w2, w3]
    with store.transaction() as tx:
        tx.put_waiter(Waiter(session_id="s1", key="src/a.py", since=99.0, holder="s7"))
        tx.delete_waiter("s1", "/abs/ü [x].py")
        tx.delete_waiter("s1", "never/waited")  # absent: a no-op
    with reopen().read() as view:
        assert view.waiters("s1") == [Waiter(session_id="s1", key="src/a.py", since=99.0,
                                             holder="s7")]
        assert len(view.waiters()) == 2


def test_session_delivery_state_round_trips_and_defaults_empty(
        store: Store, reopen: Callable[[], Store]) -> None:
    plain = Session(session_id="s2", registered_at=1.0, last_seen=2.0)
    assert plain.delivery == {}
    with store.transaction() as tx:
        tx.put_session(plain)
        tx.put_session(make_session("s1"))
    with reopen().read() as view:
        assert view.get_session("s2") == plain
        state = view.get_session("s1")
        assert state is not None and state.delivery == make_session("s1").delivery


# --- messages -------------------------------------------------------------------------
def test_append_gives_increasing_seq(store: Store, reopen: Callable[[], Store]) -> None:
    first = append(store, "one", "two")
    assert [m.seq for m in first] == [1, 2]
    with store.transaction() as tx:
        assert tx.last_seq() == 2
        third = tx.append_message(new_message("three", recipient="s9", urgent=True))
        assert third.seq == 3
        assert tx.last_seq() == 3
    other = reopen()
    assert [m.seq for m in append(other, "four")] == [4]
    with store.read() as view:
        assert view.last_seq() == 4
        assert view.message_count() == 4


def test_message_fields_round_trip(store: Store, reopen: Callable[[], Store]) -> None:
    body = "line one\n\tindented — ünïcødé \"quoted\" {json}"
    with store.transaction() as tx:
        stored = tx.append_message(NewMessage(sender="human", recipient="s2", body=body,
                                              created_at=1234.5, sender_name="me (human)",
                                              urgent=True))
    assert stored == Message(seq=1, sender="human", recipient="s2", body=body,
                             created_at=1234.5, sender_name="me (human)", urgent=True)
    with reopen().read() as view:
        assert view.messages_after(0) == [stored]


def test_messages_after_order_and_limit(store: Store) -> None:
    append(store, *(f"m{i}" for i in range(1, 8)))
    with store.read() as view:
        assert [m.seq for m in view.messages_after(0)] == [1, 2, 3, 4, 5, 6, 7]
        assert [m.body for m in view.messages_after(4)] == ["m5", "m6", "m7"]
        assert [m.seq for m in view.messages_after(2, limit=3)] == [3, 4, 5]
        assert [m.seq for m in view.messages_after(6, limit=10)] == [7]
        assert view.messages_after(7) == []
        assert view.messages_after(100) == []


def test_seq_is_never_reused_after_archiving_everything(store: Store,
                                                        reopen: Callable[[], Store]) -> None:
    append(store, "a", "b", "c")
    with store.transaction() as tx:
        assert tx.archive_messages(3) == 3
        assert tx.message_count() == 0
        assert tx.last_seq() == 3
    fresh = reopen()
    with fresh.read() as view:
        assert view.last_seq() == 3
    assert [m.seq for m in append(fresh, "d")] == [4]


def test_archive_moves_messages(store: Store, reopen: Callable[[], Store]) -> None:
    originals = append(store, *(f"m{i}" for i in range(1, 7)))
    with store.transaction() as tx:
        assert tx.archive_messages(2) == 2
        assert [m.seq for m in tx.messages_after(0)] == [3, 4, 5, 6]
    with store.transaction() as tx:
        assert tx.archive_messages(2) == 0  # already archived: not archived twice
        assert tx.archive_messages(4) == 2
        assert tx.archive_messages(0) == 0
    with store.read() as view:
        assert view.message_count() == 2
        assert view.last_seq() == 6
        assert [m.seq for m in view.messages_after(0)] == [5, 6]
    for instance in (store, reopen()):
        assert list(instance.archived_messages()) == originals[:4]


def test_archive_beyond_last_seq_takes_what_exists(store: Store) -> None:
    originals = append(store, "a", "b")
    with store.transaction() as tx:
        assert tx.archive_messages(10) == 2
    assert list(store.archived_messages()) == originals
    assert [m.seq for m in append(store, "c")] == [3]


# --- transactions ---------------------------------------------------------------------
def test_exception_in_transaction_propagates_and_releases(
        backend_name: str, store_factory: StoreFactory, state_dir: Path) -> None:
    store = store_factory(backend_name, state_dir, lock_timeout=2.0)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.transaction():
        raise Boom()
    # The store lock was released: another instance gets it at once.
    other = store_factory(backend_name, state_dir, lock_timeout=0.5)
    assert [m.seq for m in append(other, "after")] == [1]


def test_transactions_exclude_each_other(backend_name: str, store_factory: StoreFactory,
                                         state_dir: Path) -> None:
    store_factory(backend_name, state_dir)  # create the state dir
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            mine = store_factory(backend_name, state_dir)
            with mine.transaction() as tx:
                tx.append_message(new_message("held"))
                holding.set()
                release.wait(10)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            holding.set()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        waiter = store_factory(backend_name, state_dir, lock_timeout=0.3)
        with pytest.raises(StoreBusyError), waiter.transaction():
            pass  # pragma: no cover - must not get here
    finally:
        release.set()
        thread.join(10)
    assert not errors
    # Once released, the waiter sees the holder's write and continues the sequence.
    assert [m.seq for m in append(waiter, "next")] == [2]


def test_concurrent_transactions_serialise(backend_name: str, store_factory: StoreFactory,
                                           state_dir: Path) -> None:
    store_factory(backend_name, state_dir)
    per_thread, threads = 15, 4
    seqs: list[int] = []
    errors: list[BaseException] = []
    guard = threading.Lock()

    def work() -> None:
        try:
            mine = store_factory(backend_name, state_dir)
            for i in range(per_thread):
                with mine.transaction() as tx:
                    session = tx.get_session("counter") or make_session("counter", cursor=0)
                    session.cursor += 1  # read-modify-write: lost updates would show
                    tx.put_session(session)
                    seq = tx.append_message(new_message(f"{threading.get_ident()}-{i}")).seq
                with guard:
                    seqs.append(seq)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not errors
    total = per_thread * threads
    assert sorted(seqs) == list(range(1, total + 1))
    with store_factory(backend_name, state_dir).read() as view:
        counter = view.get_session("counter")
        assert counter is not None and counter.cursor == total
        assert view.message_count() == total


# --- store-level operations -----------------------------------------------------------
def test_flush_and_dry_run_maintenance_keep_records(store: Store,
                                                    reopen: Callable[[], Store]) -> None:
    lock = make_lock("k", "s1")
    with store.transaction() as tx:
        tx.put_session(make_session("s1"))
        tx.put_lock(lock)
        tx.append_message(new_message("hello"))
    assert store.flush() >= 0
    assert isinstance(store.maintenance(dry_run=True), dict)
    with reopen().read() as view:
        assert view.sessions() == [make_session("s1")]
        assert view.locks() == [lock]  # with the fence it was given, if any
        assert [m.body for m in view.messages_after(0)] == ["hello"]
    assert isinstance(store.maintenance(dry_run=False), dict)
    with reopen().read() as view:
        assert [m.body for m in view.messages_after(0)] == ["hello"]


def test_close_then_reopen(backend_name: str, store_factory: StoreFactory,
                           state_dir: Path) -> None:
    first = store_factory(backend_name, state_dir)
    append(first, "kept")
    first.close()
    with store_factory(backend_name, state_dir).read() as view:
        assert [m.body for m in view.messages_after(0)] == ["kept"]


# --- one state dir, several backends --------------------------------------------------
@pytest.mark.parametrize(("writer_name", "reader_name"), SHARED_PAIRS,
                         ids=[f"{a}->{b}" for a, b in SHARED_PAIRS])
def test_records_read_identically_across_backends(
        writer_name: str, reader_name: str, store_factory: StoreFactory,
        state_dir: Path) -> None:
    writer = store_factory(writer_name, state_dir)
    sessions = [make_session("11111111-aaaa"), make_session("odd/id", ended_at=5.0)]
    locks = [make_lock("src/a.py", "11111111-aaaa"),
             make_lock("docs/**", "odd/id", is_glob=True, exclusive=False)]
    with writer.transaction() as tx:
        for session in sessions:
            tx.put_session(session)
        for lock in locks:
            tx.put_lock(lock)
        tx.put_waiter(Waiter(session_id="odd/id", key="src/a.py", since=3.0,
                             holder="11111111-aaaa"))
        messages = [tx.append_message(new_message(f"m{i}", urgent=i % 2 == 0))
                    for i in range(5)]
        tx.archive_messages(2)
    writer.flush()

    reader = store_factory(reader_name, state_dir)
    with reader.read() as view:
        assert sorted(view.sessions(), key=lambda s: s.session_id) == sorted(
            sessions, key=lambda s: s.session_id)
        assert sorted(view.locks(), key=lambda lk: lk.key) == sorted(locks, key=lambda lk: lk.key)
        assert view.messages_after(0) == messages[2:]
        assert view.last_seq() == 5
        assert view.waiters("odd/id") == [Waiter(session_id="odd/id", key="src/a.py",
                                                 since=3.0, holder="11111111-aaaa")]
    assert list(reader.archived_messages()) == messages[:2]

    # And back: the reader continues the same sequence and the writer sees it.
    with reader.transaction() as tx:
        assert tx.append_message(new_message("from reader")).seq == 6
        tx.delete_lock("src/a.py", "11111111-aaaa")
    reader.flush()
    with writer.transaction() as tx:
        assert [m.body for m in tx.messages_after(5)] == ["from reader"]
        assert [lk.key for lk in tx.locks()] == ["docs/**"]
