"""Install the hooks into a Claude Code settings file, without the plugin system.

`install` merges one matcher group per event into ``hooks`` of the chosen settings file
(user ``~/.claude/settings.json``, project ``.claude/settings.json`` or local
``.claude/settings.local.json``): idempotent, everything else left as it was, a backup
written before any change. Each command we add ends in the shell comment `MARK`, which
is how `uninstall` finds exactly what we added (no extra JSON keys: Claude Code drops a
whole settings file's hooks when one entry fails its schema).

The commands call shims generated for this machine (`default_shims_dir`) that record the
installing interpreter and package location and try them first.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import stat
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coord_hooks.errors import ConfigError, UsageError
from coord_hooks.fsio import atomic_write_bytes
from coord_hooks.ops import jsonedit, shims
from coord_hooks.paths import PLUGIN_ROOT

SCOPES = ("user", "project", "local")
MARK = "# coord-hooks:installed"
ALLOW_RULE = "Bash(coord:*)"
GUARDED_TOOLS_MATCHER = "Edit|Write|MultiEdit|NotebookEdit|Bash"  # hook.tools.GUARDED_TOOLS
RECORD_NAME = "installs.json"


@dataclass(frozen=True)
class HookSpec:
    """One Claude Code event we hook: its CLI name, matcher and timeout (seconds)."""

    event: str
    cli: str
    timeout: int
    matcher: str | None = None


# Timeouts: a hook that times out lets the tool run (fail-open) and leaves no trace, so
# they are small but far above our latency; SessionEnd shares a 1.5 s budget anyway.
HOOKS: tuple[HookSpec, ...] = (
    HookSpec("SessionStart", "session-start", 5),
    HookSpec("UserPromptSubmit", "user-prompt-submit", 5),
    HookSpec("PreToolUse", "pre-tool-use", 10, GUARDED_TOOLS_MATCHER),
    HookSpec("PostToolUse", "post-tool-use", 5),
    # A failed tool (a test run, a grep that found nothing) fires this instead.
    HookSpec("PostToolUseFailure", "post-tool-use-failure", 5),
    HookSpec("Stop", "stop", 5),
    HookSpec("SubagentStart", "subagent-start", 5),
    HookSpec("SubagentStop", "subagent-stop", 5),
    HookSpec("PreCompact", "pre-compact", 5),
    HookSpec("SessionEnd", "session-end", 2),
)


def _group(spec: HookSpec, command: str) -> dict[str, Any]:
    group: dict[str, Any] = {}
    if spec.matcher:
        group["matcher"] = spec.matcher
    group["hooks"] = [{"type": "command", "command": command, "timeout": spec.timeout}]
    return group


def plugin_hooks() -> dict[str, Any]:
    """The plugin's ``hooks.json`` document (tests keep the committed file equal to it)."""
    return {
        "description": "coord-hooks: register sessions, lock files before Edit/Write/Bash "
                       "writes them, deliver peer messages",
        "hooks": {spec.event: [_group(spec, f'"${{CLAUDE_PLUGIN_ROOT}}/shims/hooks.sh" '
                                            f"{spec.cli}")]
                  for spec in HOOKS},
    }


def settings_hooks(shim: Path) -> dict[str, list[dict[str, Any]]]:
    """Our entries for a settings file, calling ``shim`` (shell-quoted, marked)."""
    return {spec.event: [_group(spec, f"{shlex.quote(str(shim))} {spec.cli} {MARK}")]
            for spec in HOOKS}


# --- locations ---------------------------------------------------------------------------
def claude_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    explicit = env.get("CLAUDE_CONFIG_DIR", "").strip()
    return Path(explicit).expanduser() if explicit else Path.home() / ".claude"


def settings_path(scope: str, project_root: Path,
                  environ: Mapping[str, str] | None = None) -> Path:
    if scope == "user":
        return claude_config_dir(environ) / "settings.json"
    if scope == "project":
        return project_root / ".claude" / "settings.json"
    if scope == "local":
        return project_root / ".claude" / "settings.local.json"
    raise UsageError(f"unknown scope {scope!r} (choose {', '.join(SCOPES)})")


def data_dir() -> Path:
    """Per-user data folder for installed shims and the install record."""
    import platformdirs  # not on the hook path

    return Path(platformdirs.user_data_dir("coord-hooks", appauthor=False))


def default_shims_dir() -> Path:
    return data_dir() / "shims"


def package_root() -> Path:
    """The folder that contains the ``coord_hooks`` package (goes on the hook's sys.path)."""
    return PLUGIN_ROOT


