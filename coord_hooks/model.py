"""Records kept by every store backend: sessions, locks and messages; and `Plain`, their base.

Records are `Plain` classes with ``to_dict``/``from_dict`` so that each backend can
serialise them its own way (one JSON file per record, SQLite rows, Redis hashes).
``FIELDS`` lists each record's fields in constructor order (what ``dataclasses.fields``
gave). Unknown keys are ignored on load so newer writers do not break older readers.

Why `Plain` and not dataclasses: ``import dataclasses`` pulls in ``inspect``, ``ast``,
``dis`` and ``tokenize`` (~10-15 ms), and every ``@dataclass`` ``exec``s generated code
when its module is imported: together a third of a hook's import time, paid before every
Edit. So each class writes its ``__init__`` by hand and names its fields, in order, in
``FIELDS``; `Plain` gives the dataclass ``__eq__`` (same class, equal field tuples) and
``__repr__`` (``Name(field=value, ...)``) over them. Like a dataclass with ``eq``,
instances are unhashable unless a subclass says otherwise. The other plain classes of
the hot path (settings, context, rule results) build on it too.

Standard library only (hook hot path).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar, TypeVar

    T = TypeVar("T", bound="Record")

FORMAT_VERSION = 1
BROADCAST = "*"
HUMAN_SENDER = "human"


class Plain:
    """Dataclass-style equality and repr over the fields a subclass lists in ``FIELDS``."""

    __slots__ = ()
    FIELDS: ClassVar[tuple[str, ...]] = ()
    __hash__ = None  # type: ignore[assignment]  # mutable and compared by value

    def _astuple(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._astuple() == other._astuple()  # type: ignore[attr-defined, no-any-return]
        return NotImplemented

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.FIELDS)
        return f"{self.__class__.__qualname__}({args})"


def ago(seconds: float) -> str:
    """Human wording for a duration in the past: '42s', '5m', '3h', '2d'."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


# --- what peers wrote, shown to a model or put in a suggested command --------------------
PEER_TEXT_LIMIT = 200  # characters of a task or a lock reason shown (and stored)


def peer_words(text: str, limit: int = PEER_TEXT_LIMIT) -> str:
    """Text another session wrote (a task, a lock reason, a name, a file name), made safe
    to show inline: every control character, line or paragraph break and other invisible
    format character becomes one space, our own ``[coord-hooks]`` tag is defused to
    ``(coord-hooks)``, and the length is capped with ``…``. It can then never start a line
    of its own, nor pass for our framing; callers quote it as the peer's words.
    """
    out: list[str] = []
    gap = False
    for ch in text:
        if ch.isspace() or not ch.isprintable():
            gap = bool(out)
            continue
        if gap:
            out.append(" ")
            gap = False
        out.append(ch)
    shown = "".join(out)
    if "coord-hooks" in shown.lower():
        import re  # rare: only text that names our tag pays for it

        shown = re.sub(r"\[\s*(coord-hooks)\s*\]", r"(\1)", shown, flags=re.IGNORECASE)
    if len(shown) > limit:
        shown = shown[: max(limit - 1, 0)].rstrip() + "…"
    return shown


# What shlex.quote leaves bare: ASCII letters, digits and @%+=:,./-_ (its [^\w@%+=:,./-]).
_SHELL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                        "_@%+=:,./-")


def shell_word(value: str) -> str:
    """``value`` as exactly one word of a shell command, whatever it holds.

    ``shlex.quote``'s answer (single quotes, unless every character is safe bare) for
    printable text; bash's ``$'...'`` with escapes when it holds a control or line-break
    character, so that a suggested command stays on one line and runs nothing but itself.
    """
    if all(ch.isprintable() for ch in value):
        # shlex.quote, written out: shlex loads `re` (~4 ms), and every deny says this
        if not value:
            return "''"
        if _SHELL_SAFE.issuperset(value):
            return value
        return "'" + value.replace("'", "'\"'\"'") + "'"
    out = []
    for ch in value:
        if ch in "\\'":
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "$'" + "".join(out) + "'"


class Record(Plain):
    """Mixin: dict round-trip that tolerates unknown and missing optional keys."""

    __slots__ = ()
    _FIELD_SET: ClassVar[frozenset[str]] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.FIELDS}
        data["format_version"] = FORMAT_VERSION
        return data

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        names = cls._FIELD_SET
        return cls(**{k: v for k, v in data.items() if k in names})


