"""SessionStart and SessionEnd: register and brief the model; end and release its locks.

Standard library only (hook hot path).
"""

from __future__ import annotations

from coord_hooks.hook import TAG, HookRun, hook_output, payload_text
from coord_hooks.hook.render import CONTEXT_LIMIT, budget, header, messages_block
from coord_hooks.model import peer_words

TYPE_CHECKING = False  # typing is not imported at run time: it is on the hot path
if TYPE_CHECKING:
    from typing import Any

    from coord_hooks.model import Session

MAX_LISTED_SESSIONS = 8
MAX_LISTED_LOCKS = 5
HOW_TO = ("Coordinate with the other sessions through the `coord` command in Bash: "
          '`coord send <handle> "text"`, `coord broadcast "text"`, `coord lock <path>`, '
          "`coord unlock <path>`, `coord wait <path>` (until no one else holds it), "
          "`coord inbox`, `coord status`.")


def _session_line(view_session: Session, locks: list[str]) -> str:
    # Names, tasks and file names are the peers' own words: one line each, the task
    # quoted, so none of it can pass for our framing.
    line = f"- {peer_words(view_session.label(), 100)}"
    if view_session.task:
        line += f', working on (in its own words): "{peer_words(view_session.task)}"'
    if locks:
        shown = ", ".join(peer_words(key, 200) for key in locks[:MAX_LISTED_LOCKS])
        more = len(locks) - MAX_LISTED_LOCKS
        line += f"; holds {shown}" + (f" and {more} more" if more > 0 else "")
    else:
        line += "; holds no locks"
    return line + "\n"


def session_start(run: HookRun) -> dict[str, Any] | None:
    """Register (again on resume/clear/compact/fork), reap the dead, brief the model."""
    if not run.session_id:
        run.outcome = "no-session"
        return None
    ctx = run.open()
    coordinator = ctx.coordinator
    source = payload_text(run.payload, "source")[:32] or "startup"
    me = coordinator.register(run.session_id, source=source, **run.register_args(ctx))
    if source != "compact" and run.tracks_idle:  # a compaction may happen mid-turn
        coordinator.set_idle(me.session_id, True)  # until its first prompt
    run.timer.mark("register")
    reaped = coordinator.reap()
    run.timer.mark("reap")
    run.housekeep(ctx)
    others = [v for v in coordinator.sessions() if v.session.session_id != me.session_id]
    run.timer.mark("sessions")
    lines = [f"{TAG} This is Claude Code session {me.handle}. Other sessions may work in "
             "this repository at the same time; files you Edit or Write are locked for you "
             "automatically, and an edit of a file another session holds is denied with "
             "the holder's name.\n"]
    if others:
        lines.append(f"Other live sessions ({len(others)}):\n")
        for view in others[:MAX_LISTED_SESSIONS]:
            lines.append(_session_line(view.session, [lk.key for lk in view.locks]))
        if len(others) > MAX_LISTED_SESSIONS:
            lines.append(f"- and {len(others) - MAX_LISTED_SESSIONS} more: run "
                         "`coord sessions`\n")
    else:
        lines.append("No other live sessions right now.\n")
    lines.append(HOW_TO + "\n")
    text = "".join(lines)
    if len(text) > CONTEXT_LIMIT // 2:
        # Long names or tasks: keep the briefing well under Claude Code's 10,000 chars.
        text = text[: CONTEXT_LIMIT // 2] + "…\n" + HOW_TO + "\n"
    block, delivery = messages_block(coordinator, me.session_id, budget(ctx) - len(text),
                                     header("Unread messages"))
    text += block
    if delivery is not None:
        run.after_output(lambda: coordinator.confirm(delivery))
    run.timer.mark("deliver")
    run.notes.update(others=len(others), reaped=len(reaped))
    run.outcome = "context"
    return hook_output("SessionStart", additionalContext=text)


def session_end(run: HookRun) -> dict[str, Any] | None:
    """Release the session's locks and mark it ended (correctness never depends on it)."""
    if not run.session_id:
        run.outcome = "no-session"
        return None
    ctx = run.open()
    ctx.store.flush()
    reason = payload_text(run.payload, "reason")[:40] or "ended"
    session, released = ctx.coordinator.end(run.session_id, reason=f"session-end:{reason}")
    run.timer.mark("end")
    run.outcome = "ended" if session is not None else "unknown-session"
    run.notes["released"] = len(released)
    return None
