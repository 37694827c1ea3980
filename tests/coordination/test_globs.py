"""Lock keys: canonical paths, glob matching, and overlap between keys."""

from __future__ import annotations

import os
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from coord_hooks.coordination.globs import (
    canonical_key,
    covering_folder,
    glob_match,
    is_glob,
    keys_overlap,
    pattern_problem,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    (project / "src" / "pkg").mkdir(parents=True)
    return Path(os.path.realpath(project))


def test_relative_paths_are_project_relative(root: Path) -> None:
    assert canonical_key("src/a.py", root, root) == ("src/a.py", False)
    assert canonical_key("a.py", root / "src", root) == ("src/a.py", False)
    assert canonical_key("../x.py", root / "src" / "pkg", root) == ("src/x.py", False)
    assert canonical_key("./src//pkg/", root, root) == ("src/pkg", False)
    assert canonical_key(str(root / "src" / "a.py"), "/", root) == ("src/a.py", False)
    assert canonical_key(".", root, root) == (".", False)
    assert canonical_key("  src/a.py  ", root, root) == ("src/a.py", False)


def test_outside_the_project_is_absolute(root: Path, tmp_path: Path) -> None:
    key, glob = canonical_key("../other/f.txt", root, root)
    assert key == os.path.realpath(tmp_path / "other" / "f.txt") and not glob
    assert canonical_key("~/notes.md", root, root)[0] == os.path.realpath(
        Path.home() / "notes.md")
    # A sibling whose name starts with the root's name is outside, not inside.
    sibling = str(root) + "-old/a.py"
    assert canonical_key(sibling, root, root)[0] == sibling


def test_symlinks_resolve_to_one_key(root: Path) -> None:
    (root / "alias").symlink_to(root / "src")
    assert canonical_key("alias/a.py", root, root) == ("src/a.py", False)
    assert canonical_key("alias/*.py", root, root) == ("src/*.py", True)


def test_patterns_keep_their_wildcards(root: Path) -> None:
    assert canonical_key("src/**/*.py", root, root) == ("src/**/*.py", True)
    assert canonical_key("*.md", root / "src", root) == ("src/*.md", True)
    assert canonical_key("../src/?.py", root / "src", root) == ("src/?.py", True)
    assert canonical_key("src/[ab].py", root, root) == ("src/[ab].py", True)


def test_empty_target_is_refused(root: Path) -> None:
    with pytest.raises(ValueError):
        canonical_key("   ", root, root)


def test_is_glob() -> None:
    assert is_glob("*.py") and is_glob("a?") and is_glob("[ab]") and is_glob("src/**")
    assert not is_glob("src/a.py") and not is_glob("{a,b}")


@pytest.mark.parametrize(("pattern", "path", "expected"), [
    ("*.py", "a.py", True),
    ("*.py", "src/a.py", False),  # * stays in one segment
    ("src/*", "src/pkg/deep.py", True),  # a pattern naming a folder covers its contents
    ("**/*.py", "a.py", True),
    ("**/*.py", "x/y/z.py", True),
    ("src/**", "src/a/b/c", True),
    ("src/**", "srcx/a", False),
    ("src/**/test_*.py", "src/test_a.py", True),
    ("src/**/test_*.py", "src/x/y/test_a.py", True),
    ("src/**/test_*.py", "src/x/y/a.py", False),
    ("?.py", "a.py", True),
    ("?.py", "ab.py", False),
    ("[ab].py", "b.py", True),
    ("[!ab].py", "b.py", False),
    ("[!ab].py", "c.py", True),
    ("[.py", "[.py", True),  # an unclosed bracket is literal
    ("[]].py", "].py", True),  # a leading ] is a member
    ("[!].py", "[!].py", True),  # ... so this set never closes: literal
    ("a[!b]c", "a/c", False),  # a negated set never matches /
    ("[a-c-e].py", "-.py", True),
    ("[-a].py", "-.py", True),
    ("**/x.py", "a\nb/x.py", True),  # a file name may hold a newline
    ("src/*", "src/a\nb", True),
    ("a.py", "a.py", True),
    ("a.py", "axpy", False),  # dots are literal
    ("/abs/*.txt", "/abs/n.txt", True),
])
def test_glob_match(pattern: str, path: str, expected: bool) -> None:
    assert glob_match(pattern, path) is expected


@pytest.mark.parametrize(("pattern", "problem"), [
    ("src/*.py", None),
    ("src/**/test_[a-z0-9]*.py", None),
    ("src/[!a-c]?.py", None),
    ("[.py", None),
    ("src/[z-a].py", "bad range z-a in [z-a]"),
    ("src/[a\\].py", "a backslash in [a\\] (write the character itself)"),
    ("src/[[:alpha:]].py", "character classes such as [:alpha:] are not supported"),
    ("src/[[.a.]].py", "character classes such as [:alpha:] are not supported"),
    ("src/[a/b].py", "a [...] set cannot match /"),
    ("src/*.py/", "a pattern cannot end with / (to lock what is inside, end it with /**)"),
    ("src/*//a.py", "empty path segment"),
    ("src/*/../a.py", "a pattern cannot contain . or .. after a wildcard"),
    ("*/./a.py", "a pattern cannot contain . or .. after a wildcard"),
])
def test_pattern_problem(pattern: str, problem: str | None) -> None:
    assert pattern_problem(pattern) == problem


def test_a_malformed_stored_pattern_covers_its_literal_folder() -> None:
    assert covering_folder("src/[z-a].py", True) == "src"
    assert covering_folder("src/*.py", True) is None
    assert covering_folder("src/[z-a].py", False) is None  # a path key is never a pattern
    for held in ("src/[z-a].py", "src/*/../a.py", "src/*.py/"):
        assert keys_overlap(held, True, "src/app.py", False)
        assert keys_overlap("src/deep/x.py", False, held, True)
        assert keys_overlap(held, True, "src/**", True)
        assert keys_overlap(held, True, "src", False)
        assert not keys_overlap(held, True, "docs/a.md", False)
    assert keys_overlap("[z-a]/x", True, "anything/at/all", False)  # covers the project
    assert not keys_overlap("[z-a]/x", True, "/outside", False)
    assert keys_overlap("/[z-a]/x", True, "/outside", False)


@settings(max_examples=500, deadline=None)
@given(pattern=st.text(alphabet="ab/*?[]!^-\\:.=", max_size=12),
       path=st.text(alphabet="ab/[]-.", min_size=1, max_size=8))
def test_any_stored_pattern_is_checked_without_error_or_warning(pattern: str,
                                                                path: str) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a FutureWarning would print in every hook
        glob_match(pattern, path)
        keys_overlap(pattern, True, path, False)
        keys_overlap(pattern, True, path, True)
        keys_overlap(path, False, pattern, True, lambda key: True)


def test_path_overlap_is_prefix_by_segment() -> None:
    assert keys_overlap("src", False, "src/a.py", False)
    assert keys_overlap("src/a.py", False, "src", False)
    assert not keys_overlap("src/a", False, "src/ab", False)
    assert keys_overlap(".", False, "src/a.py", False)
    assert keys_overlap("src/a.py", False, ".", False)
    assert not keys_overlap(".", False, "/elsewhere/a.py", False)  # outside the project
    assert keys_overlap("/tmp/x", False, "/tmp/x/y", False)


def test_file_paths_have_nothing_inside() -> None:
    def files(key: str) -> bool:
        return key == "src"

    assert keys_overlap("src/**/*.py", True, "src", False, files)
    assert not keys_overlap("src/**/*.py", True, "src/notes.txt", False, files)
    assert keys_overlap("src/**/*.py", True, "src/notes.txt", False)  # unknown: maybe a folder
    assert keys_overlap("src/*.py", True, "src/a.py", False, files)


# --- properties -----------------------------------------------------------------------
SEGMENTS = ("a", "b", "a.py", "b.py")
PATTERN_SEGMENTS = (*SEGMENTS, "*", "**", "*.py", "?", "[ab]")
paths = st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=4).map("/".join)
patterns = st.lists(st.sampled_from(PATTERN_SEGMENTS), min_size=1, max_size=4).map("/".join)
keys = st.one_of(st.just((".", False)), paths.map(lambda p: (p, False)),
                 patterns.map(lambda p: (p, is_glob(p))))


