"""``coord diagnose`` and ``coord monitor``: parse options, call the health modules, format.

A command group of `coord_hooks.cli.app` (`register`); also
runnable alone as ``python -m coord_hooks.cli.health COMMAND`` (tests, and before the main
CLI lists it). Typer and Rich are imported only here, never on the hook path.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from coord_hooks.cli.common import META_KEY, CoordCommand
from coord_hooks.errors import CoordError, UsageError, exit_code_for
from coord_hooks.ops import monitor as mon

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from coord_hooks.context import Context
    from coord_hooks.ops.findings import Report



def _backend(cli: typer.Context) -> str | None:
    # The main app's --backend; None when run alone (python -m coord_hooks.cli.health).
    return getattr(cli.meta.get(META_KEY), "backend", None)


def _emit(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
    sys.stdout.flush()


# --- diagnose ---------------------------------------------------------------------------
def diagnose_cmd(
    cli: typer.Context,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="PATH",
        help="Where to write the Markdown report (default: <state dir>/performance-report.md)."
    )] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the state dir, logs and plugin files; write performance-report.md.

    Each finding has a severity (info, warning, error) and the exact command that fixes
    it. Exit code 1 when any finding is an error, else 0.
    """
    from coord_hooks.ops import diagnose

    ctx, config_error = diagnose.open_for_diagnosis(_backend(cli))
    try:
        report = diagnose.diagnose(ctx, config_error=config_error)
        path = diagnose.write_report(report, output or diagnose.default_report_path(ctx))
    finally:
        ctx.store.close()
    if as_json:
        _emit(report.to_dict())
    else:
        _print_diagnosis(report, path)
    raise typer.Exit(report.exit_code)


def _print_diagnosis(report: Report, path: Path) -> None:
    typer.echo(f"report: {path}")
    typer.echo(f"{report.count('error')} error(s), {report.count('warning')} warning(s), "
               f"{report.count('info')} note(s)")
    for finding in report.problems():
        typer.echo(f"  {finding.severity.upper():7} {finding.title}")
        if finding.fix:
            typer.echo(f"          fix: {finding.fix}")


# --- monitor ----------------------------------------------------------------------------
def monitor_cmd(
    cli: typer.Context,
    interval: Annotated[float, typer.Option(
        "--interval", "-i", metavar="S", help="Seconds between samples.")] = mon.DEFAULT_INTERVAL,
    memory_threshold: Annotated[float, typer.Option(
        "--memory-threshold", metavar="MB",
        help="Alert when a watched process's RSS goes above this.")] = mon.DEFAULT_MEMORY_MB,
    fd_threshold: Annotated[int, typer.Option(
        "--fd-threshold", metavar="N",
        help="Alert when a watched process has more open handles.")] = mon.DEFAULT_FDS,
    queue_threshold: Annotated[int, typer.Option(
        "--queue-threshold", metavar="N",
        help="Alert when live sessions have more unread messages in total.")
    ] = mon.DEFAULT_QUEUE,
    log: Annotated[Path | None, typer.Option(
        "--log", metavar="FILE", help="Append every sample and alert as a JSON line "
        "(size-capped at log_max_bytes, rotated like logs/*.log).")] = None,
    once: Annotated[bool, typer.Option("--once", help="Take one sample and exit.")] = False,
    as_json: Annotated[bool, typer.Option(
        "--json", help="JSON lines on stdout instead of the live view.")] = False,
) -> None:
    """Watch sessions, queue, locks, hook latency and process memory/handles live.

    Alerts fire once when a value crosses its threshold and again only after it has
    dropped back. Stops cleanly on Ctrl-C or SIGTERM (exit 0).
    """
    if interval <= 0:
        raise UsageError("--interval must be greater than 0")
    from coord_hooks.context import open_context

    ctx = open_context(backend=_backend(cli))
    thresholds = mon.Thresholds(memory_threshold, fd_threshold, queue_threshold)
    sampler = mon.Sampler(ctx, thresholds)
    sink = mon.JsonLinesLog(log, ctx.settings.log_max_bytes) if log is not None else None
    try:
        if once:
            sample = sampler.sample()
            if sink is not None:
                _log_sample(sink, sample)
            if as_json:
                _emit(sample.to_dict())
            else:
                _console().print(_render(sample, thresholds))
            return
        _watch(ctx, sampler, interval, thresholds, sink, as_json)
    finally:
        ctx.store.close()


def _log_sample(sink: mon.JsonLinesLog, sample: mon.Sample) -> None:
    sink.write(sample.to_dict())
    for alert in sample.alerts:
        sink.write(alert.to_dict())


