"""Two "machines" on one redis server, driven through the real shims and the real CLI.

Two clones of one origin (spelled differently) in different folders, each with its own
``COORD_HOST_ID`` and its own state directory, as two laptops would be: a lock taken in
one clone denies the same file in the other, a broadcast reaches the sessions of both,
and a session whose pid only its own host can see is never reaped by the other host.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coord_hooks.store.redis_local import LocalServer

REPO = Path(__file__).resolve().parents[2]
SHIM = REPO / "shims" / "hooks-redis.sh"


class Session:
    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.id = str(uuid.uuid4())
        self.proc = subprocess.Popen(["sleep", "600"])  # stands in for the claude process

    @property
    def handle(self) -> str:
        return self.id[:8]

    def hook(self, event: str, **payload: Any) -> dict[str, Any] | None:
        """Run one hook through the shim; its JSON output (None when it printed nothing)."""
        data = {"session_id": self.id, "cwd": str(self.machine.repo),
                "transcript_path": f"/tmp/{self.id}.jsonl", **payload}
        env = dict(self.machine.env, CLAUDE_PID=str(self.proc.pid))
        proc = subprocess.run([str(SHIM), event], input=json.dumps(data), capture_output=True,
                              text=True, env=env, cwd=self.machine.repo, timeout=60, check=False)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        return json.loads(proc.stdout) if proc.stdout else None

    def context(self, event: str, **payload: Any) -> str:
        out = self.hook(event, **payload)
        return "" if out is None else str(out["hookSpecificOutput"].get("additionalContext", ""))

    def edit(self, relative: str) -> dict[str, Any] | None:
        path = self.machine.repo / relative
        return self.hook("pre-tool-use", hook_event_name="PreToolUse", tool_name="Edit",
                         tool_input={"file_path": str(path), "old_string": "a",
                                     "new_string": "b"})

    def die(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


class Machine:
    """A clone with its own folder, state directory and host id."""

    def __init__(self, repo: Path, origin: str, host: str, server: LocalServer) -> None:
        self.repo = repo
        self.host = host
        (repo / "src").mkdir(parents=True)
        (repo / "src" / "app.py").write_text("print('hi')\n")
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        subprocess.run(["git", "remote", "add", "origin", origin], cwd=repo, check=True)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("COORD_", "CLAUDE"))}
        self.env.update(CLAUDE_PROJECT_DIR=str(repo), COORD_REDIS_URL=server.url,
                        COORD_HOST_ID=host, COORD_PYTHON=sys.executable,
                        GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
        self.sessions: list[Session] = []

    def session(self) -> Session:
        self.sessions.append(Session(self))
        return self.sessions[-1]

    def coord(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "coord_hooks", *args], cwd=self.repo,
                              env=dict(self.env, PYTHONPATH=str(REPO)), capture_output=True,
                              text=True, timeout=60, check=False)


@pytest.fixture
def machines(tmp_path: Path, redis_server: LocalServer) -> Iterator[tuple[Machine, Machine]]:
    name = f"team/app-{uuid.uuid4().hex[:8]}"
    a = Machine(tmp_path / "laptop-a" / "app", f"git@github.com:{name}.git", "laptop-a",
                redis_server)
    b = Machine(tmp_path / "devbox" / "work" / "app-clone", f"https://github.com/{name}",
                "devbox", redis_server)
    yield a, b
    for machine in (a, b):
        for session in machine.sessions:
            session.proc.kill()
            session.proc.wait()


def test_two_clones_coordinate_through_one_server(machines: tuple[Machine, Machine]) -> None:
    a, b = machines
    alice, bob = a.session(), b.session()
    assert "No other live sessions" in alice.context("session-start", source="startup")
    briefing = bob.context("session-start", source="startup")
    assert f"Other live sessions (1):\n- {alice.handle}" in briefing  # across clones

    # One lock key per repository-relative path, whatever folder each clone is in.
    assert alice.edit("src/app.py") is None
    denied = bob.edit("src/app.py")
    assert denied is not None
    decision = denied["hookSpecificOutput"]
    assert decision["permissionDecision"] == "deny"
    assert f"src/app.py is locked by session {alice.handle}" in \
        decision["permissionDecisionReason"]
    assert bob.edit("src/other.py") is None  # other files stay free

    status = json.loads(a.coord("status", "--json").stdout)
    assert status["backend"] == "redis"
    assert status["store"]["project_source"] == "origin"
    assert status["store"]["host_id"] == "laptop-a"
    held = {lk["key"]: lk for lk in status["locks"]}
    assert set(held) == {"src/app.py", "src/other.py"}
    assert held["src/app.py"]["owner"] == alice.id and held["src/app.py"]["fence"] > 0
    assert held["src/other.py"]["fence"] > held["src/app.py"]["fence"]  # granted later
    text = b.coord("status").stdout
    assert "(from the origin remote)" in text and "this machine is devbox" in text

    # A broadcast from one machine reaches every live session of both, once each.
    sent = b.coord("broadcast", "deploy freeze until 5pm")
    assert sent.returncode == 0 and "to 2 live sessions" in sent.stdout, sent
    for session in (alice, bob):
        got = session.context("user-prompt-submit", hook_event_name="UserPromptSubmit",
                              prompt="next")
        assert "deploy freeze until 5pm" in got
        assert session.hook("user-prompt-submit", hook_event_name="UserPromptSubmit",
                            prompt="again") is None

    # Bob's claude process goes away: only Bob's host can see that pid.
    bob.die()
    carol = a.session()
    briefing = carol.context("session-start", source="startup")  # reaps on laptop-a
    assert f"- {bob.handle}" in briefing  # not reaped: live by heartbeat for laptop-a
    denied = carol.edit("src/other.py")
    assert denied is not None and f"locked by session {bob.handle}" in \
        denied["hookSpecificOutput"]["permissionDecisionReason"]

    # On Bob's own host, the dead pid counts: his session ends and his locks go.
    dave = b.session()
    assert f"- {bob.handle}" not in dave.context("session-start", source="startup")
    assert carol.edit("src/other.py") is None
    listed = json.loads(a.coord("sessions", "--all", "--json").stdout)["sessions"]
    by_id = {s["session_id"]: s for s in listed}
    assert by_id[bob.id]["state"] == "ended" and by_id[bob.id]["end_reason"] == "dead"
    assert by_id[bob.id]["hostname"] == "devbox" and by_id[alice.id]["hostname"] == "laptop-a"
