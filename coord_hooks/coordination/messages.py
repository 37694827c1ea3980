"""Messages and their delivery: send, broadcast, inbox, history, hook delivery, the queue.

One read cursor per session over one message sequence; hooks deliver through
`coordination.delivery` (at least once: the cursor moves only after the hook's output
is out), `coord inbox` marks everything read. A broadcast reaches the sessions that were
registered when it was sent (`addressed_to`), never its sender.

Every function takes the `Coordinator` as its first argument. Standard library only
(the prompt and post-tool hooks deliver through `coordination.delivery`).
"""

from __future__ import annotations

from coord_hooks.coordination.sessions import is_live, resolve
from coord_hooks.errors import InvalidMessageError, NoSessionError, StoreError
from coord_hooks.model import BROADCAST, HUMAN_SENDER, Message, NewMessage, Plain, Session

TYPE_CHECKING = False
if TYPE_CHECKING:  # the hook path never imports typing, nor store.base (Protocols need it)
    from coord_hooks.coordination import Coordinator
    from coord_hooks.store.base import StoreReader, StoreWriter

# Control characters a body loses (tab and newline stay): a str.translate table, not a
# regex, so that the delivering hooks, which import this module, never load `re`.
_CONTROL = dict.fromkeys([*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)])


class QueueRow(Plain):
    FIELDS = ("session", "live", "unread", "urgent", "oldest_unread_age")

    def __init__(self, session: Session, live: bool, unread: int, urgent: int,
                 oldest_unread_age: float | None) -> None:
        self.session = session
        self.live = live
        self.unread = unread
        self.urgent = urgent
        self.oldest_unread_age = oldest_unread_age


def addressed_to(message: Message, session: Session) -> bool:
    """Is ``message`` meant for ``session`` (and not its own broadcast)?"""
    if message.recipient == session.session_id:
        return True
    return (message.recipient == BROADCAST and message.sender != session.session_id
            and message.seq > session.registered_seq)


def clean_body(body: str, limit: int) -> str:
    """Validate a message body: strip control characters, refuse empty/long/binary."""
    if "\x00" in body or any("\udc80" <= ch <= "\udcff" for ch in body):
        raise InvalidMessageError("message looks binary (NUL bytes or invalid UTF-8); "
                                  "nothing was sent")
    cleaned = body.replace("\r\n", "\n").translate(_CONTROL).strip()
    if not cleaned:
        raise InvalidMessageError("message is empty; nothing was sent")
    if len(cleaned) > limit:
        raise InvalidMessageError(
            f"message is {len(cleaned)} characters, the limit is {limit} "
            "(COORD_MAX_MESSAGE_CHARS); nothing was sent")
    return cleaned


# --- sending ---------------------------------------------------------------------------
def send(c: Coordinator, sender_id: str | None, handle: str, body: str,
         urgent: bool = False) -> Message:
    """Send a direct message to the session ``handle`` names (ended sessions too)."""
    text = clean_body(body, c.settings.max_message_chars)
    with c.store.read() as view:
        recipient = resolve(c, handle, view.sessions())
    return _append(c, sender_id, recipient.session_id, text, urgent)


def broadcast(c: Coordinator, sender_id: str | None, body: str,
              urgent: bool = False) -> Message:
    """Send to every live session (each receives it exactly once)."""
    text = clean_body(body, c.settings.max_message_chars)
    return _append(c, sender_id, BROADCAST, text, urgent)


def _sender(tx: StoreReader, sender_id: str | None) -> tuple[str, str]:
    if not sender_id:
        import getpass  # lazy: only human senders need it

        try:
            user = getpass.getuser()
        except Exception:
            user = "user"
        return HUMAN_SENDER, f"{user} (human)"
    session = tx.get_session(sender_id)
    return sender_id, session.name if session and session.name else sender_id[:8]


