"""`coord diagnose`: look at a state directory and the plugin, report problems with fixes.

Every `Finding` has a severity (``info`` / ``warning`` / ``error``) and, for anything
that is not plain information, the exact command that fixes it. The report is written as
Markdown (``performance-report.md``) and is available as JSON; the command's exit code is
non-zero iff a finding is an error.

Checks: store size and growth (from the size history, see `coord_hooks.health`), message
count vs retention, unread backlog per session, dead sessions still registered, locks held
by dead or idle sessions, quarantined files, slow operations and hook latency outliers
(``logs/performance.log``, ``logs/app.log``), state dir permissions, shims / symlink /
``hooks.json``, config files and Claude Code settings files.

Standard library only (not on the hook path, but it needs nothing more).
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coord_hooks import __version__, health, logs
from coord_hooks.context import Context, linked_backend
from coord_hooks.coordination.locks import LockView
from coord_hooks.model import ago
from coord_hooks.ops import perfstats
from coord_hooks.paths import PLUGIN_ROOT
from coord_hooks.settings import SETTINGS_BY_NAME, read_config_file, user_config_file
from coord_hooks.store import BACKENDS

REPORT_NAME = "performance-report.md"
SEVERITIES = ("error", "warning", "info")

# Thresholds (why these numbers: see docs/health.md).
LIVE_WARN_BYTES = 50 * 1024 * 1024  # live records beyond this make every hook slower
GROWTH_WARN_PER_DAY = 20 * 1024 * 1024  # retention should hold the live part flat
BACKLOG_WARN = 50  # unread messages for one live session
BACKLOG_AGE_WARN = 3_600.0  # seconds an unread message may wait for a live session
LATENCY_MIN_RUNS = 5  # fewer runs than this say nothing about a p95
PERF_WINDOW = 7 * 86_400.0  # latency statistics cover the last week of the log
ERROR_WINDOW = 86_400.0  # app.log errors younger than this are reported as warnings
MAX_LISTED = 10
# Set where Claude Code is started; each hook then logs per-step timings to logs/app.log.
DEBUG_FIX = "export COORDINATION_DEBUG=1  # per-step hook timings go to logs/app.log"


@dataclass
class Finding:
    """One observation: what, how bad, and the command that fixes it."""

    code: str
    severity: str
    title: str
    detail: str = ""
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "title": self.title,
                "detail": self.detail, "fix": self.fix, "data": self.data}


@dataclass
class Report:
    generated_at: float
    state_dir: str
    project_root: str
    backend: str
    findings: list[Finding]
    stats: dict[str, Any]
    path: str = ""

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def exit_code(self) -> int:
        return 1 if self.count("error") else 0

    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.severity != "info"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at,
            "version": __version__,
            "state_dir": self.state_dir,
            "project_root": self.project_root,
            "backend": self.backend,
            "report_path": self.path,
            "summary": {s: self.count(s) for s in SEVERITIES},
            "exit_code": self.exit_code,
            "findings": [f.to_dict() for f in self.findings],
            "stats": self.stats,
        }


def q(path: Path | str) -> str:
    """Quote a path for a shell command in a fix."""
    return shlex.quote(str(path))


def human_bytes(n: float) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover - loop always returns


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


CHECKS = ("check_config", "check_store", "check_sessions", "check_messages", "check_locks",
          "check_quarantine", "check_performance", "check_app_log", "check_log_sizes",
          "check_permissions", "check_plugin", "check_claude_settings")


class Diagnosis:
    """Runs every check against one context; `run` returns the `Report`."""

    def __init__(self, ctx: Context, now: float | None = None,
                 plugin_root: Path = PLUGIN_ROOT, home: Path | None = None,
                 config_error: str | None = None) -> None:
        self.ctx = ctx
        self.now = time.time() if now is None else now
        self.plugin_root = plugin_root
        self.home = Path.home() if home is None else home
        self.config_error = config_error
        self.findings: list[Finding] = []
        self.stats: dict[str, Any] = {}

    def add(self, code: str, severity: str, title: str, detail: str = "", fix: str = "",
            **data: Any) -> None:
        self.findings.append(Finding(code, severity, title, detail, fix, data))

    def run(self) -> Report:
        logs.ensure_logs(self.ctx.state_dir)
        for name in CHECKS:
            try:
                getattr(self, name)()
            except Exception as exc:  # one broken check must not hide the others
                self.add(f"check-failed:{name}", "warning", f"{name} could not run: {exc!r}",
                         "This is a bug in coord-hooks; the other checks still ran.")
        order = {s: i for i, s in enumerate(SEVERITIES)}
        self.findings.sort(key=lambda f: order.get(f.severity, 9))
        return Report(self.now, str(self.ctx.state_dir), str(self.ctx.project_root),
                      self.ctx.backend, self.findings, self.stats)

    # --- config and settings ------------------------------------------------------------
    def check_config(self) -> None:
        s = self.ctx.settings
        self.stats["settings"] = {
            "backend": self.ctx.backend,
            "backend_source": s.sources.get("backend", "default"),
            "retention_messages": s.retention_messages, "lock_ttl": s.lock_ttl,
            "session_ttl": s.session_ttl, "slow_ms": s.slow_ms,
            "log_max_bytes": s.log_max_bytes, "debug": s.debug,
        }
        if self.config_error:
            self.add("config-invalid", "error", "A config file cannot be used",
                     f"{self.config_error}. Built-in defaults were used for this report.",
                     "coord config  # after fixing the file named above")
        for path in (user_config_file(), self.ctx.state_dir / "config.toml"):
            try:
                data = read_config_file(path)
            except Exception:
                continue  # already reported as config-invalid
            unknown = sorted(k for k in data if k not in SETTINGS_BY_NAME)
            if unknown:
                self.add("config-unknown-key", "warning",
                         f"{path} sets unknown setting(s): {', '.join(unknown)}",
                         "Unknown names are ignored, so the value you meant is not in effect "
                         "(a typo?). `coord config` lists the known names.",
                         f"$EDITOR {q(path)}  # rename or remove: {', '.join(unknown)}",
                         path=str(path), keys=unknown)
        if s.debug:
            self.add("debug-on", "info", "Debug timing is on (COORDINATION_DEBUG)",
                     "Each hook logs per-step timings to logs/app.log; leave it off unless "
                     "you are chasing a slow hook.",
                     "unset COORDINATION_DEBUG COORD_DEBUG")

    # --- store size and growth ----------------------------------------------------------
    def check_store(self) -> None:
        state = self.ctx.state_dir
        usage = health.state_usage(state)
        sample = health.SizeSample(self.now, usage.bytes, usage.live_bytes, usage.files,
                                   health.count_messages(state))
        health.record_sample(state, sample, min_interval=60.0)
        samples = health.load_samples(state)
        rate = health.growth(samples, self.now)
        self.stats["store"] = {
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
                     f"(since {ago(self.now - (rate.since or self.now))} ago)")
        self.add("store-size", "info",
                 f"State dir: {human_bytes(usage.bytes)} in {usage.files} files "
                 f"(live {human_bytes(usage.live_bytes)})", f"{parts}. {trend}.")
        if usage.truncated:
            self.add("store-huge", "warning",
                     f"State dir has more than {health.MAX_WALK} files; counting stopped",
                     "Something accumulates files faster than retention removes them.",
                     "coord cleanup")
        if usage.live_bytes > LIVE_WARN_BYTES:
            self.add("store-large", "warning",
                     f"Live store data is {human_bytes(usage.live_bytes)}",
                     f"Over {human_bytes(LIVE_WARN_BYTES)} of live records slows every hook. "
                     "cleanup archives old messages, ends dead sessions and compacts the "
                     "backend.", "coord cleanup")
        if rate.bytes_per_day is not None and rate.bytes_per_day > GROWTH_WARN_PER_DAY:
            self.add("store-growth", "warning",
                     f"Live store data grows {human_bytes(rate.bytes_per_day)}/day",
                     "Retention should keep the live part roughly flat; if cleanup does not "
                     "help, lower COORD_RETENTION_MESSAGES.", "coord cleanup")

    # --- sessions, messages, locks -------------------------------------------------------
    def check_sessions(self) -> None:
        views = self.ctx.coordinator.sessions(include_ended=True)
        dead = [v.session for v in views if not v.live and not v.session.ended]
        self.stats["sessions"] = {
            "registered": len(views), "live": sum(1 for v in views if v.live),
            "ended": sum(1 for v in views if v.session.ended), "dead": len(dead),
        }
        if dead:
            labels = [f"{s.label()} (last seen {ago(self.now - s.last_seen)} ago)" for s in dead]
            self.add("dead-sessions", "warning",
                     f"{len(dead)} dead session(s) still registered",
                     f"Their process is gone but they were never ended: {_listed(labels)}. "
                     "Their locks still show in `coord locks` until they are reaped.",
                     "coord cleanup", sessions=[s.session_id for s in dead])

    def check_messages(self) -> None:
        coordinator = self.ctx.coordinator
        keep = self.ctx.settings.retention_messages
        with self.ctx.store.read() as view:
            count = view.message_count()
            last = view.last_seq()
        rows = coordinator.queue()
        # Ages come from the coordinator's clock; the report is as of self.now.
        skew = self.now - coordinator.clock()
        for row in rows:
            if row.oldest_unread_age is not None:
                row.oldest_unread_age += skew
        self.stats["messages"] = {"live": count, "retention": keep, "last_seq": last}
        self.stats["queue"] = {r.session.handle: {"unread": r.unread, "urgent": r.urgent,
                                                  "live": r.live,
                                                  "oldest_unread_age_s": r.oldest_unread_age}
                               for r in rows}
        trigger = keep + max(10, keep // 10)  # the same slack the inline retention allows
        if count > trigger:
            blockers = [r for r in rows if r.live and r.unread]
            if blockers:
                fix = "; ".join(f"coord inbox --session {r.session.handle}"
                                for r in blockers[:3]) + "; coord cleanup"
                held = _listed([f"{r.session.label()} ({r.unread} unread)" for r in blockers])
                detail = ("Retention never archives a message a live session has not read: "
                          f"{held} hold(s) it back. Reading their inbox for them (marks the mail "
                          "read) lets cleanup archive.")
            else:
                fix, detail = "coord cleanup", "Nothing holds retention back; it has not run."
            self.add("retention-behind", "warning",
                     f"{count} live messages; retention keeps {keep}", detail, fix)
        else:
            self.add("messages", "info", f"{count} live messages (retention keeps {keep})")
        for row in rows:
            handle = row.session.handle
            if row.live and (row.unread >= BACKLOG_WARN or (
                    row.oldest_unread_age or 0) >= BACKLOG_AGE_WARN):
                age = ago(row.oldest_unread_age or 0)
                self.add("backlog", "warning",
                         f"Session {row.session.label()} has {row.unread} unread message(s), "
                         f"oldest {age} old",
                         "A live session gets its mail at its next prompt (a bounded amount "
                         "per prompt), so a backlog means it has had no prompts for a while "
                         "or mail arrives faster than it reads. Look with `coord inbox --peek "
                         f"--session {handle}`; reading it for the session marks it read.",
                         f"coord inbox --session {handle}", session=row.session.session_id,
                         unread=row.unread)
            elif not row.live and row.unread:
                self.add("kept-mail", "info",
                         f"Ended session {row.session.label()} has {row.unread} unread "
                         "message(s)", "Mail to ended sessions is kept, never dropped.",
                         f"coord inbox --session {handle}")

    def check_locks(self) -> None:
        views = self.ctx.coordinator.locks()
        orphan, dead, lapsed = [], [], []
        for lv in views:
            holder = lv.holder
            if holder is None:
                orphan.append(lv)
            elif holder.ended or not self.ctx.coordinator.is_live(holder, lv.now):
                dead.append(lv)
            elif not lv.active:
                lapsed.append(lv)
        self.stats["locks"] = {"total": len(views), "active": sum(1 for v in views if v.active),
                               "dead_holder": len(dead), "orphan": len(orphan),
                               "lapsed": len(lapsed)}
        if dead or orphan:
            keys = [f"{lv.lock.key} ({lv.holder.label() if lv.holder else lv.lock.owner[:8]})"
                    for lv in dead + orphan]
            self.add("locks-dead-holder", "warning",
                     f"{len(keys)} lock(s) held by dead, ended or unknown sessions",
                     f"{_listed(keys)}. They no longer block anyone but clutter `coord locks`; "
                     "one lock can also be dropped with `coord unlock --force PATH`.",
                     "coord cleanup", keys=[lv.lock.key for lv in dead + orphan])
        if lapsed:
            keys = [f"{lv.lock.key} ({lv.holder.label() if lv.holder else '?'}, idle "
                    f"{ago(lv.now - _last_active(lv))})" for lv in lapsed]
            self.add("locks-idle", "warning",
                     f"{len(lapsed)} lock(s) lapsed: their live holder has been idle past the TTL",
                     f"{_listed(keys)}. Another session may take them; cleanup releases them.",
                     "coord cleanup", keys=[lv.lock.key for lv in lapsed])

    def check_quarantine(self) -> None:
        report = health.quarantine_report(self.ctx.state_dir, self.now)
        self.stats["quarantine"] = {"count": report["count"], "bytes": report["bytes"]}
        if report["count"]:
            folder = Path(report["path"])
            names = [f["name"] for f in report["files"]]
            self.add("quarantine", "warning",
                     f"{report['count']} quarantined file(s) ({human_bytes(report['bytes'])})",
                     f"Corrupt or unreadable records were moved aside (never deleted): "
                     f"{_listed(names)}. Look at them; remove them once nothing in them is "
                     "needed.", f"ls -la {q(folder)} && rm -i {q(folder)}/*",
                     path=str(folder), files=names)

    # --- logs ---------------------------------------------------------------------------
    def check_performance(self) -> None:
        slow_ms = self.ctx.settings.slow_ms
        perf_log = logs.log_dir(self.ctx.state_dir) / logs.PERFORMANCE_LOG
        runs = perfstats.runs_from(logs.read_records(perf_log), since=self.now - PERF_WINDOW)
        stats = perfstats.summarize(runs, slow_ms)
        self.stats["latency"] = [s.to_dict() for s in stats]
        if not runs:
            self.add("no-hook-runs", "info", "No hook runs recorded in the last week",
                     f"Hooks append one line per run to {perf_log}. If sessions are running, "
                     "check that the hooks are installed.", "coord doctor")
            return
        for s in stats:
            if s.runs >= LATENCY_MIN_RUNS and s.p95_ms >= slow_ms:
                self.add("hook-latency", "warning",
                         f"{s.event} hooks are slow: p95 {s.p95_ms:.0f} ms over {s.runs} runs "
                         f"(slow_ms {slow_ms:.0f})", self._latency_advice(),
                         self._latency_fix(), event=s.event, p95_ms=s.p95_ms)
        outliers = sorted((r for r in runs if r.ms >= slow_ms), key=lambda r: -r.ms)
        self.stats["latency_outliers"] = [
            {"ts": r.ts, "event": r.event, "ms": round(r.ms, 1)} for r in outliers[:MAX_LISTED]]
        if outliers:
            top = [f"{r.event} {r.ms:.0f} ms ({ago(self.now - r.ts)} ago)"
                   for r in outliers[:5]]
            self.add("latency-outliers", "info",
                     f"{len(outliers)} of {len(runs)} hook runs took ≥ {slow_ms:.0f} ms",
                     f"Slowest: {', '.join(top)}. Occasional outliers (cold disk cache, a "
                     "busy machine) are normal; a pattern is not.",
                     DEBUG_FIX)

    def _latency_advice(self) -> str:
        return ("Hooks run before every edit; a slow hook slows every session. "
                "Per-step timings (COORDINATION_DEBUG=1) show which step it is.")

    def _latency_fix(self) -> str:
        if self.ctx.backend == "legacy":
            return "coord backend use optimized"
        with self.ctx.store.read() as view:
            if view.message_count() > self.ctx.settings.retention_messages:
                return "coord cleanup"
        return DEBUG_FIX

    def check_app_log(self) -> None:
        app_log = logs.log_dir(self.ctx.state_dir) / logs.APP_LOG
        slow: list[perfstats.Run] = []
        errors: Counter[str] = Counter()
        warnings: Counter[str] = Counter()
        for record in logs.read_records(app_log):
            ts = record.get("ts")
            if not isinstance(ts, (int, float)):
                continue
            if record.get("event") == "slow_operation" and ts >= self.now - PERF_WINDOW:
                ms = logs.duration_ms(record)
                slow.append(perfstats.Run(float(ts), logs.event_name(record), ms or 0.0))
            elif record.get("level") == "error" and ts >= self.now - ERROR_WINDOW:
                errors[str(record.get("event", "?"))] += 1
            elif record.get("level") == "warning" and ts >= self.now - PERF_WINDOW:
                warnings[str(record.get("event", "?"))] += 1
        self.stats["app_log"] = {"slow_operations": len(slow), "errors_24h": dict(errors),
                                 "warnings_7d": dict(warnings)}
        if slow:
            by_op = Counter(r.event for r in slow)
            self.add("slow-operations", "warning" if len(slow) >= 20 else "info",
                     f"{len(slow)} slow_operation line(s) in app.log this week",
                     "By operation: " + ", ".join(f"{op} ×{n}" for op, n in by_op.most_common(5))
                     + ".", DEBUG_FIX,
                     operations=dict(by_op))
        if errors:
            self.add("app-errors", "warning",
                     f"{sum(errors.values())} error(s) logged in the last 24 h",
                     "Events: " + ", ".join(f"{e} ×{n}" for e, n in errors.most_common(5))
                     + ". Hooks fail open (the edit goes ahead), so errors are easy to miss.",
                     f"grep '\"level\": \"error\"' {q(app_log)} | tail -n 20",
                     events=dict(errors))
        if warnings:
            self.add("app-warnings", "info",
                     f"{sum(warnings.values())} warning(s) logged this week",
                     "Events: " + ", ".join(f"{e} ×{n}" for e, n in warnings.most_common(5))
                     + ".")

    def check_log_sizes(self) -> None:
        cap = self.ctx.settings.log_max_bytes
        folder = logs.log_dir(self.ctx.state_dir)
        sizes: dict[str, int] = {}
        for name in (logs.APP_LOG, logs.PERFORMANCE_LOG):
            for path in logs.generations(folder / name):
                try:
                    sizes[path.name] = path.stat().st_size
                except OSError:
                    continue
        self.stats["logs"] = {"cap_bytes": cap, "files": sizes}
        too_big = [n for n, size in sizes.items() if cap > 0 and size > 2 * cap + logs.MAX_LINE]
        if too_big:
            self.add("log-not-rotating", "warning",
                     f"Log file(s) past twice the cap: {', '.join(too_big)}",
                     f"Logs rotate at log_max_bytes ({human_bytes(cap)}); rotation needs write "
                     "access to the logs folder.", f"ls -la {q(folder)}")

    # --- permissions ----------------------------------------------------------------------
    def check_permissions(self) -> None:
        state = self.ctx.state_dir
        loose: list[str] = []
        world_writable: list[str] = []
        foreign: list[str] = []
        uid = os.getuid() if hasattr(os, "getuid") else None
        seen = 0
        stack = [state]
        while stack and seen < health.MAX_WALK:
            folder = stack.pop()
            try:
                st = os.lstat(folder)
            except OSError:
                continue
            self._mode_check(folder, st, state, loose, world_writable, foreign, uid)
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        seen += 1
                        if entry.is_symlink():
                            continue
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                            continue
                        try:
                            est = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        self._mode_check(Path(entry.path), est, state, loose, world_writable,
                                         foreign, uid)
            except OSError:
                continue
        self.stats["permissions"] = {"loose": len(loose), "world_writable": len(world_writable),
                                     "foreign_owner": len(foreign)}
        if world_writable:
            self.add("perm-world-writable", "error",
                     f"{len(world_writable)} state path(s) are writable by other users",
                     f"{_listed(world_writable)}. Anyone on the machine could forge locks or "
                     "messages. The state dir should be 0700 and its files 0600.",
                     f"chmod -R go-rwx {q(state)}")
        elif loose:
            self.add("perm-loose", "warning",
                     f"{len(loose)} state path(s) are readable by other users",
                     f"{_listed(loose)}. Messages may hold private text; the state dir should "
                     "be 0700 and its files 0600.", f"chmod -R go-rwx {q(state)}")
        if foreign:
            self.add("perm-owner", "warning",
                     f"{len(foreign)} state path(s) belong to another user",
                     f"{_listed(foreign)}. Hooks running as you cannot rewrite them.",
                     f"sudo chown -R \"$(id -u):$(id -g)\" {q(state)}")

    @staticmethod
    def _mode_check(path: Path, st: os.stat_result, state: Path, loose: list[str],
                    world_writable: list[str], foreign: list[str], uid: int | None) -> None:
        rel = str(path.relative_to(state)) if path != state else "."
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o002:
            world_writable.append(f"{rel} ({mode:04o})")
        elif mode & 0o077:
            loose.append(f"{rel} ({mode:04o})")
        if uid is not None and st.st_uid != uid:
            foreign.append(rel)

    # --- plugin files -------------------------------------------------------------------
    def check_plugin(self) -> None:
        root = self.plugin_root
        shims = root / "shims"
        hooks_files = [p for p in (root / "hooks.json", root / "hooks" / "hooks.json")
                       if p.exists()]
        self.stats["plugin"] = {"root": str(root), "hooks_json": [str(p) for p in hooks_files],
                                "shims": shims.is_dir(),
                                "linked_backend": linked_backend(shims / "hooks.sh")}
        if not hooks_files and not shims.is_dir():
            self.add("plugin-absent", "info",
                     f"No plugin files at {root} (hooks.json, shims/)",
                     "coord-hooks runs from an installed package here; hooks come from "
                     "`coord install` or the plugin's own copy.")
            return
        checkout = (root / ".git").exists()
        for path in hooks_files:
            self._check_hooks_json(path, checkout)
        if not shims.is_dir():
            self.add("shims-missing", "error", f"{shims} is missing",
                     "hooks.json runs the hooks through these shims.", "coord shims generate")
            return
        link = shims / "hooks.sh"
        if not os.path.lexists(link):
            self.add("shim-link-missing", "error", f"{link} is missing",
                     "Every hook runs through it; without it no hook runs.",
                     "coord shims generate")
        elif not link.is_symlink():
            self.add("shim-link-not-symlink", "warning",
                     f"{link} is a regular file, not a symlink",
                     "The backend switch (`coord backend use`) flips this symlink.",
                     "coord backend use optimized")
        elif not link.exists():
            self.add("shim-link-dangling", "error",
                     f"{link} points to {os.readlink(link)}, which does not exist",
                     "Every hook runs through it; a dangling link means no hook runs.",
                     "coord shims generate")
        elif linked_backend(link) is None:
            self.add("shim-link-unknown", "warning",
                     f"{link} points to {os.readlink(link)}, not to a hooks-<backend>.sh "
                     f"shim ({', '.join(sorted(BACKENDS))})", "",
                     "coord backend use optimized")
        for shim in sorted(shims.glob("hooks-*.sh")):
            if not os.access(shim, os.X_OK):
                self.add("shim-not-executable", "error", f"{shim} is not executable",
                         "Claude Code cannot run it; the hooks that use it fail open.",
                         f"chmod +x {q(shim)}")
        launcher = root / "bin" / "coord"
        if launcher.exists() and not os.access(launcher, os.X_OK):
            self.add("bin-not-executable", "error", f"{launcher} is not executable",
                     "The model's Bash tool runs `coord` through it.", f"chmod +x {q(launcher)}")

    def _check_hooks_json(self, path: Path, checkout: bool) -> None:
        fix = (f"git -C {q(self.plugin_root)} checkout -- {q(path.relative_to(self.plugin_root))}"
               if checkout else "claude plugin install coord-hooks  # reinstall the plugin")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            self.add("hooks-json-invalid", "error", f"{path} is not valid JSON",
                     f"{exc}. Claude Code ignores a hooks file it cannot parse: no hook runs.",
                     fix)
            return
        if not isinstance(data, dict) or not isinstance(data.get("hooks"), dict):
            self.add("hooks-json-shape", "error", f"{path} has no \"hooks\" object",
                     "Claude Code expects {\"hooks\": {EVENT: [...]}}.", fix)
            return
        missing = sorted({shim for shim in _shim_refs(data)
                          if not (self.plugin_root / shim).exists()})
        if missing:
            self.add("hooks-json-target", "error",
                     f"{path.name} runs {', '.join(missing)}, which does not exist",
                     "Those hooks fail every time they fire.", "coord shims generate")

    def check_claude_settings(self) -> None:
        candidates = [
            ("project", self.ctx.project_root / ".claude" / "settings.json"),
            ("local", self.ctx.project_root / ".claude" / "settings.local.json"),
            ("user", self.home / ".claude" / "settings.json"),
        ]
        checked = []
        for scope, path in candidates:
            if not path.exists():
                continue
            checked.append(str(path))
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                self.add("claude-settings-invalid", "error",
                         f"Claude Code settings file {path} is not valid JSON",
                         f"{exc}. Claude Code skips the whole file, hooks included.",
                         f"python3 -m json.tool {q(path)}  # shows where, then fix it")
                continue
            hooks = data.get("hooks") if isinstance(data, dict) else None
            if not isinstance(hooks, dict):
                continue
            missing = sorted({cmd for cmd in _commands(hooks) if _broken_shim(cmd)})
            if missing:
                self.add("claude-settings-hook-missing", "error",
                         f"{path} runs coord hooks that do not exist",
                         f"{_listed(missing)}. Those hooks fail every time they fire.",
                         f"coord install --scope {scope}")
        self.stats["claude_settings"] = checked


def _last_active(lv: LockView) -> float:
    return max(lv.lock.renewed_at, lv.holder.last_seen if lv.holder else 0.0)


def _commands(node: Any) -> list[str]:
    """Every ``"command"`` string (and exec-form ``args``) in a hooks structure."""
    found: list[str] = []
    if isinstance(node, dict):
        command = node.get("command")
        if isinstance(command, str):
            args = node.get("args")
            extra = [a for a in args if isinstance(a, str)] if isinstance(args, list) else []
            found.append(shlex.join([command, *extra]) if extra else command)
        for value in node.values():
            if isinstance(value, (dict, list)):
                found.extend(_commands(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_commands(item))
    return found


def _shim_refs(hooks_json: Any) -> list[str]:
    """``shims/<name>.sh`` paths that a plugin hooks file runs (relative to the plugin)."""
    refs = []
    for command in _commands(hooks_json):
        for token in _tokens(command):
            marker = token.find("shims/")
            if marker >= 0 and token.endswith(".sh"):
                refs.append(token[marker:])
    return refs


def _broken_shim(command: str) -> bool:
    """Does this settings command run a coord shim file that is not there?"""
    for token in _tokens(command):
        name = os.path.basename(token)
        if name == "hooks.sh" or (name.startswith("hooks-") and name.endswith(".sh")):
            if "$" in token:  # ${CLAUDE_PLUGIN_ROOT} and friends: resolved by Claude Code
                continue
            if not os.path.exists(os.path.expanduser(token)):
                return True
    return False


def _tokens(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def diagnose(ctx: Context, now: float | None = None, plugin_root: Path = PLUGIN_ROOT,
             home: Path | None = None, config_error: str | None = None) -> Report:
    """Run every check; see `Diagnosis`."""
    return Diagnosis(ctx, now, plugin_root, home, config_error).run()


# --- rendering --------------------------------------------------------------------------
_BADGE = {"error": "ERROR", "warning": "WARNING", "info": "info"}


def render_markdown(report: Report) -> str:
    """The report as Markdown, problems first, then the figures behind them."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(report.generated_at))
    s = report.stats
    lines = [
        "# coord-hooks performance report",
        "",
        f"Generated {stamp} by coord-hooks {__version__} · state dir `{report.state_dir}` · "
        f"backend `{report.backend}`",
        "",
        f"**{report.count('error')} error(s), {report.count('warning')} warning(s), "
        f"{report.count('info')} note(s)** — exit code {report.exit_code}",
        "",
        "## Findings",
        "",
    ]
    for finding in report.findings:
        lines.append(f"### [{_BADGE.get(finding.severity, finding.severity)}] {finding.title}")
        lines.append("")
        if finding.detail:
            lines += [finding.detail, ""]
        if finding.fix:
            lines += [f"Fix: `{finding.fix}`", ""]
    store = s.get("store")
    if store:
        lines += ["## Store", "", "| part | size |", "| --- | ---: |"]
        for name, size in store["by_dir"].items():
            lines.append(f"| {name} | {human_bytes(size)} |")
        lines.append(f"| **total** ({store['files']} files) | {human_bytes(store['bytes'])} |")
        growth = store.get("growth_bytes_per_day")
        lines += ["", "Growth of live data: " + (
            f"{human_bytes(growth)}/day over {store['history_samples']} samples"
            if growth is not None else "not enough history yet") + ".", ""]
    sessions, messages, locks = s.get("sessions"), s.get("messages"), s.get("locks")
    if sessions or messages or locks:
        lines += ["## Coordination", ""]
        if sessions:
            lines.append(f"- sessions: {sessions['live']} live, {sessions['ended']} ended, "
                         f"{sessions['dead']} dead (not yet reaped)")
        if messages:
            lines.append(f"- messages: {messages['live']} live, retention "
                         f"{messages['retention']}, last seq {messages['last_seq']}")
        if locks:
            lines.append(f"- locks: {locks['total']} ({locks['active']} active, "
                         f"{locks['dead_holder'] + locks['orphan']} dead holder, "
                         f"{locks['lapsed']} lapsed)")
        queue = s.get("queue") or {}
        if queue:
            lines.append("- unread: " + ", ".join(f"{h} {v['unread']}" for h, v in queue.items()))
        lines.append("")
    latency = s.get("latency")
    if latency:
        lines += ["## Hook latency (logs/performance.log, last 7 days)", "",
                  "| event | runs | p50 ms | p95 ms | max ms | slow |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for row in latency:
            lines.append(f"| {row['event']} | {row['runs']} | {row['p50_ms']} | "
                         f"{row['p95_ms']} | {row['max_ms']} | {row['slow']} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_report(report: Report, path: Path) -> Path:
    """Write the Markdown report (0600) and remember where."""
    from coord_hooks.fsio import atomic_write_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, render_markdown(report).encode("utf-8"), durable=False)
    report.path = str(path)
    return path


def default_report_path(ctx: Context) -> Path:
    return ctx.state_dir / REPORT_NAME


def open_for_diagnosis(backend: str | None = None) -> tuple[Context, str | None]:
    """`open_context`, or — when a config file is broken — defaults plus the error.

    Diagnose must still run (and name the bad file) when the config cannot be loaded.
    """
    from coord_hooks.context import choose_backend, open_context
    from coord_hooks.coordination import Coordinator
    from coord_hooks.errors import ConfigError
    from coord_hooks.paths import find_project_root, resolve_state_dir
    from coord_hooks.settings import Settings
    from coord_hooks.store import open_store

    try:
        return open_context(backend=backend), None
    except ConfigError as exc:
        settings = Settings(sources={})
        project_root, state_dir = find_project_root(), resolve_state_dir()
        chosen = choose_backend(settings, backend, {})
        store = open_store(chosen, state_dir, lock_timeout=settings.store_lock_timeout)
        coordinator = Coordinator(store, settings, project_root, state_dir)
        return Context(settings, project_root, state_dir, chosen, store, coordinator), str(exc)
