"""Lock keys: canonical paths and glob patterns, and whether two keys overlap.

Standard library only. Patterns use ``*`` (within one path segment), ``**`` (any number
of segments), ``?`` and ``[...]``, matched against project-relative POSIX paths.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from pathlib import Path

GLOB_CHARS = frozenset("*?[")


def is_glob(text: str) -> bool:
    return any(ch in GLOB_CHARS for ch in text)


def canonical_key(target: str, cwd: str | os.PathLike[str], project_root: Path,
                  literal: bool = False) -> tuple[str, bool]:
    """Turn a path or pattern into the key a lock is stored under.

    With ``literal`` the target is a file path even if it contains ``[``, ``*`` or ``?``
    (a file tool's target, such as a Next.js route ``app/[id]/page.tsx``).

    Paths are resolved (``~``, relative to ``cwd``, symlinks) and stored relative to the
    project root when inside it, else absolute. For a pattern only its literal directory
    prefix is resolved; the wildcard part is kept as written.
    """
    raw = os.path.expanduser(target.strip().replace("\\", "/") if os.sep == "\\"
                             else target.strip())
    if not raw:
        raise ValueError("empty path")
    glob = not literal and is_glob(raw)
    joined = raw if os.path.isabs(raw) else os.path.join(os.fspath(cwd), raw)
    if glob:
        parts = joined.split("/")
        first = next(i for i, part in enumerate(parts) if is_glob(part))
        prefix = os.path.realpath("/".join(parts[:first]) or "/")
        resolved = "/".join([prefix.rstrip("/"), *parts[first:]])
    else:
        resolved = os.path.realpath(joined)
    root = os.fspath(project_root).rstrip("/")
    if resolved == root:
        return ".", glob
    if resolved.startswith(root + "/"):
        return resolved[len(root) + 1 :], glob
    return resolved, glob


@functools.lru_cache(maxsize=512)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif ch == "*":
            out.append("[^/]*")
            i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(ch))
                i += 1
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
        else:
            out.append(re.escape(ch))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob_match(pattern: str, path: str) -> bool:
    """True when ``path`` (or a parent folder of it) matches ``pattern``."""
    regex = _glob_regex(pattern)
    if regex.match(path):
        return True
    # A pattern naming a folder covers what is inside it, as a path lock on a folder does.
    parts = path.split("/")
    return any(regex.match("/".join(parts[:n])) for n in range(1, len(parts)))


def _literal_prefix(pattern: str) -> str:
    parts = pattern.split("/")
    literal = []
    for part in parts:
        if is_glob(part):
            break
        literal.append(part)
    return "/".join(literal)


def _inside(path: str, folder: str) -> bool:
    """Is ``path`` inside the folder ``folder``? ``.`` is the project: every relative key."""
    if folder == ".":
        return path != "." and not os.path.isabs(path)
    return path.startswith(folder + "/")


def _matches_below(pattern: list[str], path: list[str]) -> bool:
    """Could ``pattern`` match ``path`` itself or something inside it (segment-wise)?"""
    if not path:
        return True  # whatever pattern segments remain can match a deeper path
    if not pattern:
        return False
    head = pattern[0]
    if head == "**":
        return _matches_below(pattern[1:], path) or _matches_below(pattern, path[1:])
    if "**" in head:
        return True  # `a**b` can span segments: stay conservative
    if not _glob_regex(head).match(path[0]):
        return False
    return _matches_below(pattern[1:], path[1:])


def _glob_path_overlap(pattern: str, path: str,
                       is_folder: Callable[[str], bool] | None) -> bool:
    # A path lock on a folder covers what is inside it, so a pattern that can match
    # anything inside the folder overlaps it, as does a pattern matching a parent.
    if path == ".":
        return not os.path.isabs(pattern)
    # Cheap exact pre-filter: a match (of the path, a parent or something inside it)
    # starts with the pattern's literal folders, so unrelated keys never compile a regex
    # or stat a folder (a hook checks every lock of the project: 20 ms at 1k locks).
    prefix = _literal_prefix(pattern)
    if prefix and not (path == prefix or path.startswith(prefix + "/")
                       or prefix.startswith(path + "/")):
        return False
    if glob_match(pattern, path):
        return True
    if is_folder is not None and not is_folder(path):
        return False  # nothing is inside a file
    return _matches_below(pattern.split("/"), path.split("/"))


def keys_overlap(a: str, a_glob: bool, b: str, b_glob: bool,
                 is_folder: Callable[[str], bool] | None = None) -> bool:
    """Could a file be covered by both keys? Conservative for two patterns.

    ``is_folder(path_key)`` says whether a path key names a folder; without it every
    path is assumed to be one (a pattern then overlaps any path it could match below).
    """
    if not a_glob and not b_glob:
        return a == b or _inside(b, a) or _inside(a, b)
    if a_glob and not b_glob:
        return _glob_path_overlap(a, b, is_folder)
    if b_glob and not a_glob:
        return _glob_path_overlap(b, a, is_folder)
    # Deciding whether two patterns share a match is hard in general; treat them as
    # overlapping when their literal folder prefixes nest (false positives only). When
    # they do not nest, neither pattern can match the other's text either.
    pa, pb = _literal_prefix(a), _literal_prefix(b)
    return (not pa or not pb or pa == pb or pa.startswith(pb + "/")
            or pb.startswith(pa + "/"))
