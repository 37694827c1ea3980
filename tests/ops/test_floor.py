"""Hooks against the interpreter's own start (`coord_hooks.ops.floor`): what the CI guard
measures, and that the guard can fail.

The guard itself (``./benchmark.sh --check``) runs in tests/ops/test_floor_guard.py.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from coord_hooks.model import Session
from coord_hooks.ops import bench, floor
from coord_hooks.paths import PLUGIN_ROOT
from coord_hooks.procs import is_same_process


def test_the_floor_world_has_live_sessions_and_working_calls(tmp_path: Path) -> None:
    world = floor.FloorWorld(tmp_path, bench.Sizes(4, 30, 20), sys.executable, seed=1)
    try:
        folder = world.state_dir / "sessions"
        sessions = [Session.from_dict(json.loads((folder / n).read_bytes()))
                    for n in os.listdir(folder)]
        assert len(sessions) == 4
        assert all(is_same_process(s.pid, s.pid_start) for s in sessions)
        labels = [label for label, *_ in world.calls(sys.executable)]
        assert labels == [floor.FLOOR, *floor.HOOKS]
    finally:
        world.close()
    assert not any(is_same_process(s.pid, s.pid_start) for s in sessions)


def test_a_floor_measurement_reports_every_hook_against_the_floor() -> None:
    # another checkout's hooks run in the same rounds (here: this one again), ungated
    config = floor.FloorConfig(sizes=bench.Sizes(4, 30, 40), rounds=2,
                               compare={"again": PLUGIN_ROOT})
    result = floor.measure(config)
    assert result["failures"] == []
    assert result["floor"]["p50_ms"] > 0 and len(result["floor"]["samples_ms"]) == 2
    assert set(result["hooks"]) == {*floor.HOOKS, *(f"again: {h}" for h in floor.HOOKS)}
    assert not any(result["hooks"][f"again: {h}"]["gated"] for h in floor.HOOKS)
    for entry in result["hooks"].values():
        assert entry["ratio_p50"] > 1.0  # a hook is that interpreter, plus bash, plus work
    text = floor.format_report(result)
    assert "pre-tool-use (Bash, harmless)" in text and "load" in text


def test_the_guard_fails_past_its_bound_and_retries_once() -> None:
    config = floor.FloorConfig(sizes=bench.Sizes(3, 10, 10), rounds=2, max_ratio=1.0)
    attempts = floor.check(config)
    assert len(attempts) == 2  # one retry, no more
    assert not attempts[-1]["passed"]
    assert set(attempts[-1]["over_bound"]) == {k for k, gated in floor.HOOKS.items() if gated}
    assert "FAILED" in floor.format_report(attempts[-1])
