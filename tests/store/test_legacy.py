"""Legacy backend specifics: portalocker when it is there, the same flock when it is not."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coord_hooks.errors import StoreBusyError
from coord_hooks.fsio import FlockLock
from coord_hooks.store.jsonfiles import LegacyStore
from coord_hooks.store.layout import BACKEND_LAYOUT


def test_without_portalocker_legacy_still_excludes_other_writers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The hook shims may run an interpreter without site-packages (marketplace installs
    # run no pip): legacy must still lock, not fail open on ImportError.
    monkeypatch.setitem(sys.modules, "portalocker", None)
    store = LegacyStore(tmp_path / "state", lock_timeout=0.2)
    with (FlockLock(tmp_path / "state" / ".lock", timeout=1.0),
          pytest.raises(StoreBusyError), store.transaction()):
        pass
    with store.transaction() as tx:  # free again: it works
        assert tx.sessions() == []


def test_with_portalocker_legacy_excludes_a_plain_flock_holder(tmp_path: Path) -> None:
    pytest.importorskip("portalocker")
    store = LegacyStore(tmp_path / "state", lock_timeout=0.2)
    with (FlockLock(tmp_path / "state" / ".lock", timeout=1.0),
          pytest.raises(StoreBusyError), store.transaction()):
        pass


@pytest.mark.parametrize("backend", [b for b, kind in BACKEND_LAYOUT.items() if kind == "json"])
def test_a_damaged_counter_after_everything_was_archived_never_reuses_a_seq(
        tmp_path: Path, backend: str) -> None:
    """Issue 9, item 13: with seq.json damaged and no live message left, the next send
    got seq 1 again, and `messages --archived` (deduplicated by seq) hid it."""
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COORD_", "CLAUDE"))}
    env.update(COORD_STATE_DIR=str(state), COORD_BACKEND=backend,
               COORD_RETENTION_MESSAGES="0", COORD_CONFIG=str(tmp_path / "none.toml"))

    def coord(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "coord_hooks", *args], env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done

    for body in ("one", "two", "three"):
        coord("broadcast", body)
    assert "archived 3 of 3" in coord("cleanup").stdout
    assert os.listdir(state / "messages") == []
    (state / "seq.json").write_text('{"last_seq": 3')  # damaged: cut short
    shutil.rmtree(state / "index", ignore_errors=True)  # a cache: safe to delete

    assert coord("broadcast", "four").stdout.startswith("broadcast #4 ")
    listed = json.loads(coord("messages", "--archived", "--json").stdout)["messages"]
    assert [(m["seq"], m["body"]) for m in listed] == [
        (1, "one"), (2, "two"), (3, "three"), (4, "four")]
