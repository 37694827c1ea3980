"""Checks of the logs: hook latency (performance.log), errors and slow operations
(app.log), and whether the logs rotate.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from coord_hooks import logs
from coord_hooks.model import ago
from coord_hooks.ops import perfstats
from coord_hooks.ops.findings import DEBUG_FIX, MAX_LISTED, human_bytes, q

if TYPE_CHECKING:
    from coord_hooks.ops.diagnose import Diagnosis

LATENCY_MIN_RUNS = 5  # fewer runs than this say nothing about a p95
PERF_WINDOW = 7 * 86_400.0  # latency statistics cover the last week of the log
ERROR_WINDOW = 86_400.0  # app.log errors younger than this are reported as warnings


def check_performance(d: Diagnosis) -> None:
    slow_ms = d.ctx.settings.slow_ms
    perf_log = logs.log_dir(d.ctx.state_dir) / logs.PERFORMANCE_LOG
    runs = perfstats.runs_from(logs.read_records(perf_log), since=d.now - PERF_WINDOW)
    stats = perfstats.summarize(runs, slow_ms)
    d.stats["latency"] = [s.to_dict() for s in stats]
    if not runs:
        d.add("no-hook-runs", "info", "No hook runs recorded in the last week",
                 f"Hooks append one line per run to {perf_log}. If sessions are running, "
                 "check that the hooks are installed.", "coord doctor")
        return
    for s in stats:
        if s.runs >= LATENCY_MIN_RUNS and s.p95_ms >= slow_ms:
            d.add("hook-latency", "warning",
                     f"{s.event} hooks are slow: p95 {s.p95_ms:.0f} ms over {s.runs} runs "
                     f"(slow_ms {slow_ms:.0f})", _latency_advice(),
                     _latency_fix(d), event=s.event, p95_ms=s.p95_ms)
    outliers = sorted((r for r in runs if r.ms >= slow_ms), key=lambda r: -r.ms)
    d.stats["latency_outliers"] = [
        {"ts": r.ts, "event": r.event, "ms": round(r.ms, 1)} for r in outliers[:MAX_LISTED]]
    if outliers:
        top = [f"{r.event} {r.ms:.0f} ms ({ago(d.now - r.ts)} ago)"
               for r in outliers[:5]]
        d.add("latency-outliers", "info",
                 f"{len(outliers)} of {len(runs)} hook runs took ≥ {slow_ms:.0f} ms",
                 f"Slowest: {', '.join(top)}. Occasional outliers (cold disk cache, a "
                 "busy machine) are normal; a pattern is not.",
                 DEBUG_FIX)

def _latency_advice() -> str:
    return ("Hooks run before every edit; a slow hook slows every session. "
            "Per-step timings (COORDINATION_DEBUG=1) show which step it is.")

def _latency_fix(d: Diagnosis) -> str:
    if d.ctx.backend == "legacy":
        return "coord backend use optimized"
    with d.ctx.store.read() as view:
        if view.message_count() > d.ctx.settings.retention_messages:
            return "coord cleanup"
    return DEBUG_FIX

def check_app_log(d: Diagnosis) -> None:
    app_log = logs.log_dir(d.ctx.state_dir) / logs.APP_LOG
    slow: list[perfstats.Run] = []
    errors: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    for record in logs.read_records(app_log):
        ts = record.get("ts")
        if not isinstance(ts, (int, float)):
            continue
        if record.get("event") == "slow_operation" and ts >= d.now - PERF_WINDOW:
            ms = logs.duration_ms(record)
            slow.append(perfstats.Run(float(ts), logs.event_name(record), ms or 0.0))
        elif record.get("level") == "error" and ts >= d.now - ERROR_WINDOW:
            errors[str(record.get("event", "?"))] += 1
        elif record.get("level") == "warning" and ts >= d.now - PERF_WINDOW:
            warnings[str(record.get("event", "?"))] += 1
    d.stats["app_log"] = {"slow_operations": len(slow), "errors_24h": dict(errors),
                             "warnings_7d": dict(warnings)}
    if slow:
        by_op = Counter(r.event for r in slow)
        d.add("slow-operations", "warning" if len(slow) >= 20 else "info",
                 f"{len(slow)} slow_operation line(s) in app.log this week",
                 "By operation: " + ", ".join(f"{op} ×{n}" for op, n in by_op.most_common(5))
                 + ".", DEBUG_FIX,
                 operations=dict(by_op))
    if errors:
        d.add("app-errors", "warning",
                 f"{sum(errors.values())} error(s) logged in the last 24 h",
                 "Events: " + ", ".join(f"{e} ×{n}" for e, n in errors.most_common(5))
                 + ". Hooks fail open (the edit goes ahead), so errors are easy to miss.",
                 f"grep '\"level\": \"error\"' {q(app_log)} | tail -n 20",
                 events=dict(errors))
    if warnings:
        d.add("app-warnings", "info",
                 f"{sum(warnings.values())} warning(s) logged this week",
                 "Events: " + ", ".join(f"{e} ×{n}" for e, n in warnings.most_common(5))
                 + ".")

def check_log_sizes(d: Diagnosis) -> None:
    cap = d.ctx.settings.log_max_bytes
    folder = logs.log_dir(d.ctx.state_dir)
    sizes: dict[str, int] = {}
    for name in (logs.APP_LOG, logs.PERFORMANCE_LOG):
        for path in logs.generations(folder / name):
            try:
                sizes[path.name] = path.stat().st_size
            except OSError:
                continue
    d.stats["logs"] = {"cap_bytes": cap, "files": sizes}
    too_big = [n for n, size in sizes.items() if cap > 0 and size > 2 * cap + logs.MAX_LINE]
    if too_big:
        d.add("log-not-rotating", "warning",
                 f"Log file(s) past twice the cap: {', '.join(too_big)}",
                 f"Logs rotate at log_max_bytes ({human_bytes(cap)}); rotation needs write "
                 "access to the logs folder.", f"ls -la {q(folder)}")
