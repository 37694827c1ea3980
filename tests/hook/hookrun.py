"""Helpers for driving the REAL hook shim (shims/hooks.sh) as Claude Code does.

(Not in conftest.py: `from conftest import ...` may find another folder's conftest.)
"""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SHIM = REPO / "shims" / "hooks.sh"


@dataclass
class HookResult:
    rc: int
    stdout: str
    stderr: str

    @property
    def output(self) -> dict[str, Any] | None:
        """The one JSON object printed, or None; fails on anything else."""
        assert self.rc == 0, f"hook exited {self.rc}: {self.stderr}"
        assert "Traceback" not in self.stderr, self.stderr
        if self.stdout == "":
            return None
        assert self.stdout.endswith("\n") and self.stdout.count("\n") == 1, self.stdout
        value = json.loads(self.stdout)
        assert isinstance(value, dict)
        return value

    @property
    def context(self) -> str:
        out = self.output
        assert out is not None, "expected additionalContext, got no output"
        return str(out["hookSpecificOutput"]["additionalContext"])


@dataclass
class Sess:
    """A fake Claude Code session: an id and a live stand-in process for $CLAUDE_PID."""

    name: str
    session_id: str
    proc: subprocess.Popen[bytes]

    @property
    def handle(self) -> str:
        return self.session_id[:8]

    @property
    def pid(self) -> int:
        return self.proc.pid


@dataclass
class Project:
    root: Path
    state_dir: Path
    env: dict[str, str]
    sessions: list[Sess] = field(default_factory=list)

    @property
    def cwd(self) -> str:
        return str(self.root)

    def session(self, name: str = "s") -> Sess:
        proc = subprocess.Popen(["sleep", "300"], stdin=subprocess.DEVNULL)
        sess = Sess(name, str(uuid.uuid4()), proc)
        self.sessions.append(sess)
        return sess

    def run(self, event: str, payload: Any, sess: Sess | None = None, *,
            raw: bytes | None = None, extra_env: dict[str, str] | None = None,
            shim: Path = SHIM, timeout: float = 30) -> HookResult:
        env = dict(self.env)
        if sess is not None:
            env["CLAUDE_PID"] = str(sess.pid)
            env["CLAUDE_CODE_SESSION_ID"] = sess.session_id
        env.update(extra_env or {})
        data = raw if raw is not None else json.dumps(payload).encode()
        proc = subprocess.run([str(shim), event], input=data, capture_output=True, env=env,
                              cwd=self.root, timeout=timeout, check=False)
        return HookResult(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    def coordinator(self) -> Any:
        """A Coordinator on the same store the hooks use (in this process)."""
        from coord_hooks.context import open_context

        return open_context(cwd=self.cwd, environ=self.env).coordinator

    def app_log(self) -> list[dict[str, Any]]:
        path = self.state_dir / "logs" / "app.log"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def perf_log(self) -> list[dict[str, Any]]:
        path = self.state_dir / "logs" / "performance.log"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
