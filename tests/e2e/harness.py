"""Run the real ``claude`` CLI offline against the scripted fake model.

A :class:`ClaudeHarness` owns a throwaway HOME and git repo. Each
:meth:`ClaudeHarness.run` starts one launcher process, by default inside a
network namespace that has nothing but loopback (``unshare -n``; ``-r -n``
when not root). The launcher (this file run as a script) starts the fake
model in a thread and the ``claude -p`` sessions next to it, so the CLI and
the server share the namespace's 127.0.0.1 and nothing else is reachable.

Typical use (see README.md in this folder)::

    h = ClaudeHarness(tmp_path, claude_bin, plugin_dirs=[plugin])
    res = h.run(Session("a", [write("{{cwd}}/a.txt", "x\\n"), say("done")]))
    res["a"].assert_ok()
    assert res["a"].denied_tools == ["Write"]
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from fake_model import FakeModel, strings

HERE = Path(__file__).resolve().parent
CLI_VERSION = "2.1.330"
DEFAULT_TIMEOUT = 90.0

# Vars a parent environment must not pass on: a real key or endpoint, a
# surrounding Claude Code session (CLAUDECODE, CLAUDE_CODE_*, CLAUDE_CONFIG_DIR
# would redirect its config), a developer's real coord state, and XDG dirs
# that would point platformdirs at the real home despite the throwaway HOME.
_DROP_PREFIXES = ("ANTHROPIC_", "CLAUDE", "COORD_")
_DROP_NAMES = frozenset({"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"})
_OFFLINE_ENV = {
    "ANTHROPIC_API_KEY": "test",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    # without it an interactive CLI tried a download host and a GitHub clone
    "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
    # fail in seconds, not minutes, if the fake server is gone
    "CLAUDE_CODE_MAX_RETRIES": "1",
}
_GIT_ID = ["-c", "user.name=coord-e2e", "-c", "user.email=coord-e2e@example.invalid"]


# ---------------------------------------------------------------- scripting
def say(text: str) -> dict[str, Any]:
    """A text-only turn (ends the conversation when it is the last one)."""
    return {"text": text}


def tool(name: str, text: str | None = None, **tool_input: Any) -> dict[str, Any]:
    """A turn with one tool call, e.g. ``tool("Glob", pattern="*.py")``."""
    turn: dict[str, Any] = {"tool_use": {"name": name, "input": tool_input}}
    if text:
        turn["text"] = text
    return turn


def write(path: str, content: str) -> dict[str, Any]:
    """Write turn; use an absolute path such as ``{{cwd}}/a.txt``."""
    return tool("Write", file_path=path, content=content)


def read(path: str) -> dict[str, Any]:
    """Read turn (read before Edit: older CLIs refuse an unread file)."""
    return tool("Read", file_path=path)


def edit(path: str, old: str, new: str) -> dict[str, Any]:
    """Edit turn; ``old`` must occur in the file or the CLI fails it before any hook."""
    return tool("Edit", file_path=path, old_string=old, new_string=new)


def bash(command: str, description: str = "run a command") -> dict[str, Any]:
    """Bash turn; ``acceptEdits`` allows only simple commands unless settings allow more."""
    return tool("Bash", command=command, description=description)


# ---------------------------------------------------------------- finding the CLI
def install_dir() -> Path:
    """Where ``scripts/install-claude-cli.sh`` installs the CLI."""
    return Path(os.environ.get("COORD_E2E_CLI_HOME") or Path.home() / ".cache" / "coord-hooks-e2e")


def _version(binary: str) -> str | None:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30, env=_clean_env())
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@cache
def find_claude() -> tuple[Path, str] | None:
    """(binary, version) of the first working CLI, or None.

    Order: ``$CLAUDE_BIN``, the install dir, then ``claude`` on PATH (last,
    because a developer's own CLI may be another version).
    """
    base = install_dir() / "node_modules"
    candidates = [
        os.environ.get("CLAUDE_BIN"),
        str(base / ".bin" / "claude"),
        # the wrapper is a failing stub when npm skipped install scripts
        str(base / "@anthropic-ai" / "claude-code-linux-x64" / "claude"),
        shutil.which("claude"),
    ]
    for c in candidates:
        if c and Path(c).is_file() and (v := _version(c)):
            return Path(c).resolve(), v
    return None


def claude_or_skip() -> Path:
    """The CLI binary, or skip the calling test with a reason."""
    import pytest

    found = find_claude()
    if found is None:
        pytest.skip(
            "claude CLI not found: set CLAUDE_BIN or run scripts/install-claude-cli.sh "
            f"(installs into {install_dir()})"
        )
    if not found[1].startswith(CLI_VERSION):
        warnings.warn(f"e2e: claude {found[1]} at {found[0]}, tests expect {CLI_VERSION}", stacklevel=2)
    return found[0]


# ---------------------------------------------------------------- network namespace
@cache
def netns_prefix() -> tuple[str, ...] | None:
    """The ``unshare`` command that gives a loopback-only namespace, or None.

    ``COORD_E2E_NETNS=0`` turns it off. Unusable unshare (no binary, no
    permission in a container) warns and returns None.
    """
    if os.environ.get("COORD_E2E_NETNS", "1") == "0":
        return None
    exe = shutil.which("unshare")
    if exe is None:
        warnings.warn("e2e: no unshare(1); running claude WITHOUT a network namespace", stacklevel=2)
        return None
    # not root: -r maps us to root in a new user namespace, which may then unshare the network
    cmd = (exe, "-n") if os.geteuid() == 0 else (exe, "-r", "-n")
    probe = subprocess.run([*cmd, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        warnings.warn(
            f"e2e: {' '.join(cmd)} failed ({probe.stderr.strip()}); running claude WITHOUT a network namespace",
            stacklevel=2,
        )
        return None
    return tuple(str(c) for c in cmd)


def _loopback_up() -> None:
    """``ip link set lo up`` by ioctl: a new namespace's lo starts down."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, siocgifflags, req))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sH14x", b"lo", flags | iff_up))


def _clean_env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if not k.startswith(_DROP_PREFIXES) and k not in _DROP_NAMES
    }


