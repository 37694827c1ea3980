"""PreToolUse: lock the file an Edit/Write/MultiEdit/NotebookEdit is about to change,
or deny the tool call with who holds it; a Bash command goes to `hook.bash`.

Standard library only (hook hot path: this runs before every edit).
"""

from __future__ import annotations

import os

from coord_hooks.hook import TAG, HookRun, hook_output, payload_mapping, payload_text

TYPE_CHECKING = False  # typing is not imported at run time: it is on the hot path
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

# The tools whose target file we lock; with Bash, the tools the PreToolUse hook guards
# (hooks.json and `coord install` use GUARDED_TOOLS as the matcher).
FILE_TOOLS = ("Edit", "Write", "MultiEdit", "NotebookEdit")
GUARDED_TOOLS = (*FILE_TOOLS, "Bash")


def target_path(payload: Mapping[str, Any]) -> str:
    """The file a file tool is about to change ('' when there is none)."""
    tool_input = payload_mapping(payload, "tool_input")
    key = "notebook_path" if payload_text(payload, "tool_name") == "NotebookEdit" else "file_path"
    path = tool_input.get(key) or tool_input.get("file_path") or tool_input.get("notebook_path")
    return path.strip() if isinstance(path, str) else ""


def names_a_folder(path: str, cwd: str) -> bool:
    """Is ``path`` a folder, or written as one (``dir/``)?

    A folder is never a file lock: the Edit or Write of it fails anyway, and a path lock
    on a folder covers everything inside it (the repository root: the whole tree).
    """
    if path.endswith(("/", "/.", "/..")) or path in (".", ".."):
        return True
    return os.path.isdir(os.path.join(cwd, os.path.expanduser(path)))


def pre_tool_use(run: HookRun) -> dict[str, Any] | None:
    """Lock the file an Edit/Write/... is about to change; deny if another session has it.

    Allowing prints nothing: an explicit "allow" would skip the user's own permission
    prompts, which is not ours to decide.
    """
    tool_name = payload_text(run.payload, "tool_name")
    if tool_name == "Bash":
        from coord_hooks.hook import bash  # an Edit never loads the shell guard

        return bash.pre_tool_use(run)
    if tool_name not in FILE_TOOLS:
        run.outcome = "skipped"
        return None
    path = target_path(run.payload)
    if not run.session_id or not path:
        run.outcome = "no-session" if not run.session_id else "no-path"
        return None
    if names_a_folder(path, run.cwd):
        run.outcome = "directory"
        return None
    ctx = run.open()
    run.touch(ctx)
    result = ctx.coordinator.try_acquire(run.session_id, path, cwd=run.cwd, exclusive=True,
                                         agent_id=payload_text(run.payload, "agent_id")[:100],
                                         agent_type=payload_text(run.payload, "agent_type")[:100],
                                         literal=True)
    run.timer.mark("acquire")
    run.notes["key"] = result.key
    if result.granted:
        run.outcome = "renewed" if result.renewed else "locked"
        return None
    run.outcome = "deny"
    reason = (f"{TAG} {result.denial_reason()} The {tool_name} was not applied. Work on something "
              "else meanwhile, or ask and retry later (`coord locks` lists every lock); you "
              "will be told here when it is free, and `coord wait <path>` waits for it.")
    return hook_output("PreToolUse", permissionDecision="deny",
                       permissionDecisionReason=reason)


