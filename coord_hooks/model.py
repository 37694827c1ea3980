"""Records kept by every store backend: sessions, locks and messages.

Plain dataclasses with ``to_dict``/``from_dict`` so that each backend can serialise them
its own way (one JSON file per record, SQLite rows, Redis hashes). Unknown keys are
ignored on load so newer writers do not break older readers.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

FORMAT_VERSION = 1
BROADCAST = "*"
HUMAN_SENDER = "human"

T = TypeVar("T", bound="Record")


class Record:
    """Mixin: dict round-trip that tolerates unknown and missing optional keys."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)  # type: ignore[call-overload]
        data["format_version"] = FORMAT_VERSION
        return data  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Session(Record):
    """One Claude Code session (or a subagent-free human-run CLI never registers)."""

    session_id: str
    registered_at: float
    last_seen: float
    name: str = ""
    task: str = ""
    pid: int | None = None
    pid_start: str | None = None
    hostname: str = ""
    cwd: str = ""
    project_dir: str = ""
    model: str = ""
    source: str = ""
    # Read cursor: every message with seq <= cursor has been seen (delivered or skipped).
    cursor: int = 0
    # Broadcasts with seq <= registered_seq were sent before this session existed.
    registered_seq: int = 0
    ended_at: float | None = None
    end_reason: str = ""
    last_midturn: float = 0.0

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def handle(self) -> str:
        return self.session_id[:8]

    def label(self) -> str:
        """Handle plus name, the way people and the model see a session."""
        return f"{self.handle} ({self.name})" if self.name else self.handle


@dataclass
class Lock(Record):
    """An advisory lease on a path or glob, held by one session."""

    key: str  # project-relative path or pattern, or absolute when outside the project
    owner: str  # session_id
    acquired_at: float
    renewed_at: float
    ttl: float
    exclusive: bool = True
    is_glob: bool = False
    reason: str = ""
    agent_id: str = ""

    @property
    def lock_id(self) -> str:
        return lock_id_for(self.key, self.owner)


def lock_id_for(key: str, owner: str) -> str:
    """Stable id of the lock one owner holds on one key (one record per pair)."""
    digest = hashlib.sha1(f"{key}\0{owner}".encode()).hexdigest()
    return digest[:20]


@dataclass
class Message(Record):
    """A direct message (recipient = session id) or broadcast (recipient = ``*``)."""

    seq: int
    sender: str
    recipient: str
    body: str
    created_at: float
    sender_name: str = ""
    urgent: bool = False

    @property
    def is_broadcast(self) -> bool:
        return self.recipient == BROADCAST


@dataclass
class NewMessage:
    """A message before the store gives it a sequence number."""

    sender: str
    recipient: str
    body: str
    created_at: float
    sender_name: str = ""
    urgent: bool = False

    def with_seq(self, seq: int) -> Message:
        return Message(seq=seq, sender=self.sender, recipient=self.recipient, body=self.body,
                       created_at=self.created_at, sender_name=self.sender_name,
                       urgent=self.urgent)


@dataclass
class StoreInfo:
    """What a backend can tell about itself for status and diagnostics."""

    backend: str
    location: str
    details: dict[str, Any] = field(default_factory=dict)
