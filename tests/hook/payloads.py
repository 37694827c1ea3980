"""Hook payloads shaped like the ones Claude Code 2.1.330 sends (our own values).

The field sets and their order follow ../shared/real-claude/reference/
hook-payloads-2.1.330.json, one builder per event (and variant). Values are ours: ids,
paths and texts. Builders take the session id and cwd so that tests can run several
sessions in a temporary project.
"""

from __future__ import annotations

import uuid
from typing import Any

PROMPT_ID = "5b0c7a1e-2f3d-4c5b-8a9e-0d1f2e3c4b5a"


def _base(session_id: str, cwd: str, event: str, *, prompt: bool = True,
          mode: bool = True) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "session_id": session_id,
        "transcript_path": f"/home/dev/.claude/projects/-work-demo/{session_id}.jsonl",
        "cwd": cwd,
    }
    if prompt:
        payload["prompt_id"] = PROMPT_ID
    if mode:
        payload["permission_mode"] = "acceptEdits"
    payload["hook_event_name"] = event
    return payload


def _tool(payload: dict[str, Any]) -> dict[str, Any]:
    # tool events carry effort between permission_mode and hook_event_name
    event = payload.pop("hook_event_name")
    payload["effort"] = {"level": "medium"}
    payload["hook_event_name"] = event
    return payload


def session_start(session_id: str, cwd: str, source: str = "startup",
                  model: str | None = None) -> dict[str, Any]:
    payload = _base(session_id, cwd, "SessionStart", prompt=source == "compact", mode=False)
    payload["source"] = source
    if source == "resume":
        payload.update(seconds_since_last_response=3, context_tokens=2900,
                       prompt_cache_likely_expired=False, estimated_cache_write_usd=0.0142)
    if model is not None:
        payload["model"] = model
    return payload


def user_prompt_submit(session_id: str, cwd: str, prompt: str = "add the parser"
                       ) -> dict[str, Any]:
    payload = _base(session_id, cwd, "UserPromptSubmit")
    payload["prompt"] = prompt
    return payload


def pre_tool_use(session_id: str, cwd: str, tool_name: str, tool_input: dict[str, Any],
                 agent_id: str | None = None) -> dict[str, Any]:
    payload = _base(session_id, cwd, "PreToolUse")
    if agent_id is not None:  # inside a subagent: the parent's session_id plus these
        payload["agent_id"] = agent_id
        payload["agent_type"] = "general-purpose"
    payload = _tool(payload)
    payload.update(tool_name=tool_name, tool_input=tool_input,
                   tool_use_id=f"toolu_test_{uuid.uuid4().hex[:20]}")
    return payload


def write(session_id: str, cwd: str, path: str, content: str = "print('hi')\n",
          agent_id: str | None = None) -> dict[str, Any]:
    return pre_tool_use(session_id, cwd, "Write", {"file_path": path, "content": content},
                        agent_id=agent_id)


def edit(session_id: str, cwd: str, path: str) -> dict[str, Any]:
    return pre_tool_use(session_id, cwd, "Edit", {"file_path": path, "old_string": "hi",
                                                  "new_string": "hello", "replace_all": False})


def multi_edit(session_id: str, cwd: str, path: str) -> dict[str, Any]:
    return pre_tool_use(session_id, cwd, "MultiEdit", {
        "file_path": path, "edits": [{"old_string": "a", "new_string": "b"}]})


def notebook_edit(session_id: str, cwd: str, notebook_path: str) -> dict[str, Any]:
    return pre_tool_use(session_id, cwd, "NotebookEdit", {
        "notebook_path": notebook_path, "cell_id": "c1", "new_source": "x = 1",
        "cell_type": "code", "edit_mode": "replace"})


def bash(session_id: str, cwd: str, command: str = "ls") -> dict[str, Any]:
    return pre_tool_use(session_id, cwd, "Bash", {"command": command,
                                                  "description": "List files"})


def post_tool_use(session_id: str, cwd: str, path: str) -> dict[str, Any]:
    payload = _tool(_base(session_id, cwd, "PostToolUse"))
    payload.update(
        tool_name="Write", tool_input={"file_path": path, "content": "x\n"},
        tool_response={"type": "create", "filePath": path, "content": "x\n",
                       "structuredPatch": [], "originalFile": None, "userModified": False},
        tool_use_id=f"toolu_test_{uuid.uuid4().hex[:20]}", duration_ms=5)
    return payload


def post_tool_use_failure(session_id: str, cwd: str, command: str = "pytest -q"
                          ) -> dict[str, Any]:
    """A Bash call that exited non-zero (fields as 2.1.330 sent them)."""
    payload = _tool(_base(session_id, cwd, "PostToolUseFailure"))
    payload.update(tool_name="Bash", tool_input={"command": command, "description": "Run"},
                   tool_use_id=f"toolu_test_{uuid.uuid4().hex[:20]}",
                   error="Exit code 1\n1 failed", is_interrupt=False, duration_ms=812)
    return payload


def stop(session_id: str, cwd: str) -> dict[str, Any]:
    payload = _tool(_base(session_id, cwd, "Stop"))
    payload.update(stop_hook_active=False, last_assistant_message="Done: parser added.",
                   background_tasks=[], session_crons=[])
    return payload


def subagent_start(session_id: str, cwd: str, agent_id: str = "a1b2c3d4e5f6a7b8c"
                   ) -> dict[str, Any]:
    payload = _base(session_id, cwd, "SubagentStart", mode=False)
    event = payload.pop("hook_event_name")
    payload.update(agent_id=agent_id, agent_type="general-purpose", hook_event_name=event)
    return payload


def subagent_stop(session_id: str, cwd: str, agent_id: str = "a1b2c3d4e5f6a7b8c"
                  ) -> dict[str, Any]:
    payload = _base(session_id, cwd, "SubagentStop")
    payload.update(agent_id=agent_id, agent_type="general-purpose")
    payload = _tool(payload)
    payload.update(
        stop_hook_active=False,
        agent_transcript_path=f"/home/dev/.claude/projects/-work-demo/{session_id}/subagents/"
                              f"agent-{agent_id}.jsonl",
        last_assistant_message="SUBAGENT: wrote notes.txt",
        background_tasks=[{"id": agent_id, "type": "subagent", "status": "running",
                           "description": "Write notes", "agent_type": "general-purpose"}],
        session_crons=[])
    return payload


def pre_compact(session_id: str, cwd: str) -> dict[str, Any]:
    payload = _base(session_id, cwd, "PreCompact", mode=False)
    payload.update(trigger="manual", custom_instructions=None)
    return payload


def session_end(session_id: str, cwd: str, reason: str = "other") -> dict[str, Any]:
    payload = _base(session_id, cwd, "SessionEnd", mode=False)
    payload["reason"] = reason
    return payload


# CLI event name -> a builder taking (session_id, cwd), for tests that cover every event.
EVERY_EVENT = {
    "session-start": session_start,
    "user-prompt-submit": user_prompt_submit,
    "pre-tool-use": lambda sid, cwd: write(sid, cwd, f"{cwd}/every.txt"),
    "post-tool-use": lambda sid, cwd: post_tool_use(sid, cwd, f"{cwd}/every.txt"),
    "post-tool-use-failure": post_tool_use_failure,
    "stop": stop,
    "subagent-start": subagent_start,
    "subagent-stop": subagent_stop,
    "pre-compact": pre_compact,
    "session-end": session_end,
}
