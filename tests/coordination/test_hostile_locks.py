"""Property tests (issue 9, "Also"): hostile lock patterns and file names — brackets,
quotes, ``$()``, backticks, newlines, control characters, folders — on every backend
(`BACKENDS`: a new backend joins through the ``backend_name`` fixture).

Whatever a peer stored or a file is called: a conflict check never raises, a file held
by one session is denied to another, a malformed pattern is refused when taken and
covers its folder when found stored, and every denial is one line whose suggested
command is exactly ``coord send HANDLE MESSAGE`` for a shell.
"""

from __future__ import annotations

import os
import shlex
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, example, given, settings

from coord_hooks.coordination import Coordinator
from coord_hooks.coordination.globs import covering_folder, pattern_problem
from coord_hooks.errors import UsageError
from coord_hooks.hook.tools import names_a_folder
from coord_hooks.model import Lock, peer_words
from coord_hooks.settings import Settings
from coord_hooks.store import Store

T0 = 1_000_000.0
EXAMPLES = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

# --- strategies ----------------------------------------------------------------------------
NASTY = ['x"$(touch PWNED)".py', "x'$(touch PWNED)'.py", "x`touch PWNED`.py", "$(id)",
         "a;b", "a b", "a\nb", "a\rb", "\x1b[2J", "[coord-hooks] SYSTEM", "\u2028x", "-rf",
         "[id]", "[...slug]", "(group)", "*", "?", "**", "[z-a]", "[[:alpha:]]", "[a\\]",
         "[!]", "[]]", "[^a]", "\\", "~", "..", ".", "'", '"', "!", "#x", "%", "é", "日本"]
# Any character a file name may hold on POSIX (all but "/" and NUL), with the shell's and
# the glob syntax's favourites over-represented.
name_chars = st.one_of(st.sampled_from(list("[]*?!^-\\'\"`$(){};|&<>~ \n\t\r#:=.")),
                       st.characters(blacklist_characters="/\x00",
                                     blacklist_categories=("Cs",)))
segments = st.one_of(st.sampled_from(NASTY), st.text(name_chars, min_size=1, max_size=8))
file_segments = segments.filter(lambda s: s not in (".", "..") and s.strip() == s and s != "~")
file_names = st.lists(file_segments, min_size=1, max_size=3).map("/".join)
patterns = st.lists(segments, min_size=1, max_size=4).map("/".join)


@st.composite
def covering_patterns(draw: st.DrawFn, path: str) -> str:
    """A pattern that, by construction, covers ``path`` (an oracle independent of ours)."""
    out: list[str] = []
    for seg in path.split("/"):
        choice = draw(st.sampled_from(("keep", "star", "globstar", "any", "set", "suffix")))
        if choice == "star" or (choice == "suffix" and len(seg) < 2):
            out.append("*")
        elif choice == "globstar":
            out.append("**")
        elif choice == "any":
            out.append("?" * len(seg))
        elif choice == "set" and seg[0].isalnum():
            out.append(f"[{seg[0]}]" + _literal(seg[1:]))
        elif choice == "suffix":
            out.append("*" + _literal(seg[-1:]))
        else:
            out.append(_literal(seg))
    return "/".join(out)


def _literal(text: str) -> str:
    """``text`` as pattern characters matching only itself (``[`` ``*`` ``?`` in a set)."""
    return "".join(f"[{ch}]" if ch in "[*?" else ch for ch in text)


# --- fixtures ------------------------------------------------------------------------------
@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return Path(os.path.realpath(root))


@pytest.fixture
def coord(backend_name: str, store_factory: Callable[..., Store], state_dir: Path,
          project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Coordinator]:
    monkeypatch.chdir(project)
    settings_ = Settings(session_ttl=900.0, lock_ttl=1800.0)
    yield Coordinator(store_factory(backend_name, state_dir), settings_, project, state_dir,
                      clock=lambda: T0, hostname="here")


class Pair:
    """Two fresh sessions (and a fresh folder) per example; released afterwards."""

    def __init__(self, coord: Coordinator) -> None:
        self.coord = coord
        self.a, self.b = (f"{tag}{uuid.uuid4().hex[:6]}-0000-4000" for tag in ("aa", "bb"))
        for sid in (self.a, self.b):
            coord.register(sid)
        self.folder = f"t{uuid.uuid4().hex[:8]}"
        (coord.project_root / self.folder).mkdir()

    def __enter__(self) -> Pair:
        return self

    def __exit__(self, *exc: object) -> None:
        for sid in (self.a, self.b):
            self.coord.end(sid)


def check_denial(coord: Coordinator, result: object, holder: str) -> None:
    """One line, no control character, and a command that is exactly four shell words."""
    text = result.denial_reason()  # type: ignore[attr-defined]
    assert text and all(ch.isprintable() for ch in text), repr(text)
    assert "[coord-hooks]" not in text.lower()
    for conflict in result.conflicts:  # type: ignore[attr-defined]
        words = shlex.split(conflict.send_command(result.key))  # type: ignore[attr-defined]
        assert words[:3] == ["coord", "send", holder[:8]] and len(words) == 4, words
        assert words[3].startswith("Could you release ") and "\n" not in words[3]


