"""``coord bench``: the command behind ``./benchmark.sh`` (logic in `coord_hooks.ops.bench`)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from coord_hooks.cli.common import CoordCommand
from coord_hooks.ops import ablation, bench, floor

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID
    from rich.table import Table


class _RichProgress:
    """A Rich progress bar on stderr (stdout stays clean for ``--json``); on a
    non-terminal (CI logs) a plain line every tenth of the way instead."""

    def __init__(self) -> None:
        self.interactive = sys.stderr.isatty()
        self.done = self.total = self.shown = 0
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar: Progress = Progress(
            TextColumn("[progress.description]{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True)
        self.task: TaskID | None = None

    def start(self, total: int) -> None:
        self.total = max(1, total)
        if self.interactive:
            self.bar.start()
            self.task = self.bar.add_task("building state", total=total)

    def step(self, text: str) -> None:
        self.done += 1
        if self.task is not None:
            self.bar.update(self.task, advance=1, description=text[:60])
        elif not self.interactive and self.done * 10 // self.total > self.shown:
            self.shown = self.done * 10 // self.total
            print(f"bench: {self.done}/{self.total} {text}", file=sys.stderr, flush=True)

    def stop(self) -> None:
        if self.interactive:
            self.bar.stop()


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}{unit}"
    return f"{value}{unit}"


def print_report(report: dict[str, Any], json_path: Path, svg_path: Path) -> None:
    """Tables for people: the five operations, per-event latency, scaling, targets."""
    from rich.console import Console

    out = Console(width=None if sys.stdout.isatty() else 150)
    config = report["config"]
    out.print(f"coord-hooks benchmark: {config['sessions']} sessions, {config['locks']} locks, "
              f"{config['messages']} messages; {config['rounds']} rounds; "
              f"{report['machine']['cpus']} CPUs; {report['elapsed_s']} s")
    out.print(_operations_table(report))
    out.print("legacy/X: ratio of the medians (the targets use it); paired: median of the "
              "per-round ratios (both ran back to back each round)")
    out.print(_events_table(report))
    redis = _redis_table(report)
    if redis is not None:
        out.print(redis)
    if report["scaling"]["points"]:
        out.print(_scaling_table(report))
    out.print(_targets_table(report))
    print_sections(report, out)
    if report["failures"]:
        out.print(f"{len(report['failures'])} calls did not do what they should; first: "
                  f"{report['failures'][0]}")
    out.print(f"results: {json_path}\nchart:   {svg_path}")


def _operations_table(report: dict[str, Any]) -> Table:
    from rich.table import Table

    backends: list[str] = report["config"]["backends"]
    others = [b for b in backends if b != "legacy"]
    table = Table(title="The five operations (median per call, one process each)",
                  title_justify="left")
    table.add_column("operation")
    for backend in backends:
        table.add_column(f"{backend} p50", justify="right")
        table.add_column(f"{backend} p95", justify="right")
    for backend in others:
        table.add_column(f"legacy/{backend}", justify="right")
        table.add_column("paired", justify="right")
        table.add_column("% faster", justify="right")
    for op in (*bench.OPERATIONS, "memory"):
        entry = report["operations"][op]
        row = [entry["title"]]
        for backend in backends:
            stats = entry.get(backend, {})
            if op == "memory":
                row += [_fmt((stats.get("p50_kb") or 0) / 1024, " MB"),
                        _fmt((stats.get("max_kb") or 0) / 1024, " MB max")]
            else:
                row += [_fmt(stats.get("p50_ms"), " ms"), _fmt(stats.get("p95_ms"), " ms")]
        for backend in others:
            cmp = entry.get("vs_legacy", {}).get(backend, {})
            row += [_fmt(cmp.get("ratio"), "x"), _fmt(cmp.get("paired_ratio"), "x"),
                    _fmt(cmp.get("faster_pct"), " %")]
        table.add_row(*row)
    return table


def _events_table(report: dict[str, Any]) -> Table:
    from rich.table import Table

    backends: list[str] = report["config"]["backends"]
    table = Table(title="Hook latency per event (through the shims)", title_justify="left")
    table.add_column("event")
    for backend in backends:
        table.add_column(f"{backend} p50/p95 ms", justify="right")
    table.add_column("optimized p50 / python3 -c pass", justify="right")
    table.add_column("optimized p95 / python3 -c pass", justify="right")
    table.add_column("optimized p50 / resolved -c pass", justify="right")
    for event, entry in report["events"].items():
        row = [event]
        for backend in backends:
            stats = entry.get(backend, {})
            row.append(f"{_fmt(stats.get('p50_ms'))} / {_fmt(stats.get('p95_ms'))}")
        opt = entry.get("optimized", {})
        row += [_fmt(opt.get("vs_python3_p50"), "x"), _fmt(opt.get("vs_python3_p95"), "x"),
                _fmt(opt.get("vs_resolved_p50"), "x")]
        table.add_row(*row)
    for label, stats in report["baselines"].items():
        table.add_row(f"[baseline] {label}", *[
            f"{_fmt(stats.get('p50_ms'))} / {_fmt(stats.get('p95_ms'))}" for _ in backends],
            "", "", "")
    return table


def _scaling_table(report: dict[str, Any]) -> Table:
    from rich.table import Table

    backends: list[str] = report["config"]["backends"]
    table = Table(title="Scaling: hook latency p50 (ms) by state size", title_justify="left")
    for name in ("sessions", "locks", "messages"):
        table.add_column(name, justify="right")
    for backend in backends:
        for event in bench.SWEEP_EVENTS:
            table.add_column(f"{backend} {event}", justify="right")
    for point in report["scaling"]["points"]:
        table.add_row(str(point["sessions"]), str(point["locks"]), f"{point['messages']:,}",
                      *[_fmt(point[b][e].get("p50_ms")) for b in backends
                        for e in bench.SWEEP_EVENTS])
    return table


def _redis_table(report: dict[str, Any]) -> Table | None:
    """redis against sqlite per event, with the hooks' round trips."""
    from rich.table import Table

    if not any("redis_vs_sqlite" in entry for entry in report["events"].values()):
        return None
    table = Table(title="redis vs sqlite per event (target: p50 within 1.2x); server: "
                        f"{report.get('redis_server')}", title_justify="left")
    for name in ("event", "p50 ratio", "p95 ratio", "paired p50 ratio",
                 "round trips (median per outcome)"):
        table.add_column(name, justify="left" if name == "event" else "right")
    trips = report.get("round_trips", {}).get("redis", {})
    for event, entry in report["events"].items():
        cmp = entry.get("redis_vs_sqlite")
        if cmp is None:
            continue
        hook = bench.HOOK_NAMES.get(event.split(" ")[0], "")
        shown = ", ".join(f"{k.split(' ', 1)[1]} {v:g}" for k, v in trips.items()
                          if k.startswith(hook + " ")) if hook else ""
        table.add_row(event, _fmt(cmp.get("ratio"), "x"), _fmt(cmp.get("p95_ratio"), "x"),
                      _fmt(cmp.get("paired_ratio"), "x"), shown or "-")
    return table


