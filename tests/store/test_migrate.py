"""``coord migrate``: JSON ⇄ SQLite without losing sessions, locks, cursors or messages."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from coord_hooks.cli.app import run_cli
from coord_hooks.coordination import Coordinator
from coord_hooks.errors import LayoutChangedError, StoreBusyError, StoreError
from coord_hooks.model import NewMessage
from coord_hooks.settings import Settings
from coord_hooks.store import layout, open_store
from coord_hooks.store.jsonfiles import JsonFileStore
from coord_hooks.store.migrate import migrate
from coord_hooks.store.optimized import OptimizedStore
from coord_hooks.store.sqlite import SqliteStore

ALICE, BOB, CAROL, DAVE = (f"{n}-0000-1111-2222" for n in ("aaaa", "bbbb", "cccc", "dddd"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = Path(os.path.realpath(tmp_path / "project"))
    (root / "src").mkdir(parents=True)
    return root


def snapshot(state_dir: Path) -> dict[str, Any]:
    """Every record, read through the layout the dir holds now."""
    if layout.detect(state_dir) == "sqlite":
        store: Any = SqliteStore(state_dir)
    else:
        store = JsonFileStore(state_dir)
    with store.read() as view:
        doc = {
            "sessions": sorted(view.sessions(), key=lambda s: s.session_id),
            "locks": sorted(view.locks(), key=lambda lk: (lk.key, lk.owner)),
            "messages": view.messages_after(0),
            "last_seq": view.last_seq(),
            "count": view.message_count(),
            "waiters": sorted(view.waiters(), key=lambda w: (w.session_id, w.key)),
        }
    doc["archive"] = list(store.archived_messages())
    store.close()
    return doc


def build_json_state(state_dir: Path, project: Path, monkeypatch: pytest.MonkeyPatch
                     ) -> Coordinator:
    """A busy JSON state: ended session, cursors apart, globs, archive, queued broadcasts."""
    monkeypatch.setenv("BROADCAST_BATCH_SIZE", "50")  # keep the last broadcasts queued
    monkeypatch.setenv("BATCH_FLUSH_INTERVAL", "3600")
    store = open_store("optimized", state_dir)
    coord = Coordinator(store, Settings(retention_messages=5), project, state_dir)
    coord.register(ALICE, pid=os.getpid(), name="alice", task="parser")
    coord.register(BOB, name="bob", cwd=str(project))
    coord.register(CAROL, name="carol")
    coord.register(DAVE)
    coord.acquire(ALICE, "src/a.py", cwd=str(project), reason="refactor")
    coord.acquire(BOB, "docs/*.md", cwd=str(project))
    coord.acquire(CAROL, "README", cwd=str(project), exclusive=False)
    coord.acquire(DAVE, "README", cwd=str(project), exclusive=False)
    assert not coord.try_acquire(CAROL, "src/a.py", cwd=str(project)).granted  # waits
    for i in range(30):
        coord.send(ALICE, "bob", f"direct {i}", urgent=i % 7 == 0)
        if i == 20:
            coord.inbox(BOB)
    coord.end(DAVE)
    coord.inbox(CAROL)
    for i in range(4):
        coord.broadcast(CAROL, f"queued broadcast {i}")
    assert (state_dir / "broadcasts.jsonl").exists()  # really queued, not filed
    store.close()
    return coord


def test_round_trip_json_sqlite_json_keeps_everything(state_dir: Path, project: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    build_json_state(state_dir, project, monkeypatch)
    original = snapshot(state_dir)
    assert original["archive"] and original["messages"]
    assert len(original["locks"]) == 3  # dave ended: his lock went with him
    assert len({s.cursor for s in original["sessions"]}) > 1
    assert [(w.session_id, w.key) for w in original["waiters"]] == [(CAROL, "src/a.py")]

    to_sqlite = migrate(state_dir, "sqlite")
    assert to_sqlite.changed and to_sqlite.source == "json"
    assert layout.read_marker(state_dir) == "sqlite"
    assert snapshot(state_dir) == original
    assert to_sqlite.backup is not None and (to_sqlite.backup / "sessions").is_dir()
    assert not (state_dir / "sessions").exists()
    assert not (state_dir / "broadcasts.jsonl").exists()

    back = migrate(state_dir, "json")
    assert back.changed and back.source == "sqlite"
    assert layout.read_marker(state_dir) == "json"
    assert snapshot(state_dir) == original

    # And once more: the retired coord.db is moved aside, never overwritten or deleted.
    migrate(state_dir, "sqlite")
    assert snapshot(state_dir) == original
    kept = sorted(p.name for p in (state_dir / "migrated").iterdir())
    assert any(name.endswith("-coord.db") for name in kept)
    assert sum(name.endswith("-json") for name in kept) == 2

    # Coordination carries on: counters, cursors, unread counts as before.
    ctx_store = SqliteStore(state_dir)
    coord = Coordinator(ctx_store, Settings(), project, state_dir)
    assert coord.broadcast(None, "after").seq == original["last_seq"] + 1
    assert [m.body for m in coord.inbox(BOB)] == [
        *(f"direct {i}" for i in range(21, 30)),
        *(f"queued broadcast {i}" for i in range(4)), "after"]
    ctx_store.close()


def test_unread_mail_survives_the_move(state_dir: Path, project: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    coord = build_json_state(state_dir, project, monkeypatch)
    coord.store = open_store("optimized", state_dir)
    before = {r.session.session_id: (r.unread, r.urgent) for r in coord.queue()}
    coord.store.close()
    migrate(state_dir, "sqlite")
    coord.store = SqliteStore(state_dir)
    after = {r.session.session_id: (r.unread, r.urgent) for r in coord.queue()}
    assert after == before and before[BOB][0] > 0
    bob_mail = [m.body for m in coord.inbox(BOB)]
    assert bob_mail[-4:] == [f"queued broadcast {i}" for i in range(4)]
    assert coord.inbox(BOB) == []  # each once
    coord.store.close()


def test_dry_run_changes_nothing(state_dir: Path, project: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    build_json_state(state_dir, project, monkeypatch)
    def listing() -> list[str]:  # lock files aside: taking a lock may create its file
        return sorted(p.name for p in state_dir.iterdir() if not p.name.endswith(".lock"))

    before = listing()
    report = migrate(state_dir, "sqlite", dry_run=True)
    assert report.dry_run and report.counts["sessions"] == 4
    assert listing() == before
    assert layout.detect(state_dir) == "json"


def test_trivial_cases(state_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="nothing to migrate"):
        migrate(tmp_path / "missing", "sqlite")
    state_dir.mkdir()
    fresh = migrate(state_dir, "sqlite")  # an empty dir: only the choice is recorded
    assert fresh.changed and fresh.source is None
    assert layout.read_marker(state_dir) == "sqlite" and (state_dir / "coord.db").exists()
    again = migrate(state_dir, "sqlite")
    assert not again.changed and again.counts["sessions"] == 0


def test_waits_for_a_writer_and_includes_its_write(state_dir: Path) -> None:
    store = OptimizedStore(state_dir)
    with store.transaction() as tx:
        tx.append_message(NewMessage("human", "x", "first", 1.0))
    holding = threading.Event()

    def writer() -> None:
        with OptimizedStore(state_dir).transaction() as tx:
            holding.set()
            time.sleep(0.5)
            tx.append_message(NewMessage("human", "x", "written while migrate waited", 2.0))

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(10)
    started = time.monotonic()
    report = migrate(state_dir, "sqlite", lock_timeout=10)
    thread.join(10)
    assert time.monotonic() - started >= 0.3  # it waited for the lock
    assert report.counts["messages"] == 2
    assert [m.body for m in snapshot(state_dir)["messages"]][-1] == "written while migrate waited"


def test_refuses_when_a_json_writer_keeps_the_lock(state_dir: Path) -> None:
    OptimizedStore(state_dir)
    release = threading.Event()
    holding = threading.Event()

    def writer() -> None:
        with OptimizedStore(state_dir).transaction() as tx:
            tx.append_message(NewMessage("human", "x", "held", 1.0))
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        with pytest.raises(StoreBusyError, match=r"busy for 0\.2s"):
            migrate(state_dir, "sqlite", lock_timeout=0.2)
    finally:
        release.set()
        thread.join(10)
    assert layout.detect(state_dir) == "json" and not (state_dir / "coord.db").exists()


def test_refuses_when_a_sqlite_writer_keeps_the_lock(state_dir: Path) -> None:
    with SqliteStore(state_dir) as store, store.transaction() as tx:
        tx.append_message(NewMessage("human", "x", "one", 1.0))
    release, holding = threading.Event(), threading.Event()

    def writer() -> None:
        with SqliteStore(state_dir) as mine, mine.transaction() as tx:
            tx.append_message(NewMessage("human", "x", "held", 1.0))
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        with pytest.raises(StoreBusyError):
            migrate(state_dir, "json", lock_timeout=0.2)
    finally:
        release.set()
        thread.join(10)
    assert layout.detect(state_dir) == "sqlite" and not (state_dir / "sessions").exists()
    assert snapshot(state_dir)["count"] == 2


def test_writers_opened_before_the_move_refuse_afterwards(state_dir: Path) -> None:
    """A hook that waited for the lock while migrate ran must not write to the old layout."""
    legacy, optimized = open_store("legacy", state_dir), OptimizedStore(state_dir)
    with optimized.transaction() as tx:
        tx.append_message(NewMessage("human", "x", "one", 1.0))
    migrate(state_dir, "sqlite")
    for stale in (legacy, optimized):
        with pytest.raises(LayoutChangedError, match="moved to the sqlite layout"), \
                stale.transaction():
            pass  # pragma: no cover
    sqlite = SqliteStore(state_dir)
    with sqlite.transaction() as tx:  # opens its connection before the move back
        tx.append_message(NewMessage("human", "x", "two", 1.0))
    migrate(state_dir, "json")
    with pytest.raises(LayoutChangedError, match="migrated to the json layout"), \
            sqlite.transaction():
        pass  # pragma: no cover
    with pytest.raises(LayoutChangedError, match="migrated to the json layout"), sqlite.read():
        pass  # pragma: no cover
    sqlite.close()
    assert [m.body for m in snapshot(state_dir)["messages"]] == ["one", "two"]


def test_cli_migrate(state_dir: Path, project: Path, monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(project))
    monkeypatch.chdir(project)
    assert run_cli(["broadcast", "hello"]) == 0
    capsys.readouterr()
    assert run_cli(["migrate", "--to", "sqlite"]) == 0
    out = capsys.readouterr().out
    assert "moved" in out and "from json to sqlite" in out and "1 live message(s)" in out
    assert run_cli(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["backend"] == "sqlite"
    assert run_cli(["migrate", "--to", "sqlite", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] is False
    assert run_cli(["migrate", "--to", "postgres"]) == 2
    assert "use json, sqlite or redis" in capsys.readouterr().err
    assert run_cli(["migrate", "--to", "json", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["from"], doc["to"], doc["messages"]) == ("sqlite", "json", 1)


def test_backend_use_sqlite_and_an_existing_json_project(
        state_dir: Path, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from coord_hooks.ops import shims

    plugin = tmp_path / "plugin"
    shims.generate(plugin / "shims")
    monkeypatch.setenv("CLAUDE_PLUGIN_ROOT", str(plugin))
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(project))
    monkeypatch.chdir(project)
    assert run_cli(["broadcast", "hello"]) == 0  # JSON data (the default backend)
    capsys.readouterr()
    assert run_cli(["backend", "use", "sqlite"]) == 0
    out = capsys.readouterr().out
    assert os.readlink(plugin / "shims" / "hooks.sh") == "hooks-sqlite.sh"
    assert "a migration is needed here" in out
    assert "until you run `coord migrate --to sqlite`" in out
    assert run_cli(["backend", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["effective_hooks"] == "optimized"
    assert run_cli(["migrate", "--to", "sqlite"]) == 0
    capsys.readouterr()
    assert run_cli(["backend", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["effective_hooks"], doc["effective_cli"]) == ("sqlite", "sqlite")


def test_leftovers_of_a_json_backend_do_not_block_the_way_back(state_dir: Path) -> None:
    with SqliteStore(state_dir) as store, store.transaction() as tx:
        tx.append_message(NewMessage("human", "x", "kept", 1.0))
    for name in ("sessions", "locks", "messages"):
        (state_dir / name).mkdir()  # what a JSON store's constructor leaves
    (state_dir / "messages" / ".000000000009.json.123.tmp").write_text("{}")  # a torn write
    (state_dir / "broadcasts.jsonl").write_text("")
    report = migrate(state_dir, "json")
    assert report.changed
    assert [m.body for m in snapshot(state_dir)["messages"]] == ["kept"]
    strays = [p for p in (state_dir / "migrated").iterdir() if p.name.endswith("stray-json")]
    assert len(strays) == 1
    assert sorted(p.name for p in strays[0].iterdir()) == ["broadcasts.jsonl", "messages"]
