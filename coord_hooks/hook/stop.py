"""Stop, SubagentStop, PreCompact and SubagentStart: heartbeats; Stop also makes batched
writes visible and housekeeps; a stopping subagent's locks pass to its session; Stop
releases the session's locks if ``release_at_stop``.

Standard library only (hook hot path).
"""

from __future__ import annotations

from coord_hooks.hook import HookRun, payload_text

TYPE_CHECKING = False  # typing is not imported at run time: it is on the hot path
if TYPE_CHECKING:
    from typing import Any

    from coord_hooks.context import Context


def heartbeat_flush(run: HookRun) -> dict[str, Any] | None:
    """Stop, SubagentStop, PreCompact: heartbeat and make batched writes visible."""
    if not run.session_id:
        run.outcome = "no-session"
        return None
    ctx = run.open()
    run.touch(ctx, idle=run.event == "Stop")  # the turn ended: it waits for its user now
    run.notes["flushed"] = ctx.store.flush()
    run.timer.mark("flush")
    if run.event == "SubagentStop":
        subagent_stop(run, ctx)
    elif run.event == "Stop":
        orphans_to_parent(run, ctx)
        if ctx.settings.release_at_stop:  # its waiters hear at their next step
            run.notes["released"] = len(ctx.coordinator.release_all(run.session_id))
            run.timer.mark("release")
        run.housekeep(ctx)
    return None


def subagent_stop(run: HookRun, ctx: Context) -> None:
    """The stopping subagent's locks pass to its session's main conversation.

    Always in a transaction (a cached read could miss a lock taken a moment ago, and a
    lock left with a finished subagent would keep its siblings out until it lapses).
    """
    agent_id = payload_text(run.payload, "agent_id")[:100]
    if agent_id:
        moved = ctx.coordinator.hand_over(run.session_id, agent_id)
        run.notes["handed_over"] = len(moved)
        run.timer.mark("hand_over")


def orphans_to_parent(run: HookRun, ctx: Context) -> None:
    """At the end of a turn, a subagent that is neither running nor stopped cleanly (an
    interrupted one gets no SubagentStop) still holding locks hands them over too.

    Stop lists the subagents still running in the background (``background_tasks``,
    Claude Code 2.1.145+); without that list nothing is inferred. A plain read first:
    Stop ends every turn, and most sessions have no subagent lock at all.
    """
    tasks = run.payload.get("background_tasks")
    if not isinstance(tasks, list):
        return
    running = frozenset(str(t.get("id", "")) for t in tasks
                        if isinstance(t, dict) and t.get("type") == "subagent")
    from coord_hooks.coordination.sessions import owned_locks

    with ctx.store.read() as view:
        stray = [lk for lk in owned_locks(view, run.session_id)
                 if lk.agent_id and lk.agent_id not in running]
    if stray:
        moved = ctx.coordinator.hand_over(run.session_id, keep=running)
        run.notes["handed_over"] = len(moved)
    run.timer.mark("orphans")


def subagent_start(run: HookRun) -> dict[str, Any] | None:
    """Heartbeat only: a subagent's locks are taken by its own tool calls."""
    if not run.session_id:
        run.outcome = "no-session"
        return None
    run.touch(run.open())
    return None
