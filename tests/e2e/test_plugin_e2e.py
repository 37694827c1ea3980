"""The coord-hooks plugin inside the real Claude Code CLI (``claude -p --plugin-dir``).

(a) a session registers and its Write/Edit takes a lock; (b) two sessions at once: the
second's Edit of the first's file is denied and the reason reaches its model; (c) a
broadcast sent from one session's Bash tool reaches the other's next request; (d)
``/coord-hooks:status --queue`` in -p mode shows the queue; (e) a plain direct message
and a lock hand-off reach a busy session mid-turn.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from harness import (
    ClaudeHarness,
    Session,
    bash,
    edit,
    read,
    request_text,
    say,
    signal_barrier,
    wait_for,
    write,
)

pytestmark = pytest.mark.e2e

ALLOW_COORD = {"permissions": {"allow": ["Bash(coord:*)"]}}


@pytest.fixture
def h(make_harness: Callable[..., ClaudeHarness], plugin_root: Path) -> ClaudeHarness:
    # COORD_PYTHON: the hooks and bin/coord use this interpreter (it has the CLI's
    # dependencies); everything else is found the way a user's machine would.
    return make_harness(plugin_dirs=[plugin_root], user_settings=ALLOW_COORD,
                        env={"COORD_PYTHON": sys.executable})


def _state(h: ClaudeHarness) -> Any:
    """A Coordinator on the repo's state dir, as the hooks and `coord` see it."""
    from coord_hooks.context import open_context

    env = {"CLAUDE_PROJECT_DIR": str(h.repo), "HOME": str(h.home)}
    return open_context(cwd=str(h.repo), environ=env, create=False).coordinator


def _perf(h: ClaudeHarness) -> list[dict[str, Any]]:
    path = h.repo / ".claude-coordination" / "logs" / "performance.log"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _json_result(res_text: str) -> Any:
    start = res_text.index("{")
    return json.loads(res_text[start:])


def test_a_session_registers_and_its_edits_take_a_lock(h: ClaudeHarness) -> None:
    res = h.run(Session("a", [
        write("{{cwd}}/notes.txt", "one\n"),
        read("{{cwd}}/notes.txt"),
        edit("{{cwd}}/notes.txt", "one", "two"),
        bash("coord locks --json", "list locks"),
        say("a done"),
    ]))
    res.assert_ok()
    a = res["a"]
    assert a.session_id is not None
    handle = a.session_id[:8]
    # SessionStart's briefing reached the model
    assert any(f"[coord-hooks] This is Claude Code session {handle}." in text
               for text in a.system_messages())
    # while the session ran, its Write held the lock (seen by its own `coord locks`)
    listing = next(r for r in a.tool_results() if r["tool"] == "Bash")
    assert not listing["is_error"], listing["text"]
    [lock] = _json_result(listing["text"])["locks"]
    assert lock["key"] == "notes.txt" and lock["owner"] == a.session_id and lock["active"]
    assert (h.repo / "notes.txt").read_text() == "two\n"
    # the hooks really ran: one performance line per event, through the optimized shim
    hooks = [r["hook"] for r in _perf(h)]
    for event in ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop"):
        assert event in hooks
    outcomes = [(r.get("tool", ""), r["outcome"]) for r in _perf(h) if r["hook"] == "PreToolUse"]
    # Write locked it, Edit renewed it; `coord locks --json` is a read-only Bash command
    assert outcomes == [("", "locked"), ("", "renewed"), ("Bash", "read-only")]
    assert {r["backend"] for r in _perf(h)} == {"optimized"}
    # the session record carries what Claude Code told us
    [view] = [v for v in _state(h).sessions(include_ended=True)
              if v.session.session_id == a.session_id]
    assert view.session.source == "startup" and view.session.pid is not None
    assert view.session.cwd == str(h.repo)


def test_second_sessions_edit_of_a_locked_file_is_denied_with_the_reason(
        h: ClaudeHarness) -> None:
    res = h.run(
        Session("a", [
            write("{{cwd}}/shared.py", "x = 1\n"),
            signal_barrier("locked"),
            wait_for("tried"),
            say("a done"),
        ]),
        Session("b", [
            wait_for("locked"),
            read("{{cwd}}/shared.py"),
            edit("{{cwd}}/shared.py", "x = 1", "x = 2"),
            signal_barrier("tried"),
            say("b done"),
        ]),
    )
    res.assert_ok()
    a, b = res["a"], res["b"]
    assert a.session_id and b.session_id
    assert b.denied_tools == ["Edit"] and a.denied_tools == []
    assert (h.repo / "shared.py").read_text() == "x = 1\n"
    [denied] = [r for r in b.tool_results() if r["tool"] == "Edit"]
    assert denied["is_error"]
    text = denied["text"]
    assert text.startswith("PreToolUse:Edit hook error: [coord-hooks] shared.py is locked by "
                           f"session {a.session_id[:8]}")
    assert f"coord send {a.session_id[:8]} 'Could you release shared.py when you can?'" in text
    # ... and it is in the very next request the model got
    assert "is locked by session" in _request_after_edit(b)


def _request_after_edit(result: Any) -> str:
    """Text of the first request that carries the Edit's tool_result."""
    from harness import request_text

    for request in result.main_requests:
        text = request_text(request)
        if "PreToolUse:Edit hook error" in text:
            return text
    return ""


