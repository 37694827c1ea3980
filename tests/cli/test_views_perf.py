"""``coord status --cache / --cache-stats / --queue / --performance`` on real stores.

tests/test_cli.py checks the views' JSON keys with stand-in store details; here the
optimized backend's own cache statistics, batch journal and the hooks' performance log
feed them, so the figures must be the real ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from coord_hooks.cli.app import run_cli
from coord_hooks.coordination import Coordinator
from coord_hooks.settings import Settings
from coord_hooks.store import open_store

REPO = Path(__file__).resolve().parents[2]
ALICE = "aaaa1111-0000-4000-8000-0000000000a1"
BOB = "bbbb2222-0000-4000-8000-0000000000b2"
CACHE_KEYS = {"enabled", "ttl_s", "format", "location", "bytes", "generation",
              "snapshot_generation", "current", "age_s", "entries", "hits", "misses",
              "evictions", "rebuilds", "hit_ratio", "last_rebuild_age_s", "stats_since"}


def status(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    assert run_cli([*args]) == 0
    out = capsys.readouterr().out
    return json.loads(out) if "--json" in args else out


@pytest.fixture
def team(state_dir: Path, tmp_path: Path) -> Coordinator:
    store = open_store("optimized", state_dir)
    coord = Coordinator(store, Settings(), tmp_path, state_dir)
    coord.register(ALICE, name="alice")
    coord.register(BOB, name="bob")
    coord.acquire(ALICE, str(tmp_path / "src" / "a.py"), cwd=str(tmp_path))
    store.close()
    return coord


def test_cache_views_report_the_optimized_snapshot(team: Coordinator,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(3):
        status(capsys, "--backend", "optimized", "sessions", "--json")  # reads: hits
    doc = status(capsys, "--backend", "optimized", "status", "--cache", "--json")
    assert doc["available"] is True and doc["note"] is None and doc["cache_ttl_s"] == 30.0
    cache = doc["cache"]
    assert set(cache) == CACHE_KEYS
    assert cache["enabled"] is True and cache["current"] is True
    assert cache["entries"]["sessions"] == 2 and cache["entries"]["locks"] == 1
    assert cache["hits"] >= 3 and cache["rebuilds"] >= 1
    assert 0 < cache["hit_ratio"] <= 1 and cache["bytes"] > 0
    stats = status(capsys, "--backend", "optimized", "status", "--cache-stats", "--json")
    assert stats["cache"]["hits"] >= cache["hits"]
    table = status(capsys, "--backend", "optimized", "status", "--cache-stats")
    assert "hit_ratio" in table and "rebuilds" in table


def test_cache_ttl_zero_reports_the_cache_off(team: Coordinator,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHE_TTL", "0")
    doc = status(capsys, "--backend", "optimized", "status", "--cache-stats", "--json")
    assert doc["cache_ttl_s"] == 0.0
    assert doc["cache"]["enabled"] is False and doc["cache"]["ttl_s"] == 0.0


@pytest.mark.parametrize("reader", ["optimized", "legacy"])
def test_queue_view_shows_queued_broadcasts(team: Coordinator, state_dir: Path, reader: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    store = open_store("optimized", state_dir)
    coord = Coordinator(store, Settings(), team.project_root, state_dir)
    first = coord.broadcast(ALICE, "one")
    second = coord.broadcast(BOB, "two")
    store.close()
    doc = status(capsys, "--backend", reader, "status", "--queue", "--json")
    assert doc["pending_broadcasts"] == 2
    bob = next(q for q in doc["queue"] if q["session_id"] == BOB)
    assert bob["unread"] == 1  # queued broadcasts are unread mail like any other
    batch = doc["batch"]
    assert batch["pending"] == 2 and batch["batch_size"] == 10
    if reader == "optimized":
        assert batch["seqs"] == [first.seq, second.seq] and batch["oldest_age_s"] >= 0
    text = status(capsys, "--backend", reader, "status", "--queue")
    assert "broadcasts waiting in the batch queue: 2" in text
    # Filing the batch empties the queue view.
    open_store("optimized", state_dir).flush()
    after = status(capsys, "--backend", reader, "status", "--queue", "--json")
    assert after["pending_broadcasts"] == 0 and after["batch"]["pending"] == 0


def _hook(event: str, backend: str, payload: dict[str, Any], env: dict[str, str]) -> None:
    code = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
            "from coord_hooks.__main__ import main; main()")
    subprocess.run([sys.executable, "-c", code, str(REPO), "hook", event, "--backend", backend],
                   input=json.dumps(payload), text=True, env=env, capture_output=True,
                   timeout=120, check=True)


def test_performance_view_from_real_hook_runs(team: Coordinator, state_dir: Path,
                                              tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE")}
    env.update(COORD_STATE_DIR=str(state_dir), CLAUDE_PROJECT_DIR=str(tmp_path),
               COORD_SLOW_MS="0")  # every run is "slow": app.log gets slow_operation lines
    edit = {"session_id": BOB, "cwd": str(tmp_path), "hook_event_name": "PreToolUse",
            "tool_name": "Edit", "tool_input": {"file_path": str(tmp_path / "b.py")}}
    prompt = {"session_id": BOB, "cwd": str(tmp_path), "hook_event_name": "UserPromptSubmit",
              "prompt": "hi"}
    for backend in ("legacy", "optimized"):
        _hook("pre-tool-use", backend, edit, env)
        _hook("user-prompt-submit", backend, prompt, env)
    _hook("pre-tool-use", "optimized", edit, env)
    doc = status(capsys, "status", "--performance", "--json")
    assert doc["runs"] == 5 and doc["note"] is None
    # (events are logged under Claude Code's names)
    assert doc["events"]["PreToolUse"]["runs"] == 3
    assert doc["by_backend"]["optimized"]["PreToolUse"]["runs"] == 2
    assert doc["by_backend"]["legacy"]["UserPromptSubmit"]["runs"] == 1
    for stats in doc["events"].values():
        assert 0 < stats["p50_ms"] <= stats["p95_ms"] <= stats["max_ms"]
    assert doc["first_ts"] <= doc["last_ts"]
    assert len(doc["slow_operations"]) == 5
    assert {s["event"] for s in doc["slow_operations"]} == {"PreToolUse", "UserPromptSubmit"}
    table = status(capsys, "status", "--performance")
    assert "PreToolUse" in table and "recent slow operations" in table
