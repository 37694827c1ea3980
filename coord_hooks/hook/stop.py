"""Stop, SubagentStop, PreCompact and SubagentStart: heartbeats; Stop also makes batched
writes visible and housekeeps.

Standard library only (hook hot path).
"""

from __future__ import annotations

from coord_hooks.hook import HookRun

TYPE_CHECKING = False  # typing is not imported at run time: it is on the hot path
if TYPE_CHECKING:
    from typing import Any


def heartbeat_flush(run: HookRun) -> dict[str, Any] | None:
    """Stop, SubagentStop, PreCompact: heartbeat and make batched writes visible."""
    if not run.session_id:
        run.outcome = "no-session"
        return None
    ctx = run.open()
    run.touch(ctx)
    run.notes["flushed"] = ctx.store.flush()
    run.timer.mark("flush")
    if run.event == "Stop":
        run.housekeep(ctx)
    return None


def subagent_start(run: HookRun) -> dict[str, Any] | None:
    """Heartbeat only: a subagent's edits are locked for its parent session."""
    if not run.session_id:
        run.outcome = "no-session"
        return None
    run.touch(run.open())
    return None
