"""`coord demo`: three scripted Claude Code sessions in a throwaway project.

Every hook event goes through the real shim (``shims/hooks.sh``) as its own process, with
payloads shaped like the ones Claude Code 2.1.330 sends, exactly as Claude Code would run
it; the broadcast goes through the real ``coord broadcast`` CLI, as a model's Bash tool
would run it. Each session gets a stand-in process (a ``sleep``) whose pid plays the
role of ``$CLAUDE_PID``, so liveness works as it does for real sessions.

The demo checks what it shows: `run_demo` returns False if any step did not behave.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coord_hooks.ops import shims
from coord_hooks.ops.install import package_root

Say = Callable[[str], None]


@dataclass
class DemoSession:
    name: str
    session_id: str
    stand_in: subprocess.Popen[bytes]

    @property
    def handle(self) -> str:
        return self.session_id[:8]


@dataclass
class Demo:
    project: Path
    shim: Path
    say: Say
    env: dict[str, str]
    sessions: dict[str, DemoSession] = field(default_factory=dict)
    results: list[tuple[str, bool]] = field(default_factory=list)

    # --- plumbing ------------------------------------------------------------------------
    def start_session(self, name: str) -> DemoSession:
        stand_in = subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL)
        session = DemoSession(name, str(uuid.uuid4()), stand_in)
        self.sessions[name] = session
        return session

    def payload(self, session: DemoSession, event: str, **extra: Any) -> dict[str, Any]:
        base = {
            "session_id": session.session_id,
            "transcript_path": str(self.project / ".transcripts" / f"{session.session_id}.jsonl"),
            "cwd": str(self.project),
            "hook_event_name": event,
        }
        if event not in ("SessionStart", "SessionEnd", "PreCompact"):
            base["permission_mode"] = "acceptEdits"
        base.update(extra)
        return base

    def hook(self, session: DemoSession, cli_event: str, payload: dict[str, Any]
             ) -> dict[str, Any] | None:
        env = {**self.env, "CLAUDE_PID": str(session.stand_in.pid),
               "CLAUDE_CODE_SESSION_ID": session.session_id}
        proc = subprocess.run([str(self.shim), cli_event], input=json.dumps(payload),
                              capture_output=True, text=True, env=env, cwd=self.project,
                              timeout=30, check=False)
        if proc.returncode != 0:
            self.say(f"   (hook exited {proc.returncode}: {proc.stderr.strip()[-200:]})")
        if not proc.stdout.strip():
            return None
        try:
            value = json.loads(proc.stdout)
        except ValueError:
            self.say(f"   (hook printed something that is not JSON: {proc.stdout[:200]!r})")
            return {"invalid": proc.stdout}
        return value if isinstance(value, dict) else {"invalid": value}

    def tool(self, session: DemoSession, name: str, tool_input: dict[str, Any]
             ) -> dict[str, Any] | None:
        payload = self.payload(session, "PreToolUse", effort={"level": "medium"},
                               tool_name=name, tool_input=tool_input,
                               tool_use_id=f"toolu_demo_{uuid.uuid4().hex[:20]}")
        return self.hook(session, "pre-tool-use", payload)

    def coord(self, session: DemoSession, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the real ``coord`` CLI as the session's Bash tool would."""
        env = {**self.env, "CLAUDE_CODE_SESSION_ID": session.session_id,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(package_root()),
                                                           self.env.get("PYTHONPATH")]))}
        return subprocess.run([sys.executable, "-m", "coord_hooks", *args], capture_output=True,
                              text=True, env=env, cwd=self.project, timeout=60, check=False)

    def expect(self, what: str, ok: bool) -> None:
        self.results.append((what, ok))
        self.say(f"   {'ok  ' if ok else 'FAIL'} {what}")

    def show(self, text: str, prefix: str = "   | ") -> None:
        for line in text.rstrip().splitlines():
            for piece in textwrap.wrap(line, 92) or [""]:
                self.say(prefix + piece)

    def stop(self) -> None:
        for session in self.sessions.values():
            if session.stand_in.poll() is None:
                session.stand_in.kill()
            session.stand_in.wait()


def _context(reply: dict[str, Any] | None) -> str:
    specific = reply.get("hookSpecificOutput") if reply else None
    value = specific.get("additionalContext") if isinstance(specific, dict) else None
    return value if isinstance(value, str) else ""


def _deny_reason(reply: dict[str, Any] | None) -> str:
    specific = reply.get("hookSpecificOutput") if reply else None
    if isinstance(specific, dict) and specific.get("permissionDecision") == "deny":
        reason = specific.get("permissionDecisionReason")
        return reason if isinstance(reason, str) else ""
    return ""


BROADCAST = "Heads up: I am upgrading the lockfile, please leave package.json alone for 10 min."


