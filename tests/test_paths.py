"""Project root, state directory, permissions and the errors for unusable directories."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from coord_hooks.errors import StoreError
from coord_hooks.model import NewMessage, Session
from coord_hooks.paths import (
    STATE_DIR_NAME,
    ensure_state_dir,
    find_project_root,
    resolve_state_dir,
)
from coord_hooks.store import Store


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "a" / "b").mkdir(parents=True)
    return Path(os.path.realpath(root))


def test_project_root_from_claude_project_dir(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    link = tmp_path / "link"
    link.symlink_to(other)
    env = {"CLAUDE_PROJECT_DIR": f"  {link}  "}
    assert find_project_root(repo / "a", env) == Path(os.path.realpath(other))


def test_project_root_walks_up_to_git(repo: Path) -> None:
    assert find_project_root(repo / "a" / "b", {}) == repo
    assert find_project_root(repo, {}) == repo


def test_project_root_git_file_of_a_worktree(tmp_path: Path) -> None:
    tree = tmp_path / "worktree"
    (tree / "pkg").mkdir(parents=True)
    (tree / ".git").write_text("gitdir: /somewhere/.git/worktrees/w\n")
    assert find_project_root(tree / "pkg", {}) == Path(os.path.realpath(tree))


def test_project_root_falls_back_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = tmp_path / "plain" / "dir"
    plain.mkdir(parents=True)
    assert find_project_root(plain, {}) == Path(os.path.realpath(plain))
    monkeypatch.chdir(plain)
    assert find_project_root(None, {}) == Path(os.path.realpath(plain))


def test_state_dir_resolution(repo: Path, tmp_path: Path) -> None:
    assert resolve_state_dir(repo / "a", {}) == repo / STATE_DIR_NAME
    explicit = {"COORD_STATE_DIR": str(tmp_path / "x" / ".." / "state")}
    assert resolve_state_dir(repo, explicit) == tmp_path / "state"
    home = {"COORD_STATE_DIR": "~/coord-state"}
    assert resolve_state_dir(repo, home) == Path.home() / "coord-state"


def test_state_dir_is_private_with_gitignore(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a permissive umask must not leak into the state dir
    try:
        state = ensure_state_dir(tmp_path / "deep" / "state")
    finally:
        os.umask(old)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    ignore = state / ".gitignore"
    assert "*" in ignore.read_text().splitlines()
    assert stat.S_IMODE(ignore.stat().st_mode) == 0o600
    ignore.write_text("# mine\n*\n")
    ensure_state_dir(state)  # an existing .gitignore is left alone
    assert ignore.read_text() == "# mine\n*\n"


def test_missing_state_dir_without_create(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=str(tmp_path / "absent")):
        ensure_state_dir(tmp_path / "absent", create=False)


def test_state_dir_under_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match=str(blocker / "state")) as info:
        ensure_state_dir(blocker / "state")
    assert info.value.exit_code == 4


def test_every_backend_keeps_files_private(backend_name: str,
                                           store_factory: Callable[..., Store],
                                           tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        store = store_factory(backend_name, tmp_path / "state")
        with store.transaction() as tx:
            tx.put_session(Session(session_id="s1", registered_at=1.0, last_seen=1.0))
            tx.append_message(NewMessage(sender="s1", recipient="*", body="hi",
                                         created_at=1.0))
        store.flush()
    finally:
        os.umask(old)
    loose = []
    for path in [tmp_path / "state", *(tmp_path / "state").rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            loose.append(f"{path.relative_to(tmp_path)} {oct(mode)}")
    assert loose == []


# --- a read-only state directory ------------------------------------------------------
@pytest.fixture
def read_only_dir() -> Iterator[Path]:
    """An existing state dir its user cannot write (traversable by an unprivileged uid)."""
    top = Path(tempfile.mkdtemp(prefix="coord-ro-"))
    os.chmod(top, 0o755)
    state = top / "state"
    state.mkdir()
    os.chmod(state, 0o555)
    if os.geteuid() == 0:  # `as_unprivileged` runs as nobody: the dir must be nobody's
        os.chown(state, 65534, 65534)
    yield state
    os.chmod(state, 0o700)
    for path in sorted(top.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    top.rmdir()


def as_unprivileged(action: Callable[[], None]) -> str:
    """Run ``action``; as root, in a forked child that dropped to ``nobody`` first.

    Root may write anywhere, so a read-only folder is only read-only to someone else.
    Returns the repr of what it raised, or "" if nothing.
    """
    if os.geteuid() != 0:
        try:
            action()
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return ""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(read)
        result = ""
        try:
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            action()
        except Exception as exc:
            result = f"{type(exc).__name__}: {exc}"
        os.write(write, result.encode())
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


def test_read_only_state_dir_is_a_clear_error(read_only_dir: Path) -> None:
    outcome = as_unprivileged(lambda: ensure_state_dir(read_only_dir))
    assert outcome.startswith("StoreError")
    assert str(read_only_dir) in outcome and "not writable" in outcome


def test_every_backend_refuses_a_read_only_state_dir(backend_name: str, read_only_dir: Path,
                                                     tmp_path: Path) -> None:
    from coord_hooks.store import open_store

    # Warm up first: the unprivileged child cannot read the interpreter's files to import.
    warm = open_store(backend_name, tmp_path / "warm")
    with warm.transaction() as tx:
        tx.last_seq()
    warm.close()
    outcome = as_unprivileged(lambda: open_store(backend_name, read_only_dir).close())
    assert outcome.startswith("StoreError"), outcome
    assert str(read_only_dir) in outcome


# --- a state dir a repository or another user made (issue 9, item 2) -------------------
def test_an_existing_open_state_dir_is_tightened_to_0700(tmp_path: Path) -> None:
    state = tmp_path / STATE_DIR_NAME
    state.mkdir()
    os.chmod(state, 0o755)
    (state / "logs").mkdir()
    os.chmod(state / "logs", 0o775)
    from coord_hooks import logs

    ensure_state_dir(state)
    logs.log_event(state, "warning", "probe")
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "logs").stat().st_mode) == 0o700


def test_a_symlinked_state_dir_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / STATE_DIR_NAME
    link.symlink_to(elsewhere)
    with pytest.raises(StoreError, match="is a symbolic link; coord-hooks never follows"):
        ensure_state_dir(link)
    assert list(elsewhere.iterdir()) == []


def test_another_users_state_dir_is_refused_in_one_line(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a folder to another user needs root")
    state = tmp_path / STATE_DIR_NAME
    state.mkdir(mode=0o700)
    os.chown(state, 65534, 65534)  # nobody's, as if another user had made it
    with pytest.raises(StoreError) as caught:
        ensure_state_dir(state)
    message = str(caught.value)
    assert "\n" not in message
    assert "belongs to uid 65534" in message and "not to you (uid 0)" in message
    assert "COORD_STATE_DIR" in message
    assert list(state.iterdir()) == []  # nothing written into it, not even .gitignore


def test_a_missing_project_dir_gets_no_state_dir(tmp_path: Path) -> None:
    gone = tmp_path / "deleted-worktree"
    with pytest.raises(StoreError, match="does not exist"):
        ensure_state_dir(gone / STATE_DIR_NAME)
    assert not gone.exists()
