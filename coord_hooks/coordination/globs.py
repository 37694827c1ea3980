"""Lock keys: canonical paths and glob patterns, and whether two keys overlap.

Standard library only. Patterns use ``*`` (within one path segment), ``**`` (any number
of segments), ``?`` and ``[...]``, matched against project-relative POSIX paths.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # re, functools, pathlib: ~5 ms a hook, and a hook rarely needs them
if TYPE_CHECKING:
    import re
    from collections.abc import Callable

    from coord_hooks.paths import StrPath

GLOB_CHARS = frozenset("*?[")
_REGEXES: dict[str, re.Pattern[str]] = {}  # compiled patterns of this process
_MAX_REGEXES = 512


def is_glob(text: str) -> bool:
    return any(ch in GLOB_CHARS for ch in text)


def canonical_key(target: str, cwd: StrPath, project_root: StrPath,
                  literal: bool = False, glob: bool = False) -> tuple[str, bool]:
    """Turn a path or pattern into the key a lock is stored under.

    A target with ``*``, ``?`` or ``[`` is a pattern, except: with ``literal`` it is a
    file path (a file tool's target), and a target that names an existing file or folder
    is that path unless ``glob`` asks for the pattern (``app/[id]/page.tsx`` on disk is
    the route file, not a pattern matching ``app/i/page.tsx``).

    Paths are resolved (``~``, relative to ``cwd``, symlinks) and stored relative to the
    project root when inside it, else absolute. For a pattern only its literal directory
    prefix is resolved; the wildcard part is kept as written.
    """
    raw = os.path.expanduser(target.strip().replace("\\", "/") if os.sep == "\\"
                             else target.strip())
    if not raw:
        raise ValueError("empty path")
    joined = raw if os.path.isabs(raw) else os.path.join(os.fspath(cwd), raw)
    glob = not literal and is_glob(raw) and (glob or not os.path.lexists(joined))
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


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a lock (one short phrase), or None when it can.

    Checked when a lock is taken: a pattern that means nothing clear (a reversed range,
    a POSIX class, a set spanning ``/``, ``..`` after a wildcard, a trailing ``/``) is
    refused rather than stored. Segments before the first wildcard are a resolved path.
    """
    parts = pattern.split("/")
    wild = False
    for index, part in enumerate(parts):
        wild = wild or is_glob(part)
        if not wild:
            continue
        if part == "":
            if index == len(parts) - 1:
                return "a pattern cannot end with / (to lock what is inside, end it with /**)"
            return "empty path segment"
        if part in (".", ".."):
            return "a pattern cannot contain . or .. after a wildcard"
        problem = _bracket_problem(part, "/".join(parts[index + 1:]))
        if problem is not None:
            return problem
    return None


def covering_folder(key: str, glob: bool) -> str | None:
    """For a malformed stored pattern, the folder it is taken to cover; else None.

    A pattern stored before validation existed (or written by hand) is never a reason
    to allow: it is read as a lock on its literal folder, everything under it.
    """
    if not glob or pattern_problem(key) is None:
        return None
    return _literal_prefix(key)


def _set_end(segment: str, start: int) -> int:
    """Index of the ``]`` closing the set opened at ``segment[start]``, or -1."""
    j = start + 1
    if j < len(segment) and segment[j] in "!^":
        j += 1
    if j < len(segment) and segment[j] == "]":
        j += 1  # a leading ] is a member, as in fnmatch
    return segment.find("]", j)


def _set_body(segment: str, start: int, end: int) -> tuple[bool, str]:
    negated = segment[start + 1 : start + 2] in ("!", "^")
    return negated, segment[start + 1 + negated : end]


def _bracket_problem(segment: str, rest: str) -> str | None:
    i = segment.find("[")
    while i != -1:
        end = _set_end(segment, i)
        if end == -1:
            if "]" in rest:
                return "a [...] set cannot match /"
            return None  # an unclosed [ is a literal character
        written = segment[i : end + 1]
        _, body = _set_body(segment, i, end)
        if "\\" in body:
            return f"a backslash in {written} (write the character itself)"
        if any(mark in body for mark in ("[:", "[.", "[=")):
            return "character classes such as [:alpha:] are not supported"
        for low, high in _ranges(body):
            if low > high:
                return f"bad range {low}-{high} in {written}"
        i = segment.find("[", end + 1)
    return None


def _ranges(body: str) -> list[tuple[str, str]]:
    found, k = [], 0
    while k < len(body):
        if k + 2 < len(body) and body[k + 1] == "-":
            found.append((body[k], body[k + 2]))
            k += 3
        else:
            k += 1
    return found


def _set_regex(body: str, negated: bool) -> str:
    """A character class for any set body: every member escaped, never a regex error."""
    import re  # only a pattern being compiled gets here (see `_compile_glob`)

    members, k = [], 0
    while k < len(body):
        if k + 2 < len(body) and body[k + 1] == "-":
            low, high = body[k], body[k + 2]
            if low <= high:  # a reversed range matches nothing (stored ones are judged
                members.append(f"{re.escape(low)}-{re.escape(high)}")  # conservatively)
            k += 3
        else:
            members.append(re.escape(body[k]))
            k += 1
    if negated:
        return "[^/" + "".join(members) + "]"
    return "[" + "".join(members) + "]" if members else "(?!)"


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a pattern; any text at all gives a valid regex (sets never span ``/``)."""
    regex = _REGEXES.get(pattern)
    if regex is None:
        if len(_REGEXES) >= _MAX_REGEXES:
            _REGEXES.clear()
        regex = _REGEXES[pattern] = _compile_glob(pattern)
    return regex


def _compile_glob(pattern: str) -> re.Pattern[str]:
    # Imported here: only a pattern lock that may cover the path gets this far (the
    # literal-prefix pre-filter skips the others), and `re` costs a hook ~4 ms.
    import re

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
            segment_end = pattern.find("/", i)
            segment = pattern[i : segment_end if segment_end != -1 else len(pattern)]
            end = _set_end(segment, 0)
            if end == -1:
                out.append(re.escape(ch))
                i += 1
            else:
                negated, body = _set_body(segment, 0, end)
                out.append(_set_regex(body, negated))
                i += end + 1
        else:
            out.append(re.escape(ch))
            i += 1
    try:
        return re.compile("".join(out) + r"\Z", re.DOTALL)  # a name may hold a newline
    except re.error as exc:  # pragma: no cover - never expected (see the docstring)
        raise ValueError(f"pattern {pattern!r}: {exc}") from None


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


inside = _inside  # public: a deny says which key lies inside which


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
    Any key is accepted: a malformed pattern counts as a lock on its literal folder
    (`covering_folder`), and a check that cannot be decided says they overlap.
    """
    try:
        for key, glob, other, other_glob in ((a, a_glob, b, b_glob), (b, b_glob, a, a_glob)):
            folder = covering_folder(key, glob)
            if folder is not None:
                if not folder and key.startswith("/"):
                    return True  # no literal folder at all: it may cover anything
                return keys_overlap(folder or ".", False, other, other_glob, None)
        return _overlap(a, a_glob, b, b_glob, is_folder)
    except (RecursionError, ValueError):  # pragma: no cover - never expected
        return True


def _overlap(a: str, a_glob: bool, b: str, b_glob: bool,
             is_folder: Callable[[str], bool] | None) -> bool:
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