def script(demo: Demo) -> None:
    """The scenario itself: register, lock, deny, broadcast, release."""
    say = demo.say
    alice, bob, carol = (demo.start_session(n) for n in ("alice", "bob", "carol"))

    say(f"1. alice starts (SessionStart) -> session {alice.handle}")
    reply = demo.hook(alice, "session-start", demo.payload(alice, "SessionStart",
                                                           source="startup"))
    demo.show(_context(reply))
    demo.expect("alice is registered and told how to coordinate",
                f"session {alice.handle}" in _context(reply) and "coord send" in _context(reply))
    say('   alice names herself from her Bash tool: coord name alice --task "router refactor"')
    proc = demo.coord(alice, "name", "alice", "--task", "router refactor")
    demo.expect("coord name succeeded", proc.returncode == 0)

    say(f"2. bob starts (SessionStart) -> session {bob.handle}")
    reply = demo.hook(bob, "session-start", demo.payload(bob, "SessionStart", source="startup"))
    demo.show(_context(reply))
    demo.expect("bob is told that alice is working here, and on what",
                f"{alice.handle} (alice)" in _context(reply)
                and "router refactor" in _context(reply))

    say("3. alice writes src/app.py (PreToolUse Write)")
    demo.hook(alice, "user-prompt-submit", demo.payload(alice, "UserPromptSubmit",
                                                        prompt="refactor the router"))
    reply = demo.tool(alice, "Write", {"file_path": str(demo.project / "src" / "app.py"),
                                       "content": "ROUTES = {}\n"})
    demo.expect("the Write is allowed silently (no output) and src/app.py is locked",
                reply is None and _holder(demo, "src/app.py") == alice.session_id)

    say("4. bob edits the same file (PreToolUse Edit)")
    reply = demo.tool(bob, "Edit", {"file_path": str(demo.project / "src" / "app.py"),
                                    "old_string": "ROUTES = {}", "new_string": "ROUTES = []",
                                    "replace_all": False})
    reason = _deny_reason(reply)
    demo.show("deny: " + reason)
    demo.expect("bob's Edit is denied, naming alice, her task and the coord send line",
                f"{alice.handle} (alice)" in reason and "router refactor" in reason
                and f"coord send {alice.handle}" in reason)

    say(f"5. carol starts ({carol.handle}) and broadcasts from her Bash tool: "
        f'coord broadcast "{BROADCAST}"')
    demo.hook(carol, "session-start", demo.payload(carol, "SessionStart", source="startup"))
    demo.coord(carol, "name", "carol")
    proc = demo.coord(carol, "broadcast", BROADCAST)
    demo.show(proc.stdout + proc.stderr, prefix="   $ ")
    demo.expect("coord broadcast succeeded", proc.returncode == 0)

    say("6. bob's next prompt (UserPromptSubmit) carries the broadcast")
    reply = demo.hook(bob, "user-prompt-submit", demo.payload(bob, "UserPromptSubmit",
                                                              prompt="what next?"))
    demo.show(_context(reply))
    context = _context(reply)
    demo.expect("bob receives carol's broadcast, framed as a peer message",
                BROADCAST in context and f"{carol.handle} (carol)" in context
                and "not instructions from the user" in context)

    say("7. alice ends (SessionEnd); bob retries the Edit")
    demo.hook(alice, "session-end", demo.payload(alice, "SessionEnd", reason="other"))
    reply = demo.tool(bob, "Edit", {"file_path": str(demo.project / "src" / "app.py"),
                                    "old_string": "ROUTES = {}", "new_string": "ROUTES = []"})
    demo.expect("alice's lock was released and bob's Edit is allowed",
                reply is None and _holder(demo, "src/app.py") == bob.session_id)


def _holder(demo: Demo, key: str) -> str | None:
    """Who holds ``key``, asked of the store the hooks wrote (whatever its backend)."""
    from coord_hooks.context import open_context

    ctx = open_context(cwd=str(demo.project), environ=demo.env, create=False)
    try:
        owners = [view.lock.owner for view in ctx.coordinator.locks() if view.lock.key == key]
    finally:
        ctx.store.close()
    return owners[0] if len(owners) == 1 else None


def demo_env(project: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment, pointed at the demo project and nothing of the user's."""
    env = dict(os.environ if environ is None else environ)
    for name in ("COORD_STATE_DIR", "CLAUDE_PROJECT_DIR", "CLAUDE_CODE_SESSION_ID",
                 "CLAUDE_PID", "COORD_CONFIG"):
        env.pop(name, None)
    env["CLAUDE_PROJECT_DIR"] = str(project)
    return env


def run_demo(say: Say, shim: Path | None = None, keep: bool = False) -> bool:
    """Run the scenario; True when every expectation held."""
    project = Path(tempfile.mkdtemp(prefix="coord-demo-")).resolve()
    (project / "src").mkdir()
    (project / "src" / "app.py").write_text("ROUTES = {}\n")
    if shim is None:
        plugin = shims.plugin_shims_dir() / shims.LINK_NAME
        if plugin.is_file():
            shim = plugin
        else:  # running from an installed package: generate shims for this interpreter
            shims.generate(project / ".shims", interpreter=sys.executable,
                           package_root=str(package_root()))
            shim = project / ".shims" / shims.LINK_NAME
    demo = Demo(project, shim, say, demo_env(project))
    say(f"coord demo: three Claude Code sessions in {project}")
    say(f"hooks run through {shim}, one process per event, as Claude Code runs them\n")
    try:
        script(demo)
    except Exception as exc:  # a demo that crashes has failed; say why
        demo.expect(f"the demo ran to the end ({type(exc).__name__}: {exc})", False)
    finally:
        demo.stop()
        if keep:
            say(f"\nkept {project} (state in .claude-coordination/)")
        else:
            shutil.rmtree(project, ignore_errors=True)
    passed = sum(ok for _, ok in demo.results)
    say(f"\n{passed}/{len(demo.results)} expectations met"
        + ("" if passed == len(demo.results) else " — the demo did NOT behave as expected"))
    return bool(demo.results) and passed == len(demo.results)
