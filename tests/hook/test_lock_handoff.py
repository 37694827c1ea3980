"""Lock hand-off through the REAL shim: a session denied a file is told once, at its next
step, that the file is free — for each way a file becomes free — and `coord wait`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import payloads as pl
import pytest
from hookrun import SHIM, Project, Sess


def _register(project: Project, name: str) -> Sess:
    sess = project.session(name)
    assert project.run("session-start", pl.session_start(sess.session_id, project.cwd),
                       sess).output is not None
    return sess


def _coord(project: Project, *args: str, sess: Sess | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(project.env)
    if sess is not None:
        env["CLAUDE_CODE_SESSION_ID"] = sess.session_id
        env["CLAUDE_PID"] = str(sess.pid)
    return subprocess.run([sys.executable, "-m", "coord_hooks", *args], env=env,
                          cwd=project.root, capture_output=True, text=True, timeout=timeout,
                          check=False)


def _post(project: Project, sess: Sess, **env: str) -> str | None:
    out = project.run("post-tool-use", pl.post_tool_use(sess.session_id, project.cwd,
                                                        f"{project.cwd}/other.py"), sess,
                      extra_env=env).output
    return None if out is None else str(out["hookSpecificOutput"]["additionalContext"])


def _edit(project: Project, sess: Sess, name: str = "src/app.py") -> str:
    """The Edit's PreToolUse: '' when allowed, else the deny reason."""
    out = project.run("pre-tool-use", pl.edit(sess.session_id, project.cwd,
                                               f"{project.cwd}/{name}"), sess).output
    return "" if out is None else str(out["hookSpecificOutput"]["permissionDecisionReason"])


@pytest.fixture
def held(project: Project) -> tuple[Sess, Sess]:
    """alice holds src/app.py (she wrote it); bob's Edit of it was denied."""
    alice, bob = _register(project, "alice"), _register(project, "bob")
    assert _coord(project, "name", "alice", sess=alice).returncode == 0
    assert project.run("pre-tool-use", pl.write(alice.session_id, project.cwd,
                                                f"{project.cwd}/src/app.py"), alice).stdout == ""
    assert "is locked by session" in _edit(project, bob)
    assert _post(project, bob) is None  # still held: nothing to say
    return alice, bob


def _told_once(project: Project, bob: Sess, how: str) -> None:
    text = _post(project, bob)  # mid-turn, at once: no coalescing window for hand-off
    assert text == f"[coord-hooks] src/app.py is free now ({how}); retry your edit.\n"
    assert _post(project, bob) is None
    assert project.run("user-prompt-submit", pl.user_prompt_submit(bob.session_id,
                                                                   project.cwd),
                       bob).output is None
    assert _edit(project, bob) == ""  # and the retry works


def test_released_with_coord_unlock(project: Project, held: tuple[Sess, Sess]) -> None:
    alice, bob = held
    assert _coord(project, "unlock", "src/app.py", sess=alice).returncode == 0
    _told_once(project, bob, f"released by {alice.handle} (alice)")


def test_holder_ended(project: Project, held: tuple[Sess, Sess]) -> None:
    alice, bob = held
    project.run("session-end", pl.session_end(alice.session_id, project.cwd), alice)
    _told_once(project, bob, f"{alice.handle} (alice) ended")


def test_holder_died(project: Project, held: tuple[Sess, Sess]) -> None:
    alice, bob = held
    alice.proc.kill()  # its Claude Code process is gone, no SessionEnd
    alice.proc.wait()
    _told_once(project, bob, f"{alice.handle} (alice) is no longer running")


def test_lease_lapsed(project: Project) -> None:
    alice, bob = _register(project, "alice"), _register(project, "bob")
    assert _coord(project, "lock", "src/app.py", "--ttl", "1", sess=alice).returncode == 0
    assert "is locked by session" in _edit(project, bob)
    time.sleep(1.2)  # alice is alive but has not touched anything for its lease
    _told_once(project, bob, f"the lease of {alice.handle} lapsed")


def test_released_at_the_holders_stop_when_configured(project: Project,
                                                       held: tuple[Sess, Sess]) -> None:
    alice, bob = held
    project.run("stop", pl.stop(alice.session_id, project.cwd), alice)
    assert _post(project, bob) is None  # by default a lock outlives the turn
    project.run("stop", pl.stop(alice.session_id, project.cwd), alice,
                extra_env={"COORD_RELEASE_AT_STOP": "1"})
    _told_once(project, bob, f"released by {alice.handle} (alice)")


