"""Fixtures for the end-to-end tests that drive the real ``claude`` CLI."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# harness.py and fake_model.py are plain modules next to this file; make them
# importable whatever pytest's import mode or the package layout of tests/ is.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from harness import ClaudeHarness, claude_or_skip  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: drives the real claude CLI against the fake model (needs the CLI)"
    )


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    """Path of the claude CLI; skips the test when there is none."""
    return claude_or_skip()


@pytest.fixture
def plugin_root() -> Path:
    """The coord-hooks plugin itself (the repository root)."""
    return PROJECT_ROOT


@pytest.fixture
def make_harness(tmp_path: Path, claude_bin: Path) -> Callable[..., ClaudeHarness]:
    """Factory: ``make_harness(plugin_dirs=[...], user_settings={...})``.

    Each call gets its own HOME and repo under ``tmp_path``.
    """
    count = 0

    def make(**kwargs: Any) -> ClaudeHarness:
        nonlocal count
        count += 1
        return ClaudeHarness(tmp_path / f"h{count}", claude_bin, **kwargs)

    return make


@pytest.fixture
def harness(make_harness: Callable[..., ClaudeHarness]) -> ClaudeHarness:
    """A harness with no plugin loaded."""
    return make_harness()
