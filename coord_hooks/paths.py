"""Where things live: the project root, the state directory and its subfolders.

Standard library only (hook hot path).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from coord_hooks.errors import StoreError

# The plugin checkout or install this code runs from (holds coord_hooks/, shims/, bin/).
PLUGIN_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR_NAME = ".claude-coordination"
DIR_MODE = 0o700
FILE_MODE = 0o600


def find_project_root(cwd: str | os.PathLike[str] | None = None,
                      environ: Mapping[str, str] | None = None) -> Path:
    """``$CLAUDE_PROJECT_DIR``, else the git top level above ``cwd``, else ``cwd``.

    The git top level is found by walking up to a ``.git`` entry (a directory, or a file
    in worktrees) rather than running git: a subprocess costs more than a whole hook.
    """
    env = os.environ if environ is None else environ
    explicit = env.get("CLAUDE_PROJECT_DIR", "").strip()
    if explicit:
        return Path(os.path.realpath(explicit))
    start = Path(os.path.realpath(cwd if cwd is not None else os.getcwd()))
    for candidate in (start, *start.parents):
        if os.path.lexists(candidate / ".git"):
            return candidate
    return start


def resolve_state_dir(cwd: str | os.PathLike[str] | None = None,
                      environ: Mapping[str, str] | None = None) -> Path:
    """``$COORD_STATE_DIR``, else ``<project root>/.claude-coordination``."""
    env = os.environ if environ is None else environ
    explicit = env.get("COORD_STATE_DIR", "").strip()
    if explicit:
        return Path(os.path.abspath(os.path.expanduser(explicit)))
    return find_project_root(cwd, env) / STATE_DIR_NAME


def ensure_state_dir(state_dir: Path, create: bool = True) -> Path:
    """Make sure the state dir exists (0700, with a ``.gitignore``) and is writable."""
    if not state_dir.is_dir():
        if not create:
            raise StoreError(f"state directory {state_dir} does not exist")
        try:
            old = os.umask(0o077)
            try:
                state_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            finally:
                os.umask(old)
        except OSError as exc:
            raise StoreError(f"cannot create state directory {state_dir}: {exc.strerror}") from None
    if not os.access(state_dir, os.W_OK | os.X_OK):
        raise StoreError(f"state directory {state_dir} is not writable")
    ignore = state_dir / ".gitignore"
    if not ignore.exists():
        try:
            fd = os.open(ignore, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "w") as handle:
                handle.write("# coord-hooks state: never commit it\n*\n")
        except FileExistsError:
            pass
        except OSError as exc:
            raise StoreError(f"cannot write {ignore}: {exc.strerror}") from None
    return state_dir


def ensure_subdir(path: Path) -> Path:
    """Create a private subfolder of the state dir if needed."""
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror}") from None
    return path
