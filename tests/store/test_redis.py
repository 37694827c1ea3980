"""The redis backend beyond the shared contract: fencing, leases, indexes, archive,
push, the server clock, project identity, and the hooks through the real shim.

Every test runs against a real server (tests/redis_server.py); the contract suite, the
state machine and the races run on redis too (tests/store/test_contract.py,
tests/test_state_machine.py, tests/test_races.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from redis_server import connect

from coord_hooks.context import open_context
from coord_hooks.coordination import globs
from coord_hooks.errors import StoreBusyError, StoreError, StoreUnavailableError
from coord_hooks.model import Lock, NewMessage, Session
from coord_hooks.settings import load_settings
from coord_hooks.store import layout, open_store
from coord_hooks.store.identity import (
    normalize_remote,
    project_identity,
    remote_url,
)
from coord_hooks.store.redis import RedisStore
from coord_hooks.store.redis_local import LocalServer

REPO = Path(__file__).resolve().parents[2]
SHIM = REPO / "shims" / "hooks-redis.sh"

pytestmark = pytest.mark.usefixtures("redis_project")


def redis_store(state_dir: Path, **kwargs: Any) -> RedisStore:
    store = open_store("redis", state_dir, **kwargs)
    assert isinstance(store, RedisStore)
    return store


def lock(key: str, owner: str, **changes: Any) -> Lock:
    made = Lock(key=key, owner=owner, acquired_at=1.0, renewed_at=2.0, ttl=1800.0,
                is_glob=any(ch in key for ch in "*?["))
    for name, value in changes.items():
        setattr(made, name, value)
    return made


# --- the fenced commit --------------------------------------------------------------------
def test_a_commit_after_the_lease_was_lost_is_refused_whole(state_dir: Path,
                                                            redis_project: LocalServer) -> None:
    first, second = redis_store(state_dir), redis_store(state_dir)
    admin = connect(redis_project)
    with pytest.raises(StoreBusyError, match="lease expired"), first.transaction() as tx:
        tx.put_session(Session("stale", 1.0, 1.0))
        tx.append_message(NewMessage("stale", "*", "from the stale holder", 1.0))
        # The lease lapses (a long pause), and another process takes and uses it.
        admin.command("DEL", first.keys.mutex)
        with second.transaction() as other:
            other.put_session(Session("fresh", 2.0, 2.0))
    with second.read() as view:
        assert [s.session_id for s in view.sessions()] == ["fresh"]
        assert view.messages_after(0) == [] and view.last_seq() == 0
    admin.close()


SLEEPER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from coord_hooks.model import Session
    from coord_hooks.store import open_store
    store = open_store("redis", Path(sys.argv[1]))
    store.lease_ms = 300
    go = Path(sys.argv[2])
    try:
        with store.transaction() as tx:
            tx.put_session(Session("paused", 1.0, 1.0))
            print("holding", flush=True)
            while not go.exists():
                time.sleep(0.01)
        print("committed", flush=True)
    except Exception as exc:
        print("refused:", type(exc).__name__, exc, flush=True)
""")


