"""Test isolation: no test may touch the real $HOME, user config or project state."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from coord_hooks.store import BACKENDS, Store, open_store

# A real Redis/Valkey server for the redis backend (tests/redis_server.py).
pytest_plugins = ("redis_server",)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("COORD_STATE_DIR", str(tmp_path_factory.mktemp("state") / "coord"))
    for name in ("COORD_BACKEND", "COORD_CONFIG", "CLAUDE_PROJECT_DIR", "CLAUDE_PID",
                 "CLAUDE_CODE_SESSION_ID", "CACHE_TTL", "BROADCAST_BATCH_SIZE",
                 "BATCH_FLUSH_INTERVAL", "COORDINATION_DEBUG", "COORD_DEBUG",
                 "COORD_REDIS_URL", "COORD_REDIS_PASSWORD", "COORD_PROJECT_ID",
                 "COORD_HOST_ID", "COORD_REDIS_TIMEOUT", "COORD_REDIS_CONNECT_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh state dir, also exported as $COORD_STATE_DIR for subprocesses."""
    path = tmp_path / ".claude-coordination"
    monkeypatch.setenv("COORD_STATE_DIR", str(path))
    return path


@pytest.fixture(params=sorted(BACKENDS))
def backend_name(request: pytest.FixtureRequest) -> str:
    """Every registered store backend in turn (new backends join automatically)."""
    name: str = request.param
    if name == "redis":  # a real server, and a project namespace of this test's own
        request.getfixturevalue("redis_project")
    return name


@pytest.fixture
def store_factory() -> Iterator[Callable[..., Store]]:
    """``store_factory(name, state_dir, **kwargs)`` opens a backend; all are closed after."""
    opened: list[Store] = []

    def make(name: str, state_dir: Path, **kwargs: Any) -> Store:
        store = open_store(name, state_dir, **kwargs)
        opened.append(store)
        return store

    yield make
    for store in reversed(opened):
        store.close()


@pytest.fixture
def pids() -> Iterator[Callable[[], int]]:
    """Start a fake Claude Code process (``sleep``) per call: a distinct live pid each."""
    started: list[subprocess.Popen[bytes]] = []

    def spawn() -> int:
        started.append(subprocess.Popen(["sleep", "600"]))
        return started[-1].pid

    yield spawn
    for proc in started:
        proc.kill()
        proc.wait()


def clone_checkout(target: Path) -> Path:
    """``git clone`` of this repository, with the working tree's uncommitted files on top:
    what a user's fresh clone has (no .venv, no caches), plus the change under test."""
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(target)],
                   check=True, capture_output=True)
    listed = subprocess.run(["git", "ls-files", "-m", "-o", "--exclude-standard", "-z"],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout
    for rel in filter(None, listed.split("\0")):
        src = REPO / rel
        if src.is_file() or src.is_symlink():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target / rel, follow_symlinks=False)
    return target


@pytest.fixture
def fresh_clone(tmp_path: Path) -> Callable[[str], Path]:
    """``fresh_clone(name)``: a clean clone of this checkout under ``tmp_path``."""
    return lambda name: clone_checkout(tmp_path / name)


@pytest.fixture(scope="session")
def clone_into() -> Callable[[Path], Path]:
    """`clone_checkout` for fixtures wider than one test."""
    return clone_checkout