def _targets_table(report: dict[str, Any]) -> Table:
    from rich.table import Table

    table = Table(title="Performance targets", title_justify="left")
    table.add_column("target")
    table.add_column("measured", justify="right")
    table.add_column("met")
    for target in report["targets"]:
        table.add_row(target["target"], _fmt(target["value"]),
                      "yes" if target["met"] else "NO")
    return table


def print_sections(report: dict[str, Any], out: Any = None) -> None:
    """The floor and ablation tables of a report, when it has them."""
    from rich.console import Console

    out = out or Console(width=None if sys.stdout.isatty() else 150)
    if "floor" in report:
        for attempt in report["floor"]["attempts"]:
            out.print(floor.format_report(attempt), markup=False, highlight=False)
    if "ablation" in report:
        out.print(_ablation_table(report["ablation"]))
        out.print(_gains_table(report["ablation"]))
        if report["ablation"]["failures"]:
            out.print(f"ablation: {len(report['ablation']['failures'])} calls did not do what "
                      f"they should; first: {report['ablation']['failures'][0]}")


def _ablation_table(result: dict[str, Any]) -> Table:
    from rich.table import Table

    load = result["load"]
    table = Table(title=f"Ablation: p50 ms, whole process / in process ({result['rounds']} "
                        f"rounds; load {load['before'][0]:.2f} before, {load['after'][0]:.2f} "
                        "after)", title_justify="left")
    table.add_column("variant")
    for op in ablation.OPERATIONS:
        table.add_column(bench.OPERATION_TITLES[op], justify="right")
    table.add_column("peak RSS", justify="right")
    for variant in result["variants"]:
        name = variant["name"]
        row = [name]
        for op in ablation.OPERATIONS:
            stats = result["operations"][op][name]
            row.append(f"{_fmt(stats['whole'].get('p50_ms'))} / "
                       f"{_fmt(stats['in_process'].get('p50_ms'))}")
        kb = result["memory_kb"].get(name)
        row.append(_fmt(kb / 1024 if kb else None, " MB"))
        table.add_row(*row)
    return table


