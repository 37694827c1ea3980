"""Turn `Coordinator` results into plain dicts (for ``--json``) and rows (for tables).

Each ``*_dict`` function fixes the keys of one JSON record; each ``*_row`` function builds
a table row *from that dict*, so whatever a person sees is also in the JSON. Ages are
seconds in the dicts and "5m ago" in the rows.

The ``*_view`` functions gather the documents behind each ``coord status`` view; they
report plainly when there is nothing to show, never invented numbers. Standard library
only: the Typer app and the standard-library path (`coord_hooks.cli.fast`) both build
their output from these, and hooks may reuse them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from coord_hooks.model import HUMAN_SENDER, ago, peer_words
from coord_hooks.settings import SECRET_SETTINGS, SETTINGS

TYPE_CHECKING = False  # typing is not imported at run time: `bin/coord` starts bare
if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path
    from typing import Any

    from coord_hooks.coordination import Coordinator
    from coord_hooks.coordination.locks import AcquireResult, LockView
    from coord_hooks.coordination.messages import QueueRow
    from coord_hooks.coordination.sessions import SessionView
    from coord_hooks.model import Lock, Message, Session
    from coord_hooks.settings import Settings

PERF_WINDOW = 1000  # most recent hook runs the performance view summarises
SLOW_SHOWN = 10  # most recent slow operations listed


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(max(0.0, seconds), 1)


def age_text(seconds: float | None) -> str:
    """``"5m ago"`` for tables; ``"-"`` when there is no time to show."""
    return "-" if seconds is None else f"{ago(seconds)} ago"


def duration_text(seconds: float) -> str:
    """A lease length such as ``30m`` or ``90s`` (``-`` for a non-finite one, as an older
    version could store)."""
    if not math.isfinite(seconds):
        return "-"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


def session_label(session_id: str, sessions: Mapping[str, Session]) -> str:
    """``abcd1234 (alice)`` for a known session, the bare handle otherwise."""
    if session_id == HUMAN_SENDER:
        return HUMAN_SENDER
    known = sessions.get(session_id)
    return known.label() if known else session_id[:8]


# --- sessions ------------------------------------------------------------------------------
SESSION_COLUMNS = ("SESSION", "NAME", "TASK", "STATE", "PID", "LAST SEEN", "LOCKS", "UNREAD",
                   "CWD")


def session_dict(view: SessionView, now: float) -> dict[str, Any]:
    s = view.session
    if view.live:
        state = "live"
    elif s.ended:
        state = "ended"
    else:
        state = "dead"
    return {
        "session_id": s.session_id,
        "handle": s.handle,
        "name": s.name,
        "task": s.task,
        "state": state,
        "live": view.live,
        "end_reason": s.end_reason,
        "pid": s.pid,
        "hostname": s.hostname,
        "cwd": s.cwd,
        "project_dir": s.project_dir,
        "model": s.model,
        "source": s.source,
        "registered_at": s.registered_at,
        "last_seen": s.last_seen,
        "ended_at": s.ended_at,
        "idle_s": _round(now - s.last_seen),
        "locks": [lk.key for lk in view.locks],
        "unread": view.unread,
    }


def session_row(d: Mapping[str, Any]) -> list[str]:
    state = d["state"] + (f" ({d['end_reason']})" if d["end_reason"] else "")
    locks: list[str] = d["locks"]
    shown = ", ".join(peer_words(key, 120) for key in locks[:3]) + (
        f" +{len(locks) - 3}" if len(locks) > 3 else "")
    # Tables are read by models too (`coord status` in a Bash tool): what peers wrote is
    # one line per cell, never a line of its own.
    return [peer_words(d["handle"], 20), peer_words(d["name"], 64) or "-",
            peer_words(d["task"]) or "-", state,
            "-" if d["pid"] is None else str(d["pid"]), age_text(d["idle_s"]),
            shown or "-", str(d["unread"]), d["cwd"] or "-"]


# --- locks ---------------------------------------------------------------------------------
LOCK_COLUMNS = ("KEY", "HOLDER", "MODE", "REASON", "TAKEN", "HOLDER ACTIVE", "LEASE", "STATE")


def lock_record(lock: Lock, holder: Session | None, active: bool, now: float
                ) -> dict[str, Any]:
    last_active = max(lock.renewed_at, holder.last_seen if holder else 0.0)
    return {
        "key": lock.key,
        "is_glob": lock.is_glob,
        "exclusive": lock.exclusive,
        "owner": lock.owner,
        "holder_handle": lock.owner[:8],
        "holder_name": holder.name if holder else "",
        "reason": lock.reason,
        "agent_id": lock.agent_id,
        "fence": lock.fence,  # fencing token (redis); 0 where the backend gives none
        "agent_type": lock.agent_type,
        "acquired_at": lock.acquired_at,
        "renewed_at": lock.renewed_at,
        "ttl_s": lock.ttl,
        "age_s": _round(now - lock.acquired_at),
        "idle_s": _round(now - last_active),
        "active": active,
    }


def lock_dict(view: LockView) -> dict[str, Any]:
    return lock_record(view.lock, view.holder, view.active, view.now)


def lock_row(d: Mapping[str, Any]) -> list[str]:
    holder = d["holder_handle"] + (f" ({d['holder_name']})" if d["holder_name"] else "")
    if d.get("agent_id"):  # held by a subagent of that session
        kind = f" {d['agent_type']}" if d.get("agent_type") else ""
        holder += f" / subagent {d['agent_id'][:8]}{kind}"
    holder = peer_words(holder, 160)
    mode = ("exclusive" if d["exclusive"] else "shared") + (" glob" if d["is_glob"] else "")
    return [peer_words(d["key"], 300), holder, mode, peer_words(d["reason"]) or "-",
            age_text(d["age_s"]),
            age_text(d["idle_s"]), duration_text(d["ttl_s"]),
            "active" if d["active"] else "lapsed"]


# --- messages ------------------------------------------------------------------------------
MESSAGE_COLUMNS = ("SEQ", "SENT", "FROM", "TO", "BODY")


def message_dict(message: Message, now: float, sessions: Mapping[str, Session]
                 ) -> dict[str, Any]:
    recipient = sessions.get(message.recipient)
    sender_handle = HUMAN_SENDER if message.sender == HUMAN_SENDER else message.sender[:8]
    return {
        "seq": message.seq,
        "created_at": message.created_at,
        "age_s": _round(now - message.created_at),
        "sender": message.sender,
        "sender_handle": sender_handle,
        "sender_name": message.sender_name,
        "recipient": message.recipient,
        "recipient_handle": "*" if message.is_broadcast else message.recipient[:8],
        "recipient_name": recipient.name if recipient else "",
        "broadcast": message.is_broadcast,
        "urgent": message.urgent,
        "body": message.body,
    }


def message_row(d: Mapping[str, Any]) -> list[str]:
    sender = d["sender_handle"]
    if d["sender_name"] and d["sender_name"] != sender:
        sender = d["sender_name"] if sender == HUMAN_SENDER else f"{sender} ({d['sender_name']})"
    if d["broadcast"]:
        to = "everyone"
    else:
        to = d["recipient_handle"] + (f" ({d['recipient_name']})" if d["recipient_name"] else "")
    body = ("URGENT: " if d["urgent"] else "") + d["body"]
    return [str(d["seq"]), age_text(d["age_s"]), sender, to, body]


def messages_dicts(messages: Iterable[Message], now: float,
                   sessions: Iterable[Session]) -> list[dict[str, Any]]:
    by_id = {s.session_id: s for s in sessions}
    return [message_dict(m, now, by_id) for m in messages]


# --- queue ---------------------------------------------------------------------------------
QUEUE_COLUMNS = ("SESSION", "STATE", "UNREAD", "URGENT", "OLDEST UNREAD")


def queue_dict(row: QueueRow) -> dict[str, Any]:
    return {
        "session_id": row.session.session_id,
        "handle": row.session.handle,
        "name": row.session.name,
        "live": row.live,
        "unread": row.unread,
        "urgent": row.urgent,
        "oldest_unread_age_s": _round(row.oldest_unread_age),
    }


def queue_row(d: Mapping[str, Any]) -> list[str]:
    label = d["handle"] + (f" ({d['name']})" if d["name"] else "")
    return [label, "live" if d["live"] else "ended", str(d["unread"]), str(d["urgent"]),
            age_text(d["oldest_unread_age_s"])]


# --- lock results --------------------------------------------------------------------------
def acquire_dict(target: str, result: AcquireResult) -> dict[str, Any]:
    """One target of ``coord lock``: granted (new or renewed) or denied with the holders."""
    lock = result.lock
    return {
        "target": target,
        "key": result.key,
        "is_glob": result.is_glob,
        "granted": result.granted,
        "renewed": result.renewed,
        "exclusive": lock.exclusive if lock else None,
        "ttl_s": lock.ttl if lock else None,
        "reason": lock.reason if lock else None,
        "conflicts": [c.to_dict() for c in result.conflicts],
        "denial": result.denial_reason() if not result.granted else None,
    }


def release_dict(target: str, key: str | None, released: Iterable[Lock], forced: bool,
                 error: str | None) -> dict[str, Any]:
    """One target of ``coord unlock``."""
    return {
        "target": target,
        "key": key,
        "released": [{"key": lk.key, "owner": lk.owner, "holder_handle": lk.owner[:8]}
                     for lk in released],
        "forced": forced,
        "error": error,
    }


# --- settings ------------------------------------------------------------------------------
CONFIG_COLUMNS = ("SETTING", "VALUE", "SOURCE", "ENVIRONMENT", "MEANING")


def settings_dict(settings: Settings) -> dict[str, dict[str, Any]]:
    """Each setting's value, where it came from, the variable that sets it, and its help."""
    result: dict[str, dict[str, Any]] = {}
    for setting in SETTINGS:
        env = setting.env + (f" or {setting.legacy_env}" if setting.legacy_env else "")
        result[setting.name] = {
            "value": shown_setting(setting.name, getattr(settings, setting.name)),
            "source": settings.sources.get(setting.name, "default"),
            "env": env,
            "help": setting.help,
        }
    return result