# ---------------------------------------------------------------- sessions and results
@dataclasses.dataclass
class Session:
    """One ``claude -p`` process: its script and how to start it.

    ``start_after`` names a session that must have exited first; ``delay``
    is counted from that exit, or from the start of the run.
    """

    name: str
    turns: Sequence[Mapping[str, Any]]
    prompt: str = "Do the scripted task."
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    path_prepend: Sequence[Path | str] = ()
    args: Sequence[str] = ()
    start_after: str | None = None
    delay: float = 0.0


@dataclasses.dataclass
class SessionResult:
    """What one session did; times are seconds since the run started."""

    name: str
    rc: int | None
    timed_out: bool
    stdout: str
    stderr: str
    output: dict[str, Any] | None
    requests: list[dict[str, Any]]
    started: float
    ended: float
    cmd: list[str]

    @property
    def result(self) -> str | None:
        """The final text of ``--output-format json``."""
        return self.output.get("result") if self.output else None

    @property
    def session_id(self) -> str | None:
        return self.output.get("session_id") if self.output else None

    @property
    def is_error(self) -> bool | None:
        return self.output.get("is_error") if self.output else None

    @property
    def permission_denials(self) -> list[dict[str, Any]]:
        return list((self.output or {}).get("permission_denials") or [])

    @property
    def denied_tools(self) -> list[str]:
        """Tool names in ``permission_denials``, in order."""
        return [d.get("tool_name", "?") for d in self.permission_denials]

    @property
    def elapsed(self) -> float:
        return self.ended - self.started

    @property
    def main_requests(self) -> list[dict[str, Any]]:
        """Requests of the agent loop (those that consume the script)."""
        return [r for r in self.requests if r.get("kind") == "main"]

    def requests_text(self, requests: Iterable[Mapping[str, Any]] | None = None) -> str:
        """All text the model was shown (system prompt, messages, tool results)."""
        reqs = self.requests if requests is None else requests
        return "\n".join(request_text(r) for r in reqs)

    def last_request_text(self) -> str:
        """Text of the last main request: where a deny reason or a message shows up."""
        mains = self.main_requests
        return request_text(mains[-1]) if mains else ""

    def assert_ok(self) -> None:
        """Fail with the CLI's output when the run did not end cleanly."""
        if self.rc != 0 or self.output is None or self.is_error:
            raise AssertionError(
                f"session {self.name}: rc={self.rc} timed_out={self.timed_out} is_error={self.is_error}\n"
                f"cmd: {self.cmd}\nstdout: {self.stdout[-2000:]}\nstderr: {self.stderr[-2000:]}"
            )


def request_text(request: Mapping[str, Any]) -> str:
    """Every string the model saw in one logged request."""
    body = request.get("body") or {}
    return "\n".join(strings([body.get("system"), body.get("messages")]))


@dataclasses.dataclass
class RunResult:
    """All sessions of one :meth:`ClaudeHarness.run`."""

    sessions: dict[str, SessionResult]
    requests: list[dict[str, Any]]
    run_dir: Path
    netns: bool

    def __getitem__(self, name: str) -> SessionResult:
        return self.sessions[name]

    def requests_text(self, name: str) -> str:
        """All text session ``name``'s model was shown."""
        return self.sessions[name].requests_text()

    def assert_ok(self) -> None:
        for s in self.sessions.values():
            s.assert_ok()


