"""`coord doctor`: one check per question, and a real hook run through each shim."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from coord_hooks.ops import doctor, install, shims
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
    folder = tmp_path / "shims"
    shims.generate(folder, package_root=str(install.package_root()))
    env = {**env, "COORD_LOCK_TTL": "soon"}  # a setting the hook cannot use
    check = doctor.synthetic_event(folder / shims.LINK_NAME, "t", env)
    assert check.status == FAIL
    assert "hook_failed: ConfigError" in check.detail and "lock_ttl" in check.detail


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
