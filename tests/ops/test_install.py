"""`coord install` / `coord uninstall`: merging our hooks into Claude Code settings."""

from __future__ import annotations

import copy
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from coord_hooks.errors import ConfigError, UsageError
from coord_hooks.ops import install, shims

THEIRS: dict[str, Any] = {
    "model": "opus",
    "env": {"FOO": "1"},
    "permissions": {"allow": ["Bash(npm test:*)"], "deny": ["Read(./.env)"]},
    "hooks": {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "guard.sh",
                                           "timeout": 3}]},
            {"matcher": "Edit|Write", "hooks": [{"type": "command", "command": "fmt.sh"}]},
        ],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
        "Notification": [{"hooks": [{"type": "command", "command": "beep"}]}],
    },
    "statusLine": {"type": "command", "command": "status.sh"},
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / ".claude").mkdir(parents=True)
    return root


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=4) + "\n")


def _ours(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(event, h["command"]) for event, groups in data.get("hooks", {}).items()
            for g in groups for h in g["hooks"] if install.is_ours(h)]


@pytest.mark.parametrize("scope", install.SCOPES)
def test_round_trip_keeps_everything_else(project: Path, scope: str) -> None:
    path = install.settings_path(scope, project)
    _write(path, THEIRS)
    report = install.install(scope, project)
    assert report.changed and report.backup is not None
    assert json.loads(report.backup.read_text()) == THEIRS  # backup of the original
    data = json.loads(path.read_text())
    # ours: one group per event, appended after the user's own
    assert len(_ours(data)) == len(install.HOOKS)
    assert data["hooks"]["PreToolUse"][:2] == THEIRS["hooks"]["PreToolUse"]
    ours_pre = data["hooks"]["PreToolUse"][2]
    assert ours_pre["matcher"] == "Edit|Write|MultiEdit|NotebookEdit|Bash"
    assert ours_pre["hooks"][0]["timeout"] == 10
    assert data["hooks"]["Stop"][0] == THEIRS["hooks"]["Stop"][0]
    for key in ("model", "env", "permissions", "statusLine"):
        assert data[key] == THEIRS[key]
    assert list(data) == list(THEIRS)  # key order kept
    # uninstall gives back exactly the original document
    un = install.uninstall(scope, project)
    assert un.changed and un.hooks_removed == len(install.HOOKS)
    assert json.loads(path.read_text()) == THEIRS


def test_install_is_idempotent(project: Path) -> None:
    path = install.settings_path("local", project)
    _write(path, THEIRS)
    install.install("local", project)
    first = path.read_text()
    backups = sorted(install.backups_dir().iterdir())
    again = install.install("local", project)
    assert not again.changed and again.backup is None
    assert path.read_text() == first
    assert sorted(install.backups_dir().iterdir()) == backups


def test_install_into_a_missing_file_and_uninstall_removes_it_again(project: Path) -> None:
    path = install.settings_path("project", project)
    report = install.install("project", project)
    assert report.changed and report.backup is None
    assert any("usually committed" in w for w in report.warnings)
    assert set(json.loads(path.read_text())) == {"hooks"}
    install.uninstall("project", project)
    assert not path.exists()  # we created it and nothing else is in it


@pytest.mark.parametrize("scope", install.SCOPES)
@pytest.mark.parametrize("style", ["indent4", "tabs", "compact", "odd"])
def test_the_users_file_is_kept_byte_for_byte(project: Path, scope: str, style: str) -> None:
    path = install.settings_path(scope, project)
    text = {"indent4": json.dumps(THEIRS, indent=4) + "\n",
            "tabs": json.dumps(THEIRS, indent="\t"),
            "compact": json.dumps(THEIRS, separators=(",", ":")),
            "odd": '{ "z": 1,\n  "model" :"opus" ,"a":{"\\u00e9": [ ]}}\n'}[style]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o640)
    report = install.install(scope, project, allow_coord=True)
    changed = path.read_text()
    assert report.changed and stat.S_IMODE(path.stat().st_mode) == 0o640
    if style == "indent4":  # only lines were added: the user's stay as they were
        assert [ln for ln in changed.splitlines() if ln.rstrip(",") in
                {x.rstrip(",") for x in text.splitlines()}] != []
        removed = set(text.splitlines()) - set(changed.splitlines())
        assert {ln.rstrip(",") for ln in removed} <= {ln.rstrip(",") for ln in
                                                       changed.splitlines()}
    install.uninstall(scope, project)
    assert path.read_text() == text  # every byte back
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_backups_stay_out_of_the_project(project: Path) -> None:
    path = install.settings_path("local", project)
    _write(path, THEIRS)
    report = install.install("local", project)
    assert report.backup is not None and report.backup.parent == install.backups_dir()
    assert report.backup.read_text() == json.dumps(THEIRS, indent=4) + "\n"
    assert "local-proj-" in report.backup.name
    assert sorted(p.name for p in (project / ".claude").iterdir()) == ["settings.local.json"]
    install.uninstall("local", project)
    assert sorted(p.name for p in (project / ".claude").iterdir()) == ["settings.local.json"]