class Session(Record):
    """One Claude Code session (or a subagent-free human-run CLI never registers)."""

    FIELDS = ("session_id", "registered_at", "last_seen", "name", "task", "pid", "pid_start",
              "hostname", "cwd", "project_dir", "model", "source", "cursor",
              "registered_seq", "ended_at", "end_reason", "last_midturn", "delivery",
              "idle_since")
    _FIELD_SET = frozenset(FIELDS)
    __slots__ = FIELDS

    session_id: str
    registered_at: float
    last_seen: float
    name: str
    task: str
    pid: int | None
    pid_start: str | None
    hostname: str
    cwd: str
    project_dir: str
    model: str
    source: str
    # Read cursor: every message with seq <= cursor has been seen (delivered or skipped).
    cursor: int
    # Broadcasts with seq <= registered_seq were sent before this session existed.
    registered_seq: int
    ended_at: float | None
    end_reason: str
    last_midturn: float
    # Delivery beyond the cursor (`coordination.delivery`): "acked" seqs above the cursor
    # already shown, a long message's "part" shown so far, hooks' pending "offers".
    # Replaced, never changed in place: a backend may share the object with its cache.
    delivery: dict[str, Any]
    # When its turn ended (Stop) and no prompt came since: waiting for its user. The
    # idle watcher (`hook.watch`) rings only then; None while it works.
    idle_since: float | None

    def __init__(self, session_id: str, registered_at: float, last_seen: float,
                 name: str = "", task: str = "", pid: int | None = None,
                 pid_start: str | None = None, hostname: str = "", cwd: str = "",
                 project_dir: str = "", model: str = "", source: str = "", cursor: int = 0,
                 registered_seq: int = 0, ended_at: float | None = None,
                 end_reason: str = "", last_midturn: float = 0.0,
                 delivery: dict[str, Any] | None = None,
                 idle_since: float | None = None) -> None:
        self.session_id = session_id
        self.registered_at = registered_at
        self.last_seen = last_seen
        self.name = name
        self.task = task
        self.pid = pid
        self.pid_start = pid_start
        self.hostname = hostname
        self.cwd = cwd
        self.project_dir = project_dir
        self.model = model
        self.source = source
        self.cursor = cursor
        self.registered_seq = registered_seq
        self.ended_at = ended_at
        self.end_reason = end_reason
        self.last_midturn = last_midturn
        self.delivery = delivery if isinstance(delivery, dict) else {}
        self.idle_since = idle_since

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def handle(self) -> str:
        return self.session_id[:8]

    def label(self) -> str:
        """Handle plus name, the way people and the model see a session."""
        return f"{self.handle} ({self.name})" if self.name else self.handle


class Lock(Record):
    """An advisory lease on a path or glob, held by one session.

    ``owner`` is the session; ``agent_id``/``agent_type`` name the subagent of that
    session that holds it ('' for the session's main conversation). A session holds one
    record per key, so a subagent taking its parent's lock, or handing it back when it
    stops, rewrites that record (`coordination.locks`). Records written before
    ``agent_type`` existed load with ''.
    """

    FIELDS = ("key", "owner", "acquired_at", "renewed_at", "ttl", "exclusive", "is_glob",
              "reason", "agent_id", "fence", "agent_type")
    _FIELD_SET = frozenset(FIELDS)
    __slots__ = FIELDS

    key: str  # project-relative path or pattern, or absolute when outside the project
    owner: str  # session_id
    acquired_at: float
    renewed_at: float
    ttl: float
    exclusive: bool
    is_glob: bool
    reason: str
    agent_id: str  # the subagent holding it ('' = the session's main conversation)
    # Fencing token: given by a backend that fences (redis) when the lock is granted,
    # larger than every token granted before it; kept on renewal. 0: not fenced.
    fence: int
    agent_type: str  # that subagent's type (general-purpose, Explore, a custom agent...)

    def __init__(self, key: str, owner: str, acquired_at: float, renewed_at: float,
                 ttl: float, exclusive: bool = True, is_glob: bool = False, reason: str = "",
                 agent_id: str = "", fence: int = 0, agent_type: str = "") -> None:
        self.key = key
        self.owner = owner
        self.acquired_at = acquired_at
        self.renewed_at = renewed_at
        self.ttl = ttl
        self.exclusive = exclusive
        self.is_glob = is_glob
        self.reason = reason
        self.agent_id = agent_id
        self.fence = fence
        self.agent_type = agent_type

    @property
    def lock_id(self) -> str:
        return lock_id_for(self.key, self.owner)


