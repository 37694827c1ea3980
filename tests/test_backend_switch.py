"""Switching backends on a live state directory, the way a user does it: hooks of the
same sessions keep running (real hook processes, ``--backend`` as the shims pass it),
the model keeps sending with ``coord broadcast``/``coord send``, and half-way through the
backend changes — in both directions. Nothing is lost, duplicated or misread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
ALICE = "aaaa1111-0000-4000-8000-0000000000c1"
BOB = "bbbb2222-0000-4000-8000-0000000000c2"
MAIN = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
        "from coord_hooks.__main__ import main; main()")


# Each session's "Claude Code process": two processes that outlive the test's hooks (one
# shared pid would make the second registration supersede the first, as after /clear).
PIDS = {ALICE: os.getpid(), BOB: os.getppid()}


class Team:
    def __init__(self, state: Path, project: Path) -> None:
        self.project = project
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("COORD_", "CLAUDE"))}
        self.env.update(COORD_STATE_DIR=str(state), CLAUDE_PROJECT_DIR=str(project),
                        COORD_CONFIG=str(state.parent / "none.toml"),
                        COORD_BROADCAST_BATCH_SIZE="3")

    def hook(self, backend: str, event: str, **payload: Any) -> dict[str, Any] | None:
        data = {"cwd": str(self.project), **payload}
        env = dict(self.env, CLAUDE_PID=str(PIDS[payload["session_id"]]))
        result = subprocess.run([sys.executable, "-c", MAIN, str(REPO), "hook", event,
                                 "--backend", backend], input=json.dumps(data), text=True,
                                env=env, capture_output=True, timeout=120, check=True)
        out = result.stdout.strip()
        return json.loads(out) if out else None

    def coord(self, backend: str, session: str, *args: str) -> str:
        env = dict(self.env, COORD_BACKEND=backend, CLAUDE_CODE_SESSION_ID=session,
                   CLAUDE_PID=str(PIDS[session]))
        result = subprocess.run([sys.executable, "-c", MAIN, str(REPO), *args], env=env,
                                capture_output=True, text=True, timeout=120, check=True)
        return result.stdout

    def edit(self, backend: str, session: str, name: str) -> str | None:
        out = self.hook(backend, "pre-tool-use", session_id=session, tool_name="Edit",
                        tool_input={"file_path": str(self.project / name)})
        if out is None:
            return None
        decision: str = out["hookSpecificOutput"]["permissionDecision"]
        return decision

    def prompt(self, backend: str, session: str) -> str:
        out = self.hook(backend, "user-prompt-submit", session_id=session, prompt="go on")
        return "" if out is None else str(out["hookSpecificOutput"]["additionalContext"])


@pytest.mark.parametrize("order", [("optimized", "legacy"), ("legacy", "optimized")])
def test_switch_backend_mid_stream_through_real_hooks(tmp_path: Path,
                                                      order: tuple[str, str]) -> None:
    before, after = order
    team = Team(tmp_path / "state", tmp_path)
    for sid in (ALICE, BOB):
        assert team.hook(before, "session-start", session_id=sid, source="startup")
    assert team.edit(before, ALICE, "app.py") is None  # ALICE now holds app.py
    assert team.coord(before, ALICE, "broadcast", "b1").startswith("broadcast #1 to 1 ")
    assert team.coord(before, ALICE, "send", BOB[:8], "d2").startswith("sent #2 to ")
    assert team.coord(before, BOB, "broadcast", "b3").startswith("broadcast #3 ")

    # --- the switch: same sessions, locks and unread mail, now through the other backend
    assert team.edit(after, BOB, "app.py") == "deny"
    text = team.prompt(after, BOB)
    assert text.index("b1") < text.index("d2") and "b3" not in text  # own broadcast
    assert team.prompt(after, BOB) == ""  # delivered once
    assert team.coord(after, BOB, "broadcast", "b4").startswith("broadcast #4 ")

    # --- and back
    text = team.prompt(before, ALICE)
    assert text.index("b3") < text.index("b4") and "b1" not in text
    assert team.edit(before, BOB, "app.py") == "deny"
    team.hook(after, "session-end", session_id=ALICE, reason="exit")
    assert team.edit(before, BOB, "app.py") is None  # released by ALICE's end
    team.hook(before, "stop", session_id=BOB)  # files any queued batch
    history = json.loads(team.coord(after, BOB, "messages", "--json"))["messages"]
    assert [(m["seq"], m["body"]) for m in history] == [(1, "b1"), (2, "d2"), (3, "b3"),
                                                        (4, "b4")]
    assert not (tmp_path / "state" / "broadcasts.jsonl").exists()
