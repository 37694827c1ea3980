"""``python -m coord_hooks``: the real entry point, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer.main

from coord_hooks.cli.app import app

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, *args], cwd=cwd or REPO, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_python_dash_m_help_lists_every_command(tmp_path: Path) -> None:
    result = _run("-m", "coord_hooks", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: coord [OPTIONS] COMMAND [ARGS]...")
    listed = result.stdout.split("Commands:", 1)[1]
    names = {line.split()[0] for line in listed.splitlines() if line.startswith("  ")}
    registered = {name for name, command in
                  typer.main.get_command(app).commands.items()  # type: ignore[attr-defined]
                  if not command.hidden}
    assert registered <= names
    assert {"sessions", "locks", "lock", "unlock", "send", "broadcast", "inbox", "messages",
            "status", "config", "cleanup", "whoami", "name"} <= names
    for option in ("--backend", "--state-dir", "--session", "--version"):
        assert option in result.stdout
    assert result.stderr == ""


def test_version_and_no_arguments(tmp_path: Path) -> None:
    version = _run("-m", "coord_hooks", "--version", cwd=tmp_path)
    assert (version.returncode, version.stdout) == (0, "coord-hooks 0.1.0\n")
    bare = _run("-m", "coord_hooks", cwd=tmp_path)
    # Click shows the help for a bare group and exits 2, like any usage error.
    assert bare.returncode == 2
    assert "Commands:" in bare.stdout + bare.stderr


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result = _run("-m", "coord_hooks", "frobnicate", cwd=tmp_path)
    assert result.returncode == 2
    assert "No such command 'frobnicate'" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_does_not_import_rich() -> None:
    code = ("import sys\n"
            "from coord_hooks.cli.app import run_cli\n"
            "assert run_cli(['--help']) == 0\n"
            "assert run_cli(['lock', '--help']) == 0\n"
            "loaded = sorted(m for m in sys.modules if m == 'rich' or m.startswith('rich.'))\n"
            "print('RICH', loaded)\n")
    result = _run("-c", code)
    assert result.returncode == 0, result.stderr
    assert "RICH []" in result.stdout