def shown_setting(name: str, value: Any) -> Any:
    """A setting's value as it may be printed: passwords, also inside a URL, masked."""
    if name in SECRET_SETTINGS:
        return "***" if value else ""
    if name == "redis_url" and isinstance(value, str) and "@" in value:
        scheme, sep, rest = value.partition("://")
        creds, _, host = rest.rpartition("@")
        user = creds.partition(":")[0] if ":" in creds else ""
        return f"{scheme}{sep}{user}:***@{host}"
    return value


def ignored_settings(settings: Settings) -> list[str]:
    """Keys of config files that are not settings (they are ignored)."""
    return sorted(k.split(":", 1)[1] for k in settings.sources if k.startswith("unknown:"))


def config_row(name: str, d: Mapping[str, Any]) -> list[str]:
    value = d["value"]
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return [name, text, d["source"], d["env"], d["help"]]


# --- status views -------------------------------------------------------------------------
def pending_broadcasts(details: Mapping[str, Any]) -> int:
    value = details.get("pending_broadcasts", 0)
    return value if isinstance(value, int) else 0


def overview_view(backend: str, settings: Settings, state_dir: Path, project_root: Path,
                  coordinator: Coordinator | None, details: Mapping[str, Any]
                  ) -> dict[str, Any]:
    """``coord status``: sessions, locks and the queue (all empty before any state exists)."""
    now = coordinator.clock() if coordinator is not None else 0.0
    return {
        "backend": backend,
        "state_dir": str(state_dir),
        "project_root": str(project_root),
        # A shared server (redis): where, which project (and why that name), this host.
        "store": {k: details[k] for k in ("url", "project_id", "project_source", "project",
                                           "host_id") if k in details},
        "sessions": ([session_dict(v, now) for v in coordinator.sessions()]
                     if coordinator is not None else []),
        "locks": [lock_dict(v) for v in coordinator.locks()] if coordinator is not None else [],
        "queue": [queue_dict(r) for r in coordinator.queue()] if coordinator is not None else [],
        "pending_broadcasts": pending_broadcasts(details),
        "guard": guard_view(settings, state_dir),
    }


