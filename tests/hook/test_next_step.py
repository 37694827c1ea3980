"""Next-step delivery through the REAL shim: a plain message reaches a busy session at its
next tool step (PostToolUse) once the coalescing window has passed; bursts come as one
block; floods keep the budget and lose nothing; delivery is at least once (issue 9 item 11)."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import threading
import time
from typing import Any

import payloads as pl
from hookrun import SHIM, Project, Sess


def _register(project: Project, name: str) -> Sess:
    sess = project.session(name)
    assert project.run("session-start", pl.session_start(sess.session_id, project.cwd),
                       sess).output is not None
    return sess


def _sender(project: Project, age: float = 0.0) -> Any:
    """A Coordinator on the hooks' store whose messages are ``age`` seconds old."""
    coordinator = project.coordinator()
    coordinator.clock = lambda: time.time() - age
    return coordinator


def _post(project: Project, sess: Sess, **env: str) -> str | None:
    out = project.run("post-tool-use", pl.post_tool_use(sess.session_id, project.cwd,
                                                        f"{project.cwd}/y.py"), sess,
                      extra_env=env).output
    return None if out is None else str(out["hookSpecificOutput"]["additionalContext"])


def _prompt(project: Project, sess: Sess, **env: str) -> str | None:
    out = project.run("user-prompt-submit", pl.user_prompt_submit(sess.session_id, project.cwd),
                      sess, extra_env=env).output
    return None if out is None else str(out["hookSpecificOutput"]["additionalContext"])


def test_a_plain_message_reaches_the_next_tool_step(project: Project) -> None:
    a, b = _register(project, "a"), _register(project, "b")
    _sender(project, age=3.5).send(a.session_id, b.handle, "I am renaming utils/ now")
    text = _post(project, b)  # the defaults: a 3 s window, no urgency needed
    assert text is not None
    assert text.startswith("[coord-hooks] Messages that arrived while you work from peer")
    assert re.search(r"- 3s ago, from \w+, to you: I am renaming utils/ now\n", text)
    assert _post(project, b) is None and _prompt(project, b) is None  # once


def test_a_subagents_tool_step_leaves_the_sessions_messages_for_it(project: Project) -> None:
    """A subagent's PostToolUse context reaches the subagent, not the session's model:
    its steps deliver nothing, and the main conversation's next step gets the message."""
    a, b = _register(project, "a"), _register(project, "b")
    _sender(project).send(a.session_id, b.handle, "stop touching api/", urgent=True)
    step = pl.post_tool_use(b.session_id, project.cwd, f"{project.cwd}/y.py")
    step.update(agent_id="a1b2c3d4e5f6a7b8c", agent_type="general-purpose")
    assert project.run("post-tool-use", step, b).output is None
    text = _post(project, b)
    assert text is not None and "stop touching api/" in text


def test_a_failed_tool_step_delivers_too(project: Project) -> None:
    a, b = _register(project, "a"), _register(project, "b")
    _sender(project, age=4).send(a.session_id, b.handle, "tests are red on main")
    out = project.run("post-tool-use-failure",
                      pl.post_tool_use_failure(b.session_id, project.cwd), b).output
    assert out is not None
    assert out["hookSpecificOutput"]["hookEventName"] == "PostToolUseFailure"
    assert "tests are red on main" in out["hookSpecificOutput"]["additionalContext"]
    assert _post(project, b) is None


def test_a_burst_within_the_window_arrives_as_one_block(project: Project) -> None:
    a, b = _register(project, "a"), _register(project, "b")
    sender = _sender(project)
    first = time.monotonic()
    for n in range(5):
        sender.send(a.session_id, b.handle, f"burst part {n}")
    assert _post(project, b) is None  # the window (3 s) is still open: gather
    time.sleep(max(0.0, 3.1 - (time.monotonic() - first)))
    text = _post(project, b)
    assert text is not None
    assert re.findall(r"burst part (\d)", text) == ["0", "1", "2", "3", "4"]
    assert text.count("[coord-hooks] Messages") == 1
    assert _post(project, b, COORD_MIDTURN_INTERVAL="0") is None


def test_the_rate_limit_spaces_blocks_but_urgent_jumps_it(project: Project) -> None:
    a, b = _register(project, "a"), _register(project, "b")
    old = _sender(project, age=10)
    old.send(a.session_id, b.handle, "first")
    assert _post(project, b) is not None
    old.send(a.session_id, b.handle, "second")  # due by age, but a block just went out
    assert _post(project, b) is None
    assert "second" in (_post(project, b, COORD_MIDTURN_INTERVAL="0") or "")
    _sender(project).send(a.session_id, b.handle, "stop now", urgent=True)
    assert "URGENT" in (_post(project, b) or "")


def test_a_flood_keeps_the_budget_and_loses_nothing(project: Project) -> None:
    a, b = _register(project, "a"), _register(project, "b")
    sender = _sender(project, age=10)
    for n in range(60):
        sender.send(a.session_id, b.handle, f"flood {n:02d} " + "z" * 400)
    sender.send(a.session_id, b.handle, "the urgent one", urgent=True)
    seen: list[str] = []
    blocks = 0
    while (text := _post(project, b, COORD_MIDTURN_INTERVAL="0")) is not None:
        blocks += 1
        assert len(text) <= 6000  # deliver_chars
        if blocks == 1:
            assert "URGENT" in text and "the urgent one" in text  # jumps the flood
        seen += re.findall(r"flood (\d\d) ", text)
    assert seen == [f"{n:02d}" for n in range(60)]  # each once, oldest first
    assert blocks >= 5
    assert _prompt(project, b) is None


