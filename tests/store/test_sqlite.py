"""SQLite backend: races across processes, kill -9, busy handling, corruption, schema.

The `Store` contract itself runs on sqlite through tests/store/test_contract.py; this
module covers what only a database file can get wrong. Multi-process tests fork
(Linux), each child opening its own store as a hook process would.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coord_hooks.coordination import Coordinator
from coord_hooks.errors import CorruptRecordError, StoreBusyError, StoreError
from coord_hooks.model import Lock, Message, NewMessage, Session
from coord_hooks.settings import Settings
from coord_hooks.store import sqlite as sqlite_store
from coord_hooks.store.sqlite import (
    LOCK_COLUMNS,
    MESSAGE_COLUMNS,
    MIGRATIONS,
    SCHEMA_VERSION,
    SESSION_COLUMNS,
    SqliteStore,
    translate_error,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="forks; reads /proc")
FORK = multiprocessing.get_context("fork")
RACE_PROCESSES = int(os.environ.get("COORD_RACE_PROCESSES", "16"))
RACE_ROUNDS = int(os.environ.get("COORD_RACE_ROUNDS", "200"))


def new_message(body: str, sender: str = "s1", recipient: str = "*") -> NewMessage:
    return NewMessage(sender=sender, recipient=recipient, body=body, created_at=1000.0)


def session(session_id: str, **changes: Any) -> Session:
    record = Session(session_id=session_id, registered_at=1.0, last_seen=2.0)
    for key, value in changes.items():
        setattr(record, key, value)
    return record


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = Path(os.path.realpath(tmp_path / "project"))
    root.mkdir()
    return root


@pytest.fixture
def store(state_dir: Path) -> Any:
    opened = SqliteStore(state_dir)
    yield opened
    opened.close()


def coordinator(state_dir: Path, project: Path, **settings: Any) -> Coordinator:
    store = SqliteStore(state_dir, lock_timeout=settings.pop("lock_timeout", 60.0))
    return Coordinator(store, Settings(**settings), project, state_dir)


def run_workers(target: Callable[..., None], count: int, *args: Any,
                timeout: float = 300.0) -> list[Any]:
    """Fork ``count`` workers ``target(index, *args, queue)``; return what each put."""
    queue = FORK.Queue()
    workers = [FORK.Process(target=target, args=(index, *args, queue)) for index in range(count)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=timeout) for _ in workers]
    for worker in workers:
        worker.join(timeout)
        assert worker.exitcode == 0, f"worker exited with {worker.exitcode}"
    return results


def init_db(state_dir: Path) -> None:
    """Create the database now (stores open it lazily, on first use)."""
    with SqliteStore(state_dir) as store, store.read():
        pass


def report(line: str) -> None:
    """Figures for the closing note (visible with -s; also in the junit/stdout logs)."""
    print(f"\n[sqlite figures] {line}")


# --- the lock race ------------------------------------------------------------------------
def _race_worker(index: int, state_dir: Path, project: Path, rounds: int,
                 barrier: Any, queue: Any) -> None:
    granted: list[int] = []
    errors: list[str] = []
    try:
        coord = coordinator(state_dir, project)
        sid = f"racer-{index:02d}"
        coord.register(sid, pid=os.getpid())
        for round_no in range(rounds):
            barrier.wait(120)
            # Half ask for a file, half for a pattern covering it: overlaps are decided
            # in the same transaction as plain equality.
            target = f"race/{round_no}/f.txt" if index % 2 == 0 else f"race/{round_no}/*.txt"
            try:
                if coord.try_acquire(sid, target, cwd=str(project)).granted:
                    granted.append(round_no)
            except Exception as exc:
                errors.append(repr(exc))
        # Stay alive until every racer is done: a holder that exits is dead, and the
        # locks of dead sessions rightly lapse at once.
        barrier.wait(120)
        coord.store.close()
    except BaseException as exc:
        errors.append(repr(exc))
    queue.put((index, granted, errors))


@pytest.mark.slow
def test_lock_race_exactly_one_grant_per_round(state_dir: Path, project: Path) -> None:
    init_db(state_dir)
    barrier = FORK.Barrier(RACE_PROCESSES)
    started = time.monotonic()
    results = run_workers(_race_worker, RACE_PROCESSES, state_dir, project, RACE_ROUNDS,
                          barrier)
    elapsed = time.monotonic() - started
    assert [e for _, _, e in results if e] == []
    winners: dict[int, list[int]] = {}
    for index, granted, _ in results:
        for round_no in granted:
            winners.setdefault(round_no, []).append(index)
    assert sorted(winners) == list(range(RACE_ROUNDS))
    assert all(len(w) == 1 for w in winners.values()), {
        r: w for r, w in winners.items() if len(w) != 1}
    with SqliteStore(state_dir) as check, check.read() as view:
        assert len(view.locks()) == RACE_ROUNDS
    report(f"lock race: {RACE_PROCESSES} processes x {RACE_ROUNDS} rounds, "
           f"{RACE_PROCESSES * RACE_ROUNDS} attempts, {sum(map(len, winners.values()))} "
           f"grants (1 per round), {elapsed:.1f}s")


# --- broadcast fan-out --------------------------------------------------------------------
def _fanout_worker(index: int, state_dir: Path, project: Path, per_process: int,
                   barrier: Any, queue: Any) -> None:
    got: list[str] = []
    errors: list[str] = []
    try:
        # A small retention keeps archiving running while sessions still read.
        coord = coordinator(state_dir, project, retention_messages=15)
        sid = f"fan-{index:02d}"
        coord.register(sid, pid=os.getpid())
        barrier.wait(60)  # everyone registered before the first broadcast

        def receive() -> None:
            if index % 2:
                got.extend(m.body for m in coord.inbox(sid))
            else:  # the hook path
                delivery = coord.deliver(sid, 10**9, lambda m: m.body)
                got.extend(m.body for m in delivery.messages)
                coord.confirm(delivery)

        for i in range(per_process):
            coord.broadcast(sid, f"{sid}#{i}")
            receive()
        barrier.wait(120)  # every broadcast sent
        receive()
        barrier.wait(120)  # nobody exits (and stops being live) before all have read
        coord.store.close()
    except BaseException as exc:
        errors.append(repr(exc))
    queue.put((index, got, errors))


@pytest.mark.slow
def test_broadcast_reaches_every_live_session_exactly_once(state_dir: Path,
                                                           project: Path) -> None:
    processes, per_process = 8, 25
    init_db(state_dir)
    started = time.monotonic()
    results = run_workers(_fanout_worker, processes, state_dir, project, per_process,
                          FORK.Barrier(processes))
    elapsed = time.monotonic() - started
    assert [e for _, _, e in results if e] == []
    everything = {f"fan-{i:02d}#{n}" for i in range(processes) for n in range(per_process)}
    for index, got, _ in results:
        expected = {b for b in everything if not b.startswith(f"fan-{index:02d}#")}
        assert len(got) == len(set(got)), f"fan-{index:02d} got a broadcast twice"
        assert set(got) == expected
    report(f"broadcast fan-out: {processes} processes x {per_process} broadcasts, each "
           f"received once by the {processes - 1} others, {elapsed:.1f}s")


# --- kill -9 --------------------------------------------------------------------------------
def _killable_writer(ident: str, state_dir: Path, ack_path: Path) -> None:
    store = SqliteStore(state_dir, lock_timeout=60)
    ack = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    i = 0
    while True:
        with store.transaction() as tx:
            message = tx.append_message(new_message(f"{ident}:{i}", sender=ident))
            tx.put_session(session(f"{ident}-{i % 3}", cursor=message.seq))
            tx.put_lock(Lock(key=f"{ident}/{i}", owner=ident, acquired_at=1.0,
                             renewed_at=1.0, ttl=60.0))
            tx.delete_lock(f"{ident}/{i - 2}", ident)
            if i % 40 == 39:
                tx.archive_messages(message.seq - 20)  # archive file + delete, killable too
        # Acknowledged only once the transaction committed.
        os.write(ack, f"{message.seq} {ident}:{i}\n".encode())
        i += 1


@pytest.mark.slow
def test_kill_9_during_writes_loses_no_acknowledged_write(state_dir: Path,
                                                          tmp_path: Path) -> None:
    init_db(state_dir)
    acks = tmp_path / "acks"
    acks.mkdir()
    for cycle in range(4):
        writers = [FORK.Process(target=_killable_writer,
                                args=(f"w{cycle}{n}", state_dir, acks / f"{cycle}{n}"))
                   for n in range(3)]
        for writer in writers:
            writer.start()
        time.sleep(0.4 + 0.15 * cycle)
        for writer in writers:
            assert writer.pid is not None
            os.kill(writer.pid, signal.SIGKILL)
        for writer in writers:
            writer.join(10)
            assert writer.exitcode == -signal.SIGKILL
    acknowledged: dict[int, str] = {}
    for path in acks.iterdir():
        for line in path.read_text().splitlines():
            seq, body = line.split(" ", 1)
            acknowledged[int(seq)] = body
    assert len(acknowledged) > 50  # the writers really wrote before being killed
    with SqliteStore(state_dir) as store:
        db = sqlite3.connect(store.path)
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        db.close()
        with store.read() as view:
            live = {m.seq: m.body for m in view.messages_after(0)}
            last = view.last_seq()
            cursors = {s.session_id: s.cursor for s in view.sessions()}
        archived = {m.seq: m.body for m in store.archived_messages()}
        for seq, body in acknowledged.items():
            assert live.get(seq, archived.get(seq)) == body, seq
        assert last >= max(acknowledged)
        # Each session record holds at least its last acknowledged cursor.
        newest: dict[str, int] = {}
        for seq, body in acknowledged.items():
            ident, i = body.split(":")
            sid = f"{ident}-{int(i) % 3}"
            newest[sid] = max(newest.get(sid, 0), seq)
        assert all(cursors[sid] >= seq for sid, seq in newest.items())
        with store.transaction() as tx:  # and it still takes writes
            assert tx.append_message(new_message("after")).seq == last + 1


# --- busy: never "database is locked" -----------------------------------------------------
def _hammer(index: int, state_dir: Path, project: Path, rounds: int, queue: Any) -> None:
    errors: list[str] = []
    try:
        coord = coordinator(state_dir, project, retention_messages=30)
        sid = f"hammer-{index}"
        coord.register(sid, pid=os.getpid())
        for i in range(rounds):
            try:
                target = f"shared/{i % 7}.txt"
                granted = coord.try_acquire(sid, target, cwd=str(project)).granted
                coord.broadcast(sid, f"{sid} {i}")
                coord.inbox(sid)
                coord.sessions()
                if granted:
                    coord.release(sid, target, cwd=str(project))
                if i % 25 == 0:
                    coord.store.maintenance()  # checkpoint + vacuum under load
            except Exception as exc:  # StoreBusyError, sqlite3.OperationalError, ...
                errors.append(repr(exc))
        coord.store.close()
    except BaseException as exc:
        errors.append(repr(exc))
    queue.put(errors)


@pytest.mark.slow
def test_processes_hammering_the_database_see_no_locked_errors(state_dir: Path,
                                                               project: Path) -> None:
    init_db(state_dir)
    results = run_workers(_hammer, 4, state_dir, project, 150)
    assert results == [[]] * 4


def _hold_write_lock(state_dir: Path, seconds: float, ready: Any) -> None:
    store = SqliteStore(state_dir)
    with store.transaction() as tx:
        tx.append_message(new_message("held"))
        ready.set()
        time.sleep(seconds)


def test_busy_database_raises_store_busy_error_not_sqlite_error(state_dir: Path) -> None:
    init_db(state_dir)
    ready = FORK.Event()
    holder = FORK.Process(target=_hold_write_lock, args=(state_dir, 2.0, ready))
    holder.start()
    try:
        assert ready.wait(30)
        waiter = SqliteStore(state_dir, lock_timeout=0.2)
        started = time.monotonic()
        with pytest.raises(StoreBusyError) as caught, waiter.transaction():
            pass  # pragma: no cover - must not get here
        assert time.monotonic() - started >= 0.15
        assert "busy for 0.2s" in str(caught.value)
        assert str(waiter.path) in str(caught.value)
        assert not isinstance(caught.value.__cause__, sqlite3.Error)
        # WAL: readers are never blocked by the writer (and see the last commit).
        with waiter.read() as view:
            assert view.messages_after(0) == []
        waiter.close()
    finally:
        holder.join(30)


def test_translate_error_maps_every_family(tmp_path: Path) -> None:
    path = tmp_path / "coord.db"
    busy = sqlite3.OperationalError("database is locked")
    assert isinstance(translate_error(busy, path, 3), StoreBusyError)
    corrupt = sqlite3.DatabaseError("database disk image is malformed")
    assert isinstance(translate_error(corrupt, path, 3), CorruptRecordError)
    notadb = sqlite3.DatabaseError("file is not a database")
    assert isinstance(translate_error(notadb, path, 3), CorruptRecordError)
    full = translate_error(sqlite3.OperationalError("database or disk is full"), path, 3)
    assert type(full) is StoreError and "disk is full" in str(full)
    other = translate_error(sqlite3.IntegrityError("UNIQUE constraint failed"), path, 3)
    assert type(other) is StoreError and str(path) in str(other)


def test_cli_reports_busy_database_in_one_line(state_dir: Path, project: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from coord_hooks.cli.app import run_cli

    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(project))
    monkeypatch.setenv("COORD_BACKEND", "sqlite")
    monkeypatch.setenv("COORD_STORE_LOCK_TIMEOUT", "0.2")
    assert run_cli(["broadcast", "hello"]) == 0
    ready = FORK.Event()
    holder = FORK.Process(target=_hold_write_lock, args=(state_dir, 3.0, ready))
    holder.start()
    try:
        assert ready.wait(30)
        capsys.readouterr()
        assert run_cli(["broadcast", "blocked"]) == 4
        err = capsys.readouterr().err
        assert "busy for 0.2s" in err and "Traceback" not in err
        assert "database is locked" not in err
    finally:
        holder.join(30)


# --- transactions and connections ---------------------------------------------------------
def test_exception_rolls_the_whole_transaction_back(store: SqliteStore) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.put_session(session("s1"))
        tx.append_message(new_message("gone"))
        raise RuntimeError("boom")
    with store.read() as view:
        assert view.sessions() == [] and view.last_seq() == 0 and view.message_count() == 0


def test_nested_transactions_and_reads_share_the_outer_one(store: SqliteStore) -> None:
    with store.transaction() as outer:
        outer.put_session(session("s1"))
        with store.transaction() as inner:
            assert inner is outer
        with store.read() as view:
            assert view.get_session("s1") is not None  # sees its own uncommitted write
    with store.read() as view, store.transaction() as tx:
        # A write inside a read uses its own connection; the read keeps its snapshot.
        tx.put_session(session("s2"))
        assert view.get_session("s1") is not None
    with store.read() as view:
        assert {s.session_id for s in view.sessions()} == {"s1", "s2"}


def test_threads_share_one_store_safely(store: SqliteStore) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(30):
                with store.transaction() as tx:
                    tx.append_message(new_message(f"{n}-{i}"))
                with store.read() as view:
                    view.messages_after(0, limit=5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with store.read() as view:
        assert [m.seq for m in view.messages_after(0)] == list(range(1, 121))


def _open_fds_to(path: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(path)):
            found.append(target)
    return found


def test_connections_are_opened_late_and_closed(state_dir: Path) -> None:
    store = SqliteStore(state_dir)
    db = state_dir / "coord.db"
    assert _open_fds_to(db) == []  # nothing opened by the constructor
    with store.transaction() as tx:
        tx.put_session(session("s1"))
    assert _open_fds_to(db) != []  # kept for the next transaction of this process
    store.close()
    assert _open_fds_to(db) == []
    with pytest.raises(RuntimeError), store.transaction():
        raise RuntimeError("boom")
    with store.read() as view:  # reopened lazily after close()
        assert view.get_session("s1") is not None
    del store, view
    import gc

    gc.collect()
    assert _open_fds_to(db) == []  # the finalizer closed it


def _child_uses_inherited_store(store: SqliteStore, queue: Any) -> None:
    try:
        with store.transaction() as tx:
            tx.append_message(new_message("from the child"))
        queue.put("ok")
    except BaseException as exc:  # pragma: no cover - reported below
        queue.put(repr(exc))


def test_forked_child_opens_its_own_connection(store: SqliteStore) -> None:
    with store.transaction() as tx:
        tx.append_message(new_message("from the parent"))
    queue = FORK.Queue()
    child = FORK.Process(target=_child_uses_inherited_store, args=(store, queue))
    child.start()
    assert queue.get(timeout=30) == "ok"
    child.join(30)
    with store.transaction() as tx:  # the parent's connection still works
        assert tx.append_message(new_message("parent again")).seq == 3


# --- schema ---------------------------------------------------------------------------------
def test_schema_columns_match_the_records(store: SqliteStore) -> None:
    with store.read():
        pass
    db = sqlite3.connect(store.path)
    try:
        for table, columns in (("sessions", SESSION_COLUMNS), ("locks", LOCK_COLUMNS),
                               ("messages", MESSAGE_COLUMNS)):
            names = tuple(r[1] for r in db.execute(f"PRAGMA table_info({table})"))
            extra = ("glob_prefix",) if table == "locks" else ()  # derived, for the index
            # Columns added by later migrations come after glob_prefix: order is free.
            assert sorted(names) == sorted(columns + extra), table
            assert len(names) == len(columns + extra), table
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"sessions_live", "locks_owner", "locks_glob_prefix",
                "messages_recipient"} <= indexes
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA auto_vacuum").fetchone() == (2,)  # incremental
        assert [r[0] for r in db.execute("SELECT name FROM _migrations")] == [
            m.__name__ for m in MIGRATIONS]
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        plan = " ".join(str(r) for r in db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM messages WHERE recipient = ? AND seq > ?",
            ("x", 0)))
        assert "messages_recipient" in plan
    finally:
        db.close()
    assert oct(os.stat(store.path).st_mode & 0o777) == "0o600"


def test_pending_migrations_run_once_and_are_recorded(state_dir: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with SqliteStore(state_dir) as store, store.transaction() as tx:
        tx.put_session(session("s1"))
    calls: list[str] = []

    def m999_add_note(db: sqlite3.Connection) -> None:
        calls.append("m999")
        db.execute("ALTER TABLE sessions ADD COLUMN note TEXT NOT NULL DEFAULT ''")

    monkeypatch.setattr(sqlite_store, "MIGRATIONS", [*MIGRATIONS, m999_add_note])
    monkeypatch.setattr(sqlite_store, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    for _ in range(2):
        with SqliteStore(state_dir) as store, store.read() as view:
            assert view.get_session("s1") is not None
    assert calls == ["m999"]
    db = sqlite3.connect(state_dir / "coord.db")
    assert [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")] == [
        *(m.__name__ for m in MIGRATIONS), "m999_add_note"]
    db.close()


def test_newer_schema_is_refused(state_dir: Path) -> None:
    init_db(state_dir)
    db = sqlite3.connect(state_dir / "coord.db")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.close()
    store = SqliteStore(state_dir)
    with pytest.raises(StoreError, match="newer than this coord-hooks"), store.read():
        pass  # pragma: no cover


def test_concurrent_creation_builds_one_database(state_dir: Path) -> None:
    state_dir.mkdir()
    results = run_workers(_create_and_write, 6, state_dir)
    assert sorted(results) == list(range(1, 7))
    with SqliteStore(state_dir) as store, store.read() as view:
        assert view.message_count() == 6
    assert [p.name for p in state_dir.iterdir() if p.name.endswith(".tmp")] == []


def _create_and_write(index: int, state_dir: Path, queue: Any) -> None:
    store = SqliteStore(state_dir, lock_timeout=30)
    with store.transaction() as tx:
        queue.put(tx.append_message(new_message(f"{index}")).seq)
    store.close()


# --- retention, maintenance, info ---------------------------------------------------------
def test_archive_shares_the_json_archive_and_vacuum_frees_pages(store: SqliteStore) -> None:
    from coord_hooks.store import archive

    with store.transaction() as tx:
        for i in range(400):
            tx.append_message(new_message(f"{i:04d} " + "x" * 500))
    with store.transaction() as tx:
        assert tx.archive_messages(390) == 390
        assert tx.message_count() == 10
    assert [m.seq for m in archive.read_archive(store.state_dir)] == list(range(1, 391))
    assert [m.seq for m in store.archived_messages()] == list(range(1, 391))
    before = store.info().details
    assert before["freelist_count"] > 0
    done = store.maintenance()
    assert done["pages_freed"] > 0 and done["wal_bytes_after"] == 0
    after = store.info().details
    assert after["freelist_count"] < before["freelist_count"]
    assert after["page_count"] < before["page_count"]
    assert store.maintenance(dry_run=True)["would"]


def test_info_reports_the_database(store: SqliteStore) -> None:
    with store.transaction() as tx:
        tx.put_session(session("s1"))
        tx.append_message(new_message("m"))
    info = store.info()
    assert info.backend == "sqlite" and info.location == str(store.path)
    details = info.details
    assert details["path"] == str(store.path) and details["size_bytes"] > 0
    assert details["page_count"] > 0 and details["page_size"] > 0
    assert details["migrations"] == [m.__name__ for m in MIGRATIONS]
    assert details["migrations"][:5] == ["m001_initial", "m002_glob_locks",
                                         "m003_glob_prefix", "m004_lock_fence",
                                         "m005_lock_agent_type"]
    assert (details["sessions"], details["live_messages"], details["last_seq"]) == (1, 1, 1)


def test_messages_for_a_recipient(store: SqliteStore) -> None:
    with store.transaction() as tx:
        tx.append_message(new_message("to a", recipient="a"))
        tx.append_message(new_message("all"))
        tx.append_message(new_message("to b", recipient="b"))
        tx.append_message(new_message("to a again", recipient="a"))
    with store.read() as view:
        assert [m.body for m in view.messages_for("a", 1)] == ["to a again"]
        assert [m.body for m in view.messages_for("*", 0)] == ["all"]


KEY_PARTS = st.sampled_from(["a", "b", "a.b", "ab", "a-", "*", "**", "?", "[ab]", "."])
KEYS = st.lists(KEY_PARTS, min_size=1, max_size=4).map("/".join) | st.sampled_from(
    [".", "/abs/a", "/abs", "a/", "a//b"])


@given(locks=st.lists(KEYS, max_size=12), key=KEYS)
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_locks_touching_is_a_superset_of_the_overlapping_locks(
        state_dir: Path, locks: list[str], key: str) -> None:
    from coord_hooks.coordination import globs

    with SqliteStore(state_dir) as store, store.transaction() as tx:
        for lock in tx.locks():
            tx.delete_lock(lock.key, lock.owner)
        for n, lock_key in enumerate(locks):
            tx.put_lock(Lock(key=lock_key, owner=f"o{n}", acquired_at=1.0, renewed_at=1.0,
                             ttl=9.0, is_glob=globs.is_glob(lock_key)))
        is_glob = globs.is_glob(key)
        near = {(lk.key, lk.owner) for lk in tx.locks_touching(key, is_glob)}
        for lock in tx.locks():
            if lock.key == key or globs.keys_overlap(lock.key, lock.is_glob, key, is_glob):
                assert (lock.key, lock.owner) in near, (lock.key, key)


def test_locks_touching_skips_unrelated_paths(store: SqliteStore) -> None:
    with store.transaction() as tx:
        for key in ("src/a.py", "src", "src/a.py/x", "src/ab.py", "docs/a.py", "src/*.md", ".",
                    "docs/**", "*.py", "src/a.py/*", "src/ab/*"):
            tx.put_lock(Lock(key=key, owner="o", acquired_at=1.0, renewed_at=1.0, ttl=9.0,
                             is_glob="*" in key))
        tx.db.execute("INSERT INTO locks (key, owner, acquired_at, renewed_at, ttl, is_glob) "
                      "VALUES ('by/hand/*', 'o', 1, 1, 9, 1)")  # no glob_prefix
        near = sorted(lk.key for lk in tx.locks_touching("src/a.py", False))
    assert near == sorted([".", "*.py", "by/hand/*", "src", "src/*.md", "src/a.py",
                           "src/a.py/*", "src/a.py/x"])


def test_locks_owned_by(store: SqliteStore) -> None:
    with store.transaction() as tx:
        for n in range(30):
            tx.put_lock(Lock(key=f"f{n}", owner=f"o{n % 3}", acquired_at=1.0, renewed_at=1.0,
                             ttl=9.0))
        assert sorted(lk.key for lk in tx.locks_owned_by("o1")) == sorted(
            f"f{n}" for n in range(1, 30, 3))
        assert tx.locks_owned_by("nobody") == []


def test_m003_fills_the_prefix_of_existing_patterns(state_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", MIGRATIONS[:2])
    monkeypatch.setattr(sqlite_store, "SCHEMA_VERSION", 2)
    with SqliteStore(state_dir) as store, store.transaction() as tx:
        tx.db.execute("INSERT INTO locks (key, owner, acquired_at, renewed_at, ttl, is_glob) "
                      "VALUES ('docs/area/**', 'o', 1, 1, 9, 1)")
    monkeypatch.undo()
    with SqliteStore(state_dir) as store, store.read() as view:
        assert view.db.execute("SELECT glob_prefix FROM locks").fetchall() == [("docs/area",)]
        assert [lk.key for lk in view.locks_touching("docs/area/x.md", False)] == [
            "docs/area/**"]
        assert view.locks_touching("src/x.md", False) == []


def test_m005_keeps_existing_locks_and_gives_them_no_agent_type(
        state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", MIGRATIONS[:4])
    monkeypatch.setattr(sqlite_store, "SCHEMA_VERSION", 4)
    monkeypatch.setattr(sqlite_store, "LOCK_SELECT",
                        "SELECT key, owner, acquired_at, renewed_at, ttl, exclusive, is_glob, "
                        "reason, agent_id, fence, '' FROM locks")
    with SqliteStore(state_dir) as store, store.transaction() as tx:
        tx.db.execute("INSERT INTO locks (key, owner, acquired_at, renewed_at, ttl, agent_id) "
                      "VALUES ('src/a.py', 'o', 1, 2, 9, 'agent-1')")
    monkeypatch.undo()
    with SqliteStore(state_dir) as store:
        with store.read() as view:
            [lock] = view.locks()
        assert (lock.key, lock.owner, lock.agent_id, lock.agent_type) == (
            "src/a.py", "o", "agent-1", "")
        with store.transaction() as tx:
            tx.put_lock(Lock(key="src/a.py", owner="o", acquired_at=1.0, renewed_at=3.0,
                             ttl=9.0, agent_id="agent-1", agent_type="Explore"))
        with store.read() as view:
            assert [lk.agent_type for lk in view.locks()] == ["Explore"]
    db = sqlite3.connect(state_dir / "coord.db")
    assert ("m005_lock_agent_type",) in db.execute(
        "SELECT name FROM _migrations ORDER BY rowid").fetchall()
    db.close()


# --- corruption -----------------------------------------------------------------------------
def _warnings(state_dir: Path) -> str:
    try:
        return (state_dir / "logs" / "app.log").read_text()
    except FileNotFoundError:
        return ""


def test_garbage_database_is_quarantined_and_replaced(state_dir: Path) -> None:
    init_db(state_dir)
    garbage = b"this is not a database at all\n" * 200
    (state_dir / "coord.db").write_bytes(garbage)
    store = SqliteStore(state_dir)
    with store.transaction() as tx:  # opens, notices, quarantines, starts fresh
        assert tx.append_message(new_message("works again")).seq == 1
    store.close()
    kept = list((state_dir / "quarantine").iterdir())
    assert [p.read_bytes() for p in kept if p.name.startswith("coord.db.")] == [garbage]
    assert "sqlite_corrupt_replaced" in _warnings(state_dir)


def _corrupt_message_pages(path: Path) -> None:
    db = sqlite3.connect(path)
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'messages'").fetchone()[0]
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    with open(path, "r+b") as handle:  # the messages b-tree's root: interior page
        handle.seek((root - 1) * page_size)
        handle.write(b"\xff" * page_size)


def test_damaged_database_keeps_what_can_be_read_and_never_reuses_seqs(
        state_dir: Path) -> None:
    with SqliteStore(state_dir) as store:
        with store.transaction() as tx:
            tx.put_session(session("alice", cursor=250))
            tx.put_lock(Lock(key="a.py", owner="alice", acquired_at=1.0, renewed_at=1.0,
                             ttl=60.0))
            for i in range(300):
                tx.append_message(new_message(f"{i} " + "y" * 300))
        store.maintenance()  # checkpoint: the rows are in the main file
    _corrupt_message_pages(state_dir / "coord.db")
    store = SqliteStore(state_dir)
    with pytest.raises(CorruptRecordError, match=r"moved to .*quarantine.*Run the command"
                       ), store.read() as view:
        view.messages_after(0)
    with store.read() as view:  # the fresh database
        assert [s.session_id for s in view.sessions()] == ["alice"]
        assert [lk.key for lk in view.locks()] == ["a.py"]
        assert view.last_seq() >= 250  # alice's cursor is never ahead of the counter
    with store.transaction() as tx:
        assert tx.append_message(new_message("next")).seq > 250
    store.close()
    assert any(p.name.startswith("coord.db.") for p in (state_dir / "quarantine").iterdir())


def _hold_connection(path: Path, ready: Any, done: Any) -> None:
    db = sqlite3.connect(path)
    db.execute("SELECT value FROM meta").fetchall()  # attaches to the WAL index
    ready.set()
    done.wait(30)
    db.close()


def test_damaged_database_open_elsewhere_is_left_in_place(state_dir: Path) -> None:
    with SqliteStore(state_dir) as store, store.transaction() as tx:
        for i in range(300):
            tx.append_message(new_message(f"{i} " + "y" * 300))
    with SqliteStore(state_dir) as store:
        store.maintenance()
    ready, done = FORK.Event(), FORK.Event()
    holder = FORK.Process(target=_hold_connection, args=(state_dir / "coord.db", ready, done))
    holder.start()
    try:
        assert ready.wait(30)
        _corrupt_message_pages(state_dir / "coord.db")
        store = SqliteStore(state_dir)
        with pytest.raises(CorruptRecordError, match="still open in another process"
                           ), store.read() as view:
            view.messages_after(0)
        assert (state_dir / "coord.db").exists()
        assert not (state_dir / "quarantine").exists()
    finally:
        done.set()
        holder.join(30)
    # Once it is closed, the next command that meets the damage moves it aside ...
    with pytest.raises(CorruptRecordError, match="moved to"), store.transaction() as tx:
        tx.append_message(new_message("fresh"))  # pragma: no cover
    assert (state_dir / "quarantine").exists()
    with store.transaction() as tx:  # ... and the one after works on the fresh database
        assert tx.append_message(new_message("fresh")).seq == 301
    store.close()


# --- the hook path ------------------------------------------------------------------------
def test_hook_path_imports_only_the_standard_library(state_dir: Path, project: Path) -> None:
    import subprocess

    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(root)!r})\n"
        "from coord_hooks.context import open_context\n"
        "ctx = open_context('sqlite')\n"
        "c = ctx.coordinator\n"
        "c.register('s-hook', pid=None)\n"
        "c.try_acquire('s-hook', 'a.py')\n"
        "c.confirm(c.deliver('s-hook', 1000, lambda m: m.body))\n"
        "ctx.store.close()\n"
        "std = sys.stdlib_module_names\n"
        "ours = {'coord_hooks', '__main__'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} - std - ours))\n"
        "print(ctx.backend)\n")
    env = {**os.environ, "COORD_STATE_DIR": str(state_dir), "CLAUDE_PROJECT_DIR": str(project)}
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], env=env, cwd=project,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.splitlines() == ["[]", "sqlite"]


def test_hook_shim_runs_the_sqlite_backend(state_dir: Path, project: Path) -> None:
    import json
    import subprocess

    shim = Path(__file__).resolve().parents[2] / "shims" / "hooks-sqlite.sh"
    env = {**os.environ, "COORD_STATE_DIR": str(state_dir), "CLAUDE_PROJECT_DIR": str(project),
           "COORD_PYTHON": sys.executable}

    def hook(event: str, payload: dict[str, Any]) -> str:
        return subprocess.run([str(shim), event], input=json.dumps(payload), env=env,
                              capture_output=True, text=True, timeout=60, check=True).stdout

    for sid in ("aaaa-1111", "bbbb-2222"):
        hook("session-start", {"session_id": sid, "hook_event_name": "SessionStart",
                               "source": "startup", "cwd": str(project)})
    edit = {"hook_event_name": "PreToolUse", "tool_name": "Edit", "cwd": str(project),
            "tool_input": {"file_path": str(project / "a.py")}}
    assert hook("pre-tool-use", {**edit, "session_id": "aaaa-1111"}) == ""
    denied = json.loads(hook("pre-tool-use", {**edit, "session_id": "bbbb-2222"}))
    assert denied["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert (state_dir / "coord.db").exists() and not (state_dir / "sessions").exists()


def test_message_round_trip_keeps_every_field(store: SqliteStore) -> None:
    original = NewMessage(sender="s1", recipient="s2", body="héllo\nwörld \x01 ☃",
                          created_at=1234.5678, sender_name="alice", urgent=True)
    with store.transaction() as tx:
        stored = tx.append_message(original)
    with store.read() as view:
        assert view.messages_after(0) == [stored]
    assert stored == Message(1, "s1", "s2", original.body, 1234.5678, "alice", True)