# ---------------------------------------------------------------- the harness
class ClaudeHarness:
    """A throwaway HOME + git repo in ``root`` and a way to run sessions there.

    ``repo_files`` maps repo-relative paths to contents and is committed with
    the initial commit. Runs keep the repo and HOME, so a later run sees what
    an earlier one left behind.
    """

    def __init__(
        self,
        root: Path,
        claude_bin: Path,
        *,
        plugin_dirs: Sequence[Path] = (),
        user_settings: Mapping[str, Any] | None = None,
        repo_files: Mapping[str, str] | None = None,
        permission_mode: str = "acceptEdits",
        netns: bool | None = None,
        debug: bool = False,
    ) -> None:
        self.root = Path(root).resolve()
        self.claude_bin = Path(claude_bin)
        self.plugin_dirs = [Path(p).resolve() for p in plugin_dirs]
        self.permission_mode = permission_mode
        self.debug = debug
        self._netns = netns_prefix() if netns is not False else None
        self.home = self.root / "home"
        self.repo = self.root / "repo"
        self._runs = 0
        self.home.mkdir(parents=True, exist_ok=True)
        self.repo.mkdir(parents=True, exist_ok=True)
        self._write_claude_json()
        if user_settings is not None:
            self.write_user_settings(user_settings)
        self._init_repo(repo_files or {})

    def _write_claude_json(self) -> None:
        # Trust the repo: project permission rules are ignored in an untrusted
        # one. The onboarding flags only matter interactively but cost nothing.
        conf = {
            "hasCompletedOnboarding": True,
            "projects": {str(self.repo): {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}},
        }
        (self.home / ".claude.json").write_text(json.dumps(conf, indent=2))

    def _init_repo(self, files: Mapping[str, str]) -> None:
        for rel, content in files.items():
            p = self.repo / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content)
        git_env = {**_clean_env(), "HOME": str(self.home)}
        for cmd in (
            ["git", "init", "-q", "-b", "main"],
            ["git", "add", "-A"],
            ["git", *_GIT_ID, "commit", "-q", "--allow-empty", "-m", "init"],
        ):
            subprocess.run(cmd, cwd=self.repo, env=git_env, check=True, capture_output=True)

    def write_user_settings(self, settings: Mapping[str, Any]) -> Path:
        """Write ``HOME/.claude/settings.json`` (e.g. ``permissions.allow``)."""
        path = self.home / ".claude" / "settings.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings, indent=2))
        return path

    def write_project_settings(self, settings: Mapping[str, Any], *, local: bool = False) -> Path:
        """Write the repo's ``.claude/settings[.local].json`` (not committed)."""
        path = self.repo / ".claude" / ("settings.local.json" if local else "settings.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings, indent=2))
        return path

    def base_env(self, run_dir: Path) -> dict[str, str]:
        """The offline environment every session starts from."""
        tmp = run_dir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        # keep the CLI's temp files (claude-<uid>/, sockets) in the run dir
        return {**_clean_env(), **_OFFLINE_ENV, "HOME": str(self.home), "CLAUDE_CODE_TMPDIR": str(tmp), "TMPDIR": str(tmp)}

    def command(self, session: Session, run_dir: Path) -> list[str]:
        cmd = [str(self.claude_bin), "-p", session.prompt, "--output-format", "json"]
        if self.permission_mode:
            cmd += ["--permission-mode", self.permission_mode]
        for p in self.plugin_dirs:
            cmd += ["--plugin-dir", str(p)]
        if self.debug:
            cmd += ["--debug-file", str(run_dir / f"{session.name}.debug.log")]
        return cmd + list(session.args)

    def run(
        self,
        *sessions: Session,
        timeout: float = DEFAULT_TIMEOUT,
        stagger: float | None = None,
        sequential: bool = False,
    ) -> RunResult:
        """Run the sessions (at once by default) and collect their results.

        ``stagger=S`` starts session i at i*S seconds; ``sequential=True``
        starts each one after the previous exited. Explicit ``start_after``
        / ``delay`` on a session win over both.
        """
        names = [s.name for s in sessions]
        if len(set(names)) != len(names):
            raise ValueError(f"session names must be unique: {names}")
        self._runs += 1
        run_dir = self.root / f"run-{self._runs}"
        run_dir.mkdir()
        base = self.base_env(run_dir)
        specs = []
        for i, s in enumerate(sessions):
            env = {**base, **s.env}
            if s.path_prepend:
                env["PATH"] = os.pathsep.join([*(str(p) for p in s.path_prepend), env.get("PATH", "")])
            after, delay = s.start_after, s.delay
            if after is None and i > 0 and sequential:
                after = names[i - 1]
            if after is None and not delay and stagger:
                delay = i * stagger
            if after is not None and after not in names:
                raise ValueError(f"{s.name}: start_after={after!r} is not a session of this run")
            specs.append(
                {
                    "name": s.name,
                    "cmd": self.command(s, run_dir),
                    "env": env,
                    "start_after": after,
                    "delay": delay,
                }
            )
        spec = {
            "run_dir": str(run_dir),
            "cwd": str(self.repo),
            "timeout": timeout,
            "netns": self._netns is not None,
            "scenarios": {s.name: [dict(t) for t in s.turns] for s in sessions},
            "sessions": specs,
        }
        spec_path = run_dir / "spec.json"
        spec_path.write_text(json.dumps(spec, indent=2))
        cmd = [*(self._netns or ()), sys.executable, str(Path(__file__).resolve()), str(spec_path)]
        launcher = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30)
        (run_dir / "launcher.log").write_text(launcher.stdout + launcher.stderr)
        results_path = run_dir / "results.json"
        if launcher.returncode != 0 or not results_path.exists():
            raise RuntimeError(f"e2e launcher failed (rc={launcher.returncode}):\n{launcher.stderr[-3000:]}")
        return self._collect(run_dir, json.loads(results_path.read_text()), specs)

    def _collect(self, run_dir: Path, results: Mapping[str, Any], specs: list[dict[str, Any]]) -> RunResult:
        log = run_dir / "requests.jsonl"
        requests = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []
        sessions = {}
        for spec in specs:
            name = spec["name"]
            r = results["sessions"][name]
            stdout = (run_dir / f"{name}.stdout").read_text(errors="replace")
            try:
                output = json.loads(stdout)
            except ValueError:
                output = None
            sessions[name] = SessionResult(
                name=name,
                rc=r["rc"],
                timed_out=r["timed_out"],
                stdout=stdout,
                stderr=(run_dir / f"{name}.stderr").read_text(errors="replace"),
                output=output if isinstance(output, dict) else None,
                requests=[q for q in requests if q.get("scenario") == name],
                started=r["started"],
                ended=r["ended"],
                cmd=spec["cmd"],
            )
        return RunResult(sessions=sessions, requests=requests, run_dir=run_dir, netns=results["netns"])


