"""health.py: disk usage, size history, growth and the quarantine report."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coord_hooks import health


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