# --- settings file IO --------------------------------------------------------------------
def load_settings_file(path: Path) -> dict[str, Any]:
    """A settings file as a dict ({} when absent); refuses anything but a JSON object."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}); fix it first, nothing was "
                          "changed") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} does not hold a JSON object; nothing was changed")
    return data


def _write_settings(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` changing only what changed: formatting, key order and mode kept."""
    try:
        old_text: str | None = path.read_text(encoding="utf-8")
        mode: int | None = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        old_text, mode = None, None
    if old_text and old_text.strip():
        text = jsonedit.preserving(old_text, data)
    else:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, text.encode("utf-8"))
    os.chmod(path, 0o666 & ~_umask() if mode is None else mode)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def backups_dir() -> Path:
    """Where backups of settings files go: the user data folder, never ``.claude/``
    (a backup there would show up in the project's ``git status``)."""
    return data_dir() / "backups"


def backup(path: Path, scope: str) -> Path | None:
    """Copy ``path`` to `backups_dir` with a timestamp before we change it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    # Which file it was: the scope, the project folder's name, and a hash of the full path.
    where = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    project = path.parent.parent.name if scope != "user" else "user"
    base = f"{stamp}-{scope}-{project}-{where}-{path.name}"
    folder = backups_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target, n = folder / base, 1
    while target.exists():
        n += 1
        target = folder / f"{base}.{n}"
    atomic_write_bytes(target, data)
    return target


# --- merging -----------------------------------------------------------------------------
def is_ours(handler: Any) -> bool:
    command = handler.get("command") if isinstance(handler, dict) else None
    return isinstance(command, str) and command.rstrip().endswith(MARK)


def without_ours(settings: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """A copy of ``settings`` with our handlers removed, and how many there were.

    Groups and events are dropped only when they became empty because of us; everything
    we did not add keeps its place and content.
    """
    result = dict(settings)
    hooks = settings.get("hooks")
    if hooks is None:
        return result, 0
    if not isinstance(hooks, dict):
        raise ConfigError("the settings file's \"hooks\" is not an object; nothing was changed")
    removed = 0
    new_hooks: dict[str, Any] = {}
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            new_hooks[event] = groups
            continue
        kept_groups = []
        for group in groups:
            handlers = group.get("hooks") if isinstance(group, dict) else None
            if not isinstance(handlers, list) or not any(is_ours(h) for h in handlers):
                kept_groups.append(group)
                continue
            others = [h for h in handlers if not is_ours(h)]
            removed += len(handlers) - len(others)
            if others:
                kept_groups.append({**group, "hooks": others})
        if kept_groups or not groups:
            new_hooks[event] = kept_groups
    if new_hooks or not hooks:
        result["hooks"] = new_hooks
    elif removed:
        del result["hooks"]
    return result, removed


def with_ours(settings: Mapping[str, Any], shim: Path) -> dict[str, Any]:
    """``settings`` with exactly one copy of our handlers, appended after the user's."""
    result, _ = without_ours(settings)
    hooks = dict(result.get("hooks") or {})
    for event, groups in settings_hooks(shim).items():
        existing = hooks.get(event)
        hooks[event] = [*(existing if isinstance(existing, list) else []), *groups]
    result["hooks"] = hooks
    return result


