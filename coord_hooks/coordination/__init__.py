"""The rules of coordination, written once above the `Store` protocol: `Coordinator`, the
one facade; the rules themselves live in `sessions` (and liveness), `locks` (and leases),
`globs`, `messages` (and delivery), `retention` (and cleanup) and `housekeeping`.

May import: the standard library, the shared top-level modules and `store` (its
protocols, for annotations); never `context`, `hook`, `cli` or `ops`. It is on the hook
path, so the facade imports each rule module when first used: a lock decision loads
`sessions`, `locks` and `globs`, never the message rules.
"""

from __future__ import annotations

import time

from coord_hooks import procs

TYPE_CHECKING = False
if TYPE_CHECKING:  # the hook path never imports typing, nor store.base (Protocols need it)
    from collections.abc import Callable, Iterable
    from typing import Any

    from coord_hooks.coordination.delivery import Delivery
    from coord_hooks.coordination.handoff import FreeNote
    from coord_hooks.coordination.locks import AcquireResult, Asker, Conflict, LockView, Want
    from coord_hooks.coordination.messages import QueueRow, addressed_to, clean_body
    from coord_hooks.coordination.sessions import HEARTBEAT_EVERY, MIN_PREFIX, SessionView
    from coord_hooks.model import Lock, Message, Session, ago
    from coord_hooks.paths import StrPath
    from coord_hooks.settings import Settings
    from coord_hooks.store.base import Store

__all__ = ["HEARTBEAT_EVERY", "MIN_PREFIX", "AcquireResult", "Asker", "Conflict",
           "Coordinator", "Delivery", "FreeNote", "LockView", "QueueRow", "SessionView",
           "Want", "addressed_to", "ago", "clean_body"]

# Names other code imported from this module when it was one file: still importable
# from here, loaded on first use (module __getattr__) so the lock path stays lean.
_MOVED = {
    "ago": "coord_hooks.model",
    "HEARTBEAT_EVERY": "coord_hooks.coordination.sessions",
    "MIN_PREFIX": "coord_hooks.coordination.sessions",
    "SessionView": "coord_hooks.coordination.sessions",
    "AcquireResult": "coord_hooks.coordination.locks",
    "Asker": "coord_hooks.coordination.locks",
    "Want": "coord_hooks.coordination.locks",
    "Conflict": "coord_hooks.coordination.locks",
    "LockView": "coord_hooks.coordination.locks",
    "Delivery": "coord_hooks.coordination.delivery",
    "FreeNote": "coord_hooks.coordination.handoff",
    "QueueRow": "coord_hooks.coordination.messages",
    "addressed_to": "coord_hooks.coordination.messages",
    "clean_body": "coord_hooks.coordination.messages",
}


def __getattr__(name: str) -> object:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(__import__(module, fromlist=[name]), name)


