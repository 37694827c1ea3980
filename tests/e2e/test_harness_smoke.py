"""Smoke tests: the harness drives the real CLI and sees what the model sees."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import ClaudeHarness, Session, bash, say, write

pytestmark = pytest.mark.e2e

DENY = {
    "hookSpecificOutput": {
        "hookEventName": "PreToolUse",
        "permissionDecision": "deny",
        "permissionDecisionReason": "LOCKED-BY-TEST",
    }
}


@pytest.fixture
def deny_plugin(tmp_path: Path) -> Path:
    """A throwaway plugin: its PreToolUse hook denies every Write; one command."""
    root = tmp_path / "deny-plugin"
    (root / ".claude-plugin").mkdir(parents=True)
    (root / "hooks").mkdir()
    (root / "commands").mkdir()
    manifest = {"name": "e2e-smoke", "version": "0.0.0", "description": "harness smoke test"}
    (root / ".claude-plugin" / "plugin.json").write_text(json.dumps(manifest))
    (root / "deny.json").write_text(json.dumps(DENY))
    hook = {"type": "command", "command": 'cat "${CLAUDE_PLUGIN_ROOT}/deny.json"'}
    hooks = {"hooks": {"PreToolUse": [{"matcher": "Write", "hooks": [hook]}]}}
    (root / "hooks" / "hooks.json").write_text(json.dumps(hooks))
    (root / "commands" / "ping.md").write_text("---\ndescription: smoke\n---\nPING-COMMAND-EXPANDED args=$ARGUMENTS\n")
    return root


def test_hook_deny_reaches_next_request(make_harness: Callable[..., ClaudeHarness], deny_plugin: Path) -> None:
    h = make_harness(plugin_dirs=[deny_plugin])
    res = h.run(Session("a", [write("{{cwd}}/locked.txt", "x\n"), say("gave up")]))
    a = res["a"]
    a.assert_ok()
    assert a.denied_tools == ["Write"]
    assert "LOCKED-BY-TEST" in a.last_request_text()
    assert not (h.repo / "locked.txt").exists()
    assert [r["turn"] for r in a.main_requests] == [0, 1]
    assert a.result == "gave up"
    assert res.netns or not h._netns  # ran isolated whenever unshare works


def test_plugin_command_prompt(make_harness: Callable[..., ClaudeHarness], deny_plugin: Path) -> None:
    h = make_harness(plugin_dirs=[deny_plugin])
    res = h.run(Session("a", [say("pong")], prompt="/e2e-smoke:ping --queue"))
    res.assert_ok()
    assert "PING-COMMAND-EXPANDED args=--queue" in res.requests_text("a")


def test_two_sessions_at_once(harness: ClaudeHarness) -> None:
    res = harness.run(
        Session("a", [write("{{cwd}}/a.txt", "from a\n"), say("a done")]),
        Session("b", [write("{{cwd}}/b.txt", "from b\n"), say("b done")]),
    )
    res.assert_ok()
    a, b = res["a"], res["b"]
    assert a.started < b.ended and b.started < a.ended, "sessions did not overlap"
    assert a.session_id != b.session_id
    assert (harness.repo / "a.txt").read_text() == "from a\n"
    assert (harness.repo / "b.txt").read_text() == "from b\n"
    # each session played only its own script
    assert (a.result, b.result) == ("a done", "b done")
    assert "b.txt" not in a.requests_text()


def test_sequential_path_and_allowed_bash(harness: ClaudeHarness, tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "e2e-hello"
    script.write_text('#!/bin/sh\necho "HELLO-FROM-PATH $1"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    # acceptEdits refuses unknown commands in -p; a user-settings rule allows it
    harness.write_user_settings({"permissions": {"allow": ["Bash(e2e-hello:*)"]}})
    res = harness.run(
        Session("first", [write("{{cwd}}/first.txt", "1\n"), say("first done")]),
        Session("second", [bash("e2e-hello world"), say("second done")], path_prepend=[bindir]),
        sequential=True,
    )
    res.assert_ok()
    assert res["second"].started >= res["first"].ended
    assert res["second"].denied_tools == []
    assert "HELLO-FROM-PATH world" in res["second"].last_request_text()