def covers(key: str, glob: bool, path: str) -> bool:
    if glob:
        return glob_match(key, path)
    if key == ".":
        return True
    return path == key or path.startswith(key + "/")


@st.composite
def covering(draw: st.DrawFn, path: str) -> tuple[str, bool]:
    """A key that covers ``path``: a parent folder, or a pattern generalising a prefix."""
    segs = path.split("/")
    cut = draw(st.integers(min_value=0, max_value=len(segs)))
    if cut == 0:
        return ".", False  # the whole project
    if draw(st.booleans()):
        return "/".join(segs[:cut]), False
    out: list[str] = []
    i = 0
    while i < cut:
        choice = draw(st.sampled_from(("keep", "star", "any", "class", "suffix", "globstar")))
        seg = segs[i]
        if choice == "globstar":
            span = draw(st.integers(min_value=0, max_value=cut - i))
            out.append("**")
            i += span
            continue
        out.append({"keep": seg, "star": "*", "any": "?" * len(seg),
                    "class": "[ab]" + seg[1:], "suffix": "*" + seg[-3:]}[choice])
        i += 1
    pattern = "/".join(out)
    assert glob_match(pattern, path), (pattern, path)
    return pattern, is_glob(pattern)


@st.composite
def two_covering_keys(draw: st.DrawFn) -> tuple[str, tuple[str, bool], tuple[str, bool]]:
    path = draw(paths)
    return path, draw(covering(path)), draw(covering(path))


@settings(max_examples=300, deadline=None)
@given(case=two_covering_keys())
def test_no_false_negatives(case: tuple[str, tuple[str, bool], tuple[str, bool]]) -> None:
    """If one file is covered by both keys, the keys overlap (never two writers)."""
    path, a, b = case
    assert covers(*a, path) and covers(*b, path)
    assert keys_overlap(a[0], a[1], b[0], b[1])

    def folders(key: str) -> bool:  # a filesystem in which `path` exists
        return path.startswith(key + "/")

    assert keys_overlap(a[0], a[1], b[0], b[1], folders)


@settings(max_examples=200, deadline=None)
@given(a=keys, b=keys)
def test_overlap_is_symmetric(a: tuple[str, bool], b: tuple[str, bool]) -> None:
    assert keys_overlap(a[0], a[1], b[0], b[1]) == keys_overlap(b[0], b[1], a[0], a[1])


@settings(max_examples=100, deadline=None)
@given(a=paths, b=paths)
def test_paths_overlap_exactly_when_nested(a: str, b: str) -> None:
    nested = a == b or a.startswith(b + "/") or b.startswith(a + "/")
    assert keys_overlap(a, False, b, False) is nested
