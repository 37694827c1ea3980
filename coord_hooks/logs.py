"""Append-only JSON-line logs in ``<state dir>/logs/`` with size-capped rotation.

``app.log`` holds warnings, errors and ``slow_operation`` lines; ``performance.log`` one
line per hook run (``{"ts", "event", "ms", ...}``: `duration_ms` reads it). Writes are
single ``O_APPEND`` writes (atomic for short lines), and a log failure never propagates:
logging must not break a hook.

Each log is capped at ``log_max_bytes`` (setting; `configure` sets the process default):
past it the file is rotated to ``.1`` → ``.2`` and the oldest generation dropped, so one
log never takes more than about ``(KEEP_ROTATED + 1) * max_bytes`` on disk. A value of 0
disables rotation.
"""

from __future__ import annotations

import os
import time

from coord_hooks import jsontext
from coord_hooks.errors import StoreError
from coord_hooks.paths import SAFE_OPEN, ensure_subdir, is_link_error

TYPE_CHECKING = False  # typing is not imported at run time: it is on the hot path
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from typing import Any

    from coord_hooks.paths import StrPath

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: rotation without a lock
    fcntl = None  # type: ignore[assignment]

DEFAULT_MAX_BYTES = 1_000_000
KEEP_ROTATED = 2
MAX_LINE = 16_384  # one record never exceeds this; a giant field must not blow the cap
_FIELD_LIMIT = 1_000
APP_LOG = "app.log"
PERFORMANCE_LOG = "performance.log"

_max_bytes = DEFAULT_MAX_BYTES
_quarantining = False  # a log link is being moved aside (see `_open_log`)


def configure(max_bytes: int) -> None:
    """Set the cap used when a caller does not pass one (from ``log_max_bytes``)."""
    global _max_bytes
    _max_bytes = max_bytes


def log_dir(state_dir: Path) -> Path:
    return state_dir / "logs"


def generations(path: Path) -> list[Path]:
    """``log.2``, ``log.1``, ``log``: every generation that may exist, oldest first."""
    older = [path.with_name(f"{path.name}.{i}") for i in range(KEEP_ROTATED, 0, -1)]
    return [*older, path]