def queue_view(backend: str, settings: Settings, coordinator: Coordinator | None,
               details: Mapping[str, Any]) -> dict[str, Any]:
    """``coord status --queue``: unread per recipient and the broadcast batch queue."""
    return {
        "backend": backend,
        "queue": [queue_dict(r) for r in coordinator.queue()] if coordinator is not None else [],
        "pending_broadcasts": pending_broadcasts(details),
        "batch": batch_view(settings, details),
    }


def cache_view(backend: str, settings: Settings, details: Mapping[str, Any]) -> dict[str, Any]:
    """What ``status --cache``/``--cache-stats`` show: the backend's ``cache`` details.

    A backend that caches puts a dict under ``StoreInfo.details["cache"]`` (TTL, entries,
    hits, misses, evictions, rebuilds, last rebuild …); it is shown as it is. A backend
    without one gets a plain note instead of numbers.
    """
    cache = details.get("cache")
    available = isinstance(cache, Mapping)
    return {
        "backend": backend,
        "cache_ttl_s": settings.cache_ttl,
        "available": available,
        "cache": dict(cache) if isinstance(cache, Mapping) else None,
        "note": None if available else f"the {backend} backend keeps no cache",
    }


def _tail_json_lines(path: Path, limit: int) -> list[dict[str, Any]]:
    """The last ``limit`` JSON-object lines of a log; unreadable lines are skipped."""
    import json

    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            # Log lines are short; 512 bytes per line is a generous bound for the window.
            handle.seek(max(0, size - limit * 512))
            raw = handle.read()
    except OSError:
        return []
    lines = raw.splitlines()
    if len(raw) < size:
        lines = lines[1:]  # the first line may be cut in half
    records = []
    for line in lines[-limit:]:
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict):
            records.append(data)
    return records


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def _duration_ms(record: Mapping[str, Any]) -> float | None:
    for name in ("ms", "duration_ms"):
        value = record.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def _event_name(record: Mapping[str, Any]) -> str | None:
    # The hook writes ``hook=<event>``; other writers may use ``event``.
    for name in ("hook", "event"):
        value = record.get(name)
        if isinstance(value, str) and value and value != "slow_operation":
            return value
    return None


