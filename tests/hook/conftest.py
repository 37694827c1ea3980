"""Fixtures for the hook tests (helpers live in hookrun.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hookrun import Project


@pytest.fixture(scope="session")
def hook_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An XDG cache dir where the shim finds this interpreter already resolved."""
    cache = tmp_path_factory.mktemp("xdg-cache")
    (cache / "coord-hooks").mkdir()
    (cache / "coord-hooks" / "python").write_text(sys.executable + "\n")
    return cache


@pytest.fixture
def project(tmp_path: Path, hook_cache_home: Path) -> Iterator[Project]:
    """A temporary project whose state dir the hooks (subprocesses) and tests share."""
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("hi\n")
    state = root / ".claude-coordination"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COORD_", "CLAUDE")) and k not in ("COORDINATION_DEBUG",)}
    env.update(CLAUDE_PROJECT_DIR=str(root), COORD_STATE_DIR=str(state),
               XDG_CACHE_HOME=str(hook_cache_home))
    proj = Project(root.resolve(), state, env)
    yield proj
    for sess in proj.sessions:
        sess.proc.kill()
        sess.proc.wait()