class Coordinator:
    """Sessions, locks and messages for one project, on top of one `Store`.

    Holds what every rule needs (the store, settings, project root, clock, this host);
    each method hands itself to the rule module that decides.
    """

    def __init__(self, store: Store, settings: Settings, project_root: StrPath,
                 state_dir: StrPath | None = None, clock: Callable[[], float] = time.time,
                 hostname: str | None = None) -> None:
        self.store = store
        self.settings = settings
        self.project_root = project_root
        self.state_dir = state_dir
        self.clock = clock
        self.hostname = hostname if hostname is not None else procs.hostname()
        # Failures after a change was committed (it stands): the CLI prints each as a
        # warning; the operation itself succeeded and is never retried.
        self.warnings: list[str] = []

    # --- sessions and liveness (coordination.sessions) ----------------------------------
    def is_live(self, session: Session, now: float | None = None) -> bool:
        from coord_hooks.coordination import sessions

        return sessions.is_live(self, session, now)

    def lock_active(self, lock: Lock, holder: Session | None, now: float) -> bool:
        from coord_hooks.coordination import sessions

        return sessions.lock_active(self, lock, holder, now)

    def reap(self) -> list[Session]:
        from coord_hooks.coordination import sessions

        return sessions.reap(self)

    def register(self, session_id: str, *, pid: int | None = None,
                 pid_start: str | None = None, cwd: str = "", project_dir: str = "",
                 model: str = "", name: str = "", task: str = "", source: str = "") -> Session:
        from coord_hooks.coordination import sessions

        return sessions.register(self, session_id, pid=pid, pid_start=pid_start, cwd=cwd,
                                 project_dir=project_dir, model=model, name=name, task=task,
                                 source=source)

    def touch(self, session_id: str, busy: bool = False, idle: bool = False,
              **register_args: Any) -> Session:
        from coord_hooks.coordination import sessions

        return sessions.touch(self, session_id, busy, idle, **register_args)

    def end(self, session_id: str, reason: str = "ended") -> tuple[Session | None, list[Lock]]:
        from coord_hooks.coordination import sessions

        return sessions.end(self, session_id, reason)

    def set_idle(self, session_id: str, idle: bool) -> None:
        from coord_hooks.coordination import sessions

        sessions.set_idle(self, session_id, idle)

    def set_identity(self, session_id: str, name: str | None = None,
                     task: str | None = None) -> Session:
        from coord_hooks.coordination import sessions

        return sessions.set_identity(self, session_id, name, task)

    def resolve(self, handle: str, sessions: Iterable[Session] | None = None) -> Session:
        from coord_hooks.coordination import sessions as rules

        return rules.resolve(self, handle, sessions)

    def sessions(self, include_ended: bool = False) -> list[SessionView]:
        from coord_hooks.coordination import sessions

        return sessions.sessions(self, include_ended)

    # --- locks and leases (coordination.locks) ------------------------------------------
    def key_for(self, target: str, cwd: str | None = None, literal: bool = False,
                glob: bool = False) -> tuple[str, bool]:
        from coord_hooks.coordination import locks

        return locks.key_for(self, target, cwd, literal, glob)

    def lock_key(self, target: str, cwd: str | None = None, literal: bool = False,
                 glob: bool = False) -> tuple[str, bool]:
        """`key_for`, refusing a pattern that cannot be a lock (`UsageError`)."""
        from coord_hooks.coordination import locks

        return locks.lock_key(self, target, cwd, literal, glob)

    def try_acquire(self, session_id: str, target: str, *, cwd: str | None = None,
                    exclusive: bool = True, ttl: float | None = None, reason: str = "",
                    agent_id: str = "", agent_type: str = "", literal: bool = False,
                    glob: bool = False) -> AcquireResult:
        from coord_hooks.coordination import locks

        return locks.try_acquire(self, session_id, target, cwd=cwd, exclusive=exclusive,
                                 ttl=ttl, reason=reason, agent_id=agent_id,
                                 agent_type=agent_type, literal=literal, glob=glob)

    def try_acquire_keys(self, asker: Asker, wants: list[Want]) -> list[AcquireResult]:
        """Several keys in one transaction: all the wanted locks, or none (Bash)."""
        from coord_hooks.coordination import locks

        return locks.try_acquire_keys(self, asker, wants)

    def hand_over(self, session_id: str, agent_id: str | None = None,
                  keep: frozenset[str] = frozenset()) -> list[Lock]:
        """A stopped subagent's locks pass to its session's main conversation."""
        from coord_hooks.coordination import locks

        return locks.hand_over(self, session_id, agent_id, keep)

    def acquire(self, session_id: str, target: str, **options: Any) -> Lock:
        from coord_hooks.coordination import locks

        return locks.acquire(self, session_id, target, **options)

    def release(self, session_id: str | None, target: str, *, cwd: str | None = None,
                force: bool = False, glob: bool = False) -> list[Lock]:
        from coord_hooks.coordination import locks

        return locks.release(self, session_id, target, cwd=cwd, force=force, glob=glob)

    def locks(self) -> list[LockView]:
        from coord_hooks.coordination import locks

        return locks.locks(self)

    def expired_locks(self) -> list[LockView]:
        from coord_hooks.coordination import locks

        return locks.expired_locks(self)

    def release_all(self, session_id: str) -> list[Lock]:
        """Release every lock the session holds, keeping it live (Stop, if configured)."""
        from coord_hooks.coordination import locks

        return locks.release_all(self, session_id)

    # --- lock hand-off (coordination.handoff) -------------------------------------------
    def wait_free(self, session_id: str | None, targets: list[str], *,
                  cwd: str | None = None, timeout: float,
                  poll: float | None = None) -> dict[str, list[Lock]]:
        """Block until no other session holds ``targets``; what still blocks, per key."""
        from coord_hooks.coordination import handoff

        return handoff.wait_free(self, session_id, targets, cwd=cwd, timeout=timeout,
                                 poll=handoff.WAIT_POLL if poll is None else poll)

    # --- messages and delivery (coordination.messages) ----------------------------------
    def send(self, sender_id: str | None, handle: str, body: str,
             urgent: bool = False) -> Message:
        from coord_hooks.coordination import messages

        return messages.send(self, sender_id, handle, body, urgent)

    def broadcast(self, sender_id: str | None, body: str, urgent: bool = False) -> Message:
        from coord_hooks.coordination import messages

        return messages.broadcast(self, sender_id, body, urgent)

    def inbox(self, session_id: str, peek: bool = False) -> list[Message]:
        from coord_hooks.coordination import messages

        return messages.inbox(self, session_id, peek)

    def history(self, session_id: str | None = None, archived: bool = False) -> list[Message]:
        from coord_hooks.coordination import messages

        return messages.history(self, session_id, archived)

    def deliver(self, session_id: str, max_chars: int, render: Callable[[Message], str],
                due_only: bool = False,
                render_note: Callable[[FreeNote], str] | None = None) -> Delivery:
        """Offer unread messages and hand-off notes to a hook; `confirm` once shown."""
        from coord_hooks.coordination import delivery

        return delivery.offer(self, session_id, max_chars, render, due_only, render_note)

    def confirm(self, shown: Delivery) -> None:
        """The hook's output is out: mark what ``shown`` offered as delivered."""
        from coord_hooks.coordination import delivery

        delivery.confirm(self, shown)

    def queue(self) -> list[QueueRow]:
        from coord_hooks.coordination import messages

        return messages.queue(self)

    # --- retention, cleanup, housekeeping -----------------------------------------------
    def retain(self, limit: int | None = None) -> int:
        from coord_hooks.coordination import retention

        return retention.retain(self, limit)

    def cleanup(self, dry_run: bool = False) -> dict[str, Any]:
        from coord_hooks.coordination import retention

        return retention.cleanup(self, dry_run)

    def maybe_housekeep(self, every: float | None = None,
                        now: float | None = None) -> dict[str, Any] | None:
        """Reap, retain and sample if nobody did lately (hooks); see `housekeeping`."""
        from coord_hooks.coordination import housekeeping

        if every is None:
            return housekeeping.maybe_housekeep(self, now=now)
        return housekeeping.maybe_housekeep(self, every, now)
