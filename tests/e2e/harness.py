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
import contextlib
import ctypes
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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from fake_model import NAME_RE as _NAME_RE
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

# Barrier helpers put on every session's PATH. Scripts need them to order
# steps across sessions without timing guesses ("B edits only after A wrote"),
# and the CLI refuses a plain `sleep N` in Bash anyway.
_BARRIER_TOOLS = {
    "e2e-wait": """#!/bin/sh
# e2e-wait NAME [SECONDS]: block until `e2e-signal NAME` has run (default 30 s)
f="$E2E_BARRIER_DIR/$1"; n=$(( ${2:-30} * 20 ))
while [ ! -e "$f" ] && [ "$n" -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
if [ -e "$f" ]; then echo "barrier $1 passed"; else echo "barrier $1 timed out" >&2; exit 1; fi
""",
    "e2e-signal": """#!/bin/sh
# e2e-signal NAME: release everyone waiting in `e2e-wait NAME`
mkdir -p "$E2E_BARRIER_DIR" && : > "$E2E_BARRIER_DIR/$1" && echo "barrier $1 signalled"
""",
}
_BARRIER_RULES = [f"Bash({name}:*)" for name in _BARRIER_TOOLS]


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


def wait_for(barrier: str, seconds: int = 30) -> dict[str, Any]:
    """Bash turn that blocks until another session ran :func:`signal_barrier`."""
    return bash(f"e2e-wait {barrier} {seconds}", f"wait for {barrier}")


def signal_barrier(barrier: str) -> dict[str, Any]:
    """Bash turn that releases the sessions waiting for ``barrier``."""
    return bash(f"e2e-signal {barrier}", f"signal {barrier}")


# ---------------------------------------------------------------- finding the CLI
# Read at import: tests/conftest.py points HOME at a temp dir for every test,
# but the CLI was installed under the real one.
_REAL_HOME = Path.home()


def install_dir() -> Path:
    """Where ``scripts/install-claude-cli.sh`` installs the CLI."""
    default = _REAL_HOME / ".cache" / "coord-hooks-e2e"
    return Path(os.environ.get("COORD_E2E_CLI_HOME") or default)


