"""logs.py: size-capped rotation, the configured cap, line cap, readers."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from coord_hooks import logs

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _restore_cap() -> Iterator[None]:
    yield
    logs.configure(logs.DEFAULT_MAX_BYTES)


def _sizes(folder: Path, name: str) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in logs.generations(folder / name) if p.exists()}


def test_rotation_caps_every_generation_and_drops_the_oldest(tmp_path: Path) -> None:
    cap = 2_000
    for i in range(1_000):
        logs.log_performance(tmp_path, max_bytes=cap, event="pre-tool-use", ms=i, n=i)
    folder = tmp_path / "logs"
    sizes = _sizes(folder, "performance.log")
    assert set(sizes) == {"performance.log", "performance.log.1", "performance.log.2"}
    line_len = max(len(line) for line in (folder / "performance.log").read_bytes().splitlines())
    for size in sizes.values():
        assert size <= cap + line_len + 1  # rotated before the write that would pass the cap
    assert sum(sizes.values()) <= (logs.KEEP_ROTATED + 1) * (cap + line_len + 1)
    assert not list(folder.glob("performance.log.3"))
    records = list(logs.read_records(folder / "performance.log"))
    numbers = [r["n"] for r in records]
    assert numbers == sorted(numbers), "generations are read oldest first"
    assert numbers[-1] == 999 and numbers[0] > 0, "newest kept, oldest dropped"


def test_configured_cap_applies_to_callers_that_pass_none(tmp_path: Path) -> None:
    logs.configure(1_500)
    for i in range(300):
        logs.log_event(tmp_path, "warning", "quarantined", path=f"/x/{i}")
    sizes = _sizes(tmp_path / "logs", "app.log")
    assert len(sizes) == 3
    assert max(sizes.values()) < 1_500 + 300


def test_zero_cap_disables_rotation(tmp_path: Path) -> None:
    for i in range(200):
        logs.log_event(tmp_path, "info", "x", max_bytes=0, i=i)
    assert list(_sizes(tmp_path / "logs", "app.log")) == ["app.log"]


def test_huge_field_is_truncated_to_the_line_cap(tmp_path: Path) -> None:
    logs.log_event(tmp_path, "error", "boom", detail="x" * 1_000_000)
    logs.log_event(tmp_path, "error", "nested", blob={"k": ["y" * 50_000]})
    raw = (tmp_path / "logs" / "app.log").read_bytes().splitlines()
    assert len(raw) == 2
    first, second = (json.loads(line) for line in raw)
    assert all(len(line) <= logs.MAX_LINE + 1 for line in raw)
    assert first["truncated"] is True and first["event"] == "boom"
    assert second["truncated"] is True and second["event"] == "nested"


def test_a_writer_waits_for_a_rotation_in_progress_and_does_not_rotate_again(
        tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    log = folder / "app.log"
    log.write_bytes(b"{}\n" * 1_000)  # over the cap
    (folder / "app.log.1").write_bytes(b"[]\n")
    lock_fd = os.open(folder / ".app.log.rotate", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock_fd, fcntl.LOCK_EX)  # we are "the other rotator"
    writer = threading.Thread(target=logs.log_event,
                              args=(tmp_path, "info", "waiting"), kwargs={"max_bytes": 100})
    writer.start()
    writer.join(0.3)
    assert writer.is_alive(), "a writer that finds the log full waits for the rotator"
    logs.rotate(log)  # the rotation the lock holder was doing
    os.close(lock_fd)
    writer.join(10)
    assert not writer.is_alive()
    # Exactly one rotation: a second one would have pushed the full log to .2 and lost
    # the generation the first rotator kept.
    assert (folder / "app.log.1").stat().st_size == 3_000
    assert (folder / "app.log.2").read_bytes() == b"[]\n"
    assert json.loads(log.read_bytes())["event"] == "waiting"


def test_concurrent_writers_stay_within_the_cap(tmp_path: Path) -> None:
    cap = 4_000
    code = ("import sys; from pathlib import Path; from coord_hooks import logs\n"
            "for i in range(400): logs.log_performance(Path(sys.argv[1]), max_bytes=int("
            "sys.argv[2]), event='stop', ms=1.5, i=i)\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(cap)], env=env)
             for _ in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    sizes = _sizes(tmp_path / "logs", "performance.log")
    # A writer that checked the size just before a rotation still appends one line to
    # the rotated file: the overshoot is at most one line per concurrent writer.
    assert 0 < max(sizes.values()) <= cap + 4 * 100
    for path in logs.generations(tmp_path / "logs" / "performance.log"):
        if path.exists():  # no torn lines: every line is whole JSON
            assert all(logs.parse_line(raw) is not None for raw in path.read_bytes().splitlines())


def test_read_records_skips_garbage_and_tail_reads_the_end(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    lines = [b"not json", b"[1, 2]", *(json.dumps({"ts": i, "ms": i}).encode()
                                     for i in range(100))]
    (folder / "performance.log").write_bytes(b"\n".join(lines) + b"\n")
    assert [r["ts"] for r in logs.read_records(folder / "performance.log")] == list(range(100))
    tail = list(logs.read_records(folder / "performance.log", tail_bytes=100))
    assert 0 < len(tail) < 10 and tail[-1]["ts"] == 99


@pytest.mark.parametrize(("record", "expected"), [
    ({"ms": 12.5}, 12.5), ({"duration_ms": 3}, 3.0), ({"elapsed_ms": 7}, 7.0),
    ({"duration": 0.25}, 250.0), ({"ms": True}, None), ({"event": "stop"}, None),
])
def test_duration_ms_accepts_the_usual_keys(record: dict[str, object],
                                            expected: float | None) -> None:
    assert logs.duration_ms(record) == expected


def test_event_name_prefers_hook_and_skips_the_log_event_name() -> None:
    assert logs.event_name({"event": "pre-tool-use"}) == "pre-tool-use"
    assert logs.event_name({"event": "slow_operation", "hook": "stop"}) == "stop"
    assert logs.event_name({"event": "slow_operation"}) == "?"


def test_ensure_logs_creates_private_empty_logs(tmp_path: Path) -> None:
    logs.ensure_logs(tmp_path)
    for name in (logs.APP_LOG, logs.PERFORMANCE_LOG):
        path = tmp_path / "logs" / name
        assert path.read_bytes() == b""
        assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "logs").stat().st_mode & 0o777 == 0o700
