"""The Claude Code plugin files: hooks.json, manifests, slash commands, and the CLI's own
``claude plugin validate --strict`` (one bad hook entry silently disables every hook)."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from coord_hooks import __version__
from coord_hooks.hook.entry import EVENTS
from coord_hooks.hook.tools import GUARDED_TOOLS

REPO = Path(__file__).resolve().parents[1]
REAL_HOME = Path.home()  # read at import: the autouse fixture moves HOME per test

# Every hook event Claude Code 2.1.330 knows (claude-code-hooks.md §1): a name outside
# this list is ignored by the CLI and a warning (= failure) for validate --strict.
KNOWN_EVENTS = {
    "SessionStart", "Setup", "UserPromptSubmit", "UserPromptExpansion", "PreToolUse",
    "PermissionRequest", "PermissionDenied", "PostToolUse", "PostToolUseFailure",
    "PostToolBatch", "Notification", "MessageDisplay", "SubagentStart", "SubagentStop",
    "TaskCreated", "TaskCompleted", "Stop", "StopFailure", "TeammateIdle",
    "InstructionsLoaded", "ConfigChange", "CwdChanged", "DirectoryAdded", "FileChanged",
    "WorktreeCreate", "WorktreeRemove", "PreCompact", "PostCompact", "Elicitation",
    "ElicitationResult", "SessionEnd",
}
TOOL_EVENTS = {"PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest",
               "PermissionDenied"}
# No ANTHROPIC_API_KEY: `claude plugin ...` with a key set waited ~18 s for the network
# inside the namespace (2.1.330); these commands need no API at all.
OFFLINE_ENV = {
    "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1", "CLAUDE_CODE_MAX_RETRIES": "1",
}


def _load(rel: str) -> Any:
    return json.loads((REPO / rel).read_text())


# --- hooks.json, checked by us ------------------------------------------------------------
def test_hooks_json_shape() -> None:
    doc = _load("hooks.json")
    assert set(doc) == {"description", "hooks"}
    hooks = doc["hooks"]
    assert set(hooks) <= KNOWN_EVENTS
    assert set(hooks) == set(EVENTS.values())  # every event the entry point handles
    cli_name = {v: k for k, v in EVENTS.items()}
    for event, groups in hooks.items():
        assert isinstance(groups, list) and len(groups) == 1, event
        [group] = groups
        assert set(group) <= {"matcher", "hooks"}
        if "matcher" in group:
            assert event in TOOL_EVENTS, f"{event} ignores matchers"
            # exact-match syntax: letters and |, never a regex
            assert re.fullmatch(r"[A-Za-z]+(\|[A-Za-z]+)*", group["matcher"])
        [handler] = group["hooks"]
        assert set(handler) == {"type", "command", "timeout"}
        assert handler["type"] == "command"
        assert handler["command"] == f'"${{CLAUDE_PLUGIN_ROOT}}/shims/hooks.sh" {cli_name[event]}'
        assert isinstance(handler["timeout"], int) and 1 <= handler["timeout"] <= 10
    assert hooks["PreToolUse"][0]["matcher"].split("|") == list(GUARDED_TOOLS)
    assert hooks["PreToolUse"][0]["hooks"][0]["timeout"] == 10
    assert hooks["SessionEnd"][0]["hooks"][0]["timeout"] <= 2  # 1.5 s budget anyway
    shim = REPO / "shims" / "hooks.sh"
    assert shim.is_symlink() and os.access(shim, os.X_OK)


def test_plugin_manifest() -> None:
    manifest = _load(".claude-plugin/plugin.json")
    pyproject = re.search(r'^version = "(.*)"$', (REPO / "pyproject.toml").read_text(), re.M)
    assert manifest["name"] == "coord-hooks"
    assert pyproject and manifest["version"] == __version__ == pyproject.group(1)
    assert manifest["hooks"] == "./hooks.json"
    assert manifest["author"]["name"] and manifest["description"]
    assert manifest["license"] == "MIT" and "MIT License" in (REPO / "LICENSE").read_text()
    # the standard file would be loaded as well: "Duplicate hooks file detected"
    assert not (REPO / "hooks" / "hooks.json").exists()
    assert "commands" not in manifest  # the default commands/ folder is used


def test_marketplace_manifest() -> None:
    market = _load(".claude-plugin/marketplace.json")
    assert market["name"] and market["owner"]["name"]
    [entry] = market["plugins"]
    assert entry["name"] == "coord-hooks" and entry["source"] == "./"
    assert entry["version"] == __version__


SLASH = {
    "status": ["--queue", "--cache", "--cache-stats", "--performance"],
    "sessions": [], "locks": [], "inbox": [], "lock": [], "unlock": [],
    "send": [], "broadcast": [],
}


def _frontmatter(text: str) -> tuple[dict[str, str], str]:
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, re.S)
    assert match, "missing frontmatter"
    fields = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(": ")
        assert sep, f"not a key: value line: {line!r}"
        # a plain YAML scalar may not contain ': ' (it would be a nested mapping)
        assert value.startswith('"') or ": " not in value, line
        fields[key] = value
    return fields, match.group(2)


@pytest.mark.parametrize("name", sorted(SLASH))
def test_slash_commands(name: str) -> None:
    fields, body = _frontmatter((REPO / "commands" / f"{name}.md").read_text())
    assert fields["description"].startswith('"') and len(fields["description"]) < 200
    bang = re.findall(r"^!`(.*)`$", body, re.M)
    if name in ("send", "broadcast"):  # free text: the model quotes it in a Bash call
        assert bang == []
        assert f"coord {name} " in body and f"Bash(coord {name}:*)" in fields["allowed-tools"]
        return
    [line] = bang
    # exactly the form verified with 2.1.330 in -p: quoted root, matching allowed-tools,
    # and `|| true` so a failing coord shows its message instead of aborting the command
    assert line.startswith(f'"${{CLAUDE_PLUGIN_ROOT}}/bin/coord" {name}')
    assert line.endswith(" || true")
    assert fields["allowed-tools"] == 'Bash("${CLAUDE_PLUGIN_ROOT}/bin/coord":*)'
    for flag in SLASH[name]:
        assert flag in fields["argument-hint"]


def test_bin_coord_is_executable() -> None:
    assert os.access(REPO / "bin" / "coord", os.X_OK)


# --- the real CLI's validator -------------------------------------------------------------
def _claude() -> Path | None:
    candidates = [os.environ.get("CLAUDE_BIN"),
                  str(Path(os.environ.get("COORD_E2E_CLI_HOME")
                           or REAL_HOME / ".cache" / "coord-hooks-e2e")
                      / "node_modules" / ".bin" / "claude"),
                  shutil.which("claude")]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return Path(c)
    return None


def _offline(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    claude = _claude()
    if claude is None:
        pytest.skip("claude CLI not installed (scripts/install-claude-cli.sh installs it)")
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC_", "CLAUDE", "COORD_"))}
    env.update(OFFLINE_ENV, HOME=str(home))
    prefix: list[str] = []
    unshare = shutil.which("unshare")
    if unshare:  # no network at all, as in the e2e tests
        cmd = [unshare, "-n"] if os.geteuid() == 0 else [unshare, "-r", "-n"]
        if subprocess.run([*cmd, "true"], capture_output=True, check=False).returncode == 0:
            prefix = cmd
    return subprocess.run([*prefix, str(claude), *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_claude_plugin_validate_strict_passes(tmp_path: Path) -> None:
    for target in (REPO, REPO / ".claude-plugin" / "plugin.json"):
        proc = _offline(tmp_path, "plugin", "validate", str(target), "--strict")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "Validation passed" in proc.stdout
        for name in SLASH:
            assert f"coord-hooks:{name}" in proc.stdout
        assert 'monitors: inbox "exec' in proc.stdout  # the idle-session watcher is seen


# --- monitors/monitors.json: `validate --strict` passes a bad entry that then never runs
def test_monitors_json_shape() -> None:
    """2.1.330 loads an entry only with a non-empty name, command and description (one
    without a description passes validation and is then skipped: "Failed to load
    monitors"); names are unique per plugin (Claude Code starts one process per name)."""
    entries = _load("monitors/monitors.json")
    assert isinstance(entries, list) and len(entries) == 1
    [entry] = entries
    assert set(entry) <= {"name", "command", "description", "when"}
    for key in ("name", "command", "description"):
        assert isinstance(entry[key], str) and entry[key].strip(), key
    assert entry.get("when", "always") == "always"
    # exec: the watcher is claude's own child (and dies with it); the shim resolves the
    # interpreter; nothing the repository controls (its path) is put into the command.
    assert entry["command"] == 'exec "${CLAUDE_PLUGIN_ROOT}/shims/hooks.sh" watch'
    assert "monitors" not in _load(".claude-plugin/plugin.json")  # the file form, not both


def test_claude_plugin_validate_for_the_plugin_directory_passes(tmp_path: Path) -> None:
    proc = _offline(tmp_path, "plugin", "validate", str(REPO), "--strict", "--profile",
                    "directory")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "These checks found nothing to report" in proc.stdout


def test_the_icon_is_a_square_png_the_directory_accepts() -> None:
    data = (REPO / ".claude-plugin" / "icon.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width == height and 512 <= width <= 2048
    assert len(data) < 2 * 1024 * 1024


def test_claude_plugin_validate_would_catch_a_bad_hook(tmp_path: Path) -> None:
    copy = tmp_path / "plugin"
    copy.mkdir()
    shutil.copytree(REPO / ".claude-plugin", copy / ".claude-plugin")
    doc = _load("hooks.json")
    doc["hooks"]["PreToolUse"][0]["hooks"][0]["type"] = "shell"
    (copy / "hooks.json").write_text(json.dumps(doc))
    proc = _offline(tmp_path, "plugin", "validate", str(copy), "--strict")
    assert proc.returncode != 0 and "Unknown hook type" in proc.stdout


def _plugin_copy(tmp_path: Path) -> Path:
    """The plugin's files (what a git clone has), without .venv and caches to copy."""
    copy = tmp_path / "coord-hooks-src"
    shutil.copytree(REPO, copy, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "*cache*", ".hypothesis", "tests", "__pycache__", "*.egg-info"))
    return copy


def test_marketplace_add_and_install_work_offline(tmp_path: Path) -> None:
    added = _offline(tmp_path, "plugin", "marketplace", "add", str(_plugin_copy(tmp_path)))
    assert added.returncode == 0, added.stdout + added.stderr
    installed = _offline(tmp_path, "plugin", "install", "coord-hooks@coord-hooks")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    settings = json.loads((tmp_path / "home" / ".claude" / "settings.json").read_text())
    assert settings["enabledPlugins"] == {"coord-hooks@coord-hooks": True}
    record = json.loads((tmp_path / "home" / ".claude" / "plugins"
                         / "installed_plugins.json").read_text())
    [entry] = record["plugins"]["coord-hooks@coord-hooks"]
    copy = Path(entry["installPath"])
    # the copy keeps the shim symlink (it stays inside the plugin) and its target
    assert os.readlink(copy / "shims" / "hooks.sh") == "hooks-optimized.sh"
    assert os.access(copy / "shims" / "hooks.sh", os.X_OK)