def test_output_that_could_not_be_written_leaves_the_messages_unread(project: Project
                                                                      ) -> None:
    a, b = _register(project, "a"), _register(project, "b")
    _sender(project).send(a.session_id, b.handle, "do not lose me")
    read_end, write_end = os.pipe()
    os.close(read_end)  # Claude Code went away: stdout is a pipe nobody reads
    env = {**project.env, "CLAUDE_PID": str(b.pid)}
    payload = json.dumps(pl.user_prompt_submit(b.session_id, project.cwd)).encode()
    proc = subprocess.run([str(SHIM), "user-prompt-submit"], input=payload, stdout=write_end,
                          stderr=subprocess.PIPE, env=env, cwd=project.root, timeout=30,
                          check=False)
    os.close(write_end)
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr
    assert "do not lose me" in (_prompt(project, b) or "")
    assert _prompt(project, b) is None


def test_hooks_killed_at_random_lose_no_message(project: Project) -> None:
    """Issue 9 item 11 in small: SIGKILL prompt hooks at random while messages arrive.

    A message counts as arrived once it reached a hook's stdout (the issue's measure; the
    full stress run is scripts/delivery-kill-test.py). Before the fix the cursor moved
    before the output was written, and killed hooks lost messages.
    """
    a, b = _register(project, "a"), _register(project, "b")
    sender = _sender(project)
    env = {**project.env, "CLAUDE_PID": str(b.pid)}
    payload = json.dumps(pl.user_prompt_submit(b.session_id, project.cwd)).encode()
    rng = random.Random(11)
    sent: list[str] = []
    outputs: list[str] = []
    kills = shown_by_killed = 0
    # Kills spread over a hook's whole life on this machine (fast or loaded): from its
    # start to past its end, around the time one undisturbed prompt hook takes.
    started = time.monotonic()
    _prompt(project, b)
    life = time.monotonic() - started
    n = 0
    while n < 30 or (kills < 8 and n < 200):
        sent.append(f"kill-test {n:03d}")
        n += 1
        sender.send(a.session_id, b.handle, sent[-1])
        proc = subprocess.Popen([str(SHIM), "user-prompt-submit"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                                cwd=project.root)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(payload)
        proc.stdin.close()
        timer = threading.Timer(rng.uniform(0.1, 1.1) * life, proc.send_signal,
                                [signal.SIGKILL])
        timer.start()
        out = proc.stdout.read().decode()
        proc.wait()
        timer.cancel()
        outputs.append(out)
        if proc.returncode == -signal.SIGKILL:
            kills += 1
            shown_by_killed += len(re.findall(r"kill-test \d{3}", out))
    while (text := _prompt(project, b)) is not None:  # the next prompts, undisturbed
        outputs.append(text)
    got = [m for out in outputs for m in re.findall(r"kill-test \d{3}", out)]
    assert kills >= 8  # the test means something: many hooks died on the way
    assert sorted(set(got)) == sent  # nothing lost
    # A second copy needs a hook killed between its output and its confirm: a hook that
    # finished never causes one (and Claude Code drops the output of a hook it kills).
    assert len(got) - len(set(got)) <= shown_by_killed


def test_a_long_message_arrives_whole_in_parts(project: Project) -> None:
    """Issue 9 minor: with a raised max_message_chars, a 15k message was cut at ~9k,
    marked read, and pointed to a `coord history` that does not exist."""
    a, b = _register(project, "a"), _register(project, "b")
    sender = _sender(project)
    sender.settings = sender.settings.replace(max_message_chars=20_000)
    body = " ".join(f"w{n:05d}" for n in range(2143))  # 14,999 characters
    sender.send(a.session_id, b.handle, body)
    env = {"COORD_MAX_MESSAGE_CHARS": "20000"}
    pieces: list[str] = []
    while (text := _prompt(project, b, **env)) is not None:
        assert len(text) < 9000 and "coord history" not in text
        [item] = re.findall(r"to you: (.*?)\n  \[coord-hooks\] \(a long message", text, re.S)
        pieces.append(item.replace("\n  ", "\n"))
        if "this is its end" not in text:
            assert "the rest follows with your next step or prompt" in text
            peek = project.coordinator().inbox(b.session_id, peek=True)
            assert [m.body for m in peek] == [body]  # not read until all of it was shown
    assert "".join(pieces) == body and len(pieces) == 3  # 6,000 characters a block
    assert project.coordinator().inbox(b.session_id, peek=True) == []


def test_parallel_tool_hooks_never_show_a_message_twice(project: Project) -> None:
    a, b = _register(project, "a"), _register(project, "b")
    sender = _sender(project, age=10)
    env = {**project.env, "CLAUDE_PID": str(b.pid), "COORD_MIDTURN_INTERVAL": "0"}
    payload = json.dumps(pl.post_tool_use(b.session_id, project.cwd,
                                          f"{project.cwd}/y.py")).encode()
    sent: list[str] = []
    got: list[str] = []
    for round_ in range(6):
        for n in range(3):
            sent.append(f"parallel {round_}.{n}")
            sender.send(a.session_id, b.handle, sent[-1])
        procs = [subprocess.Popen([str(SHIM), "post-tool-use"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, env=env, cwd=project.root)
                 for _ in range(3)]  # one tool batch: PostToolUse hooks run at once
        for proc in procs:
            out, _ = proc.communicate(payload, timeout=30)
            got += re.findall(r"parallel \d\.\d", out.decode())
    while (text := _prompt(project, b)) is not None:
        got += re.findall(r"parallel \d\.\d", text)
    assert sorted(got) == sorted(sent)
