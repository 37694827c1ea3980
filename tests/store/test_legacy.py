"""Legacy backend specifics: portalocker when it is there, the same flock when it is not."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from coord_hooks.errors import StoreBusyError
from coord_hooks.fsio import FlockLock
from coord_hooks.store.jsonfiles import LegacyStore


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
