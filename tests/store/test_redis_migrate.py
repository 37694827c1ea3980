"""``coord migrate --to redis`` and back, on a real server: nothing lost in any direction."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from coord_hooks.cli.app import run_cli
from coord_hooks.coordination import Coordinator
from coord_hooks.errors import StoreError
from coord_hooks.model import NewMessage, Session
from coord_hooks.settings import Settings, load_settings
from coord_hooks.store import layout, open_store
from coord_hooks.store.jsonfiles import JsonFileStore
from coord_hooks.store.migrate import migrate
from coord_hooks.store.redis import RedisStore
from coord_hooks.store.sqlite import SqliteStore

ALICE, BOB, CAROL = (f"{n}-0000-1111-2222" for n in ("aaaa", "bbbb", "cccc"))

pytestmark = pytest.mark.usefixtures("redis_project")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = Path(os.path.realpath(tmp_path / "project"))
    (root / "src").mkdir(parents=True)
    return root


def snapshot(state_dir: Path) -> dict[str, Any]:
    """Every record through the layout the dir holds now (fences aside: redis gives them)."""
    which = layout.detect(state_dir)
    store: Any = {"sqlite": SqliteStore, "redis": RedisStore}.get(which or "", JsonFileStore)(
        state_dir)
    with store.read() as view:
        locks = sorted(view.locks(), key=lambda lk: (lk.key, lk.owner))
        for lk in locks:
            lk.fence = 0
        doc = {
            "sessions": sorted(view.sessions(), key=lambda s: s.session_id),
            "locks": locks,
            "messages": view.messages_after(0),
            "last_seq": view.last_seq(),
            "count": view.message_count(),
        }
    doc["archive"] = list(store.archived_messages())
    store.close()
    return doc


def build_state(backend: str, state_dir: Path, project: Path) -> None:
    store = open_store(backend, state_dir)
    coord = Coordinator(store, Settings(retention_messages=5), project, state_dir)
    coord.register(ALICE, pid=os.getpid(), name="alice", task="parser")
    coord.register(BOB, name="bob", cwd=str(project))
    coord.register(CAROL, name="carol")
    coord.acquire(ALICE, "src/a.py", cwd=str(project), reason="refactor")
    coord.acquire(BOB, "docs/*.md", cwd=str(project))
    for i in range(25):
        coord.send(ALICE, "bob", f"direct {i}", urgent=i % 7 == 0)
        if i == 18:
            coord.inbox(BOB)
    coord.broadcast(CAROL, "to all")
    coord.end(CAROL)
    store.close()


def test_json_redis_sqlite_redis_json_keeps_everything(state_dir: Path, project: Path) -> None:
    build_state("optimized", state_dir, project)
    original = snapshot(state_dir)
    assert original["archive"] and original["messages"] and len(original["locks"]) == 2

    to_redis = migrate(state_dir, "redis", project_root=project)
    assert to_redis.changed and to_redis.source == "json" and not to_redis.joined
    assert layout.read_marker(state_dir) == "redis"
    assert not (state_dir / "sessions").exists() and to_redis.backup is not None
    assert (to_redis.backup / "sessions").is_dir()  # moved, not deleted
    assert snapshot(state_dir) == original  # the archive was copied into redis too
    assert to_redis.archived == len(original["archive"])

    # Coordination carries on at the next sequence number; locks now carry fences.
    store = open_store("redis", state_dir)
    coord = Coordinator(store, Settings(), project, state_dir)
    assert all(lv.lock.fence > 0 for lv in coord.locks())
    assert coord.broadcast(None, "on redis").seq == original["last_seq"] + 1
    store.close()
    on_redis = snapshot(state_dir)

    to_sqlite = migrate(state_dir, "sqlite")
    assert to_sqlite.source == "redis" and layout.read_marker(state_dir) == "sqlite"
    assert snapshot(state_dir) == on_redis
    # Another clone still on redis: its writers now refuse instead of writing nowhere.
    other = open_store("redis", state_dir.parent / "other-clone")
    with pytest.raises(StoreError, match="migrated away"), other.transaction() as tx:
        tx.put_session(Session("late", 1.0, 1.0))

    back = migrate(state_dir, "redis")  # a retired namespace is set aside and refilled
    assert back.source == "sqlite" and not back.joined
    assert snapshot(state_dir) == on_redis
    with other.transaction() as tx:  # the namespace is live again
        assert {s.session_id for s in tx.sessions()} == {ALICE, BOB, CAROL}
    other.close()

    to_json = migrate(state_dir, "json")
    assert to_json.source == "redis" and layout.read_marker(state_dir) == "json"
    assert snapshot(state_dir) == on_redis
    with JsonFileStore(state_dir).read() as view:
        assert [m.body for m in view.messages_after(on_redis["last_seq"] - 1)] == ["on redis"]


def test_a_second_clone_joins(state_dir: Path, project: Path, tmp_path: Path) -> None:
    build_state("optimized", state_dir, project)
    migrate(state_dir, "redis", project_root=project)
    second = tmp_path / "clone-b" / ".claude-coordination"
    second.parent.mkdir()  # a clone exists before its state dir does
    with open_store("sqlite", second).transaction() as tx:
        tx.put_session(Session("b-only", 1.0, 1.0))
    with pytest.raises(StoreError, match="--join"):
        migrate(second, "redis")
    assert layout.read_marker(second) == "sqlite"  # refused: nothing changed
    joined = migrate(second, "redis", join=True)
    assert joined.joined and joined.counts["sessions"] == 3
    assert layout.read_marker(second) == "redis"
    assert snapshot(second)["sessions"] == snapshot(state_dir)["sessions"]
    import sqlite3

    kept = sqlite3.connect(second / "coord.db")  # kept, retired, never deleted
    assert kept.execute("SELECT session_id FROM sessions").fetchall() == [("b-only",)]
    assert kept.execute("SELECT value FROM meta WHERE key = 'retired'").fetchone() == ("redis",)
    kept.close()


def test_a_fresh_clone_just_points_at_redis(state_dir: Path) -> None:
    state_dir.mkdir()
    report = migrate(state_dir, "redis")
    assert report.source is None and layout.read_marker(state_dir) == "redis"


def test_an_interrupted_copy_blocks_writers_until_it_is_redone(state_dir: Path,
                                                               project: Path) -> None:
    build_state("sqlite", state_dir, project)
    from coord_hooks.store import redis_migrate

    original = redis_migrate.RedisWriter.restore_message
    calls = 0

    def crash(self: Any, message: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 5:
            self.checkpoint()  # some chunks are in, then the process dies
            raise KeyboardInterrupt
        original(self, message)

    redis_migrate.RedisWriter.restore_message = crash  # type: ignore[method-assign]
    try:
        with pytest.raises(KeyboardInterrupt):
            migrate(state_dir, "redis")
    finally:
        redis_migrate.RedisWriter.restore_message = original  # type: ignore[method-assign]
    assert layout.read_marker(state_dir) == "sqlite"  # the commit point was not reached
    writer = open_store("redis", state_dir.parent / "elsewhere")
    with pytest.raises(StoreError, match="interrupted"), writer.transaction():
        pass
    before = snapshot(state_dir)
    migrate(state_dir, "redis")
    assert snapshot(state_dir) == before


def test_migrating_away_waits_for_a_redis_writer(state_dir: Path) -> None:
    store = open_store("redis", state_dir)
    with store.transaction() as tx:
        tx.append_message(NewMessage("human", "x", "first", 1.0))
    holding = threading.Event()

    def writer() -> None:
        with open_store("redis", state_dir).transaction() as tx:
            holding.set()
            time.sleep(0.5)
            tx.append_message(NewMessage("human", "x", "written while migrate waited", 2.0))

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(10)
    report = migrate(state_dir, "json", lock_timeout=10)
    thread.join(10)
    assert report.counts["messages"] == 2
    assert snapshot(state_dir)["messages"][-1].body == "written while migrate waited"


def test_the_cli(state_dir: Path, project: Path, capsys: pytest.CaptureFixture[str],
                 monkeypatch: pytest.MonkeyPatch) -> None:
    build_state("optimized", state_dir, project)
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(project))
    assert run_cli(["migrate", "--to", "sqlite", "--join"]) == 2
    assert "--join only goes with --to redis" in capsys.readouterr().err
    assert run_cli(["migrate", "--to", "redis", "--dry-run"]) == 0
    assert "dry run: would move" in capsys.readouterr().out
    assert run_cli(["migrate", "--to", "redis"]) == 0
    out = capsys.readouterr().out
    assert "from json to redis" in out and "in the redis archive" in out
    assert "backend redis" in out
    assert run_cli(["migrate", "--to", "json"]) == 0
    assert "kept on the server, retired" in capsys.readouterr().out
    assert load_settings(None).backend == "optimized"  # the marker decides, not the config