def glob_prefix(pattern: str) -> str:
    """The literal folder part of a pattern: its segments before the first wildcard one.

    A pattern can only cover paths in, above or below that folder (``docs/**`` never
    covers ``src/a.py``); ``''`` (``*.py``, ``**/x``) can cover anything. The stores index
    pattern locks by it, so a lock check reads only the patterns that may cover its path.
    """
    literal = []
    for part in pattern.split("/"):
        if any(ch in part for ch in "*?["):
            break
        literal.append(part)
    return "/".join(literal)


def lock_id_for(key: str, owner: str) -> str:
    """Stable id of the lock one owner holds on one key (one record per pair)."""
    return sha1_hex(f"{key}\0{owner}".encode())[:20]


def sha1_hex(data: bytes) -> str:
    """SHA-1 of ``data`` in hex, from CPython's own ``_sha1`` (the same digests as hashlib,
    which would load OpenSSL's _hashlib, ~5 ms). Imported when first needed: a hook that
    only reads (a lock renewal, a prompt) never hashes anything."""
    if TYPE_CHECKING:
        from hashlib import sha1
    else:
        try:
            from _sha1 import sha1
        except ImportError:  # pragma: no cover - a build without it (FIPS)
            from hashlib import sha1
    return sha1(data).hexdigest()


class Waiter(Record):
    """A session denied a lock on ``key``, to be told once when the key is free.

    ``holder`` is the session that held it then: the note says who let go, and how.
    """

    FIELDS = ("session_id", "key", "since", "holder")
    _FIELD_SET = frozenset(FIELDS)
    __slots__ = FIELDS

    session_id: str
    key: str
    since: float
    holder: str

    def __init__(self, session_id: str, key: str, since: float, holder: str = "") -> None:
        self.session_id = session_id
        self.key = key
        self.since = since
        self.holder = holder

    def well_formed(self) -> bool:
        """Fields of the types the rules read: a peer may have stored anything, and one
        bad wait must not stop a session's messages (`handoff.free_notes` skips it)."""
        return (isinstance(self.session_id, str) and isinstance(self.key, str)
                and isinstance(self.holder, str) and isinstance(self.since, (int, float))
                and not isinstance(self.since, bool))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Waiter:  # type: ignore[override]
        waiter = cls(**{k: v for k, v in data.items() if k in cls._FIELD_SET})
        if not waiter.well_formed():
            raise TypeError("a wait's session_id, key and holder are strings, since a number")
        return waiter


def waiter_id_for(session_id: str, key: str) -> str:
    """Stable file-name-safe id of one session's wait for one key: a prefix per session
    (so a session's own waits are found by name) and one per key."""
    return sha1_hex(session_id.encode())[:16] + "-" + sha1_hex(key.encode())[:20]


class Message(Record):
    """A direct message (recipient = session id) or broadcast (recipient = ``*``)."""

    FIELDS = ("seq", "sender", "recipient", "body", "created_at", "sender_name", "urgent")
    _FIELD_SET = frozenset(FIELDS)
    __slots__ = FIELDS

    seq: int
    sender: str
    recipient: str
    body: str
    created_at: float
    sender_name: str
    urgent: bool

    def __init__(self, seq: int, sender: str, recipient: str, body: str, created_at: float,
                 sender_name: str = "", urgent: bool = False) -> None:
        self.seq = seq
        self.sender = sender
        self.recipient = recipient
        self.body = body
        self.created_at = created_at
        self.sender_name = sender_name
        self.urgent = urgent

    @property
    def is_broadcast(self) -> bool:
        return self.recipient == BROADCAST


class NewMessage(Plain):
    """A message before the store gives it a sequence number."""

    FIELDS = ("sender", "recipient", "body", "created_at", "sender_name", "urgent")
    __slots__ = FIELDS

    sender: str
    recipient: str
    body: str
    created_at: float
    sender_name: str
    urgent: bool

    def __init__(self, sender: str, recipient: str, body: str, created_at: float,
                 sender_name: str = "", urgent: bool = False) -> None:
        self.sender = sender
        self.recipient = recipient
        self.body = body
        self.created_at = created_at
        self.sender_name = sender_name
        self.urgent = urgent

    def with_seq(self, seq: int) -> Message:
        return Message(seq=seq, sender=self.sender, recipient=self.recipient, body=self.body,
                       created_at=self.created_at, sender_name=self.sender_name,
                       urgent=self.urgent)


class StoreInfo(Plain):
    """What a backend can tell about itself for status and diagnostics."""

    FIELDS = ("backend", "location", "details")

    backend: str
    location: str
    details: dict[str, Any]

    def __init__(self, backend: str, location: str,
                 details: dict[str, Any] | None = None) -> None:
        self.backend = backend
        self.location = location
        self.details = {} if details is None else details
