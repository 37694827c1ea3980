"""UserPromptSubmit and PostToolUse: heartbeat, then hand over unread peer messages and
lock hand-off notes: with every prompt, and at the next tool step (PostToolUse) once the
coalescing window has passed (urgent messages and hand-off notes at once). Marked
delivered only after the output is out (`HookRun.after_output`).

Standard library only (hook hot path).
"""

from __future__ import annotations

from coord_hooks.hook import HookRun, hook_output
from coord_hooks.hook.render import budget, header, messages_block

TYPE_CHECKING = False  # typing is not imported at run time: it is on the hot path
if TYPE_CHECKING:
    from typing import Any


def user_prompt_submit(run: HookRun) -> dict[str, Any] | None:
    """Heartbeat, then hand over unread peer messages next to the prompt."""
    return _heartbeat_and_deliver(run, "UserPromptSubmit", "Messages", due_only=False)


def _heartbeat_and_deliver(run: HookRun, event: str, title: str,
                           due_only: bool) -> dict[str, Any] | None:
    if not run.session_id:
        run.outcome = "no-session"
        return None
    ctx = run.open()
    run.touch(ctx, busy=event == "UserPromptSubmit")  # at work again: no doorbell
    text, delivery = messages_block(ctx.coordinator, run.session_id, budget(ctx),
                                    header(title), due_only=due_only)
    run.timer.mark("deliver")
    if delivery is None:
        return None
    run.after_output(lambda: ctx.coordinator.confirm(delivery))
    run.notes["delivered"] = len(delivery.messages)
    run.outcome = "context"
    return hook_output(event, additionalContext=text)


def post_tool_use(run: HookRun) -> dict[str, Any] | None:
    """PostToolUse and PostToolUseFailure (a tool that failed): heartbeat; deliver
    messages at this tool step once due, and hand-off notes.

    A subagent's tool step (the payload names an ``agent_id``) only beats the heart: its
    context would reach the subagent's conversation, not the session's, and the messages
    would count as delivered to a reader that does not pass them on.
    """
    if run.payload.get("agent_id"):
        if run.session_id:
            run.touch(run.open(), busy=False)
        run.outcome = "subagent"
        return None
    return _heartbeat_and_deliver(run, run.event, "Messages that arrived while you work",
                                  due_only=True)
