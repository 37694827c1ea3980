"""The Claude Code hook hot path, ``coord hook EVENT``: `entry` reads the payload, `HANDLERS`
picks the event family's module (`session`, `delivery`, `tools`, `stop`), `render` frames peer text.

May import: the standard library and the rooms below it only (`context`, `coordination`,
`store`, the shared top-level modules), each when first needed; never Typer or any other
third-party package (tests/hook/test_imports.py). `HookRun` and the registry live here,
not in a module of their own: every module on this path is paid for on every Edit.
"""

from __future__ import annotations

import os
import time

from coord_hooks import procs
from coord_hooks.errors import LayoutChangedError, StoreError

TYPE_CHECKING = False  # typing is not imported at run time: it is on the hot path
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from coord_hooks.context import Context
    from coord_hooks.hook.entry import Timer
    from coord_hooks.model import Session
    from coord_hooks.paths import StrPath

# Event -> "module:function" in this package, imported only for its own event.
HANDLERS: dict[str, str] = {
    "SessionStart": "session:session_start",
    "UserPromptSubmit": "delivery:user_prompt_submit",
    "PreToolUse": "tools:pre_tool_use",
    "PostToolUse": "delivery:post_tool_use",
    "PostToolUseFailure": "delivery:post_tool_use",
    "Stop": "stop:heartbeat_flush",
    "SubagentStop": "stop:heartbeat_flush",
    "PreCompact": "stop:heartbeat_flush",
    "SubagentStart": "stop:subagent_start",
    "SessionEnd": "session:session_end",
}

# hookSpecificOutput keys Claude Code accepts per event (claude-code-hooks.md §3, §7).
ALLOWED_KEYS: dict[str, frozenset[str]] = {
    "SessionStart": frozenset({"hookEventName", "additionalContext", "initialUserMessage",
                               "sessionTitle", "watchPaths", "reloadSkills"}),
    "UserPromptSubmit": frozenset({"hookEventName", "additionalContext", "sessionTitle",
                                   "suppressOriginalPrompt"}),
    "PreToolUse": frozenset({"hookEventName", "permissionDecision",
                             "permissionDecisionReason", "updatedInput", "additionalContext"}),
    "PostToolUseFailure": frozenset({"hookEventName", "additionalContext"}),
    "PostToolUse": frozenset({"hookEventName", "additionalContext", "updatedToolOutput",
                              "updatedMCPToolOutput", "classifierContext"}),
    "SubagentStart": frozenset({"hookEventName", "additionalContext"}),
}

HOOK_LOCK_TIMEOUT = 4.0  # s: inside every hook timeout in hooks.json (5-10 s)
SESSION_END_LOCK_TIMEOUT = 0.8  # s: SessionEnd hooks share a 1.5 s budget
TAG = "[coord-hooks]"  # starts everything we put in the model's context
# `coord migrate` moving the state dir while a hook waited: reopen and decide again, this
# many times at most and while the hook is this young (inside the 10 s PreToolUse timeout).
LAYOUT_RETRIES = 4
LAYOUT_RETRY_MS = 6000.0


class HookRun:
    """One hook invocation: its input, and what the handler found out.

    A plain class, not a dataclass: `dataclasses` pulls in `inspect` (~10 ms), and this
    module should not be what keeps it on the hot path.
    """

    def __init__(self, event: str, payload: dict[str, Any], backend: str | None,
                 environ: Mapping[str, str], timer: Timer) -> None:
        self.event = event
        self.payload = payload
        self.backend = backend
        self.environ = environ
        self.timer = timer
        self.ctx: Context | None = None
        self.outcome = "ok"
        self.notes: dict[str, Any] = {}
        self.perf: dict[str, Any] = {}  # extra fields of this run's performance.log line
        self.confirmations: list[Callable[[], None]] = []

    def after_output(self, confirm: Callable[[], None]) -> None:
        """Run ``confirm`` once this hook's output is written and flushed (never if not:
        a hook killed or with stdout closed must leave its messages unread)."""
        self.confirmations.append(confirm)

    @property
    def session_id(self) -> str:
        return payload_text(self.payload, "session_id").strip()

    @property
    def cwd(self) -> str:
        return payload_text(self.payload, "cwd") or os.getcwd()

    def open(self) -> Context:
        from coord_hooks.context import open_context  # only a usable payload opens the store

        self.close()
        timeout = SESSION_END_LOCK_TIMEOUT if self.event == "SessionEnd" else HOOK_LOCK_TIMEOUT
        self.ctx = open_context(self.backend, cwd=self.cwd, environ=self.environ,
                                lock_timeout=timeout, lenient=True)
        for problem in self.ctx.settings.config_problems:  # skipped, so the check goes on
            log_rate_limited(self.ctx.state_path, "config_ignored", hook=self.event,
                             error=problem)
        self.timer.mark("open")
        return self.ctx

    def close(self) -> None:
        """Close the store this run opened, if any (a retry opens it again)."""
        ctx, self.ctx = self.ctx, None
        if ctx is not None:
            try:
                ctx.store.close()
            except Exception:
                pass

    def register_args(self, ctx: Context) -> dict[str, Any]:
        return {
            "pid": procs.find_claude_pid(self.environ),
            "cwd": self.cwd,
            "project_dir": self.environ.get("CLAUDE_PROJECT_DIR", "") or ctx.project_dir,
            "model": payload_text(self.payload, "model")[:100],
        }

    def touch(self, ctx: Context, busy: bool = False, idle: bool = False) -> Session:
        session = ctx.coordinator.touch(self.session_id, busy=busy and self.tracks_idle,
                                        idle=idle and self.tracks_idle,
                                        **self.register_args(ctx))
        self.timer.mark("touch")
        return session

    @property
    def tracks_idle(self) -> bool:
        """Whether this session's turns end at a prompt a person answers: only then can
        a monitor wake it (`hook.watch`); headless runs (``claude -p``, the SDKs) skip
        the writes that track it."""
        return not self.environ.get("CLAUDE_CODE_ENTRYPOINT", "").startswith("sdk")

    def housekeep(self, ctx: Context) -> None:
        """Retention, reaping and size sampling, at most every few minutes across sessions."""
        if ctx.coordinator.maybe_housekeep() is not None:
            self.notes["housekeeping"] = True
        self.timer.mark("housekeep")


