"""coordination.housekeeping: the lazy reaping, retention and size sampling hooks run."""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coord_hooks.context import Context, open_context
from coord_hooks.coordination import housekeeping


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

    first = ctx.coordinator.maybe_housekeep(every=600, now=now)

    assert first is not None and first["reaped"] == ["dead0001-x"]
    assert ctx.coordinator.locks() == []
    assert first["sampled"] is True
    stamp = ctx.state_dir / "health" / housekeeping.STAMP_NAME
    assert stamp.stat().st_mtime == pytest.approx(now, abs=1)
    ctx.coordinator.register("dead0002-y", pid=2**22 + 9, pid_start="1")
    assert ctx.coordinator.maybe_housekeep(every=600, now=now + 599) is None  # not due yet
    with ctx.store.read() as view:
        again = view.get_session("dead0002-y")
        assert again is not None and not again.ended
    later = ctx.coordinator.maybe_housekeep(every=600, now=now + 601)
    assert later is not None and later["reaped"] == ["dead0002-y"]


def test_housekeep_is_skipped_while_another_process_has_the_claim(ctx: Context) -> None:
    folder = ctx.state_dir / "health"
    folder.mkdir(exist_ok=True)
    fd = os.open(folder / housekeeping.STAMP_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert ctx.coordinator.maybe_housekeep(every=0.0) is None
    finally:
        os.close(fd)
    assert ctx.coordinator.maybe_housekeep(every=0.0) is not None


def test_housekeep_archives_only_when_over_retention(ctx: Context,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(8):
        ctx.coordinator.broadcast(None, f"m{i}")
    monkeypatch.setattr(ctx, "settings", ctx.settings.replace(retention_messages=3))
    monkeypatch.setattr(ctx.coordinator, "settings", ctx.settings)
    done = ctx.coordinator.maybe_housekeep(every=0.0)
    assert done is not None and done["archived"] == 5
    app_log = (ctx.state_dir / "logs" / "app.log").read_text()
    assert '"event": "housekeep"' in app_log  # it did something, so it says so


def test_housekeep_failure_is_logged_not_raised(ctx: Context,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> list[object]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ctx.coordinator, "reap", boom)
    assert ctx.coordinator.maybe_housekeep(every=0.0) is None
    lines = (ctx.state_dir / "logs" / "app.log").read_text().splitlines()
    assert json.loads(lines[-1])["event"] == "housekeep_failed"
