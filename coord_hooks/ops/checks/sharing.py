"""Whose is the state dir? Another user's files, or links a repository committed, in it.

coord-hooks keeps one state directory per user: it refuses one another user owns, a file
of another user in it fails every hook that reads it, and it never follows a symlink
there (issue 9). `ownership_problems` says so once, with the fix; `coord diagnose`
(`check_sharing`) and `coord doctor` both report it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from coord_hooks.ops.findings import listed, q
from coord_hooks.paths import foreign_owner_message

if TYPE_CHECKING:
    from coord_hooks.ops.diagnose import Diagnosis

MAX_ENTRIES = 5000  # a huge state dir is looked at this far (the first two levels only)


class Problem(NamedTuple):
    code: str
    title: str
    detail: str
    fix: str


def ownership_problems(state_dir: Path) -> list[Problem]:
    """Problems of the state dir itself, then of what is in it (two levels deep; what
    is in ``quarantine/`` was moved there, and the quarantine check reports it)."""
    try:
        info = os.lstat(state_dir)
    except OSError:
        return []  # absent: the first hook creates it (doctor says so)
    me = os.geteuid() if hasattr(os, "geteuid") else info.st_uid
    if stat.S_ISLNK(info.st_mode):
        return [Problem("state-symlink", f"{state_dir} is a symbolic link",
                        "coord-hooks never follows a link in its state (a repository may "
                        "have committed it): every hook fails open and no lock holds.",
                        f"rm {q(state_dir)}  # or set COORD_STATE_DIR to a folder of yours")]
    if info.st_uid != me:
        return [Problem("state-foreign-owner", foreign_owner_message(state_dir, info.st_uid),
                        "Your hooks fail open here (your edits are not locked) and your "
                        "commands refuse to run.",
                        f"export COORD_STATE_DIR="
                        f"{q(Path.home() / '.coord-hooks' / state_dir.parent.name)}"
                        "  # a state dir of your own")]
    links: list[str] = []
    foreign: dict[int, list[str]] = {}
    for path, entry in _entries(state_dir):
        rel = str(path.relative_to(state_dir))
        if stat.S_ISLNK(entry.st_mode):
            links.append(rel)
        elif entry.st_uid != me:
            foreign.setdefault(entry.st_uid, []).append(rel)
    problems = []
    if foreign:
        owners = ", ".join(f"uid {uid}" for uid in sorted(foreign))
        paths = [p for uid in sorted(foreign) for p in foreign[uid]]
        problems.append(Problem(
            "state-shared", f"The state dir is shared with another user ({owners})",
            f"{listed(paths)} belong to them: every hook and command of yours that reads "
            "them fails. coord-hooks keeps one state dir per user.",
            f"sudo chown -R \"$(id -u):$(id -g)\" {q(state_dir)}"))
    if links:
        problems.append(Problem(
            "state-links", f"{len(links)} symbolic link(s) in the state dir",
            f"{listed(links)}: never followed (a repository may have committed them); "
            "a link where a file belongs is moved to quarantine/ when it is next used, "
            "a linked folder is refused.",
            " && ".join(f"rm {q(state_dir / rel)}" for rel in links[:10])))
    return problems


def _entries(state_dir: Path) -> list[tuple[Path, os.stat_result]]:
    found: list[tuple[Path, os.stat_result]] = []
    folders = [state_dir]
    for depth in (1, 2):
        below = []
        for folder in folders:
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                continue
            for name in names:
                path = folder / name
                try:
                    entry = os.lstat(path)
                except OSError:
                    continue
                found.append((path, entry))
                if depth == 1 and stat.S_ISDIR(entry.st_mode) and name != "quarantine":
                    below.append(path)
                if len(found) >= MAX_ENTRIES:
                    return found
        folders = below
    return found


def check_sharing(d: Diagnosis) -> None:
    for problem in ownership_problems(d.ctx.state_dir):
        d.add(problem.code, "error", problem.title, problem.detail, problem.fix)
