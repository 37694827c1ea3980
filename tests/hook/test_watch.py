"""The idle-session watcher (`coord hook watch`, the plugin monitor) through the REAL shim:
it rings once for an idle session with due messages or a freed file, never for a busy
one, never prints a peer's text, and ends with its Claude Code process."""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Iterator

import payloads as pl
import pytest
from hookrun import SHIM, Project, Sess

from coord_hooks.hook.watch import doorbell

FAST = {"COORD_WATCH_INTERVAL": "0.2", "COORD_MIDTURN_WAIT": "0.5"}


class Watch:
    """A running watcher for one stand-in Claude Code process."""

    def __init__(self, project: Project, sess: Sess, **env: str) -> None:
        self.proc = subprocess.Popen(
            [str(SHIM), "watch"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=project.root,
            env={**project.env, **FAST, "CLAUDE_PID": str(sess.pid), **env})

    def line(self, within: float) -> str | None:
        """The next line it prints within ``within`` seconds, or None."""
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], within)
        return self.proc.stdout.readline().decode() if ready else None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def watches() -> Iterator[list[Watch]]:
    started: list[Watch] = []
    yield started
    for w in started:
        w.stop()


def _register(project: Project, name: str) -> Sess:
    sess = project.session(name)
    assert project.run("session-start", pl.session_start(sess.session_id, project.cwd),
                       sess).output is not None
    return sess


def _prompt(project: Project, sess: Sess) -> str:
    out = project.run("user-prompt-submit", pl.user_prompt_submit(sess.session_id, project.cwd),
                      sess, extra_env=FAST).output
    return "" if out is None else str(out["hookSpecificOutput"]["additionalContext"])


def _stop(project: Project, sess: Sess) -> None:
    assert project.run("stop", pl.stop(sess.session_id, project.cwd), sess).output is None


def test_an_idle_session_is_rung_once_and_the_prompt_delivers(project: Project,
                                                              watches: list[Watch]) -> None:
    a, b = _register(project, "a"), _register(project, "b")
    _prompt(project, b)
    _stop(project, b)  # b's turn ended: it waits for its user
    watches.append(w := Watch(project, b))
    assert w.line(1.0) is None  # nothing to say
    sender = project.coordinator()
    sender.send(a.session_id, b.handle, "hi $(touch PWNED) from a")
    sender.broadcast(a.session_id, "and to all")
    assert w.line(5.0) == doorbell(2, 0)
    assert doorbell(2, 0) == ("coord-hooks: 2 new messages from peer sessions; see the "
                              "coord-hooks context of this turn.\n")
    assert w.line(1.0) is None  # once
    # Claude Code wakes the session: its prompt hook hands over the messages themselves
    text = _prompt(project, b)
    assert "hi $(touch PWNED) from a" in text and "and to all" in text
    _stop(project, b)
    assert w.line(1.0) is None  # delivered: nothing left to ring for
    assert not (project.root / "PWNED").exists()


def test_a_busy_session_is_not_rung(project: Project, watches: list[Watch]) -> None:
    a, b = _register(project, "a"), _register(project, "b")
    _prompt(project, b)  # a turn is under way (no Stop yet)
    watches.append(w := Watch(project, b))
    project.coordinator().send(a.session_id, b.handle, "mid-turn note", urgent=True)
    assert w.line(1.5) is None  # its next tool step delivers it
    _stop(project, b)
    assert w.line(5.0) == doorbell(1, 0)  # still undelivered when its turn ended


def test_a_freed_file_rings_an_idle_waiter(project: Project, watches: list[Watch]) -> None:
    a, b = _register(project, "a"), _register(project, "b")
    project.run("pre-tool-use", pl.write(a.session_id, project.cwd,
                                         f"{project.cwd}/src/app.py"), a)
    out = project.run("pre-tool-use", pl.edit(b.session_id, project.cwd,
                                               f"{project.cwd}/src/app.py"), b).output
    assert out is not None  # denied
    _stop(project, b)
    watches.append(w := Watch(project, b))
    assert w.line(1.0) is None
    project.coordinator().release(a.session_id, "src/app.py", cwd=project.cwd)
    assert w.line(5.0) == doorbell(0, 1)
    assert "src/app.py is free now" in _prompt(project, b)


