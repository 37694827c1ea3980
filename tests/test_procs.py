"""Process identity: pid + start time, zombies, and finding the claude process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from coord_hooks import procs

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def uptime_ticks() -> float:
    return float(Path("/proc/uptime").read_text().split()[0]) * os.sysconf("SC_CLK_TCK")


@pytest.fixture
def odd_child(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A sleeping child whose command name has spaces and parentheses."""
    odd = tmp_path / "we) ird (na me"
    odd.symlink_to("/bin/sleep")
    child = subprocess.Popen([str(odd), "60"])
    yield child
    child.kill()
    child.wait()


def test_start_time_is_field_22_even_with_odd_names(odd_child: subprocess.Popen[bytes]) -> None:
    start = procs.process_start(odd_child.pid)
    assert start is not None and start.isdigit()
    # Started just now: its start (ticks since boot) is close to the current uptime.
    assert abs(int(start) - uptime_ticks()) < 10 * os.sysconf("SC_CLK_TCK")
    assert procs.process_start(odd_child.pid) == start  # stable


def test_start_time_tells_processes_apart(odd_child: subprocess.Popen[bytes]) -> None:
    mine = procs.process_start(os.getpid())
    assert mine is not None and mine != procs.process_start(odd_child.pid)
    assert procs.is_same_process(os.getpid(), mine)
    assert procs.is_same_process(os.getpid(), None)  # unknown start: the pid decides
    assert not procs.is_same_process(os.getpid(), str(int(mine) + 1))
    assert not procs.is_same_process(None, mine)


def test_gone_and_zombie_processes_have_no_start() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = procs.process_start(child.pid)
    # Until it is waited for, a finished child is a zombie: not running any more.
    for _ in range(200):
        if procs.process_start(child.pid) is None:
            break
        subprocess.run(["sleep", "0.01"], check=False)
    assert procs.process_start(child.pid) is None
    assert not procs.is_same_process(child.pid, start)
    child.wait()
    assert procs.process_start(child.pid) is None or procs.process_start(child.pid) != start
    assert procs.process_start(0) is None and procs.process_start(-5) is None


def test_claude_pid_from_environment() -> None:
    assert procs.find_claude_pid({"CLAUDE_PID": " 4242 "}) == 4242


def test_claude_pid_from_the_parent_chain(tmp_path: Path) -> None:
    claude = tmp_path / "claude"
    claude.symlink_to("/bin/sh")
    code = ("import os, sys; sys.path.insert(0, os.environ['REPO']); "
            "from coord_hooks.procs import find_claude_pid; "
            "print(find_claude_pid({}), os.getppid())")
    # `; true` keeps the shell (named claude) alive as our parent instead of exec'ing.
    out = subprocess.run([str(claude), "-c", f'"{sys.executable}" -c "{code}"; true'],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "REPO": str(Path(__file__).resolve().parents[1])})
    found, parent = out.stdout.split()
    assert found == parent


def test_claude_pid_walk_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    chain = {os.getppid(): (500, "sh"), 500: (400, "bash"), 400: (1, "tmux")}
    monkeypatch.setattr(procs, "_parent_and_name", lambda pid: chain.get(pid))
    assert procs.find_claude_pid({}) is None
    chain[400] = (300, "node")
    assert procs.find_claude_pid({}) == 400
    monkeypatch.setattr(procs, "_parent_and_name", lambda pid: None)
    assert procs.find_claude_pid({"CLAUDE_PID": "not-a-pid"}) is None


def test_ps_start_time_does_not_depend_on_the_callers_time_zone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Without /proc (macOS) the start time comes from `ps -o lstart`, printed in local
    # time: a session whose hooks run with another TZ (or locale) than the checker's
    # must not look like a reused pid, or its locks are cleared as a dead session's.
    def no_proc(*args: object, **kwargs: object) -> object:
        raise PermissionError("no /proc here")

    monkeypatch.setattr(procs, "open", no_proc, raising=False)
    monkeypatch.setattr(sys, "platform", "darwin")
    starts = set()
    for tz in ("UTC", "Asia/Tokyo", "America/New_York"):
        monkeypatch.setenv("TZ", tz)
        starts.add(procs.process_start(os.getpid()))
    assert len(starts) == 1 and None not in starts
