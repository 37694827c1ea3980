"""Durable file primitives shared by the JSON backends (standard library only).

* `atomic_write_bytes`: temp file in the same folder + fsync + ``os.replace`` + fsync of
  the folder, so a reader sees the old or the new file, never a torn one.
* `read_json_record`: parse a record; a corrupt file is moved to ``quarantine/`` (never
  deleted) and reported as missing so the rest of the store keeps working; one that
  cannot be read (permissions) is left alone and raises `UnreadableRecordError`.
* `open_state_file`, `read_state_file`: ``os.open`` with ``O_NOFOLLOW``; a symlink a
  repository planted where a state file belongs is moved to ``quarantine/``, never
  followed (a link in place of a file replaced atomically is replaced, not followed).
* `FlockLock`: an exclusive ``fcntl.flock`` on a sidecar file with a timeout. portalocker
  also uses ``flock`` on POSIX, so the legacy backend (portalocker) and the optimized one
  (this class) exclude each other on the same state directory.
"""

from __future__ import annotations

import errno
import os
import stat
import time

from coord_hooks import jsontext
from coord_hooks.errors import StoreBusyError, StoreError, UnreadableRecordError
from coord_hooks.paths import FILE_MODE, SAFE_OPEN, ensure_subdir, is_link_error

TYPE_CHECKING = False  # typing is not imported at run time: it is on the hot path
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    from coord_hooks.paths import StrPath

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def atomic_write_bytes(path: StrPath, data: bytes, durable: bool = True,
                       sync_dir: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically (and durably unless told otherwise).

    ``sync_dir=False`` leaves the folder fsync to the caller (one for a whole batch).
    """
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            write_fully(fd, data, sync=durable)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None
    if durable and sync_dir:
        fsync_dir(folder)


def open_state_file(path: StrPath, flags: int, state_dir: StrPath | None = None) -> int:
    """``os.open(path, flags | O_NOFOLLOW)``; a planted symlink is quarantined, then retried.

    Opened non-blocking (`SAFE_OPEN`) and checked to be a regular file (or a folder,
    which the caller's read or write refuses with EISDIR): a FIFO a peer planted would
    otherwise block the open forever, inside the store lock, and every other session's
    lock check would time out and fail open. Such a special file is quarantined too.
    Without ``state_dir`` a link or special file is refused (the ``OSError`` propagates).
    """
    try:
        fd = os.open(path, flags | SAFE_OPEN, FILE_MODE)
    except OSError as exc:
        if state_dir is None:
            raise
        if is_link_error(exc) and os.path.islink(path):
            why = "a symbolic link where a state file belongs (never followed)"
        elif exc.errno == errno.ENXIO:  # a FIFO opened to write, with no reader
            why = "a FIFO where a state file belongs (never written)"
        else:
            raise
        quarantine(path, state_dir, why)
        fd = os.open(path, flags | SAFE_OPEN, FILE_MODE)
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return fd
    os.close(fd)
    if state_dir is None:
        raise OSError(errno.EINVAL, "a special file where a state file belongs", os.fspath(path))
    quarantine(path, state_dir, "a special file (FIFO, socket, device) where a state file "
               "belongs (never read)")
    if flags & os.O_CREAT:  # a write: the file is made anew (once: no state_dir, no loop)
        return open_state_file(path, flags)
    raise FileNotFoundError(errno.ENOENT, "a special file was here (quarantined)",
                            os.fspath(path))


def read_state_file(path: StrPath, state_dir: StrPath | None = None) -> bytes:
    """A whole state file, read without following a symlink (see `open_state_file`)."""
    fd = open_state_file(path, os.O_RDONLY, state_dir)
    try:
        size = os.fstat(fd).st_size
        chunks = []
        while True:
            chunk = os.read(fd, max(size + 1, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_state_file(path: StrPath, flags: int, data: bytes, state_dir: StrPath | None = None,
                     verb: str = "write") -> None:
    """Open ``path`` (see `open_state_file`), write all of ``data``, fsync; one-line errors."""
    try:
        fd = open_state_file(path, flags, state_dir)
        try:
            write_fully(fd, data)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StoreError(f"cannot {verb} {path}: {exc.strerror or exc}") from None


def write_fully(fd: int, data: bytes, sync: bool = True) -> None:
    """Write all of ``data`` (``os.write`` may write less than asked), then fsync."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    if sync:
        os.fsync(fd)


def fsync_dir(folder: StrPath) -> None:
    """fsync a directory so a rename in it survives a crash."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def dump_json(data: Any) -> bytes:
    """Stable, jq-friendly JSON."""
    return (jsontext.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()


def parse_json(raw: bytes, many: bool = False) -> Any:
    """A JSON document (`jsontext`). ``many``: one of many read in a row (a listing of
    records), which json's C parser reads faster; its import is then worth paying."""
    if many:
        import json

        try:
            return json.loads(raw)
        except RecursionError:  # nested past json's recursion limit: invalid, not a crash
            raise ValueError("JSON nested too deeply") from None
    return jsontext.loads(raw)


def quarantine(path: StrPath, state_dir: StrPath, why: str) -> Path | None:
    """Move a bad file to ``quarantine/`` under a unique name and log a warning."""
    from coord_hooks import logs

    target = _quarantine_name(path, state_dir)
    try:
        os.replace(path, target)
    except FileNotFoundError:
        return None
    except OSError as exc:
        logs.log_event(state_dir, "error", "quarantine_failed", path=str(path),
                       error=str(exc))
        return None
    logs.log_event(state_dir, "warning", "quarantined", path=str(path), moved_to=str(target),
                   reason=why)
    return target


def _quarantine_name(path: StrPath, state_dir: StrPath) -> Path:
    """A name in ``quarantine/`` for ``path`` that nothing uses yet."""
    from pathlib import Path  # lazy: quarantining is rare, and the hook path skips pathlib

    path, state_dir = Path(path), Path(state_dir)
    rel = path.relative_to(state_dir) if path.is_relative_to(state_dir) else Path(path.name)
    stem = f"{str(rel).replace(os.sep, '__')}.{int(time.time())}.{os.getpid()}"
    # os.replace overwrites: the same file going bad twice in one second must not lose the
    # first copy (the pid in the name keeps other processes' names apart).
    return unused_name(ensure_subdir(state_dir / "quarantine"),
                       lambda n: f"{stem}.{n}" if n else stem)


def unused_name(folder: Path, name: Callable[[int], str]) -> Path:
    """``folder / name(0)``, else ``name(1)``, ``name(2)``…: the first not taken yet."""
    n = 0
    while os.path.lexists(folder / name(n)):
        n += 1
    return folder / name(n)


def quarantine_data(path: StrPath, state_dir: StrPath, data: bytes) -> Path:
    """Keep ``data`` cut out of ``path`` (damaged lines) in ``quarantine/``, durably."""
    target = _quarantine_name(path, state_dir)
    write_state_file(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, data)
    fsync_dir(target.parent)
    return target


def read_json_record(path: StrPath, state_dir: StrPath, many: bool = False
                     ) -> dict[str, Any] | None:
    """Read one JSON object; quarantine it if it is not one. None when absent.

    ``many``: one of a listing's records (see `parse_json`)."""
    try:
        raw = read_state_file(path, state_dir)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        quarantine(path, state_dir, "a directory where a record file belongs")
        return None
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            # Intact but not ours to read (another uid, a chmod): not corrupt, so never
            # quarantined; the caller decides what an unreadable record means.
            raise UnreadableRecordError(f"cannot read {path}: {exc.strerror}") from None
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = parse_json(raw, many)
    except (ValueError, UnicodeDecodeError) as exc:
        quarantine(path, state_dir, f"invalid JSON: {exc}")
        return None
    if not isinstance(data, dict):
        quarantine(path, state_dir, "not a JSON object")
        return None
    return data


class FlockLock:
    """Exclusive advisory lock on a sidecar file, waiting at most ``timeout`` seconds."""

    def __init__(self, path: StrPath, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None
        self._depth = 0

    def acquire(self) -> None:
        if self._depth:
            self._depth += 1
            return
        try:
            fd = open_state_file(self.path, os.O_RDWR | os.O_CREAT, os.path.dirname(self.path))
        except OSError as exc:
            raise StoreError(f"cannot open lock file {self.path}: {exc.strerror}") from None
        if fcntl is None:  # pragma: no cover - Windows has no flock; single-writer fallback
            self._fd, self._depth = fd, 1
            return
        deadline = time.monotonic() + self.timeout
        delay = 0.0005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise StoreBusyError(
                        f"store lock {self.path} busy for {self.timeout:g}s") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.02)
        self._fd, self._depth = fd, 1

    def release(self) -> None:
        if not self._depth:
            return
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor drops the flock

    def __enter__(self) -> FlockLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
