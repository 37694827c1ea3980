"""health.py: lazy housekeeping for hooks, disk usage, size history and growth."""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coord_hooks import health
from coord_hooks.context import Context, open_context


@pytest.fixture
def ctx(state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(tmp_path))
    context = open_context()
    yield context
    context.store.close()


def test_housekeep_runs_once_per_period_and_reaps_dead_sessions(ctx: Context) -> None:
    now = time.time()
    ctx.coordinator.register("dead0001-x", pid=2**22 + 7, pid_start="1")  # gone
    ctx.coordinator.acquire("dead0001-x", "a.py", cwd=str(ctx.project_root))

    first = health.maybe_housekeep(ctx, every=600, now=now)

    assert first is not None and first["reaped"] == ["dead0001-x"]
    assert ctx.coordinator.locks() == []
    assert first["sampled"] is True
    stamp = ctx.state_dir / "health" / health.STAMP_NAME
    assert stamp.stat().st_mtime == pytest.approx(now, abs=1)
    ctx.coordinator.register("dead0002-y", pid=2**22 + 9, pid_start="1")
    assert health.maybe_housekeep(ctx, every=600, now=now + 599) is None  # not due yet
    with ctx.store.read() as view:
        again = view.get_session("dead0002-y")
        assert again is not None and not again.ended
    later = health.maybe_housekeep(ctx, every=600, now=now + 601)
    assert later is not None and later["reaped"] == ["dead0002-y"]


def test_housekeep_is_skipped_while_another_process_has_the_claim(ctx: Context) -> None:
    folder = ctx.state_dir / "health"
    folder.mkdir(exist_ok=True)
    fd = os.open(folder / health.STAMP_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert health.maybe_housekeep(ctx, every=0.0) is None
    finally:
        os.close(fd)
    assert health.maybe_housekeep(ctx, every=0.0) is not None


def test_housekeep_archives_only_when_over_retention(ctx: Context,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(8):
        ctx.coordinator.broadcast(None, f"m{i}")
    monkeypatch.setattr(ctx, "settings", ctx.settings.replace(retention_messages=3))
    monkeypatch.setattr(ctx.coordinator, "settings", ctx.settings)
    done = health.maybe_housekeep(ctx, every=0.0)
    assert done is not None and done["archived"] == 5
    app_log = (ctx.state_dir / "logs" / "app.log").read_text()
    assert '"event": "housekeep"' in app_log  # it did something, so it says so


def test_housekeep_failure_is_logged_not_raised(ctx: Context,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> list[object]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ctx.coordinator, "reap", boom)
    assert health.maybe_housekeep(ctx, every=0.0) is None
    lines = (ctx.state_dir / "logs" / "app.log").read_text().splitlines()
    assert json.loads(lines[-1])["event"] == "housekeep_failed"


def test_state_usage_counts_by_top_level_folder(tmp_path: Path) -> None:
    (tmp_path / "messages").mkdir()
    (tmp_path / "messages" / "000000000001.json").write_bytes(b"x" * 100)
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "messages.jsonl.gz").write_bytes(b"y" * 1000)
    (tmp_path / "seq.json").write_bytes(b"z" * 10)
    (tmp_path / "link").symlink_to("/etc/passwd")  # not followed
    usage = health.state_usage(tmp_path)
    assert usage.by_dir["messages"] == 100 and usage.by_dir["archive"] == 1000
    assert usage.files == 4 and usage.bytes == 1110 + len("/etc/passwd")
    assert usage.live_bytes == usage.bytes - 1000  # the archive is not live data
    assert health.state_usage(tmp_path, limit=2).truncated


def test_size_history_is_rate_limited_and_growth_is_per_day(tmp_path: Path) -> None:
    t = 1_800_000_000.0
    assert health.record_sample(tmp_path, health.SizeSample(t, 1000, 1000, 5, 10))
    assert not health.record_sample(tmp_path, health.SizeSample(t + 30, 9, 9, 1, 1),
                                    min_interval=60)
    assert health.record_sample(tmp_path, health.SizeSample(t + 7200, 3000, 2000, 9, 30),
                                min_interval=60)
    samples = health.load_samples(tmp_path)
    assert [s.ts for s in samples] == [t, t + 7200]
    rate = health.growth(samples, t + 7200)
    assert rate.bytes_per_day == pytest.approx(1000 * 12)  # 1000 bytes in 2 h
    assert rate.messages_per_day == pytest.approx(20 * 12)
    assert health.growth(samples[:1], t).bytes_per_day is None
    short = [health.SizeSample(t, 1, 1, 1, 1), health.SizeSample(t + 60, 2, 2, 1, 1)]
    assert health.growth(short, t + 60).bytes_per_day is None  # under an hour says nothing


def test_size_history_stays_bounded(tmp_path: Path) -> None:
    t = 1_800_000_000.0
    for i in range(3_000):  # a sample a minute for two days
        health.record_sample(tmp_path, health.SizeSample(t + 60 * i, i, i, 1, 1))
    samples = health.load_samples(tmp_path)
    assert len(samples) <= health.COMPACT_AT + 1
    assert samples[-1].ts == t + 60 * 2_999  # the newest is never thinned away
    assert samples[0].ts <= t + 60 * 2_999 - 86_400  # and there is still a day of history
    path = tmp_path / "health" / health.HISTORY_NAME
    assert path.stat().st_mode & 0o777 == 0o600


def test_quarantine_report_lists_newest_first(tmp_path: Path) -> None:
    folder = tmp_path / "quarantine"
    folder.mkdir()
    for i, name in enumerate(("old.json.1", "new.json.2")):
        (folder / name).write_bytes(b"x" * (i + 1))
        os.utime(folder / name, (1_000 + i, 1_000 + i))
    report = health.quarantine_report(tmp_path, now=2_000)
    assert report["count"] == 2 and report["bytes"] == 3
    assert [f["name"] for f in report["files"]] == ["new.json.2", "old.json.1"]
    assert report["files"][0]["age_s"] == 999
    assert health.quarantine_report(tmp_path / "nowhere")["count"] == 0
