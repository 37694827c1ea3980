"""Where things live: the project root, the state directory and its subfolders.

Standard library only (hook hot path).
"""

from __future__ import annotations

import errno
import os
import stat
import time
from pathlib import Path

from coord_hooks.errors import StoreError

TYPE_CHECKING = False  # collections.abc costs a hook ~1 ms: annotations only
if TYPE_CHECKING:
    from collections.abc import Mapping

# The plugin checkout or install this code runs from (holds coord_hooks/, shims/, bin/).
PLUGIN_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR_NAME = ".claude-coordination"
DIR_MODE = 0o700
FILE_MODE = 0o600
# Every state file is opened with this: a link planted in the state dir is never followed.
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
RECHECK_AFTER = 2.0  # seconds a folder's check is trusted within one process
_checked: dict[str, float] = {}  # folder -> when it was found private (monotonic)


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
    try:
        fd = os.open(state_dir / ".gitignore",
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, FILE_MODE)
    except FileExistsError:  # ours, the user's, or a link: never written through
        pass
    except OSError as exc:
        raise StoreError(f"cannot write {state_dir / '.gitignore'}: {exc.strerror}") from None
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write("# coord-hooks state: never commit it\n*\n")
    return state_dir


def _create_state_dir(state_dir: Path) -> None:
    explicit = state_dir.name != STATE_DIR_NAME  # $COORD_STATE_DIR may name new parents
    if not explicit and not os.path.isdir(state_dir.parent):
        raise StoreError(f"cannot create {state_dir}: {state_dir.parent} does not exist")
    try:
        old = os.umask(0o077)
        try:
            state_dir.mkdir(mode=DIR_MODE, parents=explicit, exist_ok=True)
        finally:
            os.umask(old)
    except OSError as exc:
        raise StoreError(f"cannot create state directory {state_dir}: {exc.strerror}") from None


def _check_private_dir(path: Path, info: os.stat_result, what: str) -> None:
    """Refuse a symlink, a non-directory or another user's directory; make it private."""
    if stat.S_ISLNK(info.st_mode):
        raise StoreError(
            f"{what} {path} is a symbolic link; coord-hooks never follows links in its "
            "state (a repository may have committed it): remove the link, or set "
            "COORD_STATE_DIR to a directory of your own")
    if not stat.S_ISDIR(info.st_mode):
        raise StoreError(f"{what} {path} is not a directory")
    uid = getattr(os, "geteuid", None)
    if uid is not None and info.st_uid != uid():
        raise StoreError(foreign_owner_message(path, info.st_uid, what))
    if info.st_mode & 0o077:  # group or others may look in: the owner's bits stay
        try:
            os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)
        except OSError as exc:
            raise StoreError(f"cannot make {path} private (0700): {exc.strerror}") from None
    _checked[str(path)] = time.monotonic()


def foreign_owner_message(path: Path, owner: int, what: str = "state directory") -> str:
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


def ensure_subdir(path: Path) -> Path:
    """A private subfolder of a checked folder (created if needed); never a symlink.

    Checks are remembered for `RECHECK_AFTER` seconds, so a hook that writes several
    files into one folder pays for one ``lstat`` of it.
    """
    if _recently_checked(path):
        return path
    if not _recently_checked(path.parent):
        try:
            parent = os.lstat(path.parent)
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {path.parent}: {exc.strerror}") from None
        _check_private_dir(path.parent, parent, "folder")
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


def _recently_checked(path: Path) -> bool:
    when = _checked.get(str(path))
    return when is not None and time.monotonic() - when < RECHECK_AFTER


def is_link_error(exc: OSError) -> bool:
    """Did an ``O_NOFOLLOW`` open fail because the path is a symbolic link?"""
    return exc.errno in (errno.ELOOP, errno.EMLINK)  # EMLINK: FreeBSD's answer