def _gains_table(result: dict[str, Any]) -> Table:
    from rich.table import Table

    table = Table(title="What each optimization buys: time without it / time with it "
                        "(whole process / in process)", title_justify="left")
    table.add_column("optimization")
    table.add_column("without / with")
    for op in ablation.OPERATIONS:
        table.add_column(bench.OPERATION_TITLES[op], justify="right")
    table.add_column("peak RSS", justify="right")
    for row in result["gains"]:
        cells = [row["gain"], f"{row['without']} / {row['with']}"]
        for op in ablation.OPERATIONS:
            cells.append(f"{_fmt(row[op]['whole'], 'x')} / {_fmt(row[op]['in_process'], 'x')}")
        cells.append(_fmt(row["memory"], "x"))
        table.add_row(*cells)
    return table


SECTIONS = ("operations", "ablation", "floor")


# The options of `coord bench`, named once (the command's signature stays readable).
_Only = Annotated[list[str] | None, typer.Option(
    "--only", metavar="SECTION",
    help="Run only these sections, repeatable: operations (the five operations, per-event "
         "latency and the sweep), ablation (each optimization switched off in turn), floor "
         "(hooks against the interpreter's own start). Default: all three.")]
_Check = Annotated[bool, typer.Option(
    "--check", help="CI guard: only the floor section; exit 1 when a hook's p50 exceeds "
                    "--max-ratio x the interpreter's (-I -S -c pass), in two attempts in a "
                    "row (one retry after a failure).")]
_Compare = Annotated[list[str] | None, typer.Option(
    metavar="LABEL=ROOT", help="Floor section: also run the hooks of another checkout (its "
                               "shims/hooks.sh) in the same rounds; repeatable.")]


def register(app: typer.Typer) -> None:
    @app.command("bench", cls=CoordCommand)
    def bench_command(
        sessions: Annotated[int, typer.Option(metavar="N", help="Sessions in the built state.")
                             ] = 15,
        locks: Annotated[int, typer.Option(metavar="N", help="Locks in the built state.")] = 1000,
        messages: Annotated[int, typer.Option(metavar="N",
                                              help="Live messages in the built state.")
                            ] = 10_000,
        rounds: Annotated[int, typer.Option(metavar="N",
                                            help="Interleaved rounds (calls per op).")] = 15,
        sweep: Annotated[bool, typer.Option(
            "--sweep/--no-sweep", help="Scaling sweep: 1 -> 100 sessions, 0 -> 100k "
                                       "messages.")] = True,
        sweep_rounds: Annotated[int, typer.Option(metavar="N", help="Rounds per sweep point.")
                                 ] = 9,
        quick: Annotated[bool, typer.Option(
            "--quick", help="Tiny state, few rounds, two sweep points (CI: seconds).")
        ] = False,
        backend: Annotated[list[str] | None, typer.Option(
            "--backend", "-b", metavar="NAME",
            help="Backends to compare, repeatable (default: legacy, optimized, sqlite when "
                 "its shim exists, and redis when $COORD_REDIS_URL is set or a valkey/redis "
                 "server can be started).")] = None,
        out: Annotated[Path, typer.Option(
            metavar="DIR", help="Folder for benchmark.json and benchmark.svg.")
        ] = Path("benchmark-results"),
        as_json: Annotated[bool, typer.Option(
            "--json", help="Print the JSON report on stdout (no tables).")] = False,
        workdir: Annotated[Path | None, typer.Option(
            metavar="DIR", help="Build states here (kept) instead of a temporary folder.")
        ] = None,
        seed: Annotated[int, typer.Option(metavar="N", help="Random seed (state and order).")
                         ] = 1,
        only: _Only = None,
        ablation_rounds: Annotated[int | None, typer.Option(
            metavar="N", help="Interleaved rounds of the ablation (default: --rounds).")
        ] = None,
        floor_rounds: Annotated[int, typer.Option(
            metavar="N", help="Interleaved rounds of the floor section.")] = 31,
        check: _Check = False,
        max_ratio: Annotated[float, typer.Option(
            metavar="X", help="The floor bound of --check (hook p50 / interpreter p50).")
        ] = floor.GUARD_RATIO,
        compare: _Compare = None,
    ) -> None:
        """Benchmark the backends through the real shims, one process per call.

        Five operations on a state of the given size, interleaved over several rounds
        with bare `python3 -c pass` alongside, and a scaling sweep; the ablation (each
        optimization switched off in turn, whole process and in process); the hooks
        against the interpreter's own start. Results go to --out.
        """
        sections = _sections(only, check)
        chosen = tuple(backend) if backend else bench.available_backends()
        unknown = [name for name in chosen if name not in bench.available_backends()]
        if unknown:
            raise typer.BadParameter(f"no backend/shim for {', '.join(unknown)}",
                                     param_hint="--backend")
        argv = ["./benchmark.sh", *sys.argv[2:]] if sys.argv[1:2] == ["bench"] else sys.argv
        if quick:
            config = bench.Config.quick_config(backends=chosen, out=out, workdir=workdir,
                                               seed=seed)
            if not sweep:
                config.sweep = ()
        else:
            config = bench.Config(sizes=bench.Sizes(sessions, locks, messages), rounds=rounds,
                                  sweep=bench.DEFAULT_SWEEP if sweep else (),
                                  sweep_rounds=sweep_rounds, backends=chosen, out=out,
                                  workdir=workdir, seed=seed)
        config.command = " ".join(shlex.quote(a) for a in argv)
        floor_options = {"rounds": floor_rounds, "max_ratio": max_ratio, "check": check,
                         "compare": _trees(compare or [])}
        report = run_sections(config, sections, ablation_rounds, floor_options)
        show(report, sections, out, as_json)
        if check and not report["floor"]["passed"]:
            raise typer.Exit(1)