def test_several_waiters_each_told_once_under_parallel_hooks(project: Project) -> None:
    alice = _register(project, "alice")
    waiters = [_register(project, f"w{n}") for n in range(4)]
    project.run("pre-tool-use", pl.write(alice.session_id, project.cwd,
                                         f"{project.cwd}/src/app.py"), alice)
    for sess in waiters:
        assert "is locked by session" in _edit(project, sess)
    assert _coord(project, "unlock", "src/app.py", sess=alice).returncode == 0
    results: dict[str, list[str]] = {s.session_id: [] for s in waiters}

    def step(sess: Sess) -> None:  # two tool calls of one batch: hooks run at once
        env = {**project.env, "CLAUDE_PID": str(sess.pid)}
        payload = json.dumps(pl.post_tool_use(sess.session_id, project.cwd,
                                              f"{project.cwd}/x.py")).encode()
        out = subprocess.run([str(SHIM), "post-tool-use"], input=payload, env=env,
                             capture_output=True, cwd=project.root, timeout=60).stdout
        results[sess.session_id].append(out.decode())

    threads = [threading.Thread(target=step, args=(s,)) for s in waiters for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # A hook too slow to confirm (past CONFIRM_WITHIN, on a loaded machine) leaves its
    # note to be told again: at least once always, exactly once when every hook confirmed.
    slow = any(r["event"] == "delivery_unconfirmed" for r in project.app_log())
    for sess in waiters:
        outputs = results[sess.session_id] + [_post(project, sess) or ""]
        told = sum(o.count("src/app.py is free now") for o in outputs)
        assert told >= 1 if slow else told == 1, outputs


def test_coord_wait_returns_0_when_free_and_3_on_timeout(project: Project,
                                                         held: tuple[Sess, Sess]) -> None:
    alice, bob = held
    timed_out = _coord(project, "wait", "src/app.py", "--timeout", "0.5", sess=bob)
    assert timed_out.returncode == 3, timed_out.stderr
    assert timed_out.stderr.startswith("coord: still locked after 0.5s: src/app.py (held by ")
    release = threading.Timer(1.0, _coord, [project, "unlock", "src/app.py"],
                              {"sess": alice})
    release.start()
    started = time.monotonic()
    freed = _coord(project, "wait", "src/app.py", "--json", sess=bob)
    release.join()
    assert freed.returncode == 0, freed.stderr
    assert 0.9 < time.monotonic() - started < 30
    doc = json.loads(freed.stdout)
    assert doc["free"] is True and doc["keys"] == ["src/app.py"] and doc["held"] == {}
    assert _post(project, bob) is None  # it knows already: no note follows


def test_coord_wait_default_fits_the_bash_tool_limit(project: Project) -> None:
    out = _coord(project, "wait", "--help")
    assert out.returncode == 0 and "2-minute" in out.stdout
    from coord_hooks.cli.usage import WAIT_DEFAULT

    assert 60 < WAIT_DEFAULT < 120


def test_coord_wait_for_a_pattern_waits_for_every_file_it_covers(
        project: Project, held: tuple[Sess, Sess]) -> None:
    _, bob = held
    for target in ("src/*.py", "src", "src/**"):
        out = _coord(project, "wait", target, "--timeout", "0.3", sess=bob)
        assert out.returncode == 3, (target, out.stdout, out.stderr)
        assert "held by" in out.stderr
    assert _coord(project, "wait", "docs/*.md", "--timeout", "0.3", sess=bob).returncode == 0


# --- what a peer may plant in waiters/ ------------------------------------------------------
def _waiters_file(project: Project, sess: Sess) -> Path:
    from coord_hooks.model import waiter_id_for

    return project.state_dir / "waiters" / f"{waiter_id_for(sess.session_id, 'zzz')}.json"


@pytest.mark.parametrize("record", [{"key": 123}, {"holder": 5}, {"key": ["a"]},
                                    {"since": "yesterday"}])
def test_a_wait_of_the_wrong_shape_never_stops_a_sessions_messages(
        project: Project, held: tuple[Sess, Sess], record: dict[str, object]) -> None:
    """A peer's waiters/ record of the wrong types is set aside: the session's messages
    still arrive, and the lock it waits for is still denied."""
    alice, bob = held
    planted = {"session_id": bob.session_id, "key": "zzz", "since": 1.0, "holder": "",
               **record}
    _waiters_file(project, bob).write_text(json.dumps(planted))
    project.coordinator().send(alice.session_id, bob.handle, "hello bob", urgent=True)
    assert "hello bob" in (_post(project, bob) or "")
    assert "is locked by session" in _edit(project, bob)
    assert not [r for r in project.app_log() if r["event"] == "hook_failed"]


def test_a_fifo_planted_in_waiters_never_hangs_a_lock_check(project: Project,
                                                            held: tuple[Sess, Sess]) -> None:
    """A FIFO where a record belongs would block its reader inside the store lock, and
    every other session's lock check would time out and fail open: it is set aside."""
    alice, bob = held
    carol = _register(project, "carol")
    fifo = _waiters_file(project, bob)
    os.mkfifo(fifo)
    started = time.monotonic()
    assert "is locked by session" in _edit(project, bob)  # reads waiters/ in the decision
    assert "is locked by session" in _edit(project, carol)
    assert time.monotonic() - started < 8
    assert not fifo.exists()  # quarantined, not deleted
    assert any(r["event"] == "quarantined" for r in project.app_log())
    project.coordinator().send(alice.session_id, bob.handle, "still here", urgent=True)
    assert "still here" in (_post(project, bob) or "")
