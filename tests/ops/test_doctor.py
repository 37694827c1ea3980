"""`coord doctor`: one check per question, and a real hook run through each shim."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from coord_hooks.errors import UsageError
from coord_hooks.ops import doctor, install, plugins, shims
from coord_hooks.ops.doctor import FAIL, OK, WARN


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "COORD_PYTHON": sys.executable, "HOME": str(tmp_path / "home")}


def _by_name(checks: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {c.name: c for c in checks}


def test_healthy_plugin_checkout(tmp_path: Path, env: dict[str, str]) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    checks = _by_name(doctor.run_checks(tmp_path, state, env))
    assert checks["python"].status == OK
    assert checks["plugin shims"].status == OK
    assert checks["plugin symlink"].status == OK
    assert "backend optimized" in checks["plugin symlink"].detail
    assert checks["state dir"].status == OK
    assert checks["plugin hook run"].status == OK
    assert "answered in" in checks["plugin hook run"].detail
    assert checks["hook python"].status == OK
    assert checks["registration"].status == WARN  # neither plugin nor settings here
    assert doctor.exit_status(list(checks.values())) == 0


def test_broken_shims_fail(tmp_path: Path) -> None:
    folder = tmp_path / "shims"
    shims.generate(folder)
    (folder / "hooks-legacy.sh").chmod(0o644)
    (folder / shims.LINK_NAME).unlink()
    (folder / shims.LINK_NAME).symlink_to("hooks-gone.sh")
    checks = _by_name(doctor.check_shims(folder, "x", portable=True))
    assert checks["x shims"].status == FAIL and "not executable" in checks["x shims"].detail
    assert checks["x symlink"].status == FAIL
    assert doctor.check_shims(tmp_path / "nowhere", "y", portable=True)[0].status == FAIL


def test_stale_portable_shim_warns(tmp_path: Path) -> None:
    folder = tmp_path / "shims"
    shims.generate(folder)
    path = folder / "hooks-optimized.sh"
    path.write_text(path.read_text() + "# edited\n")
    assert doctor.check_shims(folder, "p", portable=True)[0].status == WARN


def test_a_hook_that_fails_is_reported_with_the_logged_error(tmp_path: Path,
                                                             env: dict[str, str]) -> None:
    # A copy of the package whose SessionStart handler has a bug.
    package = tmp_path / "plugin"
    shutil.copytree(Path(install.package_root()) / "coord_hooks", package / "coord_hooks",
                    ignore=shutil.ignore_patterns("__pycache__"))
    handler = package / "coord_hooks" / "hook" / "session.py"
    handler.write_text(handler.read_text() + "\nraise RuntimeError('a bug in the handler')\n")
    folder = tmp_path / "shims"
    shims.generate(folder, package_root=str(package))
    check = doctor.synthetic_event(folder / shims.LINK_NAME, "t", env)
    assert check.status == FAIL
    assert "hook_failed: RuntimeError: a bug in the handler" in check.detail


def test_a_shim_that_cannot_find_the_package_fails_the_check(tmp_path: Path,
                                                             env: dict[str, str]) -> None:
    folder = tmp_path / "shims"
    shims.generate(folder)  # portable, but not inside a plugin: no coord_hooks next to it
    check = doctor.synthetic_event(folder / shims.LINK_NAME, "t", env)
    assert check.status == FAIL and "cannot load coord_hooks" in check.detail


def test_state_dir_permissions(tmp_path: Path) -> None:
    assert doctor.check_state_dir(tmp_path / "missing").status == WARN
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o755)
    open_dir.chmod(0o755)
    check = doctor.check_state_dir(open_dir)
    assert check.status == WARN and "chmod 700" in check.detail
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert doctor.check_state_dir(a_file).status == FAIL


def test_state_dir_of_another_user_or_a_link_fails(tmp_path: Path) -> None:
    """Issue 9 (minor): hooks of a second user failed open silently; doctor says why."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / ".claude-coordination"
    link.symlink_to(elsewhere)
    check = doctor.check_state_dir(link)
    assert check.status == FAIL and "is a symbolic link" in check.detail
    if os.geteuid() != 0:
        return
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    check = doctor.check_state_dir(theirs)
    assert check.status == FAIL
    assert "belongs to uid 65534 (nobody), not to you (uid 0)" in check.detail
    assert "Your hooks fail open here" in check.detail


def test_registration_twice_warns(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    install.install("local", project, shims_dir=tmp_path / "s")
    assert doctor.check_registration(project, {}).status == OK
    twice = doctor.check_registration(project, {"CLAUDE_PLUGIN_ROOT": "/x"})
    assert twice.status == WARN and "registered twice" in twice.detail


def test_hook_python_checks_the_interpreter_runs(tmp_path: Path) -> None:
    assert doctor.check_hook_python({"COORD_PYTHON": sys.executable}).status == OK
    bad = doctor.check_hook_python({"COORD_PYTHON": str(tmp_path / "nope")})
    assert bad.status == FAIL
    unresolved = doctor.check_hook_python({"HOME": str(tmp_path)})
    assert unresolved.status == WARN and "not resolved yet" in unresolved.detail
    cache = tmp_path / ".cache" / "coord-hooks" / "python"
    cache.parent.mkdir(parents=True)
    cache.write_text(sys.executable + "\n")
    assert doctor.check_hook_python({"HOME": str(tmp_path)}).status == OK


def test_installed_shims_get_a_hook_run_too(tmp_path: Path, env: dict[str, str]) -> None:
    project = tmp_path / "p"
    project.mkdir()
    install.install("local", project, shims_dir=tmp_path / "inst")
    checks = _by_name(doctor.run_checks(project, tmp_path / "st", env))
    assert checks["installed shims"].status == OK
    assert checks["installed hook run"].status == OK
    assert checks["registration"].status == OK


def test_no_run_skips_the_synthetic_events(tmp_path: Path, env: dict[str, str]) -> None:
    names = [c.name for c in doctor.run_checks(tmp_path, tmp_path, env, run_hooks=False)]
    assert not any(n.endswith("hook run") for n in names)


def _plugin_copy(target: Path) -> Path:
    """A copy of the plugin as Claude Code installs it (manifest, shims, package)."""
    for name in (".claude-plugin", "shims", "bin", "coord_hooks"):
        src = Path(__file__).resolve().parents[2] / name
        shutil.copytree(src, target / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _registry(home: Path, install_path: Path, scope: str = "user") -> None:
    path = home / ".claude" / "plugins" / "installed_plugins.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 2, "plugins": {"coord-hooks@market": [
        {"scope": scope, "installPath": str(install_path), "version": "0.1.0"}]}}))