def test_urgent_only_and_off(project: Project, watches: list[Watch]) -> None:
    a, b = _register(project, "a"), _register(project, "b")
    _stop(project, b)
    off = Watch(project, b, COORD_WAKE_IDLE="off")
    assert off.proc.wait(timeout=30) == 0  # no process at all
    watches.append(w := Watch(project, b, COORD_WAKE_IDLE="urgent"))
    sender = project.coordinator()
    sender.send(a.session_id, b.handle, "whenever")
    assert w.line(1.5) is None
    sender.send(a.session_id, b.handle, "now", urgent=True)
    assert w.line(5.0) == doorbell(1, 0)


def test_one_watcher_per_claude_process_and_it_ends_with_it(project: Project,
                                                           watches: list[Watch]) -> None:
    b = _register(project, "b")
    watches.append(first := Watch(project, b))
    time.sleep(1.0)
    second = Watch(project, b)  # the plugin loaded twice: only one watches
    assert second.proc.wait(timeout=30) == 0
    assert first.proc.poll() is None
    locks = list((project.state_dir / "watch").iterdir())
    assert len(locks) == 1
    b.proc.kill()  # Claude Code killed (SIGKILL): nobody stops its monitors
    b.proc.wait()
    assert first.proc.wait(timeout=10) == 0
    assert first.proc.stdout is not None and first.proc.stdout.read() == b""
    assert list((project.state_dir / "watch").iterdir()) == []
    assert first.proc.stderr is not None and first.proc.stderr.read() == b""


def test_after_clear_it_watches_the_new_session(project: Project,
                                                watches: list[Watch]) -> None:
    a, b = _register(project, "a"), _register(project, "b")
    watches.append(w := Watch(project, b))
    new_id = "c1ea4000-0000-4000-8000-00000000000b"
    project.run("session-start", pl.session_start(new_id, project.cwd, source="clear"), b)
    project.coordinator().send(a.session_id, new_id[:8], "to the new one")
    assert w.line(5.0) == doorbell(1, 0)


def test_without_a_claude_process_there_is_nothing_to_watch(project: Project) -> None:
    env = {k: v for k, v in project.env.items() if k != "CLAUDE_PID"}
    out = subprocess.run([str(SHIM), "watch"], env=env, cwd=project.root,
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False)
    assert (out.returncode, out.stdout, out.stderr) == (0, b"", b"")
    dead_pid = os.getpid() + 10**6  # no such process
    out = subprocess.run([str(SHIM), "watch"], env={**env, "CLAUDE_PID": str(dead_pid)},
                         cwd=project.root, stdin=subprocess.DEVNULL, capture_output=True,
                         timeout=30, check=False)
    assert (out.returncode, out.stdout, out.stderr) == (0, b"", b"")


def test_a_watcher_stopped_with_sigterm_leaves_no_lock_file(project: Project,
                                                            watches: list[Watch]) -> None:
    """Claude Code stops its monitors with SIGTERM; a watcher killed outright leaves its
    file, which the next watcher on this host removes once its process is gone."""
    b, c = _register(project, "b"), _register(project, "c")
    watches.append(w := Watch(project, b))
    folder = project.state_dir / "watch"
    deadline = time.monotonic() + 20
    while not (folder.exists() and list(folder.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(list(folder.iterdir())) == 1
    w.proc.terminate()
    assert w.proc.wait(timeout=10) == 0
    assert list(folder.iterdir()) == []
    # a watcher killed outright (SIGKILL) for a Claude Code process that is gone
    from coord_hooks.procs import hostname

    stale = folder / f"{hostname()}-999999999.lock"
    stale.touch()
    watches.append(Watch(project, c))
    deadline = time.monotonic() + 20
    while stale.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not stale.exists()
    assert [p.name.rsplit("-", 1)[1] for p in folder.iterdir()] == [f"{c.pid}.lock"]
