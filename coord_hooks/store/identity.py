"""Which project a clone belongs to, the same on every machine: the redis namespace.

Sessions in different clones of one repository (two laptops, a dev box, CI) coordinate
when they name the project alike. The name is, in this order:

1. ``COORD_PROJECT_ID`` (the ``project_id`` setting), used as given;
2. the ``origin`` remote's URL, normalised so that every spelling of one repository
   agrees: ``git@host:o/r.git``, ``https://host/o/r``, ``ssh://git@host:22/o/r/`` and
   ``https://user:token@HOST/o/r.git`` all give ``host/o/r`` (scheme, user, password,
   port, ``.git`` and case dropped);
3. else the repository's real path (``path:/home/me/repo``): only clones at that path
   on this machine share it, and ``coord status`` says so.

The git config is read directly (``.git/config``; in a worktree or submodule the
``.git`` file names the git dir, whose ``commondir`` holds the shared config): running
``git`` would cost a hook more than the rest of its work. ``url.<base>.insteadOf``
rewrites and ``include`` files are not followed; set ``COORD_PROJECT_ID`` if they
matter.

Standard library only (hook hot path).
"""

from __future__ import annotations

import os
from pathlib import Path

from coord_hooks.model import Plain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hashlib import sha1
else:
    try:
        from _sha1 import sha1  # hashlib would load OpenSSL (~5 ms)
    except ImportError:  # pragma: no cover - a build without it
        from hashlib import sha1

SOURCE_EXPLICIT = "COORD_PROJECT_ID"
SOURCE_ORIGIN = "origin"
SOURCE_PATH = "path"
MAX_CONFIG_BYTES = 1 << 20


class ProjectIdentity(Plain):
    """``project_id`` names the project; ``source`` says where it came from."""

    FIELDS = ("project_id", "source", "detail")
    __slots__ = FIELDS

    project_id: str
    source: str
    detail: str  # the origin URL without credentials, or the path

    def __init__(self, project_id: str, source: str, detail: str = "") -> None:
        self.project_id = project_id
        self.source = source
        self.detail = detail

    @property
    def namespace(self) -> str:
        """The key prefix: ``coord:{<digest>}`` (one hash slot, so Lua may touch all)."""
        return "coord:{" + sha1(self.project_id.encode()).hexdigest()[:20] + "}"

    def describe(self) -> str:
        if self.source == SOURCE_EXPLICIT:
            return f"project {self.project_id} (from $COORD_PROJECT_ID)"
        if self.source == SOURCE_ORIGIN:
            return f"project {self.project_id} (from the origin remote)"
        return (f"project {self.project_id} (from its path: the repository has no origin "
                "remote, so only this folder on this machine shares it; set "
                "COORD_PROJECT_ID to share it with other clones)")


def git_dir(root: Path) -> Path | None:
    """The git directory of the repository at ``root`` (following a ``.git`` file)."""
    dot_git = root / ".git"
    if os.path.isdir(dot_git):
        return dot_git
    try:
        with open(dot_git, encoding="utf-8", errors="replace") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    for line in head.splitlines():
        if line.startswith("gitdir:"):
            target = Path(line[len("gitdir:"):].strip())
            return target if target.is_absolute() else (root / target)
    return None


def config_path(root: Path) -> Path | None:
    """The git config holding the remotes (the common dir's, for worktrees)."""
    folder = git_dir(root)
    if folder is None:
        return None
    try:
        with open(folder / "commondir", encoding="utf-8", errors="replace") as handle:
            common = Path(handle.read(4096).strip())
        folder = common if common.is_absolute() else folder / common
    except OSError:
        pass
    return folder / "config"


def _value(raw: str) -> str:
    """A git config value: quotes removed, an unquoted ``#``/``;`` starts a comment."""
    out = []
    quoted = False
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            out.append({"n": "\n", "t": "\t", "b": "\b"}.get(nxt, nxt))
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch in "#;" and not quoted:
            break
        else:
            out.append(ch)
        i += 1
    return "".join(out).strip()


def remote_url(config_text: str, remote: str = "origin") -> str | None:
    """``remote.<remote>.url`` from the text of a git config file (first one wins)."""
    section = ""
    for line in config_text.splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("["):
            header = stripped[1:stripped.find("]")] if "]" in stripped else stripped[1:]
            name, _, sub = header.partition(" ")
            sub = sub.strip()
            if sub.startswith('"') and sub.endswith('"') and len(sub) >= 2:
                sub = sub[1:-1]
            elif not sub and "." in name:  # [remote.origin], the old syntax
                name, _, sub = name.partition(".")
            section = f"{name.lower()}\0{sub}"
            rest = stripped[stripped.find("]") + 1:].strip() if "]" in stripped else ""
            if not rest:
                continue
            stripped = rest  # "[remote "origin"] url = x" on one line
        if section != f"remote\0{remote}":
            continue
        key, sep, value = stripped.partition("=")
        if sep and key.strip().lower() == "url":
            found = _value(value)
            if found:
                return found
    return None


def normalize_remote(url: str) -> str | None:
    """``host/owner/repo`` for a remote URL; None for a local path (no shared name)."""
    text = url.strip()
    if not text:
        return None
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme.lower() == "file":
            return None
        authority, _, path = rest.partition("/")
        host = authority.rpartition("@")[2]
        if host.startswith("["):
            host = host[1:host.find("]")] if "]" in host else host[1:]
        else:
            host = host.partition(":")[0]
    else:
        # scp-like "user@host:path"; a local path has no ":" before its first "/".
        head, colon, path = text.partition(":")
        if not colon or "/" in head or head.startswith(".") or len(head) == 1:
            return None  # /srv/repo.git, ./repo, C:\\repo
        host = head.rpartition("@")[2]
    parts = [p for p in path.replace("\\", "/").split("/") if p and p != "."]
    if not host or not parts:
        return None
    last = parts[-1]
    if last.lower().endswith(".git"):
        parts[-1] = last[:-4]
        if not parts[-1]:
            parts.pop()
    if not parts:
        return None
    return f"{host}/{'/'.join(parts)}".lower()


def _redact(url: str) -> str:
    """The URL without a password or token (``https://user:tok@host`` → ``https://host``)."""
    if "://" not in url:
        return url
    scheme, _, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = authority.rpartition("@")[2]
    return f"{scheme}://{authority}{slash}{path}"


def project_identity(root: Path, explicit: str = "") -> ProjectIdentity:
    """The identity of the project rooted at ``root`` (see the module docstring)."""
    if explicit.strip():
        return ProjectIdentity(explicit.strip(), SOURCE_EXPLICIT, explicit.strip())
    path = config_path(root)
    if path is not None:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read(MAX_CONFIG_BYTES)
        except OSError:
            text = ""
        url = remote_url(text) if text else None
        normal = normalize_remote(url) if url else None
        if normal is not None and url is not None:
            return ProjectIdentity(normal, SOURCE_ORIGIN, _redact(url))
    real = os.path.realpath(root)
    return ProjectIdentity(f"path:{real}", SOURCE_PATH, real)
