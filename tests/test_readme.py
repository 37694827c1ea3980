"""The README's two opening commands are the contract with a fresh machine and with CI."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def opening_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", text, re.S)
    assert block, "README.md must open with a code block"
    return [line for line in block.group(1).splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_readme_opens_with_exactly_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    first_block_start = text.index("```")
    # Nothing but the title and one line of prose before the commands.
    assert len([ln for ln in text[:first_block_start].splitlines() if ln.strip()]) <= 3
    assert len(opening_commands()) == 2


def test_ci_runs_the_readme_test_command() -> None:
    test_command = opening_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command.strip() in ci


def test_main_job_runs_the_demo_through_the_shims() -> None:
    assert "coord demo" in opening_commands()[0]


def test_docs_use_no_internal_words() -> None:
    # Words from the project's own history mean nothing to a user.
    pages = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *ROOT.glob("docs/*.md"),
             *ROOT.glob("commands/*.md"), ROOT / "tests" / "e2e" / "README.md"]
    for page in pages:
        text = page.read_text()
        assert not re.search(r"seed's|\(issue \d|issue \d+\)|Targets \(issue", text), page


# --- the first command on a fresh clone --------------------------------------------------
REAL_HOME = Path.home()  # read at import: the autouse fixture moves HOME per test


def test_the_first_command_sets_up_and_runs_the_demo_without_the_claude_cli(
        tmp_path: Path, fresh_clone: Callable[[str], Path]) -> None:
    clone = fresh_clone("clone")
    home = tmp_path / "home"
    home.mkdir()
    trap = tmp_path / "trap"  # npm and claude that only leave a mark
    trap.mkdir()
    for tool in ("npm", "npx", "claude"):
        (trap / tool).write_text(f"#!/bin/sh\necho {tool} >> {tmp_path}/fetched\nexit 1\n")
        (trap / tool).chmod(0o755)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COORD_", "CLAUDE", "XDG_", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), PATH=f"{trap}:{env['PATH']}",
               # the machine's pip cache: the same downloads, minus the waiting
               PIP_CACHE_DIR=env.get("PIP_CACHE_DIR") or str(REAL_HOME / ".cache" / "pip"))
    started = time.monotonic()
    proc = subprocess.run(["bash", "-c", opening_commands()[0]], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "8/8 expectations met" in proc.stdout
    assert not (tmp_path / "fetched").exists()  # no npm, no claude
    assert not (home / ".cache" / "coord-hooks-e2e").exists()
    # quiet: one line per step, none of pip's own output
    steps = [line for line in proc.stderr.splitlines() if line.strip()]
    assert steps and all(line.startswith("bootstrap: ") for line in steps), proc.stderr
    assert len(steps) <= 5
    print(f"first command on a fresh clone: {took:.1f} s")


def test_the_readme_commands_install_nothing_system_wide() -> None:
    for script in ("scripts/bootstrap.sh", "scripts/test.sh", "scripts/install-claude-cli.sh"):
        text = (ROOT / script).read_text()
        assert not re.search(r"\b(apt-get|apt|sudo|brew|dnf|yum)\b", text), script
    # CI's machine alone gets the one system package no wheel has (a TLS redis-server)
    ci = (ROOT / ".ci" / "run").read_text()
    assert set(re.findall(r"apt-get install -y -qq ([\w-]+)", ci)) == {"redis-server"}


def test_relative_links_in_the_docs_exist_in_a_clone() -> None:
    tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "*.md"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
    pages = [ROOT / rel for rel in tracked.split() if (ROOT / rel).is_file()]
    assert ROOT / "tests" / "e2e" / "README.md" in pages
    broken = []
    for page in pages:
        text = page.read_text()
        targets = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r"`(\.\./[^`\s]+)`", text)
        for target in targets:
            if re.match(r"[a-z]+:|#", target):
                continue  # a URL or an anchor
            if not (page.parent / target.split("#")[0]).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []
