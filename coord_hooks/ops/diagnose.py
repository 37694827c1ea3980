"""`coord diagnose`: look at a state directory and the plugin, report problems with fixes.

Every `Finding` has a severity (``info`` / ``warning`` / ``error``) and, for anything
that is not plain information, the exact command that fixes it. The report is written as
Markdown (``performance-report.md``) and is available as JSON; the command's exit code is
non-zero iff a finding is an error.

The checks are small functions registered in `coord_hooks.ops.checks.CHECKS`: store size
and growth (from the size history, see `coord_hooks.health`), message count vs retention,
unread backlog per session, dead sessions still registered, locks held by dead or idle
sessions, quarantined files, slow operations and hook latency outliers
(``logs/performance.log``, ``logs/app.log``), state dir permissions, shims / symlink /
``hooks.json``, config files and Claude Code settings files. This module runs them
(`Diagnosis`) and writes the report.

Standard library only (not on the hook path, but it needs nothing more).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from coord_hooks import __version__, logs
from coord_hooks.context import Context
from coord_hooks.errors import CoordError, StoreUnavailableError
from coord_hooks.ops.checks import CHECKS
from coord_hooks.ops.findings import (
    SEVERITIES,
    Finding,
    Report,
    human_bytes,
)
from coord_hooks.paths import PLUGIN_ROOT

REPORT_NAME = "performance-report.md"

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
        for name, check in CHECKS.items():
            try:
                check(self)
            except StoreUnavailableError:
                continue  # said once, as an error, by check_server
            except CoordError as exc:  # the state itself (another user's file, say)
                self.add(f"check-failed:{name}", "warning", f"{name} could not run: {exc}",
                         "The other checks still ran.")
            except Exception as exc:  # one broken check must not hide the others
                self.add(f"check-failed:{name}", "warning", f"{name} could not run: {exc!r}",
                         "This is a bug in coord-hooks; the other checks still ran.")
        order = {s: i for i, s in enumerate(SEVERITIES)}
        self.findings.sort(key=lambda f: order.get(f.severity, 9))
        return Report(self.now, str(self.ctx.state_dir), str(self.ctx.project_root),
                      self.ctx.backend, self.findings, self.stats)


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
    from coord_hooks.errors import StoreError, UsageError
    from coord_hooks.fsio import atomic_write_bytes

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, render_markdown(report).encode("utf-8"), durable=False)
    except (OSError, StoreError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc).rpartition(": ")[2]
        raise UsageError(f"cannot write the report to {path}: {reason} "
                         "(choose another path with --output)") from None
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
