"""Bash writes respect locks inside the real Claude Code CLI (issue 10).

Session A edits a file; session B's ``sed -i`` on it through the Bash tool is denied
before it runs (the reason reaches B's next request, the file is unchanged), while B's
``echo >`` into a file nobody holds goes through and is locked for B. An unjudged
command runs and B's model is told once that such writes are not checked.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from harness import ClaudeHarness, Session, bash, request_text, say, signal_barrier, wait_for
from harness import write as write_turn

pytestmark = pytest.mark.e2e

# -p refuses a Bash command no rule allows: these are the commands B runs.
ALLOW = {"permissions": {"allow": ["Bash(coord:*)", "Bash(sed:*)", "Bash(echo:*)",
                                   "Bash(python3:*)"]}}


@pytest.fixture
def h(make_harness: Callable[..., ClaudeHarness], plugin_root: Path) -> ClaudeHarness:
    return make_harness(plugin_dirs=[plugin_root], user_settings=ALLOW,
                        env={"COORD_PYTHON": sys.executable})


def _perf(h: ClaudeHarness) -> list[dict[str, Any]]:
    path = h.repo / ".claude-coordination" / "logs" / "performance.log"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_sed_i_on_a_held_file_is_denied_and_an_unheld_write_goes_through(
        h: ClaudeHarness) -> None:
    res = h.run(
        Session("a", [
            write_turn("{{cwd}}/shared.py", "x = 1\n"),
            signal_barrier("locked"),
            wait_for("tried"),
            say("a done"),
        ]),
        Session("b", [
            wait_for("locked"),
            bash("sed -i 's/x = 1/x = 2/' shared.py", "edit shared.py"),
            bash("echo hello > free.txt", "write free.txt"),
            bash("python3 -c 'print(42)'", "run a program"),
            signal_barrier("tried"),
            say("b done"),
        ]),
    )
    res.assert_ok()
    a, b = res["a"], res["b"]
    assert a.session_id and b.session_id
    # the sed never ran: denied before it started, the file is as A wrote it
    assert (h.repo / "shared.py").read_text() == "x = 1\n"
    assert b.denied_tools == ["Bash"] and a.denied_tools == []
    [denied] = [r for r in b.tool_results() if r["tool"] == "Bash" and "sed" in
                str(r["input"])]
    assert denied["is_error"]
    assert denied["text"].startswith(
        "PreToolUse:Bash hook error: [coord-hooks] shared.py is locked by session "
        f"{a.session_id[:8]}")
    assert f"coord send {a.session_id[:8]} 'Could you release shared.py" in denied["text"]
    assert "The Bash command was not run" in denied["text"]
    # ...and the reason is in the very next request B's model got
    after = next(request_text(r) for r in b.main_requests
                 if "PreToolUse:Bash hook error" in request_text(r))
    assert "shared.py is locked by session" in after
    # the unheld write went through, and B locked what it wrote
    assert (h.repo / "free.txt").read_text() == "hello\n"
    bash_lines = [r for r in _perf(h) if r.get("tool") == "Bash"]
    outcomes = [r["outcome"] for r in bash_lines]
    assert outcomes.count("deny") == 1 and outcomes.count("locked") == 1
    # the barrier helpers and python3 -c are not judged: each session was told once
    told = [m for m in b.system_messages() if "[coord-hooks] Not checked:" in m]
    assert len(told) == 1, b.system_messages()
    assert sum(1 for r in bash_lines if r.get("unjudged")) >= 3
