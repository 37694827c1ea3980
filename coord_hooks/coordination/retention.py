"""Retention and cleanup: keep the last N messages; older ones go to the archive once
every live recipient has read them. ``coord cleanup`` also ends dead sessions, drops
lapsed locks and compacts the backend.

Every function takes the `Coordinator` as its first argument. Standard library only
(hooks retain a bounded batch through `coordination.housekeeping`).
"""

from __future__ import annotations

from coord_hooks.coordination.messages import addressed_to
from coord_hooks.coordination.sessions import is_live, lock_active

TYPE_CHECKING = False
if TYPE_CHECKING:  # the hook path never imports typing, nor store.base (Protocols need it)
    from typing import Any

    from coord_hooks.coordination import Coordinator
    from coord_hooks.store.base import StoreReader, StoreWriter


def archivable(c: Coordinator, view: StoreReader, now: float,
               limit: int | None = None) -> tuple[int, int]:
    """(highest seq, how many) of the oldest messages retention may archive now."""
    keep = c.settings.retention_messages
    count = view.message_count()
    if count <= keep:
        return 0, 0
    wanted = count - keep if limit is None else min(count - keep, limit)
    candidates = view.messages_after(0, limit=wanted)
    live = [s for s in view.sessions() if is_live(c, s, now)]
    upto = n = 0
    for message in candidates:
        if any(addressed_to(message, s) and s.cursor < message.seq for s in live):
            break  # never archive what a live recipient has not read yet
        upto, n = message.seq, n + 1
    return upto, n


def retain_in(c: Coordinator, tx: StoreWriter, now: float, limit: int | None = None) -> int:
    """Archive what retention allows, inside the caller's transaction."""
    upto, _ = archivable(c, tx, now, limit)
    return tx.archive_messages(upto) if upto else 0


def retain(c: Coordinator, limit: int | None = None) -> int:
    """Archive what retention allows; at most ``limit`` messages in this run.

    Hooks pass a limit so that a huge backlog (say an imported 100k messages) is
    worked off over several runs instead of stalling one hook for seconds.
    """
    with c.store.transaction() as tx:
        return retain_in(c, tx, c.clock(), limit)


def cleanup(c: Coordinator, dry_run: bool = False) -> dict[str, Any]:
    """Dead sessions, lapsed locks, retention, backend compaction, quarantine report.

    With ``dry_run`` nothing is written: the report says what a real run would do.
    """
    from pathlib import Path

    from coord_hooks.health import quarantine_report  # stdlib; only cleanup needs it

    now = c.clock()
    with c.store.read() as view:
        dead = [s for s in view.sessions() if not s.ended and not is_live(c, s, now)]
        count = view.message_count()
        _, would_archive = archivable(c, view, now)
    lapsed = c.expired_locks()
    report: dict[str, Any] = {
        "dry_run": dry_run,
        "dead_sessions": [s.session_id for s in dead],
        "expired_locks": [lv.lock.key for lv in lapsed],
        "live_messages": count,
        "retention_limit": c.settings.retention_messages,
        "quarantine": quarantine_report(None if c.state_dir is None else Path(c.state_dir)),
    }
    if dry_run:
        report["would_archive_at_most"] = max(0, count - c.settings.retention_messages)
        report["would_archive"] = would_archive
        report["store"] = c.store.maintenance(dry_run=True)
        return report
    c.store.flush()
    report["reaped"] = [s.session_id for s in c.reap()]
    released = 0
    with c.store.transaction() as tx:
        current = {(lk.key, lk.owner): lk for lk in tx.locks()}
        for lv in lapsed:
            lock = current.get((lv.lock.key, lv.lock.owner))
            holder = tx.get_session(lv.lock.owner)
            if lock is not None and not lock_active(c, lock, holder, now):
                tx.delete_lock(lock.key, lock.owner)
                released += 1
        report["released_locks"] = released
        report["archived"] = retain_in(c, tx, now)
    report["store"] = c.store.maintenance(dry_run=False)
    return report
