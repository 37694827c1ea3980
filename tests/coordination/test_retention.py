"""Coordinator.cleanup as maintenance: what --dry-run predicts, and that it changes nothing."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coord_hooks.coordination import Coordinator
from coord_hooks.settings import Settings
from coord_hooks.store import Store

T0 = 1_800_000_000.0
LIVE = "live0001-aaaa"
IDLE = "idle0002-bbbb"
GONE = "gone0003-cccc"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now




def snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every path under ``root``: kind, mode and full content (or link target)."""
    result: dict[str, tuple[Any, ...]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            st = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                result[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                result[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                result[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_mtime_ns,
                               path.read_bytes())
    return result


def crafted(store: Store, state_dir: Path, clock: Clock, pids: Callable[[], int]
            ) -> Coordinator:
    """Dead session holding a lock, an idle live session with a lapsed lock, a live
    session, messages over retention (some held back by unread mail), a quarantined file."""
    settings = Settings(retention_messages=20, session_ttl=900.0, lock_ttl=600.0)
    coord = Coordinator(store, settings, state_dir.parent, state_dir, clock=clock,
                        hostname="test-host")
    coord.register(GONE, name="gone")  # no pid: liveness by heartbeat age
    coord.acquire(GONE, "src/gone.py", cwd=str(state_dir.parent))
    coord.register(IDLE, pid=pids(), name="idle")
    coord.acquire(IDLE, "src/idle.py", cwd=str(state_dir.parent))
    for i in range(40):  # retention runs inline but GONE/IDLE have not read them yet
        coord.broadcast(None, f"note {i}")
    clock.now += 1_000  # GONE's heartbeat is now older than session_ttl; IDLE's lock lapsed
    coord.register(LIVE, pid=pids(), name="live")
    coord.inbox(IDLE)  # IDLE read everything: only what it had not read held retention
    (state_dir / "quarantine").mkdir(exist_ok=True)
    (state_dir / "quarantine" / "sessions__bad.json.1").write_bytes(b"{not json")
    return coord


def test_dry_run_changes_nothing_and_predicts_the_real_run(
        backend_name: str, store_factory: Callable[..., Store], tmp_path: Path,
        pids: Callable[[], int]) -> None:
    state_dir = tmp_path / "state"
    clock = Clock()
    coord = crafted(store_factory(backend_name, state_dir), state_dir, clock, pids)
    coord.sessions(include_ended=True)  # whatever a plain read caches, it has now
    coord.locks()
    before = snapshot(state_dir)

    plan = coord.cleanup(dry_run=True)

    assert snapshot(state_dir) == before, "--dry-run must not change a single byte"
    assert plan["dry_run"] is True
    assert plan["dead_sessions"] == [GONE]
    assert sorted(plan["expired_locks"]) == ["src/gone.py", "src/idle.py"]
    assert plan["live_messages"] == 40
    assert plan["would_archive"] == 20
    assert plan["quarantine"]["count"] == 1
    assert plan["quarantine"]["files"][0]["name"] == "sessions__bad.json.1"

    done = coord.cleanup(dry_run=False)

    assert done["reaped"] == plan["dead_sessions"]
    assert done["archived"] == plan["would_archive"]
    assert done["released_locks"] == 1  # the idle one; the dead one went with its session
    assert coord.locks() == []
    with coord.store.read() as view:
        assert view.message_count() == 20
        gone = view.get_session(GONE)
        assert gone is not None and gone.ended
    assert [m.seq for m in coord.store.archived_messages()] == list(range(1, 21))
    # The quarantine is reported, never emptied.
    assert (state_dir / "quarantine" / "sessions__bad.json.1").read_bytes() == b"{not json"

    again = coord.cleanup(dry_run=True)
    assert again["dead_sessions"] == [] and again["expired_locks"] == []
    assert again["would_archive"] == 0


def test_dry_run_on_a_clean_state_reports_nothing_to_do(
        backend_name: str, store_factory: Callable[..., Store], tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    coord = Coordinator(store_factory(backend_name, state_dir), Settings(), tmp_path,
                        state_dir)
    coord.register(LIVE, pid=os.getpid())
    plan = coord.cleanup(dry_run=True)
    assert plan["dead_sessions"] == [] and plan["expired_locks"] == []
    assert plan["would_archive"] == 0
    assert plan["quarantine"]["count"] == 0


def test_retention_held_back_by_a_live_reader_is_predicted_exactly(
        backend_name: str, store_factory: Callable[..., Store], tmp_path: Path,
        pids: Callable[[], int]) -> None:
    state_dir = tmp_path / "state"
    clock = Clock()
    coord = Coordinator(store_factory(backend_name, state_dir), Settings(retention_messages=5),
                        tmp_path, state_dir, clock=clock)
    coord.register(LIVE, pid=pids())
    coord.register(IDLE, pid=pids())
    for i in range(20):
        coord.send(None, LIVE if i < 12 else IDLE, f"m{i}")
    coord.inbox(LIVE)  # IDLE has not read m12..m19: 12 may go, the rest wait for IDLE
    plan = coord.cleanup(dry_run=True)
    assert plan["would_archive"] == 12
    assert plan["would_archive_at_most"] == 15
    assert coord.cleanup()["archived"] == 12


@pytest.mark.parametrize("dry_run", [True, False])
def test_cleanup_passes_dry_run_to_backend_maintenance(dry_run: bool, tmp_path: Path) -> None:
    calls: list[bool] = []

    class Spy:
        """Delegates to a real store; records maintenance calls."""

        def __init__(self, inner: Store) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def maintenance(self, dry_run: bool = False) -> dict[str, Any]:
            calls.append(dry_run)
            return {"compacted": 0 if dry_run else 3}

    from coord_hooks.store import open_store

    inner = open_store("optimized", tmp_path / "state")
    coord = Coordinator(Spy(inner), Settings(), tmp_path, tmp_path / "state")  # type: ignore[arg-type]
    report = coord.cleanup(dry_run=dry_run)
    assert calls == [dry_run]
    assert report["store"] == {"compacted": 0 if dry_run else 3}
    inner.close()
