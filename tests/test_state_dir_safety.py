"""A hostile repository can commit symlinks into ``.claude-coordination/``: no write may
follow one out of the state directory (issue 9, item 2).

`test_no_write_follows_a_planted_symlink` walks every path the product writes in a state
dir, plants a symlink there before the first write (to a sentinel file, or to a missing
name, or for folders to an outside folder), runs a whole workload — the hooks of two
sessions, sends and broadcasts, retention, log rotation, cleanup, status — and checks
that nothing outside the state dir changed (content, mtime, names). Backends join from
`BACKENDS`; paths of a layout a backend does not use are skipped for it.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coord_hooks.model import lock_id_for, waiter_id_for
from coord_hooks.store import BACKENDS
from coord_hooks.store.layout import BACKEND_LAYOUT

HERE = Path(__file__).resolve().parent
if str(HERE / "hook") not in sys.path:
    sys.path.insert(0, str(HERE / "hook"))
import payloads  # noqa: E402  (tests/hook/payloads.py: real-shaped hook payloads)

REPO = HERE.parent
ALICE = "aaaaaaaa-1111-4000-8000-000000000001"
BOB = "bbbbbbbb-2222-4000-8000-000000000002"

# Every path a backend writes (or opens for writing) in a state dir, by layout: "*" for
# paths every backend with a state dir uses (logs, health, quarantine, archive, config).
STATE_PATHS: dict[str, tuple[str, ...]] = {
    "*": ("", ".gitignore", "layout", "config.toml", "logs", "logs/app.log",
          "logs/performance.log", "logs/app.log.1", "logs/.app.log.rotate",
          "logs/.performance.log.rotate", "health", "health/housekeep.stamp",
          "health/size-history.jsonl", "quarantine", "archive",
          "archive/messages.jsonl.gz"),
    "json": (".lock", "generation", "seq.json", "broadcasts.jsonl", "sessions", "locks",
             "messages", f"sessions/{ALICE}.json", f"sessions/{BOB}.json",
             f"locks/{lock_id_for('src/app.py', ALICE)}.json", "messages/000000000001.json",
             "index", "index/manifest", "index/sessions", "index/locks", "index/stats.log",
             "waiters", f"waiters/{waiter_id_for(BOB, 'src/app.py')}.json"),
    "sqlite": ("coord.db", "coord.db-wal", "coord.db-shm", "coord.db-journal",
               "coord.db.lock"),
}
# Links that leave no usable store (the state dir, a record folder).
REFUSED = {"", "sessions", "locks", "messages"}
# A link where the project config belongs: commands refuse it in one line; hooks skip it
# (logged) and keep checking locks.
CONFIG = "config.toml"
FOLDERS = {"", "logs", "health", "quarantine", "archive", "sessions", "locks", "messages", "index",
           "waiters"}


def _cases() -> Iterator[Any]:
    for backend in sorted(BACKENDS):
        layout = BACKEND_LAYOUT.get(backend)  # None: a backend with no files of its own
        for group, paths in STATE_PATHS.items():
            if group not in ("*", layout):
                continue
            for rel in paths:
                kinds = ("folder",) if rel in FOLDERS else ("sentinel", "dangling")
                for kind in kinds:
                    name = rel or "state-dir"
                    yield pytest.param(backend, rel, kind, id=f"{backend}-{name}-{kind}")


def server_for(backend: str, request: pytest.FixtureRequest) -> bool:
    """Start what a networked backend needs (its own fixtures decide how): True if any."""
    if BACKEND_LAYOUT.get(backend) == "redis":
        request.getfixturevalue("redis_project")  # a real server, a namespace of our own
        return True
    return False


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    """Everything under ``folder``: content, mtime and mode of each entry."""
    found: dict[str, tuple[bytes, int, int]] = {}
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        data = path.read_bytes() if stat.S_ISREG(st.st_mode) else b""
        found[str(path.relative_to(folder))] = (data, st.st_mtime_ns, st.st_mode)
    return found


class Workload:
    """Two sessions working in one project, driven in-process through the real entry points:
    `hook.entry.run_hook` (what the shim execs) and `__main__.main` (the ``coord`` command).
    """

    def __init__(self, root: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.backend = backend
        self.codes: list[tuple[str, int]] = []
        monkeypatch.delenv("COORD_STATE_DIR", raising=False)
        monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(root))
        monkeypatch.setenv("COORD_BACKEND", backend)
        monkeypatch.setenv("COORD_RETENTION_MESSAGES", "1")  # archive at once
        monkeypatch.setenv("COORD_LOG_MAX_BYTES", "300")  # rotate the logs too
        monkeypatch.setenv("BROADCAST_BATCH_SIZE", "50")  # broadcasts wait in the journal
        monkeypatch.chdir(root)
        self.monkeypatch = monkeypatch

    def hook(self, event: str, payload: dict[str, Any] | bytes) -> None:
        import json

        from coord_hooks.hook.entry import run_hook

        r, w = os.pipe()
        os.write(w, payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        os.close(w)
        try:
            code = run_hook([event, "--backend", self.backend], stdin=r)
        finally:
            os.close(r)
        self.codes.append((f"hook {event}", code))

    def coord(self, *args: str, acting: str | None = None) -> None:
        from coord_hooks.__main__ import main

        if acting is None:
            self.monkeypatch.delenv("CLAUDE_CODE_SESSION_ID", raising=False)
        else:
            self.monkeypatch.setenv("CLAUDE_CODE_SESSION_ID", acting)
        try:
            main(list(args))
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        self.codes.append((f"coord {' '.join(args)}", code))

    def run(self) -> None:
        cwd = str(self.root)
        app = str(self.root / "src" / "app.py")
        for sid in (ALICE, BOB):
            self.hook("session-start", payloads.session_start(sid, cwd))
        self.hook("pre-tool-use", payloads.write(ALICE, cwd, app))
        self.hook("pre-tool-use", payloads.write(BOB, cwd, app))
        self.coord("broadcast", "x $(touch PWNED) `id`", acting=BOB)
        self.coord("send", ALICE[:8], "hello", acting=BOB)
        self.coord("broadcast", "second", acting=ALICE)
        self.hook("user-prompt-submit", payloads.user_prompt_submit(ALICE, cwd))
        self.hook("user-prompt-submit", payloads.user_prompt_submit(BOB, cwd))
        self.hook("stop", payloads.stop(ALICE, cwd))
        self.hook("post-tool-use", b"{not json")  # a warning in logs/app.log
        self.coord("cleanup")
        self.coord("status")
        for sid in (ALICE, BOB):
            self.hook("session-end", payloads.session_end(sid, cwd))


@pytest.mark.parametrize(("backend", "rel", "kind"), list(_cases()))
def test_no_write_follows_a_planted_symlink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str],
                                            request: pytest.FixtureRequest,
                                            backend: str, rel: str, kind: str) -> None:
    server_for(backend, request)
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("hi\n")
    (root / ".git").mkdir()
    state = root / ".claude-coordination"
    if rel:
        state.mkdir(mode=0o700)
    outside = tmp_path / "outside"
    outside.mkdir()
    sentinel = outside / "bashrc"
    sentinel.write_text("# the user's own file\n")
    os.utime(sentinel, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    link = state / rel if rel else state
    link.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if kind == "folder":
        os.symlink(outside, link)
    elif kind == "sentinel":
        os.symlink(sentinel, link)
    else:
        os.symlink(outside / "created-through-the-link", link)
    before = _snapshot(outside)

    work = Workload(root, backend, monkeypatch)
    work.run()

    assert _snapshot(outside) == before, f"a write followed {rel} out of the state dir"
    assert not (root / "PWNED").exists()
    hooks = [(what, code) for what, code in work.codes if what.startswith("hook")]
    assert all(code == 0 for _, code in hooks), hooks  # hooks always fail open
    crashed = [(what, code) for what, code in work.codes if code == 70]
    assert not crashed, f"internal errors instead of one-line errors: {crashed}"
    failed = [(what, code) for what, code in work.codes if code != 0]
    denied = capsys.readouterr().out.count('"permissionDecision":"deny"')
    if rel in REFUSED:  # no store: every command says why, every hook fails open
        assert len(failed) == len([c for c in work.codes if c[0].startswith("coord")])
        assert denied == 0
    elif rel == CONFIG:
        assert len(failed) == len([c for c in work.codes if c[0].startswith("coord")])
        assert denied == 1
    elif rel in FOLDERS:  # what lives there is refused; locks keep working
        assert denied == 1
    else:  # a link in place of a file is moved aside or replaced: work goes on
        assert not failed
        assert denied == 1


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_broadcast_never_appends_to_a_linked_journal_through_the_real_cli(
        tmp_path: Path, backend: str, hook_env: dict[str, str],
        request: pytest.FixtureRequest) -> None:
    """The issue's reproduction, end to end: real shim, real ``coord`` process."""
    for name in ("COORD_REDIS_URL", "COORD_PROJECT_ID"):  # set by a server fixture
        if server_for(backend, request) and name in os.environ:
            hook_env[name] = os.environ[name]
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    state = root / ".claude-coordination"
    state.mkdir(mode=0o700)
    (state / "logs").mkdir(mode=0o700)
    (state / "index").mkdir(mode=0o700)
    bashrc = tmp_path / "home" / ".bashrc"
    bashrc.parent.mkdir()
    bashrc.write_text("export PS1='$ '\n")
    before = bashrc.read_bytes(), bashrc.stat().st_mtime_ns
    for rel in ("broadcasts.jsonl", "logs/app.log", "logs/performance.log", "index/stats.log"):
        os.symlink(bashrc, state / rel)
    env = dict(hook_env, CLAUDE_PROJECT_DIR=str(root), COORD_BACKEND=backend,
               CLAUDE_CODE_SESSION_ID=ALICE)
    env.pop("COORD_STATE_DIR", None)
    shim = REPO / "shims" / "hooks.sh"
    import json

    for payload, event in ((payloads.session_start(ALICE, str(root)), "session-start"),
                           (payloads.user_prompt_submit(ALICE, str(root), "go"),
                            "user-prompt-submit")):
        done = subprocess.run([str(shim), event], input=json.dumps(payload).encode(), env=env,
                              cwd=root, capture_output=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert b"Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "coord_hooks", "broadcast", "x $(id)"],
                          env=env, cwd=root, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "broadcast #1" in done.stdout
    assert (bashrc.read_bytes(), bashrc.stat().st_mtime_ns) == before


@pytest.mark.parametrize("backend", ["optimized", "legacy", "sqlite"])
@pytest.mark.parametrize("planted", ["link", "file"])
def test_a_session_starting_where_the_state_dir_is_refused_is_told_coordination_is_off(
        tmp_path: Path, backend: str, planted: str, hook_env: dict[str, str]) -> None:
    """A clone that committed ``.claude-coordination`` as a link (or a file) switches the
    product off there: nothing is written through it, every hook fails open, and the
    session start says so to the user and the model (silence would pass for "no peers")."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    if planted == "link":
        os.symlink(outside, root / ".claude-coordination")
    else:
        (root / ".claude-coordination").write_text("not a folder\n")
    env = dict(hook_env, CLAUDE_PROJECT_DIR=str(root), COORD_BACKEND=backend,
               CLAUDE_CODE_SESSION_ID=ALICE)
    shim = REPO / "shims" / "hooks.sh"
    import json

    def hook(event: str, payload: dict[str, Any]) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run([str(shim), event], input=json.dumps(payload).encode(),
                              env=env, cwd=root, capture_output=True, timeout=60, check=False)
        assert done.returncode == 0 and done.stderr == b"", done.stderr
        return done

    out = json.loads(hook("session-start", payloads.session_start(ALICE, str(root))).stdout)
    told = "a symbolic link" if planted == "link" else "not a directory"
    assert out["systemMessage"].startswith("coord-hooks: coordination is OFF in this project: ")
    assert told in out["systemMessage"]
    context = out["hookSpecificOutput"]["additionalContext"]
    assert out["hookSpecificOutput"]["hookEventName"] == "SessionStart"
    assert context.startswith("[coord-hooks] Coordination with other Claude Code sessions is "
                              "OFF in this project: ")
    assert told in context and "\n" not in context
    # the rest of the session fails open, quietly; nothing went through the link
    edit = payloads.edit(ALICE, str(root), str(root / "src" / "app.py"))
    assert hook("pre-tool-use", edit).stdout == b""
    assert hook("user-prompt-submit", payloads.user_prompt_submit(ALICE, str(root))).stdout == b""
    assert list(outside.iterdir()) == []


@pytest.fixture
def hook_env(tmp_path: Path) -> dict[str, str]:
    """The environment a hook subprocess gets (the shim finds this interpreter cached)."""
    cache = tmp_path / "xdg-cache"
    (cache / "coord-hooks").mkdir(parents=True)
    (cache / "coord-hooks" / "python").write_text(sys.executable + "\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COORD_", "CLAUDE")) and k != "COORDINATION_DEBUG"}
    env["XDG_CACHE_HOME"] = str(cache)
    return env



NOBODY = 65534


def as_nobody(env: dict[str, str], cwd: Path, action: Any) -> tuple[int, str, str]:
    """Run ``action()`` as uid ``nobody`` in a forked child: (exit code, stdout, stderr).

    Forked, not exec'd: this interpreter lives where ``nobody`` may not read (everything
    it needs must already be imported).
    """
    import tempfile
    import traceback

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            code = 99
            try:
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 (not pytest's capture)
                sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
                os.environ.clear()
                os.environ.update(env)
                os.chdir(cwd)
                os.setgroups([])
                os.setresgid(NOBODY, NOBODY, NOBODY)
                os.setresuid(NOBODY, NOBODY, NOBODY)
                result = action()
                code = result if isinstance(result, int) else 0
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else 1
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        err.seek(0)
        return os.waitstatus_to_exitcode(status), out.read().decode(), err.read().decode()


def test_a_state_dir_shared_by_two_users_is_refused_never_broken(
        hook_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 9 (minor): a session running as another uid failed open silently, and a
    state dir shared by two users broke every hook of one on the other's 0600 files.
    Now the other user's hooks leave the dir alone, and each side gets one clear line."""
    if os.geteuid() != 0:
        pytest.skip("running as a second user needs root")
    import json
    import shutil
    import tempfile

    from coord_hooks.__main__ import main
    from coord_hooks.cli.app import run_cli
    from coord_hooks.hook.entry import run_hook

    def hook(event: str, payload: dict[str, Any]) -> int:
        r, w = os.pipe()
        os.write(w, json.dumps(payload).encode())
        os.close(w)
        return run_hook([event], stdin=r)

    top = Path(tempfile.mkdtemp(prefix="coord-shared-"))  # /tmp: traversable by nobody
    try:
        os.chmod(top, 0o755)
        repo, home = top / "repo", top / "home"
        for folder in (repo / ".git", home):
            folder.mkdir(parents=True)
        for folder in (repo, repo / ".git", home):
            os.chown(folder, NOBODY, NOBODY)
        state = repo / ".claude-coordination"
        env = dict(hook_env, CLAUDE_PROJECT_DIR=str(repo), HOME=str(home),
                   XDG_CONFIG_HOME=str(home / ".config"))
        # Warm up here, as root, on paths like the child's: it can import nothing.
        monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(tmp_path))
        monkeypatch.delenv("COORD_STATE_DIR")
        with pytest.raises(SystemExit):
            main(["broadcast", "warm"])
        (tmp_path / ".claude-coordination" / "generation").unlink()
        (tmp_path / ".claude-coordination" / "generation").mkdir()
        assert run_cli(["status"]) == 4
        assert hook("user-prompt-submit", payloads.user_prompt_submit(ALICE, str(tmp_path))) == 0

        code, out, err = as_nobody(env, repo, lambda: main(["broadcast", "hi"]))
        assert (code, err) == (0, ""), err
        owners = {p: p.lstat().st_uid for p in [state, *state.rglob("*")]}
        assert set(owners.values()) == {NOBODY}

        # root, a second user, in nobody's project: a hook leaves everything alone (the
        # session start says coordination is off, and why) ...
        done = subprocess.run([str(REPO / "shims" / "hooks.sh"), "session-start"],
                              input=json.dumps(payloads.session_start(ALICE, str(repo))),
                              env=env, cwd=repo, capture_output=True, text=True, timeout=60,
                              check=False)
        assert (done.returncode, done.stderr) == (0, "")
        assert "belongs to uid" in json.loads(done.stdout)["systemMessage"]
        assert {p: p.lstat().st_uid for p in [state, *state.rglob("*")]} == owners
        # ... and a command says why in one line.
        done = subprocess.run([sys.executable, "-m", "coord_hooks", "status"], env=env,
                              cwd=repo, capture_output=True, text=True, timeout=60,
                              check=False)
        assert done.returncode == 4 and done.stderr.count("\n") == 1, done.stderr
        assert f"belongs to uid {NOBODY} (nobody), not to you (uid 0)" in done.stderr

        # What an older version left behind: root's 0600 generation in nobody's dir.
        (state / "generation").unlink()
        (state / "generation").write_text("7")
        os.chmod(state / "generation", 0o600)
        assert (state / "generation").lstat().st_uid == 0
        code, out, err = as_nobody(env, repo, lambda: run_cli(["status"]))
        assert code == 4 and err.count("\n") == 1, err
        assert "generation belongs to uid 0 (root), not to you (uid 65534)" in err
        code, out, err = as_nobody(env, repo, lambda: hook(
            "user-prompt-submit", payloads.user_prompt_submit(ALICE, str(repo))))
        assert (code, out, err) == (0, "", "")
        failures = [json.loads(line) for line in
                    (state / "logs" / "app.log").read_text().splitlines()
                    if '"hook_failed"' in line]
        assert len(failures) == 1 and "belongs to uid 0 (root)" in failures[0]["error"]
    finally:
        shutil.rmtree(top, ignore_errors=True)

