#!/usr/bin/env python3
"""Where would orjson pay off? json vs orjson on each place the issue names, measured.

    .venv/bin/python scripts/measure-orjson.py [--rounds N] [--sizes 1000,10000,100000]

Every figure is a whole process, json and orjson interleaved round by round (medians),
because an import is paid per process and a hook or command is one process:

* import       ``python -I -S -c 'import json'`` vs ``import orjson``
* archive scan ``store.archive.read_archive`` of N archived messages (what ``coord messages
               --archived`` and ``coord inbox --all`` read), parse only swapped
* messages     ``coord messages --archived --json`` on N archived messages: parse and the
               output document swapped
* migrate      ``coord migrate --to sqlite`` of N live JSON messages: record reads swapped
* monitor      one ``coord monitor --once --json`` sample line
* bench output writing ``benchmark.json`` (the committed report)

Prints one table; nothing is kept.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Run inside the measured process: swap json for orjson where a variant says so.
PATCH = r"""
import sys, json
sys.path.insert(0, sys.argv.pop(1))
if sys.argv.pop(1) == "orjson":
    import orjson
    _loads = orjson.loads
    json.loads = lambda s, *a, **k: _loads(s)
    _opts = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    def _dumps(obj, *a, indent=None, default=None, **k):
        return orjson.dumps(obj, default=default, option=_opts if indent else 0).decode()
    json.dumps = _dumps
"""
SCAN = PATCH + r"""
from pathlib import Path
from coord_hooks.store.archive import read_archive
n = sum(1 for _ in read_archive(Path(sys.argv[1])))
assert n > 0
"""
CLI = PATCH + r"""
from coord_hooks.__main__ import main
main(sys.argv[1:])
"""
BENCH_OUT = PATCH + r"""
import json as j
from pathlib import Path
report = j.loads(Path(sys.argv[1]).read_text())
Path(sys.argv[2]).write_text(j.dumps(report, indent=2) + "\n")
"""


def run(code: str, variant: str, args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, str(REPO), variant, *args], env=env,
                          capture_output=True, text=True, check=False)
    took = (time.perf_counter() - started) * 1000
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{variant} {args}: exit {proc.returncode}\n{proc.stderr}")
    return took


def build_archive(state: Path, count: int) -> None:
    sys.path.insert(0, str(REPO))
    from coord_hooks.model import Message
    from coord_hooks.store.archive import append_to_archive

    batch = []
    for seq in range(1, count + 1):
        batch.append(Message(seq=seq, sender="aaaa1111-0000-4000-8000-000000000001",
                             recipient="*", body=f"message {seq}: " + "x" * 120,
                             created_at=1.7e9 + seq, sender_name="alice"))
        if len(batch) == 500:
            append_to_archive(state, batch)
            batch = []
    if batch:
        append_to_archive(state, batch)


def build_live(state: Path, count: int) -> None:
    """A JSON-layout state with ``count`` live messages (the benchmark's builder)."""
    sys.path.insert(0, str(REPO))
    from coord_hooks.ops import bench

    bench.build_json_state(state, bench.Sizes(sessions=15, locks=100, messages=count),
                           time.time())


def import_pair(rounds: int, env: dict[str, str]) -> tuple[float, float]:
    """``import json`` vs ``import orjson`` in a bare interpreter (site-packages on the path)."""
    import sysconfig

    site = sysconfig.get_paths()["purelib"]
    times: dict[str, list[float]] = {"json": [], "orjson": []}
    for r in range(rounds):
        for variant in (("json", "orjson") if r % 2 == 0 else ("orjson", "json")):
            code = f"import sys; sys.path.append({site!r}); import {variant}"
            started = time.perf_counter()
            subprocess.run([sys.executable, "-I", "-S", "-c", code], env=env, check=True)
            times[variant].append((time.perf_counter() - started) * 1000)
    return statistics.median(times["json"]), statistics.median(times["orjson"])


def median_pair(rounds: int, code: str, args_for: dict[str, list[str]],
                env: dict[str, str], prepare: object = None) -> tuple[float, float]:
    times: dict[str, list[float]] = {"json": [], "orjson": []}
    for r in range(rounds):
        order = ("json", "orjson") if r % 2 == 0 else ("orjson", "json")
        for variant in order:
            if callable(prepare):
                prepare(variant)
            times[variant].append(run(code, variant, args_for[variant], env))
    return statistics.median(times["json"]), statistics.median(times["orjson"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--sizes", default="1000,10000,100000")
    opts = parser.parse_args()
    sizes = [int(s) for s in opts.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="coord-orjson-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COORD_", "CLAUDE"))}
    env.update(COORD_CONFIG=str(work / "none.toml"), HOME=str(work))
    rows: list[tuple[str, float, float]] = []
    try:
        rows.append(("import alone (python -I -S)", *import_pair(opts.rounds, env)))
        for count in sizes:
            state = work / f"archive-{count}"
            build_archive(state, count)
            rows.append((f"archive scan, {count:,} messages", *median_pair(
                opts.rounds, SCAN, {v: [str(state)] for v in ("json", "orjson")}, env)))
            cli_env = {**env, "COORD_STATE_DIR": str(state), "COORD_BACKEND": "legacy"}
            rows.append((f"coord messages --archived --json, {count:,}", *median_pair(
                opts.rounds, CLI, {v: ["messages", "--archived", "--json"]
                                   for v in ("json", "orjson")}, cli_env)))
        for count in sizes[:2]:
            template = work / f"live-{count}" / "state"
            build_live(template, count)
            target = work / f"migrating-{count}" / "state"

            def fresh(_: str, template: Path = template, target: Path = target) -> None:
                shutil.rmtree(target.parent, ignore_errors=True)
                shutil.copytree(template, target)

            mig_env = {**env, "COORD_STATE_DIR": str(target)}
            rows.append((f"coord migrate --to sqlite, {count:,} messages", *median_pair(
                max(3, opts.rounds // 3), CLI, {v: ["migrate", "--to", "sqlite"]
                                               for v in ("json", "orjson")}, mig_env, fresh)))
        mon_env = {**env, "COORD_STATE_DIR": str(work / "live-1000" / "state")}
        rows.append(("coord monitor --once --json (one line)", *median_pair(
            opts.rounds, CLI, {v: ["monitor", "--once", "--json"] for v in ("json", "orjson")},
            mon_env)))
        report = REPO / "docs" / "benchmark" / "benchmark.json"
        rows.append(("bench output (benchmark.json)", *median_pair(
            opts.rounds, BENCH_OUT, {v: [str(report), str(work / f"out-{v}.json")]
                                     for v in ("json", "orjson")}, env)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    width = max(len(r[0]) for r in rows)
    print(f"{'whole process, median ms':<{width}}  {'json':>8}  {'orjson':>8}  {'orjson/json':>11}")
    for name, plain, fast in rows:
        print(f"{name:<{width}}  {plain:8.1f}  {fast:8.1f}  {fast / plain:10.2f}x")


if __name__ == "__main__":
    main()
