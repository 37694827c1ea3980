"""The plugin the way a user gets it, with the real ``claude`` CLI, offline.

(a) A fresh clone as ``--plugin-dir`` with nothing but a package-less ``python3`` on PATH:
``/coord-hooks:status --queue`` shows the queue, and the model's Bash ``coord status``,
``locks``, ``inbox``, ``lock``, ``unlock`` succeed (Claude Code installs no Python packages
for a plugin). (b) ``claude plugin marketplace add`` + ``install`` of a clean clone into a
throwaway HOME, and the CLI pip-installed (not editable) into a venv of its own:
``coord doctor`` finds and checks the installed plugin, ``coord backend`` reports its
backend, ``coord shims generate`` refuses, and site-packages is left as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import ClaudeHarness, Session, bash, say

pytestmark = pytest.mark.e2e

ALLOW_COORD = {"permissions": {"allow": ["Bash(coord:*)"]}}


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose only entry is a python3 with the standard library alone."""
    root = tmp_path_factory.mktemp("bare-venv")
    venv.create(root, with_pip=False)
    probe = subprocess.run([str(root / "bin" / "python3"), "-c", "import typer"],
                           capture_output=True, check=False)
    assert probe.returncode != 0
    folder = tmp_path_factory.mktemp("bare-bin")
    (folder / "python3").symlink_to(root / "bin" / "python3")
    return folder


def _path_without_cli_pythons(first: Path) -> str:
    """``first``, then the PATH entries whose python3 (if any) lacks the CLI packages."""
    keep = [str(first)]
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        python = Path(entry) / "python3"
        if entry and python.exists():
            probe = subprocess.run([str(python), "-c", "import typer"], capture_output=True,
                                   check=False)
            if probe.returncode == 0:
                continue  # a python3 with typer would make bin/coord use the full CLI
        if entry and not (Path(entry) / "coord").exists():
            keep.append(entry)
    return os.pathsep.join(keep)


