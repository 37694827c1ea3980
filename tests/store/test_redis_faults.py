"""Faults of the redis server, through the real shims and CLI: down, killed mid-race and
restarted (AOF, appendfsync always), paused past the hook timeout, a wrong password,
another service on the port. Hooks fail open within their deadline, print nothing and
log one line; the CLI says "redis at … unreachable" in one line with a non-zero exit;
nothing acknowledged is lost across a restart.

Figures (failure latencies, acknowledged writes) are printed as FIGURES lines:

    .venv/bin/python -m pytest tests/store/test_redis_faults.py -s -q
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis_server import connect
from test_races import figure

from coord_hooks.store import open_store
from coord_hooks.store.redis_local import LocalServer, free_port

REPO = Path(__file__).resolve().parents[2]
SHIM = REPO / "shims" / "hooks-redis.sh"
PRE_TOOL_USE_TIMEOUT = 10.0  # hooks.json
ServerFactory = Callable[..., LocalServer]


class Project:
    def __init__(self, root: Path, url: str, **env: str) -> None:
        self.root = root
        (root / "src").mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("COORD_", "CLAUDE"))}
        self.env.update(CLAUDE_PROJECT_DIR=str(root), COORD_REDIS_URL=url,
                        COORD_PYTHON=sys.executable, COORD_BACKEND="redis",
                        COORD_PROJECT_ID=f"faults-{uuid.uuid4()}")
        self.env.update(env)
        self.pid = subprocess.Popen(["sleep", "600"])
        self.session = str(uuid.uuid4())

    @property
    def state_dir(self) -> Path:
        return self.root / ".claude-coordination"

    def hook(self, event: str, **payload: Any) -> tuple[subprocess.CompletedProcess[str], float]:
        data = {"session_id": self.session, "cwd": str(self.root), **payload}
        env = dict(self.env, CLAUDE_PID=str(self.pid.pid))
        started = time.monotonic()
        proc = subprocess.run([str(SHIM), event], input=json.dumps(data), text=True,
                              capture_output=True, env=env, cwd=self.root, timeout=60,
                              check=False)
        return proc, time.monotonic() - started

    def edit(self, name: str = "src/app.py") -> tuple[subprocess.CompletedProcess[str], float]:
        return self.hook("pre-tool-use", hook_event_name="PreToolUse", tool_name="Edit",
                         tool_input={"file_path": str(self.root / name)})

    def coord(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "coord_hooks", *args], cwd=self.root,
                              env=dict(self.env, PYTHONPATH=str(REPO)), capture_output=True,
                              text=True, timeout=60, check=False)

    def unavailable_lines(self) -> list[dict[str, Any]]:
        path = self.state_dir / "logs" / "app.log"
        if not path.exists():
            return []
        records = [json.loads(line) for line in path.read_text().splitlines() if line]
        return [r for r in records if r["event"] in ("store_unavailable", "hook_failed")]

    def close(self) -> None:
        self.pid.kill()
        self.pid.wait()


@pytest.fixture
def make_project(tmp_path: Path) -> Iterator[Callable[..., Project]]:
    made: list[Project] = []

    def make(url: str, **env: str) -> Project:
        made.append(Project(tmp_path / f"proj{len(made)}", url, **env))
        return made[-1]

    yield make
    for project in made:
        project.close()


def assert_failed_open(result: subprocess.CompletedProcess[str], took: float,
                       budget: float) -> None:
    assert result.returncode == 0
    assert result.stdout == "" and result.stderr == ""  # no output, no traceback
    assert took < budget, f"the hook took {took:.2f}s, over {budget}s"


# --- down -----------------------------------------------------------------------------------
def test_server_down_hooks_fail_open_and_the_cli_says_so(make_project: Callable[..., Project]
                                                         ) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    project = make_project(url)
    times = []
    for _ in range(4):
        result, took = project.edit()
        assert_failed_open(result, took, 2.0)
        times.append(took)
    result, took = project.hook("user-prompt-submit", hook_event_name="UserPromptSubmit",
                                prompt="x")
    assert_failed_open(result, took, 2.0)
    lines = project.unavailable_lines()
    assert len(lines) == 1, lines  # rate-limited: one line for five hooks
    assert lines[0]["event"] == "store_unavailable" and "traceback" not in lines[0]
    assert lines[0]["error"] == f"redis at {url} unreachable: connection refused"
    perf = (project.state_dir / "logs" / "performance.log").read_text().splitlines()
    assert {json.loads(p)["outcome"] for p in perf} == {"unavailable"}
    for command in (["status"], ["locks"], ["doctor", "--no-run"], ["diagnose"]):
        out = project.coord(*command)
        assert out.returncode != 0, command
        assert "Traceback" not in out.stdout + out.stderr
        said = [ln for ln in (out.stdout + out.stderr).splitlines()
                if f"redis at {url} unreachable: connection refused" in ln]
        assert len(said) == 1, (command, out.stdout, out.stderr)
    figure("redis_down_hook_fail_open", hooks=len(times), max_ms=round(max(times) * 1000),
           log_lines=len(lines))


# --- killed mid-race, restarted from its AOF ------------------------------------------------------
WORKER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from coord_hooks.context import open_context
    from coord_hooks.errors import StoreError
    tag, stop = sys.argv[1], Path(sys.argv[2])
    out = sys.stdout
    def say(*fields):
        out.write(" ".join(str(f) for f in fields) + "\\n")
        out.flush()
    ctx = open_context(backend="redis")
    sid = f"worker-{tag}"
    ctx.coordinator.register(sid, pid=os.getpid())
    say("S", sid)
    n = 0
    while not stop.exists():
        n += 1
        started = time.monotonic()
        try:
            if n % 2:
                message = ctx.coordinator.broadcast(sid, f"b-{tag}-{n}")
                say("M", message.seq, message.body)
            else:
                key = f"files/{tag}-{n}.txt"
                if ctx.coordinator.try_acquire(sid, key).granted:
                    say("L", key)
        except StoreError as exc:
            say("F", round((time.monotonic() - started) * 1000), type(exc).__name__)
            ctx.store.close()  # like the next hook process: a new connection
            time.sleep(0.05)
            try:
                ctx.coordinator.register(sid, pid=os.getpid())  # re-register if reaped
            except StoreError:
                pass
""")


