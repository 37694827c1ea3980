"""Where things live: the project root, the state directory and its subfolders.

Standard library only (hook hot path), and no `pathlib` either: it costs a hook ~4 ms to
import (it brings ``re``, ``fnmatch``, ``urllib.parse``). The hook path works with ``str``
paths (`project_root_of`, `state_dir_of`, and functions that accept either kind); the
``Path``-returning forms (`find_project_root`, `resolve_state_dir`, `PLUGIN_ROOT`) are
for the CLI and tools, and import pathlib when first used.
"""

from __future__ import annotations

import errno
import os
import stat
import time

from coord_hooks.errors import StoreError, UnsafeStateError

TYPE_CHECKING = False  # collections.abc costs a hook ~1 ms: annotations only
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import TypeVar

    StrPath = str | os.PathLike[str]
    P = TypeVar("P", bound=StrPath)  # a function gives back the kind of path it was given
    PLUGIN_ROOT: Path  # see __getattr__

# The plugin checkout or install this code runs from (holds coord_hooks/, shims/, bin/);
# `PLUGIN_ROOT` is the same as a Path (see `__getattr__`).
PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
STATE_DIR_NAME = ".claude-coordination"
HEALTH_DIR = "health"  # size samples and the housekeeping stamp (`coord_hooks.health`)
DIR_MODE = 0o700
FILE_MODE = 0o600
# Every state file is opened with these: a link planted in the state dir is never
# followed, and a FIFO planted there never blocks the open (a hook waiting on one inside
# the store lock would make every other session's lock check time out).
SAFE_OPEN = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
RECHECK_AFTER = 2.0  # seconds a folder's check is trusted within one process
_checked: dict[str, float] = {}  # folder -> when it was found private (monotonic)


def __getattr__(name: str) -> object:
    if name == "PLUGIN_ROOT":  # a Path for the CLI and tools; the hook path never asks
        from pathlib import Path

        return Path(PLUGIN_DIR)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def project_root_of(cwd: StrPath | None = None, environ: Mapping[str, str] | None = None
                    ) -> str:
    """``$CLAUDE_PROJECT_DIR``, else the git top level above ``cwd``, else ``cwd``.

    The git top level is found by walking up to a ``.git`` entry (a directory, or a file
    in worktrees) rather than running git: a subprocess costs more than a whole hook.
    """
    env = os.environ if environ is None else environ
    explicit = env.get("CLAUDE_PROJECT_DIR", "").strip()
    if explicit:
        return os.path.realpath(explicit)
    start = os.path.realpath(cwd if cwd is not None else os.getcwd())
    candidate = start
    while True:
        if os.path.lexists(os.path.join(candidate, ".git")):
            return candidate
        parent = os.path.dirname(candidate)
        if parent == candidate:
            return start
        candidate = parent


def state_dir_of(cwd: StrPath | None = None, environ: Mapping[str, str] | None = None) -> str:
    """``$COORD_STATE_DIR``, else ``<project root>/.claude-coordination``."""
    env = os.environ if environ is None else environ
    explicit = env.get("COORD_STATE_DIR", "").strip()
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    return os.path.join(project_root_of(cwd, env), STATE_DIR_NAME)


def find_project_root(cwd: StrPath | None = None,
                      environ: Mapping[str, str] | None = None) -> Path:
    """`project_root_of` as a Path."""
    from pathlib import Path

    return Path(project_root_of(cwd, environ))


def resolve_state_dir(cwd: StrPath | None = None,
                      environ: Mapping[str, str] | None = None) -> Path:
    """`state_dir_of` as a Path."""
    from pathlib import Path

    return Path(state_dir_of(cwd, environ))


def ensure_state_dir(state_dir: P, create: bool = True) -> P:
    """Make sure the state dir exists (0700, with a ``.gitignore``) and is ours to write.

    A repository can commit ``.claude-coordination`` itself, or links inside it: the
    directory must be a real directory (never a symlink) owned by the user running us,
    and a group- or world-readable one is tightened to 0700. Its parent must exist: a
    hook whose ``cwd`` is gone never creates directories there.
    """
    try:
        info = os.lstat(state_dir)
    except (FileNotFoundError, NotADirectoryError):
        if not create:
            raise StoreError(f"state directory {state_dir} does not exist") from None
        _create_state_dir(state_dir)
        info = os.lstat(state_dir)
    except OSError as exc:
        raise StoreError(f"cannot use state directory {state_dir}: {exc.strerror}") from None
    _check_private_dir(state_dir, info, "state directory")
    if not os.access(state_dir, os.W_OK | os.X_OK):
        raise StoreError(f"state directory {state_dir} is not writable")
    ignore = os.path.join(state_dir, ".gitignore")
    try:
        fd = os.open(ignore, os.O_WRONLY | os.O_CREAT | os.O_EXCL | SAFE_OPEN, FILE_MODE)
    except FileExistsError:  # ours, the user's, or a link: never written through
        pass
    except OSError as exc:
        raise StoreError(f"cannot write {ignore}: {exc.strerror}") from None
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write("# coord-hooks state: never commit it\n*\n")
    return state_dir