def test_a_plugin_dir_with_only_a_bare_python3_does_everything(
        make_harness: Callable[..., ClaudeHarness], fresh_clone: Callable[[str], Path],
        bare_python: Path) -> None:
    plugin = fresh_clone("plugin")
    h = make_harness(plugin_dirs=[plugin], user_settings=ALLOW_COORD,
                     env={"PATH": _path_without_cli_pythons(bare_python)})
    res = h.run(Session("a", [
        bash("coord status", "status"),
        bash("coord lock notes.txt --reason 'e2e of the bare path'", "lock"),
        bash("coord locks", "locks"),
        bash("coord inbox", "inbox"),
        bash("coord unlock notes.txt", "unlock"),
        say("a done"),
    ]))
    res.assert_ok()
    a = res["a"]
    assert a.session_id is not None
    results = {r["input"]["description"]: r for r in a.tool_results() if r["tool"] == "Bash"}
    for name in ("status", "lock", "locks", "inbox", "unlock"):
        assert not results[name]["is_error"], (name, results[name]["text"])
        assert "Traceback" not in results[name]["text"]
        assert "pipx install" not in results[name]["text"]
    handle = a.session_id[:8]
    assert "SESSION" in results["status"]["text"] and handle in results["status"]["text"]
    assert "┃" not in results["status"]["text"]  # plain tables: no Rich here
    assert "locked notes.txt (exclusive, lease 30m)" in results["lock"]["text"]
    assert "e2e of the bare path" in results["locks"]["text"]
    assert "no unread messages" in results["inbox"]["text"]
    assert "released notes.txt" in results["unlock"]["text"]
    # the hooks ran with that python3 too: the session registered itself
    state = h.repo / ".claude-coordination" / "sessions"
    assert any(handle in p.read_text() for p in state.glob("*.json"))

    # a human writes to the ended session; the slash command shows the queue
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COORD_", "CLAUDE"))}
    sent = subprocess.run([str(plugin / "bin" / "coord"), "send", handle, "for later"],
                          env={**env, "PATH": _path_without_cli_pythons(bare_python),
                               "CLAUDE_PROJECT_DIR": str(h.repo), "HOME": str(h.home)},
                          capture_output=True, text=True, check=False)
    assert sent.returncode == 0, sent.stderr
    queue = h.run(Session("q", [say("Here is the queue.")],
                          prompt="/coord-hooks:status --queue"))
    queue.assert_ok()
    shown = queue["q"].requests_text()
    assert "Output of `coord status --queue`" in shown
    assert "SESSION" in shown and "UNREAD" in shown and "pipx install" not in shown
    row = next(line for line in shown.splitlines() if handle in line)
    assert "ended" in row and " 1 " in row
    assert "broadcasts waiting in the batch queue: 0" in shown


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` (bytecode caches aside) with its size and mtime."""
    found = {}
    for path in folder.rglob("*"):
        if "__pycache__" in path.parts or path.is_dir():
            continue
        info = path.lstat()
        found[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns)
    return found


@pytest.fixture(scope="module")
def pip_installed_cli(tmp_path_factory: pytest.TempPathFactory,
                      clone_into: Callable[[Path], Path]) -> Path:
    """``coord`` pip-installed (a wheel, not editable) into a venv of its own.

    Its dependencies come from this interpreter's site-packages through a ``.pth`` line
    (no download); coord_hooks itself only from the wheel.
    """
    root = tmp_path_factory.mktemp("pip-cli")
    source = clone_into(root / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(root / "wheel"), str(source)], check=True, capture_output=True)
    venv.create(root / "venv", with_pip=False)
    python = root / "venv" / "bin" / "python"
    [wheel] = (root / "wheel").glob("coord_hooks-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig."
                                "get_paths()['purelib'])"], capture_output=True, text=True,
                               check=True).stdout.strip())
    (site / "zz-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = subprocess.run([str(python), "-c",
                            "import coord_hooks; print(coord_hooks.__file__)"],
                           capture_output=True, text=True, check=True, cwd=root).stdout
    assert where.startswith(str(site)), where  # the wheel's copy, not this checkout
    return root / "venv"


def test_a_pip_installed_coord_finds_and_checks_the_installed_plugin(
        make_harness: Callable[..., ClaudeHarness], fresh_clone: Callable[[str], Path],
        pip_installed_cli: Path) -> None:
    h = make_harness()
    source = fresh_clone("marketplace")  # the documented clean way: a clone, no .venv
    added = h.cli("plugin", "marketplace", "add", str(source))
    assert added.returncode == 0, added.stdout + added.stderr
    installed = h.cli("plugin", "install", "coord-hooks@coord-hooks")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    registry = h.home / ".claude" / "plugins" / "installed_plugins.json"
    record = json.loads(registry.read_text())
    [entry] = record["plugins"]["coord-hooks@coord-hooks"]
    copy = Path(entry["installPath"])
    assert sum(p.stat().st_size for p in copy.rglob("*") if p.is_file()) < 5_000_000

    site = Path(subprocess.run([str(pip_installed_cli / "bin" / "python"), "-c",
                                "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    before = _tree(site)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COORD_", "CLAUDE", "XDG_"))}
    env.update(HOME=str(h.home), PATH=f"{pip_installed_cli / 'bin'}:{env['PATH']}")
    coord = str(pip_installed_cli / "bin" / "coord")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([coord, *args], cwd=h.repo, env=env, capture_output=True,
                              text=True, timeout=120, check=False)

    doctor = run("doctor", "--json")
    checks = {c["check"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert checks["installed plugin shims"]["status"] == "ok"
    assert str(copy) in checks["installed plugin shims"]["detail"]
    assert checks["installed plugin symlink"]["status"] == "ok"
    assert checks["installed plugin hook run"]["status"] == "ok"
    assert checks["registration"]["status"] == "ok"
    assert "coord-hooks@coord-hooks" in checks["registration"]["detail"]
    assert not any(name.startswith("plugin") for name in checks)  # nothing in site-packages

    backend = run("backend")
    assert backend.returncode == 0, backend.stderr
    assert (f"installed plugin shims: {copy}/shims/hooks.sh -> hooks-optimized.sh"
            in backend.stdout)
    assert "hooks use: optimized" in backend.stdout

    refused = run("shims", "generate")
    assert refused.returncode == 2
    assert "inside this Python's site-packages" in refused.stderr
    assert not (site / "shims").exists()
    assert _tree(site) == before  # doctor, backend and shims generate wrote nothing there