# --- properties ----------------------------------------------------------------------------
@EXAMPLES
@given(name=file_names)
@example(name='x"$(touch PWNED)".py')
@example(name="a\nb/[id]/`touch PWNED`")
@example(name="app/[...slug]/page.tsx")
def test_a_file_of_any_name_held_by_one_session_is_denied_to_another(
        coord: Coordinator, name: str) -> None:
    with Pair(coord) as s:
        path = f"{coord.project_root}/{s.folder}/{name}"
        held = coord.try_acquire(s.a, path, literal=True)
        assert held.granted and not held.is_glob and held.key == f"{s.folder}/{name}"
        denied = coord.try_acquire(s.b, path, literal=True)
        assert not denied.granted
        check_denial(coord, denied, s.a)
        # exactly that file: a sibling whose name only extends it is someone else's
        assert coord.try_acquire(s.b, path + "x", literal=True).granted


@EXAMPLES
@given(data=st.data(), name=file_names)
def test_a_pattern_covering_a_file_is_enforced_or_refused_never_ignored(
        coord: Coordinator, data: st.DataObject, name: str) -> None:
    with Pair(coord) as s:
        pattern = f"{s.folder}/" + data.draw(covering_patterns(name))
        try:
            held = coord.try_acquire(s.a, pattern, glob=True)
        except UsageError as exc:  # refused when taken: one line, nothing stored
            assert "\n" not in str(exc) and pattern_problem(coord.key_for(pattern,
                                                                           glob=True)[0])
            assert [v for v in coord.locks() if v.lock.owner == s.a] == []
            return
        assert held.granted
        denied = coord.try_acquire(s.b, f"{coord.project_root}/{s.folder}/{name}",
                                   literal=True)
        assert not denied.granted, (pattern, name)
        check_denial(coord, denied, s.a)


@EXAMPLES
@given(pattern=patterns, name=file_names)
@example(pattern="[z-a].py", name="app.py")
@example(pattern="[[:alpha:]]", name="x")
@example(pattern="*/../x", name="a/x")
@example(pattern="[a\\]/*", name="a/b")
def test_any_stored_pattern_is_checked_and_a_malformed_one_covers_its_folder(
        coord: Coordinator, pattern: str, name: str) -> None:
    with Pair(coord) as s:
        key = f"{s.folder}/{pattern}"
        with coord.store.transaction() as tx:  # as an older version or a hand edit stored it
            tx.put_lock(Lock(key, s.a, T0, T0, 1800.0, is_glob=True))
        result = coord.try_acquire(s.b, f"{coord.project_root}/{s.folder}/{name}",
                                   literal=True)  # never raises, whatever the pattern
        folder = covering_folder(key, True)
        wanted = f"{s.folder}/{name}"
        if folder is not None and (wanted == folder or wanted.startswith(folder + "/")):
            assert not result.granted, (key, name)  # malformed: its whole folder is held
        if not result.granted:
            check_denial(coord, result, s.a)


@EXAMPLES
@given(name=file_names)
@example(name="[id]")
@example(name="$(touch PWNED)/*")
def test_an_existing_path_is_a_literal_lock_and_a_folder_covers_its_files(
        coord: Coordinator, name: str) -> None:
    with Pair(coord) as s:
        path = coord.project_root / s.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir()  # a folder of that name
        target = f"{s.folder}/{name}"
        held = coord.try_acquire(s.a, target)  # as `coord lock` takes it (no --glob)
        assert held.granted and held.key == target and not held.is_glob
        # what the hook locks for a file in that folder is covered, whatever the names
        inner = coord.try_acquire(s.b, str(path / "f.py"), literal=True)
        assert not inner.granted
        check_denial(coord, inner, s.a)
        # and the hook never takes a file lock on the folder itself
        assert names_a_folder(str(path), str(coord.project_root))
        assert names_a_folder(f"{path}/", str(coord.project_root))
        assert names_a_folder(f"{s.folder}/{name}/", "/nonexistent")


@EXAMPLES
@given(task=st.text(name_chars, max_size=400), reason=st.text(name_chars, max_size=400))
def test_a_peers_task_and_reason_reach_others_as_one_quoted_line(
        coord: Coordinator, task: str, reason: str) -> None:
    with Pair(coord) as s:
        coord.set_identity(s.a, task=task)
        coord.try_acquire(s.a, f"{s.folder}/f.py", reason=reason)
        denied = coord.try_acquire(s.b, f"{s.folder}/f.py")
        assert not denied.granted
        check_denial(coord, denied, s.a)
        text = denied.denial_reason()
        if peer_words(task):
            assert f'working on (in its own words): "{peer_words(task)}"' in text
        assert len(text) < 1500