def payload_text(payload: Mapping[str, Any], key: str) -> str:
    """A payload field that should be a string ('' when absent or of another type)."""
    value = payload.get(key)
    return value if isinstance(value, str) else ""


def payload_mapping(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A payload field that should be an object ({} when absent or of another type)."""
    value = payload.get(key)
    return value if isinstance(value, dict) else {}


def hook_output(event: str, **fields: Any) -> dict[str, Any]:
    """``{"hookSpecificOutput": {...}}`` for ``event``, refusing keys it does not accept."""
    specific = {"hookEventName": event, **fields}
    unknown = set(specific) - ALLOWED_KEYS[event]
    if unknown:
        raise ValueError(f"{event} does not accept {sorted(unknown)}")
    return {"hookSpecificOutput": specific}


def log_quietly(state_dir: StrPath | None, level: str, what: str, **fields: Any) -> None:
    """A line in ``logs/app.log``, if there is a state dir; logging never breaks a hook."""
    if state_dir is None:
        return
    try:
        from coord_hooks import logs

        logs.log_event(state_dir, level, what, **fields)
    except Exception:
        pass


LOG_EVERY = 60.0  # s between two lines of one kind a hook logs on every run (one state dir)


def log_rate_limited(state_dir: StrPath | None, what: str, **fields: Any) -> None:
    """`log_quietly` at most once per `LOG_EVERY` seconds (a stamp file's mtime)."""
    if state_dir is None:
        return
    folder = os.path.join(state_dir, "logs")
    stamp = os.path.join(folder, f".{what}")
    try:
        if time.time() - os.lstat(stamp).st_mtime < LOG_EVERY:
            return
    except OSError:
        pass
    from coord_hooks.paths import FILE_MODE, SAFE_OPEN, ensure_subdir

    try:  # a planted link or FIFO is never written through
        fd = os.open(os.path.join(ensure_subdir(folder), f".{what}"),
                     os.O_WRONLY | os.O_CREAT | SAFE_OPEN, FILE_MODE)
        try:
            os.utime(fd)
        finally:
            os.close(fd)
    except (OSError, StoreError):
        return  # cannot rate-limit: say nothing rather than flood the log
    log_quietly(state_dir, "warning", what, **fields)


def handle(run: HookRun) -> dict[str, Any] | None:
    """Run the handler for ``run.event``; None means print nothing.

    A handler that finds the state directory moved to the other layout while it waited
    for the store lock (`LayoutChangedError`: nothing was done) runs again on a freshly
    opened context, which detects the new layout: a migration is never a reason to let
    an edit through undecided. Every handler is safe to repeat (its transactions are
    atomic and each starts by re-reading what it decides on).
    """
    module_name, _, function = HANDLERS[run.event].partition(":")
    module = __import__(f"{__name__}.{module_name}", fromlist=[function])
    handler = getattr(module, function)
    retries = 0
    while True:
        try:
            result: dict[str, Any] | None = handler(run)
            return result
        except LayoutChangedError as exc:
            state_dir = run.ctx.state_path if run.ctx is not None else None
            run.close()
            retries += 1
            run.notes["layout_retries"] = retries
            if retries > LAYOUT_RETRIES or run.timer.total_ms() > LAYOUT_RETRY_MS:
                raise
            if state_dir is not None:
                from coord_hooks import logs

                logs.log_event(state_dir, "info", "layout_changed_retry", hook=run.event,
                               attempt=retries, error=str(exc))