def _append(c: Coordinator, sender_id: str | None, recipient: str, text: str,
            urgent: bool) -> Message:
    now = c.clock()
    with c.store.transaction() as tx:
        sender, sender_name = _sender(tx, sender_id)
        message = tx.append_message(NewMessage(sender=sender, recipient=recipient,
                                               body=text, created_at=now,
                                               sender_name=sender_name, urgent=urgent))
        keep = c.settings.retention_messages
        if tx.message_count() > keep + max(10, keep // 10):
            _retain_after(c, tx, now, message)
    return message


def _retain_after(c: Coordinator, tx: StoreWriter, now: float, message: Message) -> None:
    """Retention after a send: housekeeping, so its failure never fails the send.

    The archive is appended before any live message is removed, so a failed archive
    leaves the store as it was and the message is committed with the transaction; the
    caller reports a warning instead of an error (and never sends again).
    """
    from coord_hooks.coordination.retention import retain_in  # rarely due

    try:
        retain_in(c, tx, now)
    except (StoreError, OSError) as exc:
        reason = str(exc) if isinstance(exc, StoreError) else f"{exc.strerror or exc}"
        c.warnings.append(f"message #{message.seq} was stored, but archiving older "
                          f"messages failed: {reason}")
        if c.state_dir is not None:
            from coord_hooks import logs

            logs.log_event(c.state_dir, "warning", "retention_failed", seq=message.seq,
                           error=reason)


# --- reading ---------------------------------------------------------------------------
def inbox(c: Coordinator, session_id: str, peek: bool = False) -> list[Message]:
    """Unread messages for a session; marks them read unless ``peek``."""
    if peek:
        from coord_hooks.coordination.delivery import unread

        with c.store.read() as view:
            return unread(view, require(view, session_id))
    from coord_hooks.coordination.delivery import mark_all_read, unread

    with c.store.transaction() as tx:
        session = require(tx, session_id)
        found = unread(tx, session)
        before = (session.cursor, session.delivery)
        mark_all_read(c, tx, session)
        if (session.cursor, session.delivery) != before:
            tx.put_session(session)
    return found


def history(c: Coordinator, session_id: str | None = None,
            archived: bool = False) -> list[Message]:
    """Messages, read or not; for one session (its own mail) or all of them."""
    with c.store.read() as view:
        session = require(view, session_id) if session_id else None
        live = view.messages_after(0)
    messages = list(c.store.archived_messages()) if archived else []
    seen = {m.seq for m in messages}
    messages += [m for m in live if m.seq not in seen]
    if session is not None:
        messages = [m for m in messages if addressed_to(m, session)
                    or m.sender == session.session_id]
    return messages


def require(view: StoreReader, session_id: str) -> Session:
    session = view.get_session(session_id)
    if session is None:
        raise NoSessionError(f"session {session_id} is not registered")
    return session


# --- the queue -------------------------------------------------------------------------
def unread_counts(view: StoreReader, sessions: list[Session]
                  ) -> dict[str, tuple[int, int, float | None]]:
    """Per session id: (unread, urgent unread, oldest unread's creation time)."""
    from coord_hooks.coordination.delivery import acked

    if not sessions:
        return {}
    floor = min(s.cursor for s in sessions)
    pending = view.messages_after(floor)
    counts: dict[str, tuple[int, int, float | None]] = {}
    for s in sessions:
        # An ended session keeps its direct mail and the broadcasts it missed while
        # live; broadcasts sent after it ended are no backlog of its own (counting
        # them would grow without end in `status --queue`).
        done = acked(s)
        mine = [m for m in pending if m.seq > s.cursor and addressed_to(m, s)
                and m.seq not in done
                and not (m.is_broadcast and s.ended_at is not None
                         and m.created_at > s.ended_at)]
        oldest = min((m.created_at for m in mine), default=None)
        counts[s.session_id] = (len(mine), sum(m.urgent for m in mine), oldest)
    return counts


def queue(c: Coordinator) -> list[QueueRow]:
    """Unread counts per recipient: live sessions, and ended ones with mail left."""
    now = c.clock()
    with c.store.read() as view:
        sessions = view.sessions()
        counts = unread_counts(view, sessions)
    rows = []
    for s in sorted(sessions, key=lambda s: s.registered_at):
        unread, urgent, oldest = counts.get(s.session_id, (0, 0, None))
        live = is_live(c, s, now)
        if live or unread:
            rows.append(QueueRow(s, live, unread, urgent,
                                 None if oldest is None else now - oldest))
    return rows
