"""The logs the core writes (warnings, force releases, quarantine): format and size cap."""

from __future__ import annotations

import json
from pathlib import Path

from coord_hooks import logs


def test_log_event_writes_one_json_line(tmp_path: Path) -> None:
    logs.log_event(tmp_path, "warning", "force_release", key="src/a.py", owners=["s1"])
    (line,) = (tmp_path / "logs" / "app.log").read_text().splitlines()
    record = json.loads(line)
    assert record["level"] == "warning" and record["event"] == "force_release"
    assert record["key"] == "src/a.py" and record["owners"] == ["s1"]
    assert isinstance(record["ts"], float) and isinstance(record["pid"], int)
    assert (tmp_path / "logs" / "app.log").stat().st_mode & 0o077 == 0


def test_rotation_caps_the_size_on_disk(tmp_path: Path) -> None:
    cap = 2_000
    for i in range(500):
        logs.log_event(tmp_path, "warning", "noise", max_bytes=cap, i=i, pad="x" * 50)
    folder = tmp_path / "logs"
    files = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert files == ["app.log", "app.log.1", "app.log.2"]  # the oldest generations dropped
    line = max(len(x) for x in (folder / "app.log").read_text().splitlines()) + 1
    for name in files:
        assert (folder / name).stat().st_size <= cap + line
    newest = json.loads((folder / "app.log").read_text().splitlines()[-1])
    assert newest["i"] == 499  # the newest lines are the ones kept


def test_logging_never_raises(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("a file where the folder should be")
    logs.log_event(tmp_path, "error", "boom")
    logs.log_performance(tmp_path, event="PreToolUse", ms=1.0)
