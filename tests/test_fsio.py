"""Durable writes, quarantine of corrupt records, and the flock mutex."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from coord_hooks.coordination import Coordinator
from coord_hooks.errors import StoreBusyError, StoreError
from coord_hooks.fsio import (
    FlockLock,
    atomic_write_bytes,
    quarantine,
    read_json_record,
    read_state_file,
    write_state_file,
)
from coord_hooks.model import Session
from coord_hooks.settings import Settings
from coord_hooks.store import Store

JSON_BACKENDS = ("legacy", "optimized")


def app_log(state_dir: Path) -> list[dict[str, object]]:
    path = state_dir / "logs" / "app.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def quarantined(state_dir: Path) -> list[Path]:
    folder = state_dir / "quarantine"
    return sorted(folder.iterdir()) if folder.exists() else []


# --- atomic writes --------------------------------------------------------------------
def test_atomic_write_replaces_and_is_private(tmp_path: Path) -> None:
    target = tmp_path / "rec.json"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two", durable=False)
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["rec.json"]  # no temp file left behind


def test_atomic_write_failure_names_the_path(tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "rec.json"
    with pytest.raises(StoreError, match=r"missing-dir/rec\.json"):
        atomic_write_bytes(target, b"x")
    assert os.listdir(tmp_path) == []


# --- quarantine -----------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "why"), [
    (b'{"session_id": "x", ', "invalid JSON"),
    (b"\xff\xfe not utf-8", "invalid JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b"", "invalid JSON"),
])
def test_corrupt_record_is_quarantined_with_a_warning(state_dir: Path, raw: bytes,
                                                      why: str) -> None:
    (state_dir / "sessions").mkdir(parents=True)
    bad = state_dir / "sessions" / "s1.json"
    bad.write_bytes(raw)
    assert read_json_record(bad, state_dir) is None
    assert not bad.exists()
    (moved,) = quarantined(state_dir)
    assert moved.read_bytes() == raw  # kept, never deleted
    assert moved.name.startswith("sessions__s1.json")
    (event,) = [e for e in app_log(state_dir) if e["event"] == "quarantined"]
    assert event["level"] == "warning" and event["path"] == str(bad)
    assert why in str(event["reason"]) and event["moved_to"] == str(moved)


def test_a_directory_where_a_record_belongs(state_dir: Path) -> None:
    (state_dir / "sessions" / "odd.json").mkdir(parents=True)
    assert read_json_record(state_dir / "sessions" / "odd.json", state_dir) is None
    assert [p.name.split(".")[0] for p in quarantined(state_dir)] == ["sessions__odd"]


def test_a_fifo_where_a_record_belongs_is_set_aside_never_waited_on(state_dir: Path) -> None:
    """Opening a FIFO blocks until a writer comes: inside the store lock that would stall
    every session's lock check. A planted one is quarantined at once, for a read and for
    a write (which then makes the file anew)."""
    (state_dir / "sessions").mkdir(parents=True)
    record = state_dir / "sessions" / "odd.json"
    os.mkfifo(record)
    assert read_json_record(record, state_dir) is None
    assert not record.exists()
    seq = state_dir / "seq.json"
    os.mkfifo(seq)
    write_state_file(seq, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, b"{}", state_dir)
    assert stat.S_ISREG(seq.lstat().st_mode) and seq.read_bytes() == b"{}"
    assert sorted(p.name.split(".")[0] for p in quarantined(state_dir)) == ["seq",
                                                                          "sessions__odd"]
    for q in quarantined(state_dir):
        assert stat.S_ISFIFO(q.lstat().st_mode)  # moved whole, not deleted
    os.mkfifo(tmp := state_dir / "loose")
    with pytest.raises(OSError):  # without a state dir to quarantine into: refused
        read_state_file(tmp)


def test_absent_and_valid_records(state_dir: Path) -> None:
    state_dir.mkdir()
    assert read_json_record(state_dir / "nope.json", state_dir) is None
    (state_dir / "ok.json").write_text('{"a": 1}')
    assert read_json_record(state_dir / "ok.json", state_dir) == {"a": 1}
    assert quarantined(state_dir) == []


def test_quarantining_the_same_path_twice_keeps_both(state_dir: Path) -> None:
    (state_dir / "sessions").mkdir(parents=True)
    bad = state_dir / "sessions" / "s1.json"
    for content in (b"first {", b"second {"):
        bad.write_bytes(content)
        assert quarantine(bad, state_dir, "test") is not None
    assert sorted(p.read_bytes() for p in quarantined(state_dir)) == [b"first {", b"second {"]


@pytest.mark.parametrize("backend", JSON_BACKENDS)
def test_commands_continue_past_corrupt_files(backend: str, state_dir: Path, tmp_path: Path,
                                              store_factory: Callable[..., Store]) -> None:
    for sub in ("sessions", "locks", "messages"):
        (state_dir / sub).mkdir(parents=True)
    good = Session(session_id="good", registered_at=1.0, last_seen=1.0)
    (state_dir / "sessions" / "good.json").write_text(json.dumps(good.to_dict()))
    (state_dir / "sessions" / "bad.json").write_text("{not json")
    (state_dir / "sessions" / "wrong.json").write_text('{"name": "no id"}')
    (state_dir / "locks" / "bad.json").write_text("[]")
    (state_dir / "messages" / f"{2:012d}.json").write_text("\x00\x01")
    (state_dir / "seq.json").write_text("garbage")
    store = store_factory(backend, state_dir)
    coord = Coordinator(store, Settings(), tmp_path, state_dir, clock=lambda: 2.0,
                        hostname="h")

    assert [v.session.session_id for v in coord.sessions()] == ["good"]
    assert coord.locks() == []
    coord.register("new", cwd=str(tmp_path))
    coord.broadcast("good", "still works")
    assert [m.body for m in coord.inbox("new")] == ["still works"]
    assert [m.body for m in coord.history()] == ["still works"]
    names = sorted(p.name.split(".json")[0] for p in quarantined(state_dir))
    assert names == ["locks__bad", f"messages__{2:012d}", "seq", "sessions__bad",
                     "sessions__wrong"]
    events = [e for e in app_log(state_dir) if e["event"] == "quarantined"]
    assert len(events) == 5 and all(e["level"] == "warning" for e in events)


# --- flock ----------------------------------------------------------------------------
def test_flock_excludes_and_times_out(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    holder = FlockLock(path, 1.0)
    with holder:
        with holder:  # re-entrant in one object
            pass
        with pytest.raises(StoreBusyError, match=str(path)):
            FlockLock(path, 0.05).acquire()
    with FlockLock(path, 0.05):  # released: free again
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_flock_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="missing"):
        FlockLock(tmp_path / "missing" / ".lock", 0.1).acquire()
