"""The README's two opening commands are the contract with a fresh machine and with CI."""

from __future__ import annotations

import re
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
