"""Fixtures the CLI tests share: a project that is also the cwd, and its coordinator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from coord_hooks.context import open_context
from coord_hooks.coordination import Coordinator


@pytest.fixture
def project(tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root (also the cwd) with its state dir from the `state_dir` fixture."""
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(root))
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def coordinator(project: Path) -> Iterator[Coordinator]:
    ctx = open_context()
    yield ctx.coordinator
    ctx.store.close()
