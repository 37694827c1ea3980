"""Which backend a hook or command uses: one precedence for both."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coord_hooks import context
from coord_hooks.settings import load_settings


@pytest.fixture
def link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shims = tmp_path / "shims"
    shims.mkdir()
    path = shims / "hooks.sh"
    os.symlink("hooks-legacy.sh", path)
    monkeypatch.setattr(context, "SHIM_LINK", path)
    return path


def choose(state_dir: Path, explicit: str | None = None, **env: str) -> str:
    settings = load_settings(state_dir if state_dir.is_dir() else None, env)
    return context.choose_backend(settings, explicit, env, state_dir)


def test_the_symlink_selects_when_nothing_else_does(link: Path, state_dir: Path) -> None:
    assert choose(state_dir) == "legacy"


def test_symlink_beats_the_config_file(link: Path, state_dir: Path) -> None:
    # `coord backend use X` flips the symlink; a stale config value must not make
    # commands disagree with the hooks, which the shim sends with --backend.
    state_dir.mkdir(parents=True)
    (state_dir / "config.toml").write_text('backend = "optimized"\n')
    assert choose(state_dir) == "legacy"


def test_config_file_applies_without_a_symlink(tmp_path: Path, state_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "SHIM_LINK", tmp_path / "missing" / "hooks.sh")
    state_dir.mkdir(parents=True)
    (state_dir / "config.toml").write_text('backend = "legacy"\n')
    assert choose(state_dir) == "legacy"
    (state_dir / "config.toml").unlink()
    assert choose(state_dir) == "optimized"  # the default


def test_explicit_beats_symlink_and_env_beats_explicit(link: Path, state_dir: Path) -> None:
    assert choose(state_dir, "optimized") == "optimized"
    assert choose(state_dir, "optimized", COORD_BACKEND="legacy") == "legacy"