def _version(binary: str) -> str | None:
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=30, env=_clean_env()
        )
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
        warnings.warn(
            f"e2e: claude {found[1]} at {found[0]}, tests expect {CLI_VERSION}", stacklevel=2
        )
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
        warnings.warn(
            "e2e: no unshare(1); running claude WITHOUT a network namespace", stacklevel=2
        )
        return None
    # not root: -r maps us to root in a new user namespace, which may then unshare the network
    cmd = (exe, "-n") if os.geteuid() == 0 else (exe, "-r", "-n")
    probe = subprocess.run([*cmd, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        warnings.warn(
            f"e2e: {' '.join(cmd)} failed ({probe.stderr.strip()}); "
            "running claude WITHOUT a network namespace",
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
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_DROP_PREFIXES) and k not in _DROP_NAMES
    }


# ---------------------------------------------------------------- sessions and results
@dataclasses.dataclass
class Session:
    """One ``claude -p`` process: its script and how to start it.

    ``env`` is added to the harness environment and ``path_prepend`` goes in
    front of PATH (the Bash tool and hooks inherit both). ``args`` are extra
    CLI arguments. ``start_after`` names a session that must have exited
    first; ``delay`` is counted from that exit, or from the start of the run.
    ``interactive`` runs the TUI (no ``-p``) in a private tmux server instead:
    drive it with :meth:`ClaudeHarness.start` (``prompt`` is then not used).
    """

    name: str
    turns: Sequence[Mapping[str, Any]]
    prompt: str = "Do the scripted task."
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    path_prepend: Sequence[Path | str] = ()
    args: Sequence[str] = ()
    start_after: str | None = None
    delay: float = 0.0
    cwd: Path | None = None  # default: the harness repo
    interactive: bool = False


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
    run_dir: Path

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

    def requests_text(
        self, requests: Iterable[Mapping[str, Any]] | None = None, *, include_system: bool = False
    ) -> str:
        """All message text the model was shown (prompt, tool results, hook output).

        The CLI's own system prompt is left out unless asked for: it is large
        and generic words would match it by accident.
        """
        reqs = self.requests if requests is None else requests
        return "\n".join(request_text(r, include_system=include_system) for r in reqs)

    def last_request_text(self) -> str:
        """Text of the last main request: where a deny reason or a message shows up."""
        mains = self.main_requests
        return request_text(mains[-1]) if mains else ""

    def _last_messages(self) -> list[Mapping[str, Any]]:
        mains = self.main_requests
        return list(mains[-1]["body"].get("messages") or []) if mains else []

    def tool_results(self) -> list[dict[str, Any]]:
        """Each tool call of the conversation with what came back, in order.

        Items: ``{"tool", "input", "text", "is_error"}``. The last main request
        holds the whole conversation, so this covers every turn.
        """
        calls: dict[str, Mapping[str, Any]] = {}
        out = []
        for msg in self._last_messages():
            content = msg.get("content")
            for block in content if isinstance(content, list) else []:
                if block.get("type") == "tool_use":
                    calls[block["id"]] = block
                elif block.get("type") == "tool_result":
                    call = calls.get(block.get("tool_use_id", ""), {})
                    out.append(
                        {
                            "tool": call.get("name"),
                            "input": call.get("input"),
                            "text": "\n".join(strings(block.get("content"))),
                            "is_error": bool(block.get("is_error")),
                        }
                    )
        return out

    def system_messages(self) -> list[str]:
        """Texts of ``role: "system"`` messages (where 2.1.330 puts hook context)."""
        return [
            "\n".join(strings(m.get("content")))
            for m in self._last_messages()
            if m.get("role") == "system"
        ]

    def assert_ok(self) -> None:
        """Fail with the CLI's output when the run did not end cleanly."""
        if self.rc != 0 or self.output is None or self.is_error:
            raise AssertionError(
                f"session {self.name}: rc={self.rc} timed_out={self.timed_out} "
                f"is_error={self.is_error} (files in {self.run_dir})\n"
                f"cmd: {self.cmd}\nstdout: {self.stdout[-2000:]}\nstderr: {self.stderr[-2000:]}"
            )


def _read(path: Path) -> str:
    """A file's text, or "" when the session never started."""
    return path.read_text(errors="replace") if path.exists() else ""


def request_text(request: Mapping[str, Any], *, include_system: bool = False) -> str:
    """Every string of one logged request's messages (and system prompt if asked)."""
    body = request.get("body") or {}
    parts = [body.get("messages")]
    if include_system:
        parts.insert(0, body.get("system"))
    return "\n".join(strings(parts))


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

    def __iter__(self) -> Iterator[SessionResult]:
        return iter(self.sessions.values())

    def assert_ok(self) -> None:
        for s in self.sessions.values():
            s.assert_ok()


# ---------------------------------------------------------------- the harness
class ClaudeHarness:
    """A throwaway HOME + git repo in ``root`` and a way to run sessions there.

    ``repo_files`` maps repo-relative paths to contents and is committed with
    the initial commit. ``env`` and ``path_prepend`` go to every session. ``netns=False`` skips
    the network namespace; ``debug`` adds ``--debug-file`` per session (also
    on with ``COORD_E2E_DEBUG=1``). Runs keep the repo and HOME, so a later
    run sees what an earlier one left behind.
    """

    def __init__(
        self,
        root: Path,
        claude_bin: Path,
        *,
        plugin_dirs: Sequence[Path] = (),
        user_settings: Mapping[str, Any] | None = None,
        repo_files: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        path_prepend: Sequence[Path | str] = (),
        permission_mode: str = "acceptEdits",
        netns: bool = True,
        debug: bool | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.claude_bin = Path(claude_bin)
        self.plugin_dirs = [Path(p).resolve() for p in plugin_dirs]
        self.env = dict(env or {})
        self.path_prepend = [str(p) for p in path_prepend]
        self.permission_mode = permission_mode
        self.debug = os.environ.get("COORD_E2E_DEBUG") == "1" if debug is None else debug
        self._netns = netns_prefix() if netns else None
        self.home = self.root / "home"
        self.repo = self.root / "repo"
        self.bin_dir = self.root / "bin"
        self.barrier_dir = self.root / "barriers"
        self._runs = 0
        for d in (self.home, self.repo, self.bin_dir):
            d.mkdir(parents=True, exist_ok=True)
        for name, text in _BARRIER_TOOLS.items():
            (self.bin_dir / name).write_text(text)
            (self.bin_dir / name).chmod(0o755)
        self._write_claude_json()
        self.write_user_settings(user_settings or {})
        self._init_repo(repo_files or {})

    @property
    def netns(self) -> bool:
        """Whether runs happen in a loopback-only network namespace."""
        return self._netns is not None

    def _write_claude_json(self) -> None:
        # Trust the repo: project permission rules are ignored in an untrusted
        # one. The onboarding flags only matter interactively but cost nothing.
        conf = {
            "hasCompletedOnboarding": True,
            # interactive only: no theme screen, no "use this API key?" question
            "theme": "dark",
            "customApiKeyResponses": {"approved": [_OFFLINE_ENV["ANTHROPIC_API_KEY"]],
                                      "rejected": []},
            "projects": {
                str(self.repo): {
                    "hasTrustDialogAccepted": True,
                    "hasCompletedProjectOnboarding": True,
                }
            },
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
        """Write ``HOME/.claude/settings.json`` (e.g. ``permissions.allow``).

        The allow rules of the barrier helpers are added to what is given.
        """
        merged = json.loads(json.dumps(settings))  # deep copy
        perms = merged.setdefault("permissions", {})
        perms["allow"] = [*perms.get("allow", []), *_BARRIER_RULES]
        path = self.home / ".claude" / "settings.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(merged, indent=2))
        return path

    def write_project_settings(self, settings: Mapping[str, Any], *, local: bool = False) -> Path:
        """Write the repo's ``.claude/settings[.local].json`` (not committed)."""
        path = self.repo / ".claude" / ("settings.local.json" if local else "settings.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings, indent=2))
        return path

    def base_env(self, run_dir: Path) -> dict[str, str]:
        """What every session's environment overrides.

        The launcher lays it over the inherited environment minus the dropped
        variables; spec.json thus holds no inherited (possibly secret) values.
        """
        tmp = run_dir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        # keep the CLI's temp files (claude-<uid>/, sockets) in the run dir
        return {
            **_OFFLINE_ENV,
            "HOME": str(self.home),
            "CLAUDE_CODE_TMPDIR": str(tmp),
            "TMPDIR": str(tmp),
            "E2E_BARRIER_DIR": str(self.barrier_dir),
            **self.env,
        }

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``claude ARGS`` once with the offline env (no model), e.g.
        ``h.cli("plugin", "validate", "--strict", str(plugin))``."""
        self._runs += 1
        run_dir = self.root / f"run-{self._runs}"
        run_dir.mkdir()
        env = {**_clean_env(), **self.base_env(run_dir)}
        cmd = [*(self._netns or ()), str(self.claude_bin), *args]
        return subprocess.run(
            cmd, cwd=self.repo, env=env, capture_output=True, text=True, timeout=timeout
        )

    def command(self, session: Session, run_dir: Path) -> list[str]:
        if session.interactive:
            cmd = [str(self.claude_bin)]
        else:
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
        return self.start(*sessions, timeout=timeout, stagger=stagger,
                          sequential=sequential).wait()

    def start(
        self,
        *sessions: Session,
        timeout: float = DEFAULT_TIMEOUT,
        stagger: float | None = None,
        sequential: bool = False,
    ) -> Running:
        """Like :meth:`run`, but return at once: drive interactive sessions, then
        :meth:`Running.wait` for the results."""
        names = [s.name for s in sessions]
        if len(set(names)) != len(names):
            raise ValueError(f"session names must be unique: {names}")
        if bad := [n for n in names if not _NAME_RE.fullmatch(n)]:
            raise ValueError(f"session names must match {_NAME_RE.pattern}: {bad}")
        self._runs += 1
        run_dir = self.root / f"run-{self._runs}"
        run_dir.mkdir()
        base = self.base_env(run_dir)
        specs = []
        for i, s in enumerate(sessions):
            env = {**base, **s.env}
            front = [*(str(p) for p in s.path_prepend), *self.path_prepend, str(self.bin_dir)]
            env["PATH"] = os.pathsep.join([*front, env.get("PATH", os.environ.get("PATH", ""))])
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
                    "cwd": str(s.cwd or self.repo),
                    "interactive": s.interactive,
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
        log = (run_dir / "launcher.log").open("w")
        launcher = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True)
        log.close()
        return Running(self, launcher, run_dir, specs, timeout)

    def _collect(
        self, run_dir: Path, results: Mapping[str, Any], specs: list[dict[str, Any]]
    ) -> RunResult:
        log = run_dir / "requests.jsonl"
        requests = (
            [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
            if log.exists()
            else []
        )
        sessions = {}
        for spec in specs:
            name = spec["name"]
            r = results["sessions"][name]
            stdout = _read(run_dir / f"{name}.stdout")
            try:
                output = json.loads(stdout)
            except ValueError:
                output = None
            sessions[name] = SessionResult(
                name=name,
                rc=r["rc"],
                timed_out=r["timed_out"],
                stdout=stdout,
                stderr=_read(run_dir / f"{name}.stderr"),
                output=output if isinstance(output, dict) else None,
                requests=[q for q in requests if q.get("scenario") == name],
                started=r["started"],
                ended=r["ended"],
                cmd=spec["cmd"],
                run_dir=run_dir,
            )
        return RunResult(
            sessions=sessions, requests=requests, run_dir=run_dir, netns=results["netns"]
        )


class Running:
    """A run under way (:meth:`ClaudeHarness.start`).

    Interactive sessions run in a tmux server whose socket is ``tmux.sock`` in
    the run dir (a file socket: reachable from outside the network namespace).
    """

    def __init__(self, harness: ClaudeHarness, launcher: subprocess.Popen[str], run_dir: Path,
                 specs: list[dict[str, Any]], timeout: float) -> None:
        self.harness = harness
        self.launcher = launcher
        self.run_dir = run_dir
        self.specs = specs
        self.timeout = timeout

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-S", str(self.run_dir / "tmux.sock"), *args],
                              capture_output=True, text=True, timeout=30, check=False)

    def type(self, name: str, text: str, enter: bool = True) -> None:
        """Type ``text`` into session ``name`` (then Enter)."""
        self.tmux("send-keys", "-t", name, "-l", text)
        if enter:
            time.sleep(0.3)  # the TUI reads a pasted line and Enter apart
            self.tmux("send-keys", "-t", name, "Enter")

    def screen(self, name: str) -> str:
        return self.tmux("capture-pane", "-p", "-t", name).stdout

    def requests(self, name: str | None = None) -> list[dict[str, Any]]:
        """Requests logged so far (of session ``name``'s main loop, if given)."""
        log = self.run_dir / "requests.jsonl"
        lines = log.read_text().splitlines() if log.exists() else []
        found = [json.loads(line) for line in lines if line.strip()]
        if name is None:
            return found
        return [r for r in found if r.get("scenario") == name and r.get("kind") == "main"]

    def until(self, what: str, check: Any, seconds: float = 60) -> Any:
        """Poll ``check()`` until it is truthy; fail naming ``what`` after ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if value := check():
                return value
            if self.launcher.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"e2e: timed out waiting for {what} (files in {self.run_dir})")

    def wait(self) -> RunResult:
        """Wait for every session to exit (or the timeout) and collect the results."""
        try:
            self.launcher.wait(timeout=self.timeout + 30)
        except subprocess.TimeoutExpired:
            self.launcher.kill()
            self.launcher.wait()
        results_path = self.run_dir / "results.json"
        if self.launcher.returncode != 0 or not results_path.exists():
            raise RuntimeError(
                f"e2e launcher failed (rc={self.launcher.returncode}):\n"
                f"{_read(self.run_dir / 'launcher.log')[-3000:]}"
            )
        return self.harness._collect(self.run_dir, json.loads(results_path.read_text()),
                                     self.specs)


# ---------------------------------------------------------------- launcher (inside the namespace)
def _become_subreaper() -> None:
    """Adopt orphans: the CLI starts Bash commands in their own session, so a
    killed CLI would leave them running under init, out of our reach."""
    pr_set_child_subreaper = 36
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (ppid, state) from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path("/proc", entry, "stat").read_text()
            except OSError:
                continue  # exited meanwhile
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            table[int(entry)] = (int(ppid), state)
    return table


def _descendants(root: int) -> list[int]:
    """Live (non-zombie) descendants of ``root``."""
    kids: dict[int, list[int]] = {}
    table = _process_table()
    for pid, (ppid, _) in table.items():
        kids.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        for child in kids.get(todo.pop(), []):
            todo.append(child)
            if table[child][1] != "Z":
                out.append(child)
    return out


def _kill_tree(root: int) -> None:
    """SIGKILL ``root`` and everything below it (repeat: they may fork meanwhile)."""
    for _ in range(20):
        victims = _descendants(root)
        if root != os.getpid() and root in _process_table():
            victims.append(root)
        if not victims:
            return
        for pid in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        _reap_orphans()
        time.sleep(0.02)


def _reap_orphans() -> None:
    """Collect exited adopted orphans (only called when no Popen still waits)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def _start_in_tmux(run_dir: Path, s: Mapping[str, Any], env: dict[str, str]) -> Any:
    """Start an interactive session in the run's tmux server; a Popen-like handle.

    The server takes its environment from this first client (so nothing of it is
    written to a file); the rc is written to ``<name>.rc`` when the CLI exits.
    """
    import shlex

    rc_file = run_dir / f"{s['name']}.rc"
    script = (f"cd {shlex.quote(s['cwd'])} && {shlex.join(s['cmd'])}; "
              f"echo $? > {shlex.quote(str(rc_file))}")
    tmux = ["tmux", "-S", str(run_dir / "tmux.sock")]
    subprocess.run([*tmux, "new-session", "-d", "-s", s["name"], "-x", "200", "-y", "50",
                    "bash", "-c", script], env={**env, "TERM": "xterm-256color"},
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # the server keeps whatever it inherits

    class InTmux:
        def poll(self) -> int | None:
            alive = subprocess.run([*tmux, "has-session", "-t", s["name"]],
                                   capture_output=True, check=False).returncode == 0
            if alive:
                return None
            text = rc_file.read_text().strip() if rc_file.exists() else ""
            return int(text) if text.isdigit() else -1

        def kill(self) -> None:
            subprocess.run([*tmux, "kill-server"], capture_output=True, check=False)

        def wait(self) -> int | None:
            return self.poll()

    return InTmux()


def _launch(spec_path: Path) -> int:
    """Start the fake model and the sessions of a spec; write results.json."""
    spec = json.loads(spec_path.read_text())
    run_dir = Path(spec["run_dir"])
    if spec["netns"]:
        _loopback_up()
    _become_subreaper()
    server = FakeModel(spec["scenarios"], run_dir / "requests.jsonl", default_cwd=spec["cwd"])
    port = server.start()
    t0 = time.monotonic()
    deadline = t0 + spec["timeout"]
    pending = list(spec["sessions"])
    running: dict[str, Any] = {}  # Popen, or a handle on a tmux session
    done: dict[str, dict[str, Any]] = {}
    started: dict[str, float] = {}
    try:
        while pending or running:
            now = time.monotonic()
            if pending and now > deadline:
                for s in pending:  # never started: a predecessor hung
                    done[s["name"]] = {
                        "rc": None,
                        "timed_out": True,
                        "started": now - t0,
                        "ended": now - t0,
                    }
                pending.clear()
            for s in list(pending):
                after = s["start_after"]
                if after is not None and after not in done:
                    continue
                ref = done[after]["ended"] if after is not None else 0.0
                if now - t0 < ref + s["delay"]:
                    continue
                pending.remove(s)
                env = {**_clean_env(), **s["env"], "ANTHROPIC_BASE_URL": server.base_url(s["name"])}
                if s.get("interactive"):
                    running[s["name"]] = _start_in_tmux(run_dir, s, env)
                    started[s["name"]] = time.monotonic() - t0
                    continue
                with (
                    (run_dir / f"{s['name']}.stdout").open("wb") as out,
                    (run_dir / f"{s['name']}.stderr").open("wb") as err,
                ):
                    running[s["name"]] = subprocess.Popen(
                        s["cmd"],
                        cwd=s["cwd"],
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=err,
                        start_new_session=True,
                    )
                started[s["name"]] = time.monotonic() - t0
            for name, proc in list(running.items()):
                rc = proc.poll()
                timed_out = rc is None and now > deadline
                if timed_out and isinstance(proc, subprocess.Popen):
                    for pid in [*_descendants(proc.pid), proc.pid]:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                    proc.wait()
                elif timed_out:
                    proc.kill()  # the tmux server, and with it the interactive CLI
                if rc is not None or timed_out:
                    del running[name]
                    done[name] = {
                        "rc": rc,
                        "timed_out": timed_out,
                        "started": started[name],
                        "ended": time.monotonic() - t0,
                    }
            time.sleep(0.02)
    finally:
        for proc in running.values():
            proc.kill()
            proc.wait()
        # whatever the sessions left behind (hooks' or Bash's background
        # processes, timed-out trees) ends with the run
        _kill_tree(os.getpid())
        server.stop()
    results = {"netns": bool(spec["netns"]), "port": port, "sessions": done}
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="e2e launcher: fake model + claude sessions from a spec"
    )
    parser.add_argument("spec", type=Path)
    return _launch(parser.parse_args(argv).spec)


if __name__ == "__main__":
    sys.exit(main())
