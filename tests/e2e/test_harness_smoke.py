"""Smoke tests: the harness drives the real CLI and sees what the model sees."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import ClaudeHarness, Session, bash, read, say, signal_barrier, wait_for, write

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
    manifest = {
        "name": "e2e-smoke",
        "version": "0.0.0",
        "description": "harness smoke test",
        "author": {"name": "coord-hooks tests"},  # --strict fails without one
    }
    (root / ".claude-plugin" / "plugin.json").write_text(json.dumps(manifest))
    (root / "deny.json").write_text(json.dumps(DENY))
    hook = {"type": "command", "command": 'cat "${CLAUDE_PLUGIN_ROOT}/deny.json"'}
    hooks = {"hooks": {"PreToolUse": [{"matcher": "Write", "hooks": [hook]}]}}
    (root / "hooks" / "hooks.json").write_text(json.dumps(hooks))
    (root / "commands" / "ping.md").write_text(
        "---\ndescription: smoke\n---\nPING-COMMAND-EXPANDED args=$ARGUMENTS\n"
    )
    return root


def test_hook_deny_reaches_next_request(
    make_harness: Callable[..., ClaudeHarness], deny_plugin: Path
) -> None:
    h = make_harness(plugin_dirs=[deny_plugin])
    res = h.run(Session("a", [write("{{cwd}}/locked.txt", "x\n"), say("gave up")]))
    a = res["a"]
    a.assert_ok()
    assert a.denied_tools == ["Write"]
    assert "LOCKED-BY-TEST" in a.last_request_text()
    [result] = a.tool_results()
    assert result["tool"] == "Write" and result["is_error"]
    assert result["text"] == "PreToolUse:Write hook error: LOCKED-BY-TEST"  # 2.1.330's wording
    assert not (h.repo / "locked.txt").exists()
    assert [r["turn"] for r in a.main_requests] == [0, 1]
    assert a.result == "gave up"
    assert res.netns == h.netns  # isolated whenever unshare works


def test_plugin_validates_and_command_prompt(
    make_harness: Callable[..., ClaudeHarness], deny_plugin: Path
) -> None:
    h = make_harness(plugin_dirs=[deny_plugin])
    check = h.cli("plugin", "validate", "--strict", str(deny_plugin))
    assert check.returncode == 0, check.stdout + check.stderr
    res = h.run(Session("a", [say("pong")], prompt="/e2e-smoke:ping --queue"))
    res.assert_ok()
    assert "PING-COMMAND-EXPANDED args=--queue" in res.requests_text("a")


def test_two_sessions_at_once(harness: ClaudeHarness) -> None:
    # barriers make the interleaving deterministic: B reads only after A
    # wrote, and A stays alive until B has read
    res = harness.run(
        Session(
            "a",
            [
                write("{{cwd}}/a.txt", "from a\n"),
                signal_barrier("a-wrote"),
                wait_for("b-read"),
                say("a done"),
            ],
        ),
        Session(
            "b",
            [wait_for("a-wrote"), read("{{cwd}}/a.txt"), signal_barrier("b-read"), say("b done")],
        ),
        stagger=0.2,
    )
    res.assert_ok()
    a, b = res["a"], res["b"]
    assert b.started >= a.started + 0.2
    assert a.started < b.ended and b.started < a.ended, "sessions did not overlap"
    assert a.session_id != b.session_id
    assert "from a" in b.last_request_text()
    # each session played only its own script
    assert (a.result, b.result) == ("a done", "b done")
    assert a.denied_tools == b.denied_tools == []


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