def performance_view(backend: str, settings: Settings, state_dir: Path,
                     window: int = PERF_WINDOW) -> dict[str, Any]:
    """Hook latency per event over the last ``window`` runs, and recent slow operations.

    Reads ``logs/performance.log`` (one JSON line per hook run: ``hook`` or ``event``,
    and ``ms`` or ``duration_ms``) and the ``slow_operation`` lines of ``logs/app.log``.
    """
    log = state_dir / "logs" / "performance.log"
    per_event: dict[str, list[float]] = {}
    per_backend: dict[str, dict[str, list[float]]] = {}
    stamps: list[float] = []
    for record in _tail_json_lines(log, window):
        ms = _duration_ms(record)
        event = _event_name(record)
        if ms is not None and event is not None:
            per_event.setdefault(event, []).append(ms)
            run_backend = record.get("backend")
            if isinstance(run_backend, str) and run_backend:
                per_backend.setdefault(run_backend, {}).setdefault(event, []).append(ms)
            ts = record.get("ts")
            if isinstance(ts, (int, float)) and not isinstance(ts, bool):
                stamps.append(float(ts))
    events = {name: _latency(values) for name, values in sorted(per_event.items())}
    # After a `coord backend use`, the window mixes backends: each one's own figures.
    by_backend = {name: {event: _latency(values) for event, values in sorted(found.items())}
                  for name, found in sorted(per_backend.items())}
    slow = [{"ts": r.get("ts"), "event": _event_name(r) or "?", "ms": _duration_ms(r),
             "backend": r.get("backend", ""), "outcome": r.get("outcome", "")}
            for r in _tail_json_lines(state_dir / "logs" / "app.log", window)
            if r.get("event") == "slow_operation"][-SLOW_SHOWN:]
    runs = sum(e["runs"] for e in events.values())
    return {
        "backend": backend,
        "log": str(log),
        "window": window,
        "runs": runs,
        "events": events,
        "by_backend": by_backend,
        "first_ts": min(stamps) if stamps else None,
        "last_ts": max(stamps) if stamps else None,
        "slow_threshold_ms": settings.slow_ms,
        "slow_operations": slow,
        "note": None if runs else "no hook runs recorded yet",
    }


