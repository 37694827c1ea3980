"""Fixtures for the coordination rules, run on every store backend."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from clocked import Clock

from coord_hooks.coordination import Coordinator
from coord_hooks.settings import Settings
from coord_hooks.store import Store


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src" / "sub").mkdir(parents=True)
    return Path(os.path.realpath(root))


@pytest.fixture
def store(backend_name: str, store_factory: Callable[..., Store], state_dir: Path) -> Store:
    return store_factory(backend_name, state_dir)


@pytest.fixture
def coord(store: Store, project: Path, state_dir: Path, clock: Clock,
          monkeypatch: pytest.MonkeyPatch) -> Coordinator:
    monkeypatch.chdir(project)  # relative lock targets resolve against the project
    settings = Settings(session_ttl=900.0, lock_ttl=1800.0, max_message_chars=200,
                        retention_messages=500, midturn_interval=60.0, midturn_wait=120.0)
    return Coordinator(store, settings, project, state_dir, clock=clock, hostname="here")