def _with_allow_rule(settings: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    permissions = settings.get("permissions")
    if permissions is None:
        permissions = {}
    if not isinstance(permissions, dict):
        raise ConfigError("the settings file's \"permissions\" is not an object")
    allow = permissions.get("allow", [])
    if not isinstance(allow, list):
        raise ConfigError("the settings file's \"permissions.allow\" is not a list")
    if ALLOW_RULE in allow:
        return settings, False
    return {**settings, "permissions": {**permissions, "allow": [*allow, ALLOW_RULE]}}, True


# --- install record ----------------------------------------------------------------------
def _record_path() -> Path:
    return data_dir() / RECORD_NAME


def read_record() -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(_record_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def _write_record(record: Mapping[str, Any]) -> None:
    path = _record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())


# --- commands ----------------------------------------------------------------------------
@dataclass
class InstallReport:
    scope: str
    settings_file: Path
    changed: bool
    backup: Path | None
    shims_dir: Path | None
    hooks_added: int = 0
    allow_added: bool = False
    warnings: list[str] = field(default_factory=list)


def install(scope: str, project_root: Path, *, shims_dir: Path | None = None,
            interpreter: str | None = None, hooks: bool = True,
            allow_coord: bool = False) -> InstallReport:
    """Merge our hooks (and optionally the ``Bash(coord:*)`` rule) into a settings file."""
    path = settings_path(scope, project_root)
    current = load_settings_file(path)
    report = InstallReport(scope, path, False, None, None)
    new: dict[str, Any] = dict(current)
    if hooks:
        target_dir = shims_dir or default_shims_dir()
        keep = shims.linked_backend(target_dir)
        shims.generate(target_dir, interpreter=interpreter or sys.executable,
                       package_root=str(package_root()))
        if keep is not None:  # re-installing must not undo `coord backend use`
            shims.use_backend(target_dir, keep)
        report.shims_dir = target_dir
        new = with_ours(new, target_dir / shims.LINK_NAME)
        report.hooks_added = len(HOOKS)
        if scope == "project":
            report.warnings.append(
                f"{path} is usually committed, and the hook commands name a path on this "
                "machine; teammates should install the plugin or use --scope local")
    if allow_coord:
        new, report.allow_added = _with_allow_rule(new)
    record = read_record()
    entry = dict(record.get(str(path), {}))
    if new != current:
        if not path.exists():
            entry["created"] = True  # uninstall may then remove the file again
        report.backup = backup(path, scope)
        _write_settings(path, new)
        report.changed = True
    entry.update(scope=scope, hooks=hooks or bool(entry.get("hooks")))
    if report.shims_dir is not None:
        entry["shims_dir"] = str(report.shims_dir)
    if report.allow_added:
        entry["allow_added"] = True
    record[str(path)] = entry
    _write_record(record)
    return report


@dataclass
class UninstallReport:
    scope: str
    settings_file: Path
    changed: bool
    backup: Path | None
    hooks_removed: int = 0
    allow_removed: bool = False
    shims_removed: list[Path] = field(default_factory=list)


def uninstall(scope: str, project_root: Path) -> UninstallReport:
    """Remove what `install` added to a settings file, and its shims once unused."""
    path = settings_path(scope, project_root)
    current = load_settings_file(path)
    new, removed = without_ours(current)
    record = read_record()
    entry = record.pop(str(path), {})
    report = UninstallReport(scope, path, False, None, hooks_removed=removed)
    if entry.get("allow_added"):
        permissions = new.get("permissions")
        allow = permissions.get("allow") if isinstance(permissions, dict) else None
        if isinstance(permissions, dict) and isinstance(allow, list) and ALLOW_RULE in allow:
            rest = [rule for rule in allow if rule != ALLOW_RULE]
            new_permissions = {**permissions, "allow": rest}
            if not rest:
                del new_permissions["allow"]
            if new_permissions:
                new["permissions"] = new_permissions
            else:
                del new["permissions"]
            report.allow_removed = True
    if new != current:
        report.backup = backup(path, scope)
        if not new and entry.get("created"):
            path.unlink()  # we created it; nothing of the user's is in it
        else:
            _write_settings(path, new)
        report.changed = True
    shims_dir = entry.get("shims_dir")
    still_used = {e.get("shims_dir") for e in record.values()}
    if isinstance(shims_dir, str) and shims_dir not in still_used:
        report.shims_removed = remove_shims(Path(shims_dir))
    _write_record(record)
    return report


def remove_shims(shims_dir: Path) -> list[Path]:
    """Delete the shims we generated in ``shims_dir`` (and the folder if it is empty)."""
    removed = []
    link = shims_dir / shims.LINK_NAME
    if link.is_symlink():
        link.unlink()
        removed.append(link)
    for path in sorted(shims_dir.glob("hooks-*.sh")):
        if shims.is_ours(path):
            path.unlink()
            removed.append(path)
    try:
        shims_dir.rmdir()
    except OSError:
        pass
    return removed


def _readable_settings(project_root: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each scope's settings file that exists and parses, as (scope, data)."""
    for scope in SCOPES:
        try:
            yield scope, load_settings_file(settings_path(scope, project_root))
        except (ConfigError, UsageError):
            continue


def registrations(project_root: Path) -> dict[str, list[str]]:
    """Per scope, the events our settings entries cover (for `coord doctor`)."""
    found: dict[str, list[str]] = {}
    for scope, data in _readable_settings(project_root):
        hooks = data.get("hooks")
        if not isinstance(hooks, dict):
            continue
        events = [event for event, groups in hooks.items() if isinstance(groups, list)
                  and any(isinstance(g, dict) and isinstance(g.get("hooks"), list)
                          and any(is_ours(h) for h in g["hooks"]) for g in groups)]
        if events:
            found[scope] = events
    return found


def registered_shim_dirs(project_root: Path) -> list[Path]:
    """The shim folders our settings entries call (``'<dir>/hooks.sh' EVENT # mark``)."""
    found: list[Path] = []
    for _, data in _readable_settings(project_root):
        hooks = data.get("hooks")
        for groups in (hooks.values() if isinstance(hooks, dict) else ()):
            for group in (groups if isinstance(groups, list) else ()):
                handlers = group.get("hooks") if isinstance(group, dict) else None
                for handler in (handlers if isinstance(handlers, list) else ()):
                    if not is_ours(handler):
                        continue
                    try:
                        shim = shlex.split(handler["command"])[0]
                    except (ValueError, IndexError):
                        continue
                    folder = Path(shim).parent
                    if folder not in found:
                        found.append(folder)
    return found


def enabled_plugins(project_root: Path) -> dict[str, list[str]]:
    """Per scope, the enabled plugin ids that are coord-hooks (``coord-hooks@…``)."""
    found: dict[str, list[str]] = {}
    for scope, data in _readable_settings(project_root):
        enabled = data.get("enabledPlugins")
        if isinstance(enabled, dict):
            ours = [k for k, v in enabled.items()
                    if isinstance(k, str) and k.split("@")[0] == "coord-hooks" and v]
            if ours:
                found[scope] = ours
    return found