def append_line(path: StrPath, line: str, max_bytes: int | None = None) -> None:
    """Append one line to a capped log; rotate first if it is full. Never raises."""
    cap = _max_bytes if max_bytes is None else max_bytes
    try:
        # never a symlink, never created in a missing state dir
        ensure_subdir(os.path.dirname(path))
        if cap > 0:
            try:
                if os.lstat(path).st_size >= cap:
                    _rotate_once(path, cap)
            except FileNotFoundError:
                pass
        fd = _open_log(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            os.write(fd, line.encode("utf-8", "replace"))
        finally:
            os.close(fd)
    except (OSError, StoreError):
        pass


def _open_log(path: StrPath, flags: int) -> int:
    """Open a log file (or its rotation lock) without following a symlink.

    A link planted in ``logs/`` is moved to ``quarantine/`` (the state dir is the log
    folder's parent) and the open retried once.
    """
    global _quarantining
    try:
        return os.open(path, flags | SAFE_OPEN, 0o600)
    except OSError as exc:
        # quarantine() logs what it moved: a second link met while it does is skipped.
        if _quarantining or not is_link_error(exc) or not os.path.islink(path):
            raise
    from coord_hooks.fsio import quarantine  # rare: a link planted where a log belongs

    _quarantining = True
    try:
        quarantine(path, os.path.dirname(os.path.dirname(path)),
                   "a symbolic link where a log belongs (never followed)")
    finally:
        _quarantining = False
    return os.open(path, flags | SAFE_OPEN, 0o600)


def _rotate_once(path: StrPath, cap: int) -> None:
    # Several hooks can find the log full at the same moment; without the lock each would
    # rotate, and every extra rotation throws away a generation nobody has read yet. The
    # others wait rather than skip: rotation is two renames, but a rotator descheduled
    # while holding the lock would otherwise let every skipper append far past the cap.
    # A killed holder releases the flock with its descriptor, so the wait cannot hang.
    if fcntl is None:  # pragma: no cover
        rotate(path)
        return
    folder, name = os.path.split(path)
    lock_path = os.path.join(folder, f".{name}.rotate")
    fd = _open_log(lock_path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.lstat(path).st_size >= cap:  # still full once we hold the lock?
                rotate(path)
        except FileNotFoundError:
            pass
    finally:
        os.close(fd)


def rotate(path: StrPath) -> None:
    """Shift ``log`` → ``log.1`` → ``log.2``; the oldest generation is dropped.

    Dropping the oldest rotated *log* is the one deletion we allow: logs are diagnostics,
    not user data, and the cap is what keeps days-long sessions healthy.
    """
    name = os.fspath(path)
    for index in range(KEEP_ROTATED, 0, -1):
        older = f"{name}.{index}"
        newer = f"{name}.{index - 1}" if index > 1 else name
        try:
            os.replace(newer, older)
        except FileNotFoundError:
            pass


def encode(record: dict[str, Any]) -> str:
    """One JSON line, shortened (long strings cut) if it would exceed `MAX_LINE`."""
    line = jsontext.dumps(record, default=str)
    if len(line) > MAX_LINE:
        short = {k: (v[:_FIELD_LIMIT] + "…" if isinstance(v, str) and len(v) > _FIELD_LIMIT
                     else v) for k, v in record.items()}
        short["truncated"] = True
        line = jsontext.dumps(short, default=str)
        if len(line) > MAX_LINE:  # many or nested fields: keep only the header
            line = jsontext.dumps({k: record[k] for k in ("ts", "level", "event", "pid")
                               if k in record} | {"truncated": True}, default=str)
    return line + "\n"


def log_event(state_dir: StrPath, level: str, event: str, max_bytes: int | None = None,
              **fields: Any) -> None:
    """Append one structured line to ``logs/app.log``."""
    record = {"ts": round(time.time(), 3), "level": level, "event": event, "pid": os.getpid()}
    record.update(fields)
    append_line(os.path.join(state_dir, "logs", APP_LOG), encode(record), max_bytes)


def log_performance(state_dir: StrPath, max_bytes: int | None = None, **fields: Any) -> None:
    """Append one line to ``logs/performance.log`` (hook latencies: ``event``, ``ms``)."""
    record: dict[str, Any] = {"ts": round(time.time(), 3)}
    record.update(fields)
    append_line(os.path.join(state_dir, "logs", PERFORMANCE_LOG), encode(record), max_bytes)


def ensure_logs(state_dir: StrPath) -> None:
    """Create ``logs/`` and empty logs (0600) if they are absent, so readers find them."""
    folder = os.path.join(state_dir, "logs")
    try:
        ensure_subdir(folder)
        for name in (APP_LOG, PERFORMANCE_LOG):
            os.close(_open_log(os.path.join(folder, name),
                               os.O_WRONLY | os.O_CREAT | os.O_APPEND))
    except (OSError, StoreError):
        pass


def read_records(path: Path, tail_bytes: int | None = None) -> Iterator[dict[str, Any]]:
    """JSON objects from every generation of a log, oldest first; bad lines skipped.

    With ``tail_bytes``, only about that many bytes from the end of each file are read.
    """
    for generation in generations(path):
        try:
            with open(os.open(generation, os.O_RDONLY | SAFE_OPEN), "rb") as handle:
                if tail_bytes is not None:
                    size = os.fstat(handle.fileno()).st_size
                    if size > tail_bytes:
                        handle.seek(size - tail_bytes)
                        handle.readline()  # drop the partial first line
                for raw in handle:
                    record = parse_line(raw)
                    if record is not None:
                        yield record
        except OSError:
            continue


def parse_line(raw: bytes) -> dict[str, Any] | None:
    import json  # the readers (status, diagnose, monitor) parse thousands of lines

    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


_MS_KEYS = ("ms", "duration_ms", "elapsed_ms", "total_ms")
_S_KEYS = ("duration", "elapsed", "seconds")


def duration_ms(record: dict[str, Any]) -> float | None:
    """A performance record's duration in milliseconds, whatever key the writer used."""
    for key in _MS_KEYS:
        value = record.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    for key in _S_KEYS:
        value = record.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value) * 1000.0
    return None


def event_name(record: dict[str, Any]) -> str:
    """Which hook (or operation) a performance or slow_operation record is about."""
    for key in ("hook", "op", "operation", "event"):
        value = record.get(key)
        if isinstance(value, str) and value and value != "slow_operation":
            return value
    return "?"