# ---------------------------------------------------------------- launcher (runs inside the namespace)
def _launch(spec_path: Path) -> int:
    """Start the fake model and the sessions of a spec; write results.json."""
    spec = json.loads(spec_path.read_text())
    run_dir = Path(spec["run_dir"])
    if spec["netns"]:
        _loopback_up()
    server = FakeModel(spec["scenarios"], run_dir / "requests.jsonl", default_cwd=spec["cwd"])
    port = server.start()
    t0 = time.monotonic()
    deadline = t0 + spec["timeout"]
    pending = list(spec["sessions"])
    running: dict[str, subprocess.Popen[bytes]] = {}
    done: dict[str, dict[str, Any]] = {}
    started: dict[str, float] = {}
    try:
        while pending or running:
            now = time.monotonic()
            if pending and now > deadline:
                for s in pending:  # never started: a predecessor hung
                    done[s["name"]] = {"rc": None, "timed_out": True, "started": now - t0, "ended": now - t0}
                pending.clear()
            for s in list(pending):
                after = s["start_after"]
                if after is not None and after not in done:
                    continue
                ref = done[after]["ended"] if after is not None else 0.0
                if now - t0 < ref + s["delay"]:
                    continue
                pending.remove(s)
                env = {**s["env"], "ANTHROPIC_BASE_URL": server.base_url(s["name"])}
                with (run_dir / f"{s['name']}.stdout").open("wb") as out, (
                    run_dir / f"{s['name']}.stderr"
                ).open("wb") as err:
                    # own process group, so a timeout kills hooks and Bash children too
                    running[s["name"]] = subprocess.Popen(
                        s["cmd"], cwd=spec["cwd"], env=env, stdin=subprocess.DEVNULL,
                        stdout=out, stderr=err, start_new_session=True,
                    )
                started[s["name"]] = time.monotonic() - t0
            for name, proc in list(running.items()):
                rc = proc.poll()
                timed_out = rc is None and now > deadline
                if timed_out:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                if rc is not None or timed_out:
                    del running[name]
                    done[name] = {"rc": rc, "timed_out": timed_out, "started": started[name],
                                  "ended": time.monotonic() - t0}
            time.sleep(0.02)
    finally:
        for proc in running.values():
            os.killpg(proc.pid, signal.SIGKILL)
        server.stop()
    results = {"netns": bool(spec["netns"]), "port": port, "sessions": done}
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="e2e launcher: fake model + claude sessions from a spec")
    parser.add_argument("spec", type=Path)
    return _launch(parser.parse_args(argv).spec)


if __name__ == "__main__":
    sys.exit(main())