def test_the_installed_plugin_is_found_in_claude_codes_registry(
        tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    copy = _plugin_copy(tmp_path / "cache" / "coord-hooks" / "0.1.0")
    _registry(Path(env["HOME"]), copy)
    # as from a pip install: the code this runs is not a plugin checkout
    monkeypatch.setattr(plugins, "PLUGIN_ROOT", tmp_path / "site-packages")
    found = plugins.find(env)
    assert [(c.root, c.origin, c.plugin_id, c.scope) for c in found] == [
        (copy, "installed", "coord-hooks@market", "user")]
    checks = _by_name(doctor.run_checks(tmp_path, tmp_path / "st", env))
    assert checks["installed plugin shims"].status == OK
    assert "coord-hooks@market (user scope)" in checks["installed plugin shims"].detail
    assert checks["installed plugin symlink"].status == OK
    assert checks["installed plugin hook run"].status == OK
    assert "plugin shims" not in checks  # nothing looked for in site-packages
    assert doctor.exit_status(list(checks.values())) == 0
    (copy / "shims" / "hooks.sh").unlink()
    broken = _by_name(doctor.run_checks(tmp_path, tmp_path / "st", env, run_hooks=False))
    link_check = broken["installed plugin symlink"]
    assert link_check.status == FAIL
    assert ("reinstall the plugin: `claude plugin uninstall coord-hooks@market` then "
            "`claude plugin install coord-hooks@market`") in link_check.detail


def test_no_plugin_anywhere_fails_with_what_to_do(tmp_path: Path, env: dict[str, str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugins, "PLUGIN_ROOT", tmp_path / "site-packages")
    checks = _by_name(doctor.run_checks(tmp_path, tmp_path / "st", env))
    assert checks["plugin"].status == FAIL
    detail = checks["plugin"].detail
    assert "this coord runs from an installed package" in detail
    assert "claude plugin install coord-hooks@coord-hooks" in detail
    assert "coord doctor --plugin-dir DIR" in detail and "coord shims generate" not in detail
    given = _plugin_copy(tmp_path / "mine")
    found = _by_name(doctor.run_checks(tmp_path, tmp_path / "st", env, run_hooks=False,
                                       plugin_dirs=[given]))
    assert found["plugin shims"].status == OK and "plugin" not in found


def test_shims_from_settings_entries_are_checked(tmp_path: Path, env: dict[str, str]) -> None:
    project = tmp_path / "p"
    project.mkdir()
    install.install("local", project, shims_dir=tmp_path / "inst")
    install._record_path().unlink()  # the record lost: the settings file still names them
    assert doctor.installed_shim_dirs(project) == [tmp_path / "inst"]


def test_double_registration_names_the_removal_command_of_each_kind(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / ".claude").mkdir(parents=True)
    install.install("local", project, shims_dir=tmp_path / "s")
    (project / ".claude" / "settings.json").write_text(json.dumps(
        {"enabledPlugins": {"coord-hooks@market": True}}))
    check = doctor.check_registration(project, {})
    assert check.status == WARN and "registered twice" in check.detail
    assert "`coord uninstall --scope local` removes the local settings entries" in check.detail
    assert ("`claude plugin uninstall coord-hooks@market --scope project` removes the plugin"
            in check.detail)
    in_session = doctor.check_registration(project, {"CLAUDE_PLUGIN_ROOT": "/x"})
    assert "start claude without --plugin-dir" in in_session.detail


def test_shims_are_never_written_into_site_packages(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "venv" / "lib" / "site-packages"
    site.mkdir(parents=True)
    monkeypatch.setattr(plugins, "site_packages", lambda: [site])
    with pytest.raises(UsageError, match="inside this Python's site-packages"):
        shims.generate(site / "shims")
    assert list(site.iterdir()) == []
    assert shims.generate(tmp_path / "elsewhere").written  # anywhere else is fine


def test_an_installed_copy_of_a_developer_checkout_is_named(tmp_path: Path,
                                                            env: dict[str, str]) -> None:
    copy = _plugin_copy(tmp_path / "cache" / "coord-hooks" / "0.1.0")
    _registry(Path(env["HOME"]), copy)
    [clean] = [c for c in plugins.find(env) if c.origin == "installed"]
    assert doctor.check_copy_size(clean, "installed plugin") is None
    (copy / ".venv" / "lib").mkdir(parents=True)
    (copy / ".venv" / "lib" / "big").write_bytes(b"\0" * (doctor.HEAVY_COPY_BYTES + 1))
    check = doctor.check_copy_size(clean, "installed plugin")
    assert check is not None and check.status == WARN
    assert re.search(r"holds \.venv; 2\d MB", check.detail)
    assert "git clone --depth 1" in check.detail
    names = [c.name for c in doctor.run_checks(tmp_path, tmp_path / "st", env, run_hooks=False)]
    assert "installed plugin copy" in names
