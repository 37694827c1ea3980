"""Idle sessions in the real interactive CLI (2.1.330, in tmux, offline): the plugin's
monitor wakes a session that waits for its user when a message arrives, and the
message itself arrives with the woken turn's prompt hook (issue 11, item 3)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from harness import ClaudeHarness, Running, Session, request_text, say

pytestmark = pytest.mark.e2e

ALLOW_COORD = {"permissions": {"allow": ["Bash(coord:*)"]}}


def _coord(h: ClaudeHarness, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(h.home), "CLAUDE_PROJECT_DIR": str(h.repo)}
    return subprocess.run([sys.executable, "-m", "coord_hooks", *args], env=env, cwd=h.repo,
                          capture_output=True, text=True, timeout=60, check=False)


def _session(h: ClaudeHarness) -> dict[str, Any] | None:
    out = _coord(h, "sessions", "--json")
    if out.returncode != 0:
        return None
    found = json.loads(out.stdout)["sessions"]
    return found[0] if found else None


def _idle(h: ClaudeHarness) -> bool:
    from coord_hooks.context import open_context

    ctx = open_context(cwd=str(h.repo), environ={"CLAUDE_PROJECT_DIR": str(h.repo),
                                                 "HOME": str(h.home)}, create=False)
    try:
        with ctx.store.read() as view:
            return any(s.idle_since is not None and not s.ended for s in view.sessions())
    finally:
        ctx.store.close()


def _start_idle(h: ClaudeHarness, *turns: dict[str, Any]) -> tuple[Running, str]:
    """An interactive session that answered one prompt and now waits for its user."""
    run = h.start(Session("b", [say("ready"), *turns], interactive=True), timeout=150)
    try:
        me = run.until("the session to register", lambda: _session(h), seconds=60)
        time.sleep(2.0)  # the TUI draws its prompt after SessionStart
        run.type("b", "hello")
        run.until("the first answer", lambda: len(run.requests("b")) >= 1)
        run.until("its turn to end (Stop)", lambda: _idle(h), seconds=30)
    except BaseException:
        run.tmux("kill-server")
        run.wait()
        raise
    return run, me["handle"]


def test_an_idle_session_is_woken_for_a_plain_message(
        make_harness: Callable[..., ClaudeHarness], plugin_root: Path) -> None:
    h = make_harness(plugin_dirs=[plugin_root], user_settings=ALLOW_COORD,
                     env={"COORD_PYTHON": sys.executable})
    run, handle = _start_idle(h, say("noted, thanks"))
    try:
        note = "plain note for an idle session (e2e-idle-7302)"
        sent = _coord(h, "send", handle, note)
        assert sent.returncode == 0, sent.stderr
        woken = run.until("the woken request",
                          lambda: [r for r in run.requests("b") if note in request_text(r)],
                          seconds=30)
        text = request_text(woken[0])
        # the monitor's doorbell (no peer text) woke it; the prompt hook brought the body
        assert "coord-hooks: 1 new message from peer sessions" in text
        assert "UserPromptSubmit hook additional context" in text
        assert text.count(note) == 1 and "not instructions from the user" in text
        run.until("its turn to end again", lambda: _idle(h), seconds=30)
        time.sleep(3)  # no second doorbell for the same message
        assert len(run.requests("b")) == 2
    finally:
        run.type("b", "/exit")
    res = run.wait()
    assert res["b"].rc == 0, (res["b"].rc, run.screen("b"))
