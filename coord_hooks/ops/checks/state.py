"""Checks of the coordination state: config, store size and growth, sessions, message
backlog, locks, quarantine.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from coord_hooks import health
from coord_hooks.coordination.locks import LockView
from coord_hooks.model import ago
from coord_hooks.ops.findings import human_bytes, listed, q, q_operand
from coord_hooks.settings import SETTINGS_BY_NAME, read_config_file, user_config_file

if TYPE_CHECKING:
    from coord_hooks.ops.diagnose import Diagnosis

# Thresholds (why these numbers: see docs/health.md).
LIVE_WARN_BYTES = 50 * 1024 * 1024  # live records beyond this make every hook slower
GROWTH_WARN_PER_DAY = 20 * 1024 * 1024  # retention should hold the live part flat
BACKLOG_WARN = 50  # unread messages for one live session
BACKLOG_AGE_WARN = 3_600.0  # seconds an unread message may wait for a live session


def check_config(d: Diagnosis) -> None:
    s = d.ctx.settings
    d.stats["settings"] = {
        "backend": d.ctx.backend,
        "backend_source": s.sources.get("backend", "default"),
        "retention_messages": s.retention_messages, "lock_ttl": s.lock_ttl,
        "session_ttl": s.session_ttl, "slow_ms": s.slow_ms,
        "log_max_bytes": s.log_max_bytes, "debug": s.debug,
    }
    if d.config_error:
        d.add("config-invalid", "error", "A config file cannot be used",
                 f"{d.config_error}. Built-in defaults were used for this report.",
                 "coord config  # after fixing the file named above")
    for path in (user_config_file(), d.ctx.state_dir / "config.toml"):
        try:
            data = read_config_file(path)
        except Exception:
            continue  # already reported as config-invalid
        unknown = sorted(k for k in data if k not in SETTINGS_BY_NAME)
        if unknown:
            d.add("config-unknown-key", "warning",
                     f"{path} sets unknown setting(s): {', '.join(unknown)}",
                     "Unknown names are ignored, so the value you meant is not in effect "
                     "(a typo?). `coord config` lists the known names.",
                     f"$EDITOR {q(path)}  # rename or remove: {', '.join(unknown)}",
                     path=str(path), keys=unknown)
    if s.debug:
        d.add("debug-on", "info", "Debug timing is on (COORDINATION_DEBUG)",
                 "Each hook logs per-step timings to logs/app.log; leave it off unless "
                 "you are chasing a slow hook.",
                 "unset COORDINATION_DEBUG COORD_DEBUG")

def check_store(d: Diagnosis) -> None:
    state = d.ctx.state_dir
    usage = health.state_usage(state)
    sample = health.SizeSample(d.now, usage.bytes, usage.live_bytes, usage.files,
                               health.count_messages(state))
    health.record_sample(state, sample, min_interval=60.0)
    samples = health.load_samples(state)
    rate = health.growth(samples, d.now)
    d.stats["store"] = {
        "bytes": usage.bytes, "live_bytes": usage.live_bytes, "files": usage.files,
        "by_dir": dict(sorted(usage.by_dir.items())), "truncated": usage.truncated,
        "growth_bytes_per_day": rate.bytes_per_day,
        "growth_messages_per_day": rate.messages_per_day,
        "growth_since": rate.since, "history_samples": rate.samples,
    }
    parts = ", ".join(f"{name} {human_bytes(size)}"
                      for name, size in sorted(usage.by_dir.items(), key=lambda kv: -kv[1]))
    if rate.bytes_per_day is None:
        trend = (f"growth: not enough history yet ({rate.samples} sample(s); "
                 "needs an hour between the oldest and newest)")
    else:
        verb = "grows" if rate.bytes_per_day >= 0 else "shrinks"
        trend = (f"live data {verb} {human_bytes(abs(rate.bytes_per_day))}/day, "
                 f"{rate.messages_per_day or 0:+.0f} live messages/day "
                 f"(since {ago(d.now - (rate.since or d.now))} ago)")
    d.add("store-size", "info",
             f"State dir: {human_bytes(usage.bytes)} in {usage.files} files "
             f"(live {human_bytes(usage.live_bytes)})", f"{parts}. {trend}.")
    if usage.truncated:
        d.add("store-huge", "warning",
                 f"State dir has more than {health.MAX_WALK} files; counting stopped",
                 "Something accumulates files faster than retention removes them.",
                 "coord cleanup")
    if usage.live_bytes > LIVE_WARN_BYTES:
        d.add("store-large", "warning",
                 f"Live store data is {human_bytes(usage.live_bytes)}",
                 f"Over {human_bytes(LIVE_WARN_BYTES)} of live records slows every hook. "
                 "cleanup archives old messages, ends dead sessions and compacts the "
                 "backend.", "coord cleanup")
    if rate.bytes_per_day is not None and rate.bytes_per_day > GROWTH_WARN_PER_DAY:
        d.add("store-growth", "warning",
                 f"Live store data grows {human_bytes(rate.bytes_per_day)}/day",
                 "Retention should keep the live part roughly flat; if cleanup does not "
                 "help, lower COORD_RETENTION_MESSAGES.", "coord cleanup")

def check_sessions(d: Diagnosis) -> None:
    views = d.ctx.coordinator.sessions(include_ended=True)
    dead = [v.session for v in views if not v.live and not v.session.ended]
    d.stats["sessions"] = {
        "registered": len(views), "live": sum(1 for v in views if v.live),
        "ended": sum(1 for v in views if v.session.ended), "dead": len(dead),
    }
    if dead:
        labels = [f"{s.label()} (last seen {ago(d.now - s.last_seen)} ago)" for s in dead]
        d.add("dead-sessions", "warning",
                 f"{len(dead)} dead session(s) still registered",
                 f"Their process is gone but they were never ended: {listed(labels)}. "
                 "Their locks still show in `coord locks` until they are reaped.",
                 "coord cleanup", sessions=[s.session_id for s in dead])

def check_messages(d: Diagnosis) -> None:
    coordinator = d.ctx.coordinator
    keep = d.ctx.settings.retention_messages
    with d.ctx.store.read() as view:
        count = view.message_count()
        last = view.last_seq()
    rows = coordinator.queue()
    # Ages come from the coordinator's clock; the report is as of d.now.
    skew = d.now - coordinator.clock()
    for row in rows:
        if row.oldest_unread_age is not None:
            row.oldest_unread_age += skew
    d.stats["messages"] = {"live": count, "retention": keep, "last_seq": last}
    d.stats["queue"] = {r.session.handle: {"unread": r.unread, "urgent": r.urgent,
                                              "live": r.live,
                                              "oldest_unread_age_s": r.oldest_unread_age}
                           for r in rows}
    trigger = keep + max(10, keep // 10)  # the same slack the inline retention allows
    if count > trigger:
        blockers = [r for r in rows if r.live and r.unread]
        if blockers:
            fix = "; ".join(f"coord inbox --session {q(r.session.handle)}"
                            for r in blockers[:3]) + "; coord cleanup"
            held = listed([f"{r.session.label()} ({r.unread} unread)" for r in blockers])
            detail = ("Retention never archives a message a live session has not read: "
                      f"{held} hold(s) it back. Reading their inbox for them (marks the mail "
                      "read) lets cleanup archive.")
        else:
            fix, detail = "coord cleanup", "Nothing holds retention back; it has not run."
        d.add("retention-behind", "warning",
                 f"{count} live messages; retention keeps {keep}", detail, fix)
    else:
        d.add("messages", "info", f"{count} live messages (retention keeps {keep})")
    for row in rows:
        handle = row.session.handle
        if row.live and (row.unread >= BACKLOG_WARN or (
                row.oldest_unread_age or 0) >= BACKLOG_AGE_WARN):
            age = ago(row.oldest_unread_age or 0)
            d.add("backlog", "warning",
                     f"Session {row.session.label()} has {row.unread} unread message(s), "
                     f"oldest {age} old",
                     "A live session gets its mail at its next prompt (a bounded amount "
                     "per prompt), so a backlog means it has had no prompts for a while "
                     "or mail arrives faster than it reads. Look with `coord inbox --peek "
                     f"--session {q(handle)}`; reading it for the session marks it read.",
                     f"coord inbox --session {q(handle)}", session=row.session.session_id,
                     unread=row.unread)
        elif not row.live and row.unread:
            d.add("kept-mail", "info",
                     f"Ended session {row.session.label()} has {row.unread} unread "
                     "message(s)", "Mail to ended sessions is kept, never dropped.",
                     f"coord inbox --session {q(handle)}")

def check_locks(d: Diagnosis) -> None:
    views = d.ctx.coordinator.locks()
    orphan: list[LockView] = []
    held_orphan: list[LockView] = []
    dead: list[LockView] = []
    lapsed: list[LockView] = []
    for lv in views:
        holder = lv.holder
        if holder is None:
            (held_orphan if lv.active else orphan).append(lv)
        elif holder.ended or not d.ctx.coordinator.is_live(holder, lv.now):
            dead.append(lv)
        elif not lv.active:
            lapsed.append(lv)
    d.stats["locks"] = {"total": len(views), "active": sum(1 for v in views if v.active),
                           "dead_holder": len(dead), "orphan": len(orphan) + len(held_orphan),
                           "lapsed": len(lapsed)}
    if held_orphan:
        keys = [f"{lv.lock.key} ({lv.lock.owner[:8]}, lease ends in "
                f"{ago(lv.lock.ttl - (lv.now - lv.lock.renewed_at))})" for lv in held_orphan]
        d.add("locks-orphan", "warning",
                 f"{len(keys)} lock(s) whose holder's session record is missing",
                 f"{listed(keys)}. A lost or damaged record never frees a lock early: they "
                 "block until their lease lapses, and a holder that still runs re-registers "
                 "and keeps them. Release one now only if its session is gone.",
                 "; ".join(f"coord unlock --force {q_operand(lv.lock.key)}"
                           for lv in held_orphan[:3]),
                 keys=[lv.lock.key for lv in held_orphan])
    if dead or orphan:
        keys = [f"{lv.lock.key} ({lv.holder.label() if lv.holder else lv.lock.owner[:8]})"
                for lv in dead + orphan]
        d.add("locks-dead-holder", "warning",
                 f"{len(keys)} lock(s) held by dead, ended or unknown sessions",
                 f"{listed(keys)}. They no longer block anyone but clutter `coord locks`; "
                 "one lock can also be dropped with `coord unlock --force PATH`.",
                 "coord cleanup", keys=[lv.lock.key for lv in dead + orphan])
    if lapsed:
        keys = [f"{lv.lock.key} ({lv.holder.label() if lv.holder else '?'}, idle "
                f"{ago(lv.now - _last_active(lv))})" for lv in lapsed]
        d.add("locks-idle", "warning",
                 f"{len(lapsed)} lock(s) lapsed: their live holder has been idle past the TTL",
                 f"{listed(keys)}. Another session may take them; cleanup releases them.",
                 "coord cleanup", keys=[lv.lock.key for lv in lapsed])

def check_quarantine(d: Diagnosis) -> None:
    report = health.quarantine_report(d.ctx.state_dir, d.now)
    d.stats["quarantine"] = {"count": report["count"], "bytes": report["bytes"]}
    if report["count"]:
        folder = Path(report["path"])
        names = [f["name"] for f in report["files"]]
        d.add("quarantine", "warning",
                 f"{report['count']} quarantined file(s) ({human_bytes(report['bytes'])})",
                 f"Corrupt or unreadable records were moved aside (never deleted): "
                 f"{listed(names)}. Look at them; remove them once nothing in them is "
                 "needed.", f"ls -la {q(folder)} && rm -i {q(folder)}/*",
                 path=str(folder), files=names)


def _last_active(lv: LockView) -> float:
    return max(lv.lock.renewed_at, lv.holder.last_seen if lv.holder else 0.0)