def _create_state_dir(state_dir: StrPath) -> None:
    path = os.path.normpath(os.fspath(state_dir))
    explicit = os.path.basename(path) != STATE_DIR_NAME  # $COORD_STATE_DIR may name parents
    if not explicit and not os.path.isdir(os.path.dirname(path)):
        raise StoreError(f"cannot create {path}: {os.path.dirname(path)} does not exist")
    try:
        old = os.umask(0o077)
        try:
            if explicit:
                os.makedirs(path, DIR_MODE, exist_ok=True)
            else:
                try:
                    os.mkdir(path, DIR_MODE)
                except FileExistsError:
                    if not os.path.isdir(path):
                        raise
        finally:
            os.umask(old)
    except OSError as exc:
        raise StoreError(f"cannot create state directory {state_dir}: {exc.strerror}") from None


def _check_private_dir(path: StrPath, info: os.stat_result, what: str) -> None:
    """Refuse a symlink, a non-directory or another user's directory; make it private."""
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeStateError(
            f"{what} {path} is a symbolic link; coord-hooks never follows links in its "
            "state (a repository may have committed it): remove the link, or set "
            "COORD_STATE_DIR to a directory of your own")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeStateError(f"{what} {path} is not a directory")
    uid = getattr(os, "geteuid", None)
    if uid is not None and info.st_uid != uid():
        raise UnsafeStateError(foreign_owner_message(path, info.st_uid, what))
    if info.st_mode & 0o077:  # group or others may look in: the owner's bits stay
        try:
            os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)
        except OSError as exc:
            raise StoreError(f"cannot make {path} private (0700): {exc.strerror}") from None
    _checked[os.fspath(path)] = time.monotonic()


def foreign_owner_message(path: StrPath, owner: int, what: str = "state directory") -> str:
    """One line saying that another user's state cannot be shared, and what to do."""
    try:
        import pwd  # lazy: only this rare message needs the user's name

        name = f" ({pwd.getpwuid(owner).pw_name})"
    except (ImportError, KeyError):
        name = ""
    me = os.geteuid() if hasattr(os, "geteuid") else -1
    return (f"{what} {path} belongs to uid {owner}{name}, not to you (uid {me}): each user "
            "needs a state directory of their own; run as its owner, or set "
            "COORD_STATE_DIR to a directory of yours")


def ensure_subdir(path: P) -> P:
    """A private subfolder of a checked folder (created if needed); never a symlink.

    Checks are remembered for `RECHECK_AFTER` seconds, so a hook that writes several
    files into one folder pays for one ``lstat`` of it.
    """
    if _recently_checked(path):
        return path
    folder = _parent(path)
    if not _recently_checked(folder):
        try:
            parent = os.lstat(folder)
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {folder}: {exc.strerror}") from None
        _check_private_dir(folder, parent, "folder")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        try:
            os.mkdir(path, DIR_MODE)
        except FileExistsError:
            pass  # another process made it: checked below
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {exc.strerror}") from None
        info = os.lstat(path)
    except OSError as exc:
        raise StoreError(f"cannot use {path}: {exc.strerror}") from None
    _check_private_dir(path, info, "folder")
    return path


def _parent(path: StrPath) -> str:
    return os.path.dirname(os.fspath(path))


def _recently_checked(path: StrPath) -> bool:
    when = _checked.get(os.fspath(path))
    return when is not None and time.monotonic() - when < RECHECK_AFTER


def is_link_error(exc: OSError) -> bool:
    """Did an ``O_NOFOLLOW`` open fail because the path is a symbolic link?"""
    return exc.errno in (errno.ELOOP, errno.EMLINK)  # EMLINK: FreeBSD's answer
