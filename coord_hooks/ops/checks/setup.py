"""Checks of the setup: state dir permissions, the plugin's files (hooks.json, shims, the
symlink, bin/coord) and Claude Code's settings files.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coord_hooks import health
from coord_hooks.context import linked_backend
from coord_hooks.ops.findings import listed, q
from coord_hooks.store import BACKENDS

if TYPE_CHECKING:
    from coord_hooks.ops.diagnose import Diagnosis


def check_permissions(d: Diagnosis) -> None:
    state = d.ctx.state_dir
    loose: list[str] = []
    world_writable: list[str] = []
    foreign: list[str] = []
    uid = os.getuid() if hasattr(os, "getuid") else None
    seen = 0
    stack = [state]
    while stack and seen < health.MAX_WALK:
        folder = stack.pop()
        try:
            st = os.lstat(folder)
        except OSError:
            continue
        _mode_check(folder, st, state, loose, world_writable, foreign, uid)
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    seen += 1
                    if entry.is_symlink():
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                        continue
                    try:
                        est = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    _mode_check(Path(entry.path), est, state, loose, world_writable,
                                     foreign, uid)
        except OSError:
            continue
    d.stats["permissions"] = {"loose": len(loose), "world_writable": len(world_writable),
                                 "foreign_owner": len(foreign)}
    if world_writable:
        d.add("perm-world-writable", "error",
                 f"{len(world_writable)} state path(s) are writable by other users",
                 f"{listed(world_writable)}. Anyone on the machine could forge locks or "
                 "messages. The state dir should be 0700 and its files 0600.",
                 f"chmod -R go-rwx {q(state)}")
    elif loose:
        d.add("perm-loose", "warning",
                 f"{len(loose)} state path(s) are readable by other users",
                 f"{listed(loose)}. Messages may hold private text; the state dir should "
                 "be 0700 and its files 0600.", f"chmod -R go-rwx {q(state)}")
    # Paths of another user: `sharing.check_sharing` says what that breaks, once.

def _mode_check(path: Path, st: os.stat_result, state: Path, loose: list[str],
                world_writable: list[str], foreign: list[str], uid: int | None) -> None:
    rel = str(path.relative_to(state)) if path != state else "."
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o002:
        world_writable.append(f"{rel} ({mode:04o})")
    elif mode & 0o077:
        loose.append(f"{rel} ({mode:04o})")
    if uid is not None and st.st_uid != uid:
        foreign.append(rel)

def check_plugin(d: Diagnosis) -> None:
    root = d.plugin_root
    shims = root / "shims"
    hooks_files = [p for p in (root / "hooks.json", root / "hooks" / "hooks.json")
                   if p.exists()]
    d.stats["plugin"] = {"root": str(root), "hooks_json": [str(p) for p in hooks_files],
                            "shims": shims.is_dir(),
                            "linked_backend": linked_backend(shims / "hooks.sh")}
    if not hooks_files and not shims.is_dir():
        d.add("plugin-absent", "info",
                 f"No plugin files at {root} (hooks.json, shims/)",
                 "coord-hooks runs from an installed package here; hooks come from "
                 "`coord install` or the plugin's own copy.")
        return
    checkout = (root / ".git").exists()
    for path in hooks_files:
        _check_hooks_json(d, path, checkout)
    if not shims.is_dir():
        d.add("shims-missing", "error", f"{shims} is missing",
                 "hooks.json runs the hooks through these shims.", "coord shims generate")
        return
    link = shims / "hooks.sh"
    if not os.path.lexists(link):
        d.add("shim-link-missing", "error", f"{link} is missing",
                 "Every hook runs through it; without it no hook runs.",
                 "coord shims generate")
    elif not link.is_symlink():
        d.add("shim-link-not-symlink", "warning",
                 f"{link} is a regular file, not a symlink",
                 "The backend switch (`coord backend use`) flips this symlink.",
                 "coord backend use optimized")
    elif not link.exists():
        d.add("shim-link-dangling", "error",
                 f"{link} points to {os.readlink(link)}, which does not exist",
                 "Every hook runs through it; a dangling link means no hook runs.",
                 "coord shims generate")
    elif linked_backend(link) is None:
        d.add("shim-link-unknown", "warning",
                 f"{link} points to {os.readlink(link)}, not to a hooks-<backend>.sh "
                 f"shim ({', '.join(sorted(BACKENDS))})", "",
                 "coord backend use optimized")
    for shim in sorted(shims.glob("hooks-*.sh")):
        if not os.access(shim, os.X_OK):
            d.add("shim-not-executable", "error", f"{shim} is not executable",
                     "Claude Code cannot run it; the hooks that use it fail open.",
                     f"chmod +x {q(shim)}")
    launcher = root / "bin" / "coord"
    if launcher.exists() and not os.access(launcher, os.X_OK):
        d.add("bin-not-executable", "error", f"{launcher} is not executable",
                 "The model's Bash tool runs `coord` through it.", f"chmod +x {q(launcher)}")

def _check_hooks_json(d: Diagnosis, path: Path, checkout: bool) -> None:
    fix = (f"git -C {q(d.plugin_root)} checkout -- {q(path.relative_to(d.plugin_root))}"
           if checkout else "claude plugin install coord-hooks  # reinstall the plugin")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        d.add("hooks-json-invalid", "error", f"{path} is not valid JSON",
                 f"{exc}. Claude Code ignores a hooks file it cannot parse: no hook runs.",
                 fix)
        return
    if not isinstance(data, dict) or not isinstance(data.get("hooks"), dict):
        d.add("hooks-json-shape", "error", f"{path} has no \"hooks\" object",
                 "Claude Code expects {\"hooks\": {EVENT: [...]}}.", fix)
        return
    missing = sorted({shim for shim in _shim_refs(data)
                      if not (d.plugin_root / shim).exists()})
    if missing:
        d.add("hooks-json-target", "error",
                 f"{path.name} runs {', '.join(missing)}, which does not exist",
                 "Those hooks fail every time they fire.", "coord shims generate")

def check_claude_settings(d: Diagnosis) -> None:
    candidates = [
        ("project", d.ctx.project_root / ".claude" / "settings.json"),
        ("local", d.ctx.project_root / ".claude" / "settings.local.json"),
        ("user", d.home / ".claude" / "settings.json"),
    ]
    checked = []
    for scope, path in candidates:
        if not path.exists():
            continue
        checked.append(str(path))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            d.add("claude-settings-invalid", "error",
                     f"Claude Code settings file {path} is not valid JSON",
                     f"{exc}. Claude Code skips the whole file, hooks included.",
                     f"python3 -m json.tool {q(path)}  # shows where, then fix it")
            continue
        hooks = data.get("hooks") if isinstance(data, dict) else None
        if not isinstance(hooks, dict):
            continue
        missing = sorted({cmd for cmd in _commands(hooks) if _broken_shim(cmd)})
        if missing:
            d.add("claude-settings-hook-missing", "error",
                     f"{path} runs coord hooks that do not exist",
                     f"{listed(missing)}. Those hooks fail every time they fire.",
                     f"coord install --scope {q(scope)}")
    d.stats["claude_settings"] = checked


def _commands(node: Any) -> list[str]:
    """Every ``"command"`` string (and exec-form ``args``) in a hooks structure."""
    found: list[str] = []
    if isinstance(node, dict):
        command = node.get("command")
        if isinstance(command, str):
            args = node.get("args")
            extra = [a for a in args if isinstance(a, str)] if isinstance(args, list) else []
            found.append(shlex.join([command, *extra]) if extra else command)
        for value in node.values():
            if isinstance(value, (dict, list)):
                found.extend(_commands(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_commands(item))
    return found


def _shim_refs(hooks_json: Any) -> list[str]:
    """``shims/<name>.sh`` paths that a plugin hooks file runs (relative to the plugin)."""
    refs = []
    for command in _commands(hooks_json):
        for token in _tokens(command):
            marker = token.find("shims/")
            if marker >= 0 and token.endswith(".sh"):
                refs.append(token[marker:])
    return refs


def _broken_shim(command: str) -> bool:
    """Does this settings command run a coord shim file that is not there?"""
    for token in _tokens(command):
        name = os.path.basename(token)
        if name == "hooks.sh" or (name.startswith("hooks-") and name.endswith(".sh")):
            if "$" in token:  # ${CLAUDE_PLUGIN_ROOT} and friends: resolved by Claude Code
                continue
            if not os.path.exists(os.path.expanduser(token)):
                return True
    return False


def _tokens(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()