def test_a_paused_holder_cannot_commit_over_the_next_one(state_dir: Path,
                                                         tmp_path: Path) -> None:
    """SIGSTOP past the lease: the lease goes to another process; the sleeper's commit,
    once it runs again, is refused and nothing of it is written."""
    redis_store(state_dir).close()
    go = tmp_path / "go"
    child = subprocess.Popen([sys.executable, "-c", SLEEPER, str(state_dir), str(go)],
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "holding"
    child.send_signal(signal.SIGSTOP)
    try:
        other = redis_store(state_dir, lock_timeout=5.0)
        started = time.monotonic()
        with other.transaction() as tx:  # waits for the 300 ms lease to lapse
            tx.put_session(Session("next", 2.0, 2.0))
        assert time.monotonic() - started < 2.0
    finally:
        go.touch()
        child.send_signal(signal.SIGCONT)
    out, _ = child.communicate(timeout=30)
    assert out.startswith("refused: StoreBusyError"), out
    with other.read() as view:
        assert [s.session_id for s in view.sessions()] == ["next"]


HOLDER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from coord_hooks.store import open_store
    store = open_store("redis", Path(sys.argv[1]))
    with store.transaction() as tx:
        print("holding", flush=True)
        time.sleep(600)
""")


def test_a_dead_holders_lease_is_freed_at_once(state_dir: Path) -> None:
    redis_store(state_dir).close()
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(state_dir)],
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "holding"
    child.kill()
    child.wait()
    store = redis_store(state_dir, lock_timeout=3.0)
    started = time.monotonic()
    with store.transaction() as tx:
        tx.put_session(Session("after", 1.0, 1.0))
    # The holder's process is gone on this host: no wait for its 5 s lease.
    assert time.monotonic() - started < 1.0


def test_a_live_holder_makes_others_wait_then_refuse(state_dir: Path) -> None:
    holder = redis_store(state_dir)
    with holder.transaction():
        waiter = redis_store(state_dir, lock_timeout=0.3)
        with pytest.raises(StoreBusyError, match=r"busy for 0.3s \(held by "), \
                waiter.transaction():
            pass  # pragma: no cover


# --- indexes ------------------------------------------------------------------------------
KEY_PARTS = st.sampled_from(["src", "a.py", "b", "docs", "x.txt", "*.py", "**", "s?c"])
KEYS = st.lists(KEY_PARTS, min_size=1, max_size=3).map("/".join)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(held=st.lists(KEYS, min_size=1, max_size=12, unique=True), query=KEYS)
def test_locks_touching_never_misses_an_overlap(tmp_path_factory: pytest.TempPathFactory,
                                                held: list[str], query: str) -> None:
    """The indexed lookup returns every lock the overlap rule would find in all locks."""
    store = redis_store(tmp_path_factory.mktemp("idx"))
    store.configure(load_settings(None).replace(project_id=f"idx-{uuid.uuid4()}"))
    with store.transaction() as tx:
        for i, key in enumerate(held):
            tx.put_lock(lock(key, f"owner{i}"))
    is_glob = globs.is_glob(query) if hasattr(globs, "is_glob") else any(
        ch in query for ch in "*?[")

    def folder(_: str) -> bool:
        return False

    with store.read() as view:
        every = view.locks()
        touching = {(lk.key, lk.owner) for lk in view.locks_touching(query, is_glob)}
    needed = {(lk.key, lk.owner) for lk in every
              if globs.keys_overlap(lk.key, lk.is_glob, query, is_glob, folder)}
    assert needed <= touching
    store.close()


def test_indexes_follow_deletes_and_owners(state_dir: Path) -> None:
    store = redis_store(state_dir)
    with store.transaction() as tx:
        tx.put_lock(lock("src/a.py", "s1"))
        tx.put_lock(lock("src/**", "s2"))
        tx.put_lock(lock("docs/x.md", "s1"))
    with store.transaction() as tx:
        assert sorted(lk.key for lk in tx.locks_owned_by("s1")) == ["docs/x.md", "src/a.py"]
        tx.delete_lock("src/**", "s2")
        assert [lk.key for lk in tx.locks_touching("src/a.py", False)] == ["src/a.py"]
    with store.read() as view:
        assert [lk.key for lk in view.locks_touching("src/b.py", False)] == []
        assert sorted(lk.key for lk in view.locks_owned_by("s1")) == ["docs/x.md", "src/a.py"]
    assert store.maintenance(dry_run=True)["stale_index_entries"] == 0


# --- messages, archive, push ----------------------------------------------------------------
def test_retention_moves_messages_to_the_archive_in_one_step(state_dir: Path,
                                                             redis_project: LocalServer) -> None:
    store = redis_store(state_dir)
    with store.transaction() as tx:
        for i in range(10):
            tx.append_message(NewMessage("s", "*", f"m{i}", float(i)))
        assert tx.archive_messages(4) == 4
        assert tx.message_count() == 6
        assert [m.seq for m in tx.messages_after(0)] == list(range(5, 11))
    with store.read() as view:
        assert view.message_count() == 6 and view.last_seq() == 10
    assert [m.body for m in store.archived_messages()] == [f"m{i}" for i in range(4)]
    admin = connect(redis_project)
    assert admin.command("LLEN", store.keys.archive) == 4  # a list that is never trimmed
    admin.close()
    with store.transaction() as tx:
        assert tx.archive_messages(4) == 0 and tx.archive_messages(6) == 2
    assert [m.seq for m in store.archived_messages()] == [1, 2, 3, 4, 5, 6]


def test_every_commit_is_published_on_the_project_channel(state_dir: Path) -> None:
    store = redis_store(state_dir)
    listener = store.subscribe()
    assert listener.get_message(0.05) is None
    with store.transaction() as tx:
        tx.append_message(NewMessage("s", "*", "wake up", 1.0))
    channel, data = listener.get_message(5) or ("", "")
    assert channel == store.keys.events
    generation, last = data.split()
    assert int(last) == 1 and int(generation) >= 1
    with store.transaction():
        pass  # a read-only transaction commits nothing and publishes nothing
    assert listener.get_message(0.1) is None
    listener.close()


# --- clocks, hosts --------------------------------------------------------------------------
def test_records_carry_the_server_clock_not_this_machines(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    """A machine whose clock is an hour slow still stamps heartbeats in server time."""
    real = time.time
    project = tmp_path / "proj"
    project.mkdir()
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(project))
    ctx = open_context(backend="redis", cwd=str(project))
    server_now = ctx.store.clock()  # the handshake measured the offset
    assert abs(server_now - real()) < 1.0
    monkeypatch.setattr(time, "time", lambda: real() - 3600)
    slow = open_context(backend="redis", cwd=str(project))
    session = slow.coordinator.register("slow-clock-session", cwd=str(project))
    assert abs(session.last_seen - real()) < 2.0  # not an hour ago
    monkeypatch.setattr(time, "time", real)
    other_machine = open_context(backend="redis", cwd=str(project)).coordinator
    views = other_machine.sessions()  # so no other machine thinks it died
    assert [v.session.session_id for v in views if v.live] == ["slow-clock-session"]


def test_host_id_decides_whose_pids_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                pids: Any) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(project))
    monkeypatch.setenv("COORD_HOST_ID", "laptop-b")
    pid = pids()
    theirs = open_context(backend="redis", cwd=str(project)).coordinator
    remote = theirs.register("remote-session", pid=pid, cwd=str(project))
    assert remote.hostname == "laptop-b" and remote.pid == pid
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    monkeypatch.setenv("COORD_HOST_ID", "laptop-a")
    ours = open_context(backend="redis", cwd=str(project)).coordinator
    assert ours.reap() == []  # its pid is not ours to judge: live by heartbeat
    monkeypatch.setenv("COORD_HOST_ID", "laptop-b")
    again = open_context(backend="redis", cwd=str(project)).coordinator
    assert [s.session_id for s in again.reap()] == ["remote-session"]  # its own host can


# --- layout marker ------------------------------------------------------------------------
def test_the_state_dir_records_that_the_records_live_in_redis(state_dir: Path) -> None:
    redis_store(state_dir).close()
    assert layout.read_marker(state_dir) == layout.REDIS
    assert layout.backend_for(state_dir, "optimized") == "redis"
    with pytest.raises(StoreError, match="redis server"):
        open_store("optimized", state_dir)


def test_a_json_state_dir_is_not_silently_replaced(state_dir: Path) -> None:
    with open_store("optimized", state_dir).transaction() as tx:
        tx.put_session(Session("local", 1.0, 1.0))
    with pytest.raises(StoreError, match="coord migrate --to redis"):
        open_store("redis", state_dir)


# --- faults -------------------------------------------------------------------------------
def test_an_unreachable_server_is_one_clear_error(state_dir: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from coord_hooks.store.redis_local import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("COORD_REDIS_URL", url)
    store = redis_store(state_dir)
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as info, store.read():
        pass  # pragma: no cover
    assert str(info.value) == f"redis at {url} unreachable: connection refused"
    assert time.monotonic() - started < 1.0


# --- identity -----------------------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "git@github.com:Team/App.git", "https://github.com/team/app", "ssh://git@github.com/team/app",
    "https://user:token@github.com/team/app.git/", "ssh://git@github.com:22/team/app.git",
    "git://github.com/team/app", "github.com:team/app",
])
def test_every_spelling_of_one_remote_is_one_project(url: str) -> None:
    assert normalize_remote(url) == "github.com/team/app"


@pytest.mark.parametrize("url", ["/srv/git/app.git", "./app", "file:///srv/app.git", ""])
def test_local_remotes_have_no_shared_name(url: str) -> None:
    assert normalize_remote(url) is None


def test_remote_url_reads_git_config_syntax() -> None:
    text = textwrap.dedent("""
        [core]
            bare = false
        [remote "upstream"]
            url = git@host:other/x.git
        [Remote "origin"]  ; sections are case-insensitive, subsections are not
            URL = "git@host:o/r.git" # a comment
            fetch = +refs/heads/*:refs/remotes/origin/*
        [remote "origin"]
            url = https://second/url
    """)
    assert remote_url(text) == "git@host:o/r.git"
    assert remote_url("[remote.origin]\n url = https://h/o/r\n") == "https://h/o/r"
    assert remote_url("[remote \"origin\"]\n") is None


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull,
                        "GIT_CONFIG_NOSYSTEM": "1"})


def test_clones_worktrees_and_overrides(tmp_path: Path) -> None:
    one, two = tmp_path / "laptop" / "app", tmp_path / "devbox" / "work" / "app-clone"
    for path, url in ((one, "git@github.com:team/app.git"), (two, "https://github.com/team/app")):
        path.mkdir(parents=True)
        _git("init", "-q", cwd=path)
        _git("remote", "add", "origin", url, cwd=path)
    a, b = project_identity(one), project_identity(two)
    assert a.project_id == b.project_id == "github.com/team/app"
    assert a.namespace == b.namespace and a.source == "origin"
    _git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty",
         "-m", "x", cwd=one)
    _git("worktree", "add", "-q", str(tmp_path / "wt"), cwd=one)
    assert (tmp_path / "wt" / ".git").is_file()  # a worktree: .git is a file
    assert project_identity(tmp_path / "wt").namespace == a.namespace
    assert project_identity(one, "shared-name").project_id == "shared-name"
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    _git("init", "-q", cwd=lonely)
    alone = project_identity(lonely)
    assert alone.source == "path" and alone.project_id == f"path:{lonely.resolve()}"
    assert "no origin remote" in alone.describe()
    token = project_identity(one)  # a credential in a remote URL is never shown
    _git("remote", "set-url", "origin", "https://bob:hunter2@github.com/team/app", cwd=one)
    shown = project_identity(one)
    assert shown.namespace == token.namespace and "hunter2" not in shown.detail


# --- the hook path --------------------------------------------------------------------------
WRAPPER = """#!{python}
import os, sys
args = sys.argv[1:]
i = args.index("-c")
dump = "open({out!r}, 'w').write('\\\\n'.join(sorted(sys.modules)))"
# at exit, and when the hook ends with os._exit (which skips atexit handlers)
args[i + 1] = ("import atexit, os, sys\\natexit.register(lambda: " + dump + ")\\n"
               "os._exit = lambda code, _exit=os._exit: (" + dump + ", _exit(code))\\n"
               + args[i + 1])
os.execv({python!r}, [{python!r}, *args])
"""


def _hook(event: str, payload: dict[str, Any], env: dict[str, str], cwd: Path
          ) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    proc = subprocess.run([str(SHIM), event], input=json.dumps(payload), capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=60, check=False)
    return proc, time.monotonic() - started


def test_hooks_stay_standard_library_and_count_round_trips(tmp_path: Path, pids: Any,
                                                           redis_project: LocalServer) -> None:
    project = tmp_path / "proj"
    (project / "src").mkdir(parents=True)
    modules = tmp_path / "modules.txt"
    wrapper = tmp_path / "python"
    wrapper.write_text(WRAPPER.format(python=sys.executable, out=str(modules)))
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COORD_", "CLAUDE"))}
    env.update(CLAUDE_PROJECT_DIR=str(project), COORD_REDIS_URL=redis_project.url,
               COORD_PYTHON=str(wrapper), CLAUDE_PID=str(pids()),
               COORD_PROJECT_ID=f"rt-{uuid.uuid4()}")
    sid = str(uuid.uuid4())
    base = {"session_id": sid, "cwd": str(project)}
    edit = {**base, "hook_event_name": "PreToolUse", "tool_name": "Edit",
            "tool_input": {"file_path": str(project / "src" / "a.py")}}
    assert _hook("session-start", {**base, "source": "startup"}, env, project)[0].returncode == 0
    warm = {**edit, "tool_input": {"file_path": str(project / "src" / "warm.py")}}
    for _ in range(2):  # lock, then renew: every script loaded once (NOSCRIPT) before
        assert _hook("pre-tool-use", warm, env, project)[0].stdout == ""
    assert _hook("pre-tool-use", edit, env, project)[0].stdout == ""  # granted
    assert _hook("pre-tool-use", edit, env, project)[0].stdout == ""  # renewed
    loaded = set(modules.read_text().split())
    assert "coord_hooks.store.redis" in loaded
    slow = {"socket", "ssl", "selectors", "typing", "dataclasses", "hashlib",
            "redis", "valkey"} & loaded
    assert slow == set(), slow
    prompt = {**base, "hook_event_name": "UserPromptSubmit", "prompt": "hi"}
    perf_log = project / ".claude-coordination" / "logs" / "performance.log"

    def trips() -> dict[tuple[str, str], int]:
        perf = [json.loads(line) for line in perf_log.read_text().splitlines()]
        return {(p["hook"], p["outcome"]): p["round_trips"] for p in perf}  # the last of each

    # The first prompt of an interactive session (it was idle since SessionStart): the
    # heartbeat also clears idle_since, in one transaction (lease, session, commit).
    assert _hook("user-prompt-submit", prompt, env, project)[0].returncode == 0
    assert trips()[("UserPromptSubmit", "ok")] <= 7
    # handshake, heartbeat read, lease, own session, locks touching, commit/release
    assert trips()[("PreToolUse", "locked")] <= 6
    assert trips()[("PreToolUse", "renewed")] <= 6
    assert _hook("user-prompt-submit", prompt, env, project)[0].returncode == 0
    assert trips()[("UserPromptSubmit", "ok")] <= 4  # handshake, heartbeat, session, mail


def test_the_monitor_wakes_on_a_commit_without_polling(state_dir: Path) -> None:
    from coord_hooks.ops import monitor

    store = redis_store(state_dir)
    wait = monitor.change_waiter(store)
    assert wait is not None and wait(0.05) is False  # nothing committed: times out

    def commit_soon() -> None:
        time.sleep(0.3)
        with redis_store(state_dir).transaction() as tx:
            tx.append_message(NewMessage("s", "*", "ping", 1.0))

    import threading

    thread = threading.Thread(target=commit_soon)
    started = time.monotonic()
    thread.start()
    assert wait(10.0) is True
    assert time.monotonic() - started < 3.0  # woken by the publish, not the 10 s timeout
    thread.join()
    assert monitor.change_waiter(open_store("sqlite", state_dir.parent / "other")) is None