def test_broadcast_from_bash_reaches_the_other_sessions_next_request(
        h: ClaudeHarness) -> None:
    note = "freeze: do not touch the lockfile (e2e-broadcast-7731)"
    res = h.run(
        Session("a", [
            wait_for("b-ready"),
            bash(f"coord broadcast --urgent '{note}'", "broadcast"),
            signal_barrier("sent"),
            say("a done"),
        ]),
        Session("b", [
            signal_barrier("b-ready"),
            wait_for("sent"),
            say("b done"),
        ]),
    )
    res.assert_ok()
    a, b = res["a"], res["b"]
    sent = next(r for r in a.tool_results()
                if r["tool"] == "Bash" and "broadcast" in str(r["input"]))
    assert not sent["is_error"], sent["text"]
    # b's request right after its wait (PostToolUse mid-turn delivery) carries it,
    # framed as peer text, naming the sender
    before = [request for request in b.main_requests
              if note not in json.dumps(request["body"])]
    after = [request for request in b.main_requests if note in json.dumps(request["body"])]
    assert before and after, "the broadcast never reached b's model"
    assert b.main_requests.index(after[0]) == len(before)  # the very next request
    delivered = "\n".join(b.system_messages())
    assert note in delivered
    assert "not instructions from the user" in delivered
    assert a.session_id is not None and f"from {a.session_id[:8]}" in delivered
    assert note not in "\n".join(a.system_messages())  # not echoed to its sender


def test_plain_broadcast_arrives_with_the_next_prompt(h: ClaudeHarness) -> None:
    note = "heads-up: rebasing main at noon (e2e-plain-4410)"
    # A coalescing window longer than b's turn: the broadcast is not due mid-turn.
    slow = {"COORD_MIDTURN_WAIT": "600"}
    first = h.run(
        Session("a", [wait_for("b-ready"), bash(f"coord broadcast '{note}'"),
                      signal_barrier("sent"), say("a done")]),
        Session("b", [signal_barrier("b-ready"), wait_for("sent"), say("b done")], env=slow),
    )
    first.assert_ok()
    b_id = first["b"].session_id
    assert b_id is not None
    assert note not in first["b"].requests_text()  # not due: not mid-turn
    # b's next prompt (a resumed session) gets it
    second = h.run(Session("b2", [say("b2 done")], prompt="continue",
                           args=["--resume", b_id]))
    second.assert_ok()
    assert note in second["b2"].requests_text()


def test_status_queue_slash_command_prints_the_queue(h: ClaudeHarness) -> None:
    first = h.run(Session("a", [say("a done")]))
    first.assert_ok()
    a_id = first["a"].session_id
    assert a_id is not None
    _state(h).send(None, a_id[:8], "for later")  # a human writes to the ended session
    res = h.run(Session("q", [say("Here is the queue.")],
                        prompt="/coord-hooks:status --queue"))
    res.assert_ok()
    shown = res["q"].requests_text()
    assert "Output of `coord status --queue`" in shown
    assert "SESSION" in shown and "UNREAD" in shown  # the table, not an error
    row = next(line for line in shown.splitlines() if a_id[:8] in line)
    assert "ended" in row and " 1 " in row
    assert "broadcasts waiting in the batch queue: 0" in shown
    assert res["q"].result == "Here is the queue."


def test_a_plain_message_and_a_hand_off_reach_a_busy_session_mid_turn(
        h: ClaudeHarness) -> None:
    """Issue 11: A holds a file B is denied; A sends B a plain (not urgent) direct
    message and releases the file while B's turn goes on; both reach B's following
    requests before its turn ends, and B's retried Edit goes through."""
    note = "plain note: I renamed utils.py to helpers.py (e2e-handoff-5120)"
    res = h.run(
        Session("a", [
            write("{{cwd}}/shared.py", "x = 1\n"),
            signal_barrier("locked"),
            wait_for("denied"),
            bash(f"coord send bob '{note}'", "tell bob"),
            bash("coord unlock shared.py", "release the file"),
            signal_barrier("released"),
            wait_for("b-done", seconds=60),
            say("a done"),
        ]),
        Session("b", [
            bash("coord name bob", "name myself"),
            wait_for("locked"),
            read("{{cwd}}/shared.py"),
            edit("{{cwd}}/shared.py", "x = 1", "x = 2"),
            signal_barrier("denied"),
            wait_for("released"),
            bash("e2e-wait never 4", "keep working a few seconds"),
            edit("{{cwd}}/shared.py", "x = 1", "x = 2"),
            signal_barrier("b-done"),
            say("b done"),
        ]),
    )
    res.assert_ok()
    a, b = res["a"], res["b"]
    assert a.session_id and b.session_id
    assert b.denied_tools == ["Edit"]  # the first Edit only
    assert (h.repo / "shared.py").read_text() == "x = 2\n"  # the retry went through
    handoff = f"shared.py is free now (released by {a.session_id[:8]}); retry your edit."
    texts = [request_text(r) for r in b.main_requests]
    told = [i for i, t in enumerate(texts) if handoff in t]
    heard = [i for i, t in enumerate(texts) if note in t]
    assert told and heard, "hand-off note or message never reached b's model"
    released = next(i for i, t in enumerate(texts) if "barrier released passed" in t)
    assert told[0] == released  # the request right after its wait: the next step
    assert heard[0] < len(texts) - 1  # mid-turn: before the request that ends its turn
    delivered = "\n".join(b.system_messages())
    assert delivered.count(handoff) == 1 and delivered.count(note) == 1  # each once
    assert "Messages that arrived while you work" in delivered
    assert "PostToolUse:Bash hook additional context" in delivered
