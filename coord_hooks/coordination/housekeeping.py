"""Lazy housekeeping from hooks (SessionStart, Stop): reap the dead, retention, a size sample.

Its common case is one ``stat`` of a timestamp file; the real work runs at most once per
``HOUSEKEEP_EVERY`` seconds across all sessions, claimed with a non-blocking flock so
concurrent hooks never queue behind it. ``<state dir>/health/housekeep.stamp``: mtime =
the last run; content = its time.

Standard library only (hook path).
"""

from __future__ import annotations

import os
import time

from coord_hooks import logs
from coord_hooks.errors import StoreError
from coord_hooks.fsio import open_state_file
from coord_hooks.paths import HEALTH_DIR, ensure_subdir

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: housekeeping without a claim lock
    fcntl = None  # type: ignore[assignment]

TYPE_CHECKING = False  # not `from typing import ...`: that loads typing on the hook path
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from coord_hooks.coordination import Coordinator

STAMP_NAME = "housekeep.stamp"
HOUSEKEEP_EVERY = 600.0  # seconds between lazy housekeeping runs (all sessions together)
# Most messages one hook's housekeeping archives: a backlog larger than this (an import,
# a week without hooks) is worked off over several runs, a few ms each.
HOUSEKEEP_ARCHIVE_LIMIT = 1000


def maybe_housekeep(c: Coordinator, every: float = HOUSEKEEP_EVERY,
                    now: float | None = None) -> dict[str, Any] | None:
    """Run `housekeep` if nobody did in the last ``every`` seconds; never raises.

    Returns what was done, or None when it was not due (or another process has it).
    """
    if c.state_dir is None:
        return None
    now = time.time() if now is None else now
    folder = os.path.join(c.state_dir, HEALTH_DIR)
    stamp = os.path.join(folder, STAMP_NAME)
    try:
        if now - os.lstat(stamp).st_mtime < every:
            return None
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        ensure_subdir(folder)
        fd = open_state_file(stamp, os.O_RDWR | os.O_CREAT, c.state_dir)
    except (OSError, StoreError):
        return None
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return None  # another hook is housekeeping right now
        st = os.fstat(fd)
        if st.st_size > 0 and now - st.st_mtime < every:
            return None  # it finished between our stat and our lock
        os.ftruncate(fd, 0)
        os.write(fd, f"{now:.3f}\n".encode())
        os.utime(fd, (now, now))
        from pathlib import Path  # only when due: the health module works with Paths

        return housekeep(c, Path(c.state_dir), now)
    except Exception as exc:  # fail open: housekeeping must never break a hook
        logs.log_event(c.state_dir, "error", "housekeep_failed", error=repr(exc))
        return None
    finally:
        os.close(fd)


def housekeep(c: Coordinator, state_dir: Path, now: float | None = None) -> dict[str, Any]:
    """The cheap part of cleanup: reap dead sessions, retention, one size sample."""
    from coord_hooks import health  # only when due (json, pathlib: ~5 ms)

    started = time.perf_counter()
    now = time.time() if now is None else now
    reaped = c.reap()
    archived = 0
    # retain() takes the store lock: only pay for it when there is something to archive.
    with c.store.read() as view:
        over = view.message_count() > c.settings.retention_messages
    if over:
        archived = c.retain(limit=HOUSEKEEP_ARCHIVE_LIMIT)
    sampled = False
    if health.sample_due(state_dir, now, health.SAMPLE_EVERY / 2):  # the walk costs most
        sampled = health.record_sample(state_dir, health.take_sample(state_dir, now))
    result: dict[str, Any] = {
        "reaped": [s.session_id for s in reaped],
        "archived": archived,
        "sampled": sampled,
        "ms": round((time.perf_counter() - started) * 1000, 2),
    }
    if reaped or archived:
        logs.log_event(state_dir, "info", "housekeep", **result)
    return result