def _watch(ctx: Context, sampler: mon.Sampler, interval: float, thresholds: mon.Thresholds,
           sink: mon.JsonLinesLog | None, as_json: bool) -> None:
    stop = mon.StopFlag()
    previous = {sig: signal.signal(sig, stop.signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if as_json:
            def on_json(sample: mon.Sample) -> None:
                if sink is not None:
                    _log_sample(sink, sample)
                sys.stdout.write(json.dumps(sample.to_dict(), default=str) + "\n")
                for alert in sample.alerts:
                    sys.stdout.write(json.dumps(alert.to_dict()) + "\n")
                sys.stdout.flush()

            mon.run(sampler, interval, stop, on_json, changes=mon.change_waiter(ctx.store))
            return
        console = _console()
        if not console.is_terminal:
            def on_line(sample: mon.Sample) -> None:
                if sink is not None:
                    _log_sample(sink, sample)
                for alert in sample.alerts:
                    typer.echo(alert.describe(), err=True)
                typer.echo(_one_line(sample))

            mon.run(sampler, interval, stop, on_line, changes=mon.change_waiter(ctx.store))
            return
        from rich.live import Live

        # auto_refresh=False: Live would otherwise start a refresh thread; we redraw once
        # per sample from this thread instead.
        with Live(console=console, auto_refresh=False, transient=False) as live:
            def on_live(sample: mon.Sample) -> None:
                if sink is not None:
                    _log_sample(sink, sample)
                for alert in sample.alerts:
                    live.console.print(alert.describe(),
                                       style="bold red" if alert.state == "raised" else "green")
                live.update(_render(sample, thresholds), refresh=True)

            mon.run(sampler, interval, stop, on_live, changes=mon.change_waiter(ctx.store))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _console() -> Console:
    from rich.console import Console

    return Console()


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def _one_line(sample: mon.Sample) -> str:
    lat = sample.latency
    me = sample.processes[0]
    stamp = time.strftime("%H:%M:%S", time.localtime(sample.ts))
    text = (f"{stamp} sessions {sample.sessions['live']} live/{sample.sessions['dead']} dead · "
            f"messages {sample.messages} · queue {sample.queue_depth} · locks {sample.locks} · "
            f"hooks {lat['runs']} p95 {_fmt(lat['p95_ms'], 'ms')} · "
            f"monitor {_fmt(me.rss_mb, 'MB')} {_fmt(me.fds)} fds")
    return text + (f" · error: {sample.error}" if sample.error else "")


def _render(sample: mon.Sample, thresholds: mon.Thresholds) -> RenderableType:
    from rich.console import Group
    from rich.table import Table

    lat = sample.latency
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sample.ts))
    summary = Table(title=f"coord monitor · {stamp} · backend {sample.backend} · "
                    "sessions live/dead/ended · locks active/all",
                    show_header=True, title_justify="left")
    for column in ("sessions", "messages", "queue", "locks", f"hooks/{lat['window_s']:g}s",
                   "p50/p95/max ms"):
        summary.add_column(column, justify="right")
    queue_style = "bold red" if sample.queue_depth > thresholds.queue else ""
    summary.add_row(
        f"{sample.sessions['live']}/{sample.sessions['dead']}/{sample.sessions['ended']}",
        str(sample.messages), f"[{queue_style}]{sample.queue_depth}[/]" if queue_style
        else str(sample.queue_depth), f"{sample.active_locks}/{sample.locks}",
        f"{lat['runs']} ({lat['slow']} slow)",
        f"{_fmt(lat['p50_ms'])} / {_fmt(lat['p95_ms'])} / {_fmt(lat['max_ms'])}")
    procs = Table(show_header=True, title="processes", title_justify="left")
    for column in ("pid", "what", "RSS MB", "handles"):
        procs.add_column(column, justify="right" if column != "what" else "left")
    for p in sample.processes:
        hot_mem = p.rss_mb is not None and p.rss_mb > thresholds.memory_mb
        hot_fds = p.fds is not None and p.fds > thresholds.fds
        procs.add_row(str(p.pid), p.label,
                      f"[bold red]{p.rss_mb}[/]" if hot_mem else _fmt(p.rss_mb),
                      f"[bold red]{p.fds}[/]" if hot_fds else _fmt(p.fds))
    parts: list[RenderableType] = [summary, procs]
    if sample.queue:
        parts.append("unread: " + ", ".join(f"{h} {n}" for h, n in sample.queue.items()))
    if sample.error:
        parts.append(f"[red]store error: {sample.error}[/]")
    return Group(*parts)


# --- registration -----------------------------------------------------------------------
def register(app: typer.Typer) -> None:
    """Add ``diagnose`` and ``monitor`` to ``app`` (called by coord_hooks.cli.app)."""
    app.command("diagnose", cls=CoordCommand)(diagnose_cmd)
    app.command("monitor", cls=CoordCommand)(monitor_cmd)


def standalone_app() -> typer.Typer:
    app = typer.Typer(add_completion=False, no_args_is_help=True,
                      help="coord-hooks health commands.")
    register(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Run the health commands without the main CLI; errors as one line, never a trace."""
    try:
        result = standalone_app()(args=argv, prog_name="coord", standalone_mode=False)
    except typer.Exit as done:
        return done.exit_code
    except CoordError as err:
        typer.echo(f"coord: error: {err}", err=True)
        return exit_code_for(err)
    except Exception as exc:  # Click usage errors and friends
        show = getattr(exc, "show", None)
        if callable(show):
            show()
            return int(getattr(exc, "exit_code", 2))
        raise
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
