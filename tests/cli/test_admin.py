"""`coord hook|shims|backend|install|uninstall|doctor|demo` (coord_hooks.cli.admin)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from coord_hooks.cli import admin as cli_admin
from coord_hooks.ops import install, shims

REPO = Path(__file__).resolve().parents[2]


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """coord (test app)."""

    cli_admin.register(app)
    return app


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A plugin root of our own, so no test flips the repository's real symlink."""
    root = tmp_path / "plugin"
    (root / "coord_hooks").parent.mkdir(parents=True)
    (root / "coord_hooks").symlink_to(REPO / "coord_hooks")
    shims.generate(root / "shims")
    monkeypatch.setenv("CLAUDE_PLUGIN_ROOT", str(root))
    return root


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(root))
    return root


def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(_app(), list(args), input=input)


def test_hook_is_hidden_but_documented() -> None:
    listing = invoke("--help").output
    assert "│ install " in listing and "│ doctor " in listing and "│ hook " not in listing
    help_text = invoke("hook", "--help").output
    assert "payload on stdin" in help_text and "always exits 0" in help_text


def test_hook_command_runs_the_hook(project: Path) -> None:
    payload = {"session_id": "c0ffee00-0000-4000-8000-000000000000", "cwd": str(project),
               "hook_event_name": "SessionStart", "source": "startup"}
    result = invoke("hook", "session-start", input=json.dumps(payload))
    assert result.exit_code == 0
    assert "c0ffee00" in result.output


def test_shims_generate_into_a_folder(tmp_path: Path) -> None:
    result = invoke("shims", "generate", "--dir", str(tmp_path / "s"))
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 's' / 'hooks-optimized.sh'}" in result.output
    assert "created" in result.output and "hooks.sh -> hooks-optimized.sh" in result.output
    again = invoke("shims", "generate", "--dir", str(tmp_path / "s"))
    assert "unchanged" in again.output and "kept" in again.output


def test_backend_show_and_use(plugin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shown = invoke("backend")
    assert shown.exit_code == 0
    assert f"plugin shims: {plugin / 'shims'}/hooks.sh -> hooks-optimized.sh" in shown.output
    assert "hooks use: optimized" in shown.output
    used = invoke("backend", "use", "legacy")
    assert used.exit_code == 0, used.output
    assert os.readlink(plugin / "shims" / "hooks.sh") == "hooks-legacy.sh"
    state = json.loads(invoke("backend", "--json").output)
    assert state["effective_hooks"] == "legacy" and state["env_override"] is None
    monkeypatch.setenv("COORD_BACKEND", "optimized")
    assert json.loads(invoke("backend", "--json").output)["effective_hooks"] == "optimized"
    note = invoke("backend", "use", "legacy")
    assert "$COORD_BACKEND=optimized still overrides it" in note.output


def test_backend_use_rejects_unknown_names(plugin: Path) -> None:
    result = invoke("backend", "use", "memcached")
    assert result.exit_code != 0
    assert os.readlink(plugin / "shims" / "hooks.sh") == "hooks-optimized.sh"


def test_install_and_uninstall(project: Path, tmp_path: Path) -> None:
    result = invoke("install", "--scope", "local", "--shims-dir", str(tmp_path / "sh"))
    assert result.exit_code == 0, result.output
    path = project / ".claude" / "settings.local.json"
    assert f"updated {path} (local scope)" in result.output
    assert f"hooks: {len(install.HOOKS)} events -> {tmp_path / 'sh' / 'hooks.sh'}" in result.output
    assert "already up to date" in invoke("install", "--scope", "local", "--shims-dir",
                                          str(tmp_path / "sh")).output
    removed = invoke("uninstall", "--scope", "local")
    assert f"removed {len(install.HOOKS)} hook entries from {path}" in removed.output
    assert not path.exists()  # install created it; uninstall takes it away again
    assert "nothing of coord-hooks" in invoke("uninstall", "--scope", "local").output


def test_install_rejects_an_unknown_scope(project: Path) -> None:
    result = invoke("install", "--scope", "global")
    assert result.exit_code != 0
    assert not (project / ".claude").exists()


def test_doctor_exit_status(plugin: Path, project: Path, monkeypatch: pytest.MonkeyPatch
                            ) -> None:
    monkeypatch.setenv("COORD_PYTHON", sys.executable)
    good = invoke("doctor")
    assert good.exit_code == 0, good.output
    lines = good.output.splitlines()
    assert any(line.startswith("ok    plugin hook run") for line in lines)
    (plugin / "shims" / "hooks.sh").unlink()
    bad = invoke("doctor", "--json")
    assert bad.exit_code == 1
    checks = {c["check"]: c["status"] for c in json.loads(bad.output)["checks"]}
    assert checks["plugin symlink"] == "fail"


def test_demo_exit_status_follows_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    from coord_hooks.ops import demo

    monkeypatch.setattr(demo, "run_demo", lambda say, keep=False: False)
    assert invoke("demo").exit_code == 1
    monkeypatch.setattr(demo, "run_demo", lambda say, keep=False: True)
    assert invoke("demo").exit_code == 0


def test_the_real_coord_app_has_the_admin_commands() -> None:
    from coord_hooks.cli import app as cli

    assert "coord_hooks.cli.admin" in cli.COMMAND_GROUPS
    group = typer.main.get_command(cli.app)
    names = set(group.commands)  # type: ignore[attr-defined]
    assert {"install", "uninstall", "doctor", "demo", "hook", "shims", "backend"} <= names
    # errors from extension commands go through cli's one error handler
    assert cli.run_cli(["install", "--scope", "global"]) == 2


def test_backend_use_of_the_other_layout_says_a_migration_is_needed(
        plugin: Path, project: Path, state_dir: Path) -> None:
    from coord_hooks.context import open_context

    open_context().coordinator.register("aaaa1111-0000-4000-8000-000000000001")
    result = invoke("backend", "use", "sqlite")
    assert result.exit_code == 0, result.output
    assert ("note: a migration is needed here: this project's state "
            f"({state_dir}) is JSON files, which the sqlite backend does not read, so its "
            "hooks and commands stay on the optimized backend until you run "
            "`coord migrate --to sqlite`") in " ".join(result.output.split())
    assert not list(state_dir.glob("coord.db*"))
