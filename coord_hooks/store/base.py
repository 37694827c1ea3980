"""The `Store` protocol every backend implements.

The protocol speaks only of records and operations, never of files, so that a networked
backend (Redis) can implement it with its own transactions:

* `Store.read()` gives a `StoreReader` for queries that need no atomicity (status views).
* `Store.transaction()` gives a `StoreWriter` inside one exclusive, atomic unit: every
  check-and-grant (lock conflicts, cursor advances, sequence numbers) happens in one.
  Reads inside a transaction are always fresh — a cache never decides a lock.
* Retention is the store operation `archive_messages(upto_seq)`; which messages may be
  archived is decided above the store, in `coord_hooks.coordination`.

The rules (liveness, lock conflicts, delivery, retention) live in `coordination.py`,
written once for all backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

from coord_hooks.model import Lock, Message, NewMessage, Session, StoreInfo, Waiter


class StoreReader(Protocol):
    """Queries; each returns records as they are now in the store."""

    def get_session(self, session_id: str) -> Session | None: ...

    def sessions(self) -> list[Session]: ...

    def locks(self) -> list[Lock]: ...

    def messages_after(self, seq: int, limit: int | None = None) -> list[Message]:
        """Live (unarchived) messages with ``seq`` greater than the given one, ascending."""
        ...

    def last_seq(self) -> int:
        """The highest sequence number ever given (0 for an empty store)."""
        ...

    def message_count(self) -> int:
        """How many messages are live (not archived)."""
        ...

    def waiters(self, session_id: str | None = None) -> list[Waiter]:
        """Lock hand-off waits: one session's (any order), or everyone's."""
        ...


class StoreWriter(StoreReader, Protocol):
    """Mutations, only available inside `Store.transaction()`."""

    def put_session(self, session: Session) -> None: ...

    def put_lock(self, lock: Lock) -> None: ...

    def delete_lock(self, key: str, owner: str) -> None: ...

    def put_waiter(self, waiter: Waiter) -> None:
        """Record (or replace) ``waiter.session_id``'s wait for ``waiter.key``."""
        ...

    def delete_waiter(self, session_id: str, key: str) -> None:
        """Forget one wait; absent is a no-op."""
        ...

    def append_message(self, message: NewMessage) -> Message:
        """Store a message with the next sequence number and return it."""
        ...

    def archive_messages(self, upto_seq: int) -> int:
        """Move live messages with ``seq <= upto_seq`` to the archive; return how many."""
        ...


class Store(Protocol):
    """A coordination store: sessions, locks, messages and their archive."""

    name: str

    def read(self) -> AbstractContextManager[StoreReader]: ...

    def transaction(self) -> AbstractContextManager[StoreWriter]: ...

    def archived_messages(self) -> Iterator[Message]:
        """Every archived message, ascending by sequence, each once."""
        ...

    def flush(self) -> int:
        """Make anything the backend batched visible to every backend; return how many."""
        ...

    def maintenance(self, dry_run: bool = False) -> dict[str, Any]:
        """Backend-specific compaction (batch files, snapshots, vacuum); report what it did."""
        ...

    def info(self) -> StoreInfo: ...

    def close(self) -> None: ...