def test_commands_point_at_installed_shims_that_record_the_interpreter(
        project: Path, tmp_path: Path) -> None:
    shim_dir = tmp_path / "shims here"
    install.install("user", project, shims_dir=shim_dir, interpreter="/opt/py 3/bin/python")
    data = json.loads(install.settings_path("user", project).read_text())
    commands = dict(_ours(data))
    quoted = f"'{shim_dir}/hooks.sh'"
    assert commands["PreToolUse"] == f"{quoted} pre-tool-use {install.MARK}"
    assert commands["SessionEnd"] == f"{quoted} session-end {install.MARK}"
    text = (shim_dir / "hooks-optimized.sh").read_text()
    assert "INSTALL_PYTHON='/opt/py 3/bin/python'\n" in text
    assert f"PACKAGE_ROOT={install.package_root()}\n" in text
    assert os.readlink(shim_dir / "hooks.sh") == "hooks-optimized.sh"


def test_installed_hook_command_really_runs(project: Path, tmp_path: Path) -> None:
    """Run the command string from settings.json with sh -c, as Claude Code does."""
    shim_dir = tmp_path / "shims"
    install.install("local", project, shims_dir=shim_dir)
    data = json.loads(install.settings_path("local", project).read_text())
    command = dict(_ours(data))["SessionStart"]
    payload = {"session_id": "1a1a1a1a-0000-4000-8000-00000000000b", "cwd": str(project),
               "hook_event_name": "SessionStart", "source": "startup"}
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(project),
           "COORD_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.run(["/bin/sh", "-c", command], input=json.dumps(payload), env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "1a1a1a1a" in json.loads(proc.stdout)["hookSpecificOutput"]["additionalContext"]


def test_reinstall_keeps_the_chosen_backend(project: Path, tmp_path: Path) -> None:
    shim_dir = tmp_path / "s"
    install.install("local", project, shims_dir=shim_dir)
    shims.use_backend(shim_dir, "legacy")
    install.install("local", project, shims_dir=shim_dir)
    assert shims.linked_backend(shim_dir) == "legacy"


def test_uninstall_removes_only_ours_even_inside_a_shared_group(project: Path) -> None:
    path = install.settings_path("local", project)
    install.install("local", project)
    data = json.loads(path.read_text())
    # a user later added their own handler next to ours, in our group
    data["hooks"]["Stop"][0]["hooks"].append({"type": "command", "command": "mine.sh"})
    _write(path, data)
    install.uninstall("local", project)
    after = json.loads(path.read_text())
    assert after == {"hooks": {"Stop": [{"hooks": [{"type": "command",
                                                    "command": "mine.sh"}]}]}}


def test_allow_rule_is_added_and_removed_only_if_we_added_it(project: Path) -> None:
    path = install.settings_path("user", project)
    _write(path, THEIRS)
    report = install.install("user", project, hooks=False, allow_coord=True)
    data = json.loads(path.read_text())
    assert report.allow_added and data["permissions"]["allow"] == ["Bash(npm test:*)",
                                                                    install.ALLOW_RULE]
    assert _ours(data) == []  # --no-hooks
    install.uninstall("user", project)
    assert json.loads(path.read_text()) == THEIRS

    mine = copy.deepcopy(THEIRS)
    mine["permissions"]["allow"].append(install.ALLOW_RULE)  # the user's own rule
    _write(path, mine)
    assert not install.install("user", project, hooks=False, allow_coord=True).allow_added
    install.uninstall("user", project)
    assert json.loads(path.read_text()) == mine


def test_uninstall_removes_the_shims_once_no_install_uses_them(project: Path,
                                                              tmp_path: Path) -> None:
    shim_dir = tmp_path / "shared-shims"
    install.install("local", project, shims_dir=shim_dir)
    install.install("project", project, shims_dir=shim_dir)
    assert install.uninstall("local", project).shims_removed == []
    removed = install.uninstall("project", project).shims_removed
    assert sorted(p.name for p in removed) == sorted(
        ["hooks.sh", *(shims.shim_name(b) for b in shims.BACKENDS)])
    assert not shim_dir.exists()


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"hooks": []}'])
def test_a_broken_settings_file_is_never_rewritten(project: Path, content: str) -> None:
    path = install.settings_path("local", project)
    path.write_text(content)
    with pytest.raises(ConfigError):
        install.install("local", project)
    assert path.read_text() == content
    assert not install.backups_dir().exists() or list(install.backups_dir().iterdir()) == []


def test_unknown_scope_is_a_usage_error(project: Path) -> None:
    with pytest.raises(UsageError):
        install.settings_path("global", project)


def test_user_scope_honours_claude_config_dir(project: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "cfg"))
    assert install.settings_path("user", project) == tmp_path / "cfg" / "settings.json"


def test_plugin_hooks_json_is_generated_from_the_same_table() -> None:
    committed = json.loads((Path(__file__).resolve().parents[2] / "hooks.json").read_text())
    assert committed == install.plugin_hooks()


def test_registrations_and_enabled_plugins_are_found(project: Path) -> None:
    install.install("local", project)
    _write(install.settings_path("user", project),
           {"enabledPlugins": {"coord-hooks@coord-hooks": True, "other@x": True}})
    assert install.registrations(project) == {"local": [s.event for s in install.HOOKS]}
    assert install.enabled_plugins(project) == {"user": ["coord-hooks@coord-hooks"]}