def run_sections(config: bench.Config, sections: tuple[str, ...], ablation_rounds: int | None,
                 floor_options: dict[str, Any]) -> dict[str, Any]:
    """Run the chosen sections; one report (the operations' keys, ``floor``, ``ablation``)."""
    report: dict[str, Any] = {}
    if "operations" in sections:
        progress = _RichProgress()
        try:
            report = bench.run(config, progress)
        finally:
            progress.stop()
    report.setdefault("command", config.command)
    if "floor" in sections:
        report["floor"] = _floor_section(config, **floor_options)
    if "ablation" in sections:
        report["ablation"] = _ablation_section(config, ablation_rounds)
    return report


def show(report: dict[str, Any], sections: tuple[str, ...], out: Path, as_json: bool) -> None:
    """Write the results to ``out`` and print them (tables, or the JSON)."""
    if "operations" in sections:
        json_path, svg_path = bench.write_results(report, out)
    else:  # a partial run must not overwrite a full run's benchmark.json
        out.mkdir(parents=True, exist_ok=True)
        json_path = svg_path = out / f"{'-'.join(sections)}.json"
        json_path.write_text(json.dumps(report, indent=2) + "\n")
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    elif "operations" in sections:
        print_report(report, json_path, svg_path)
    else:
        print_sections(report)
        typer.echo(f"results: {json_path}")


def _sections(only: list[str] | None, check: bool) -> tuple[str, ...]:
    sections = ("floor",) if check else tuple(only or SECTIONS)
    bad = [name for name in sections if name not in SECTIONS]
    if bad:
        raise typer.BadParameter(f"unknown section {', '.join(bad)} (known: "
                                 f"{', '.join(SECTIONS)})", param_hint="--only")
    return sections


def _trees(specs: list[str]) -> dict[str, Path]:
    trees = {}
    for spec in specs:
        label, sep, root = spec.partition("=")
        if not sep or not label or not (Path(root) / "shims" / "hooks.sh").exists():
            raise typer.BadParameter(f"{spec!r}: expected LABEL=ROOT, ROOT a checkout with "
                                     "shims/hooks.sh", param_hint="--compare")
        trees[label] = Path(root).resolve()
    return trees


def _floor_section(config: bench.Config, rounds: int, max_ratio: float, check: bool,
                   compare: dict[str, Path]) -> dict[str, Any]:
    """The floor measurement: one attempt, or the guard's (a second one after a failure)."""
    floor_config = floor.FloorConfig(rounds=3 if config.quick else rounds,
                                     max_ratio=max_ratio, python=config.python,
                                     seed=config.seed, retry=check, compare=compare)
    if config.quick:
        floor_config.sizes = bench.Sizes(sessions=4, locks=60, messages=300)
    attempts = floor.check(floor_config) if check else [floor.measure(floor_config)]
    return {"attempts": attempts, "passed": attempts[-1]["passed"],
            "retried": len(attempts) > 1}


def _ablation_section(config: bench.Config, rounds: int | None) -> dict[str, Any]:
    progress = _RichProgress()
    try:
        return ablation.run(config.sizes, rounds if rounds is not None else config.rounds,
                            config.python or sys.executable, config.workdir, config.seed,
                            progress)
    finally:
        progress.stop()