def test_killed_mid_race_loses_nothing_acknowledged(redis_factory: ServerFactory,
                                                    make_project: Callable[..., Project],
                                                    tmp_path: Path) -> None:
    server = redis_factory()  # AOF on, appendfsync always
    project = make_project(server.url, COORD_REDIS_TIMEOUT="0.5",
                           COORD_REDIS_CONNECT_TIMEOUT="0.5", COORD_STORE_LOCK_TIMEOUT="1")
    stop = tmp_path / "stop"
    env = dict(project.env, PYTHONPATH=str(REPO))
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(i), str(stop)],
                                stdout=subprocess.PIPE, text=True, env=env, cwd=project.root)
               for i in range(4)]
    lines: list[list[str]] = [[] for _ in workers]

    def pump(index: int) -> None:
        stream = workers[index].stdout
        assert stream is not None
        for line in stream:
            lines[index].append(line.split())

    pumps = [threading.Thread(target=pump, args=(i,), daemon=True) for i in range(len(workers))]
    for thread in pumps:
        thread.start()
    try:
        deadline = time.monotonic() + 30
        while sum(len(x) for x in lines) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        acked_before = sum(1 for x in lines for f in x if f[0] in "ML")
        server.kill()  # SIGKILL mid-race
        killed_at = time.monotonic()
        result, took = project.edit()  # a hook meanwhile: fails open, fast
        assert_failed_open(result, took, 2.5)
        time.sleep(1.0)
        server.start()  # same port, same folder: replays the AOF
        down = time.monotonic() - killed_at
        deadline = time.monotonic() + 30
        target = sum(1 for x in lines for f in x if f[0] in "ML") + 120
        while (sum(1 for x in lines for f in x if f[0] in "ML") < target
               and time.monotonic() < deadline):
            time.sleep(0.05)
    finally:
        stop.touch()
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hang
                worker.kill()
        for thread in pumps:
            thread.join(5)
    failures = [int(f[1]) for x in lines for f in x if f[0] == "F"]
    acked_messages = {int(f[1]): f[2] for x in lines for f in x if f[0] == "M"}
    acked_locks = {(f[1], x[0][1]) for x in lines for f in x if f[0] == "L"}
    assert failures, "the kill should have failed some operations"
    assert max(failures) < 2500, failures  # connect + answer deadlines, lease wait
    from coord_hooks.settings import load_settings

    store = open_store("redis", project.state_dir, settings=load_settings(None, project.env))
    with store.read() as view:
        live = {m.seq: m.body for m in view.messages_after(0)}
        held = {(lk.key, lk.owner) for lk in view.locks()}
    archived = {m.seq: m.body for m in store.archived_messages()}
    everything = {**archived, **live}
    lost = {seq: body for seq, body in acked_messages.items() if everything.get(seq) != body}
    assert lost == {}, f"acknowledged messages lost: {sorted(lost)[:10]}"
    assert acked_locks <= held, f"acknowledged locks lost: {sorted(acked_locks - held)[:10]}"
    assert acked_before > 0 and len(acked_messages) + len(acked_locks) > acked_before
    figure("redis_killed_mid_race", workers=len(workers),
           acknowledged_messages=len(acked_messages), acknowledged_locks=len(acked_locks),
           acknowledged_before_kill=acked_before, lost=0, failed_ops=len(failures),
           failure_ms_max=max(failures), failure_ms_median=sorted(failures)[len(failures) // 2],
           hook_while_down_ms=round(took * 1000), down_s=round(down, 1))


# --- slow: paused past the hook timeout ---------------------------------------------------
def test_client_pause_longer_than_the_hook_timeout(redis_factory: ServerFactory,
                                                   make_project: Callable[..., Project]) -> None:
    server = redis_factory(appendonly=False)
    project = make_project(server.url)
    assert project.edit()[0].stdout == ""  # works, and registered the session
    admin = connect(server, timeout=PRE_TOOL_USE_TIMEOUT + 10)
    # Every client waits, this one too (it unpauses when the pause is over).
    admin.command("CLIENT", "PAUSE", int((PRE_TOOL_USE_TIMEOUT + 1) * 1000), "ALL")
    try:
        result, took = project.edit("src/other.py")
        # Default deadlines: 1 s to connect + 2 s for an answer, far inside the 10 s.
        assert_failed_open(result, took, 4.0)
        status = project.coord("status")
        assert status.returncode == 4 and "unreachable: no answer within 2s" in status.stderr + \
            status.stdout
    finally:
        admin.command("CLIENT", "UNPAUSE")
    assert project.edit("src/other.py")[0].stdout == ""  # back to normal at once
    figure("redis_client_pause", hook_ms=round(took * 1000),
           hook_timeout_ms=int(PRE_TOOL_USE_TIMEOUT * 1000))
    admin.close()


# --- credentials ------------------------------------------------------------------------------
def test_wrong_or_missing_password(redis_factory: ServerFactory,
                                   make_project: Callable[..., Project]) -> None:
    server = redis_factory(password="right-one", appendonly=False)
    for password, says in (("wrong", "refused the credentials"), ("", "wants a password")):
        project = make_project(server.url, COORD_REDIS_PASSWORD=password)
        result, took = project.edit()
        assert_failed_open(result, took, 2.0)
        status = project.coord("status")
        assert status.returncode == 4
        assert status.stderr.count("\n") <= 1 and says in status.stderr, status.stderr
        assert "right-one" not in status.stderr + status.stdout
    good = make_project(server.url, COORD_REDIS_PASSWORD="right-one")
    assert good.edit()[0].stdout == ""
    denied = make_project(server.url, COORD_REDIS_PASSWORD="right-one",
                          COORD_PROJECT_ID=good.env["COORD_PROJECT_ID"])
    assert '"deny"' in denied.edit()[0].stdout  # same project: the lock holds


# --- another service on the port ---------------------------------------------------------------
def test_a_non_redis_service_on_the_port(make_project: Callable[..., Project]) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                continue
            with client:
                client.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
                time.sleep(0.05)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        project = make_project(f"redis://127.0.0.1:{port}/0")
        result, took = project.edit()
        assert_failed_open(result, took, 2.0)
        status = project.coord("status")
        assert status.returncode == 4
        assert "does not speak the Redis protocol" in status.stderr, status.stderr
        assert "SSH-2.0" in status.stderr  # what it said, quoted, so a person can tell
    finally:
        stop.set()
        thread.join(5)
        listener.close()