def guard_view(settings: Settings, state_dir: Path, window: int = PERF_WINDOW
               ) -> dict[str, Any]:
    """What the PreToolUse hook guards, and how its Bash checks went lately.

    Counted from the last ``window`` lines of ``logs/performance.log`` (the Bash hook
    writes ``tool``, ``outcome`` and the ``unjudged`` kinds there: no store write per
    command). ``unjudged``: commands that ran without a full check (a script, ``make``,
    a variable in a path...).
    """
    from coord_hooks.hook.tools import FILE_TOOLS

    counts = {"runs": 0, "read_only": 0, "parsed": 0, "locked": 0, "denied": 0,
              "unjudged": 0}
    kinds: dict[str, int] = {}
    for record in _tail_json_lines(state_dir / "logs" / "performance.log", window):
        if record.get("tool") != "Bash":
            continue
        counts["runs"] += 1
        outcome = record.get("outcome")
        if outcome == "read-only":
            counts["read_only"] += 1
        elif outcome in ("deny", "locked", "no-writes"):
            counts["parsed"] += 1
            if outcome == "deny":
                counts["denied"] += 1
            elif outcome == "locked":
                counts["locked"] += 1
        unjudged = record.get("unjudged")
        if isinstance(unjudged, list) and unjudged:
            counts["unjudged"] += 1
            for kind in unjudged:
                kinds[str(kind)] = kinds.get(str(kind), 0) + 1
    return {"guarded": [*FILE_TOOLS, "Bash (parsed)"], "window": window, "bash": counts,
            "unjudged_by_kind": dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
            "subagents_share_locks": settings.subagents_share_locks}


def guard_lines(d: Mapping[str, Any]) -> list[str]:
    """Two lines for ``coord status``: what is guarded, and the recent Bash figures."""
    bash = d["bash"]
    lines = ["guarded: " + ", ".join(d["guarded"])]
    if bash["runs"]:
        kinds = ", ".join(f"{k} {n}" for k, n in d["unjudged_by_kind"].items())
        lines.append(f"Bash commands (last {d['window']} hook runs): {bash['runs']} seen, "
                     f"{bash['read_only']} read-only, {bash['parsed']} parsed, "
                     f"{bash['denied']} denied, {bash['unjudged']} not judged"
                     + (f" ({kinds})" if kinds else ""))
    else:
        lines.append("Bash commands: none seen yet")
    return lines


def _latency(values: list[float]) -> dict[str, Any]:
    return {"runs": len(values), "p50_ms": round(percentile(values, 0.5), 2),
            "p95_ms": round(percentile(values, 0.95), 2), "max_ms": round(max(values), 2)}


def batch_view(settings: Settings, details: Mapping[str, Any]) -> dict[str, Any]:
    """Broadcasts waiting in the batch journal (``broadcasts.jsonl``) and the flush policy.

    Every JSON-layout backend reads queued broadcasts (they are delivered like any other
    message); only the optimized backend queues them. Others report what they know.
    """
    batch = details.get("batch")
    result: dict[str, Any] = {
        "pending": pending_broadcasts(details),
        "seqs": [],
        "oldest_age_s": None,
        "batch_size": settings.broadcast_batch_size,
        "flush_interval_s": settings.batch_flush_interval,
    }
    if isinstance(batch, Mapping):
        for key in result:
            if key in batch:
                result[key] = batch[key]
    return result


PERFORMANCE_COLUMNS = ("EVENT", "RUNS", "P50 MS", "P95 MS", "MAX MS")


def performance_row(event: str, d: Mapping[str, Any]) -> list[str]:
    return [event, str(d["runs"]), f"{d['p50_ms']:g}", f"{d['p95_ms']:g}", f"{d['max_ms']:g}"]
