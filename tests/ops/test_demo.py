"""`coord demo`: the scripted three-session run through the real shims."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from coord_hooks.ops import demo


def test_demo_behaves_and_says_so() -> None:
    lines: list[str] = []
    assert demo.run_demo(lines.append) is True
    text = "\n".join(lines)
    assert "8/8 expectations met" in text
    assert "FAIL" not in text
    # what a reader is promised: a registration, a denied edit with its reason, a broadcast
    assert "1. alice starts (SessionStart)" in text
    assert "deny: [coord-hooks] src/app.py is locked by session" in text
    assert "Heads up: I am upgrading the lockfile" in text
    project = Path(lines[0].rsplit(" in ", 1)[1])
    assert not project.exists()  # cleaned up
    assert "ok   alice's lock was released and bob's Edit is allowed" in text


def test_demo_keep_leaves_the_project(tmp_path: Path) -> None:
    lines: list[str] = []
    assert demo.run_demo(lines.append, keep=True)
    project = Path(lines[0].rsplit(" in ", 1)[1])
    try:
        assert (project / ".claude-coordination" / "logs" / "performance.log").exists()
    finally:
        subprocess.run(["rm", "-rf", str(project)], check=True)


def test_demo_fails_when_the_hooks_do_not_behave(tmp_path: Path) -> None:
    broken = tmp_path / "hooks.sh"
    broken.write_text("#!/bin/sh\ncat >/dev/null\nexit 0\n")  # a hook that does nothing
    broken.chmod(0o755)
    lines: list[str] = []
    assert demo.run_demo(lines.append, shim=broken) is False
    text = "\n".join(lines)
    assert "FAIL alice is registered" in text
    assert "did NOT behave as expected" in text


@pytest.mark.parametrize("name", ["COORD_STATE_DIR", "CLAUDE_PROJECT_DIR",
                                  "CLAUDE_CODE_SESSION_ID", "CLAUDE_PID"])
def test_demo_never_uses_the_callers_session_or_state(name: str, tmp_path: Path) -> None:
    env = demo.demo_env(tmp_path / "p", {name: "/real/thing", "PATH": "/bin"})
    assert env.get(name) != "/real/thing"
    assert env["CLAUDE_PROJECT_DIR"] == str(tmp_path / "p")
