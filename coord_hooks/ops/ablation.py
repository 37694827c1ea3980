"""Where the speed comes from: the benchmark's ablation table (``./benchmark.sh``).

The optimized backend is measured with each of its optimizations switched off in turn,
and the legacy backend with and without what its processes load besides the standard
library, on the seed's operations (session loading, message processing, file locking,
broadcasts, and peak memory):

* ``optimized``: everything on (the default shim: ``-I -S``);
* ``cache off``: ``CACHE_TTL=0`` (no persisted snapshot: every read goes to the files);
* ``batches off``: ``BROADCAST_BATCH_SIZE=1`` (every broadcast filed at once);
* ``eager loading``: ``SESSION_DATA_LOADED``, ``LOCKS_DATA_LOADED``,
  ``GLOBAL_STATE_LOADED`` set (the seed's flags: everything loaded when a store is first
  read, instead of what the event touches);
* ``with site-packages``: the optimized shim run with ``-I`` instead of ``-I -S``;
* ``legacy``: its shim as shipped (``-I``: site-packages, so ``import portalocker``);
* ``legacy, no portalocker``: the same, with portalocker made unimportable (a package
  root whose ``portalocker.py`` raises ImportError shadows the installed one), so the
  legacy store takes the same ``flock`` through the standard library;
* ``legacy, no site``: its shim run with ``-I -S`` (no site-packages at all).

Each operation is measured two ways, in the same interleaved rounds:

* **whole process**: a new process per call, through a hook shim generated for the
  variant (``sh`` + interpreter start + imports + the operation), as Claude Code
  runs hooks; ``coord broadcast`` as ``python <the variant's flags> … broadcast TEXT``;
* **in process**: the same call made again and again by one long-lived process of the
  variant (`coord_hooks.hook.entry.run_hook` / `coord_hooks.cli.fast.run_fast`, timed
  around the call): the operation's own time, with interpreter start and imports paid
  once. Whole minus in-process is what start-up and imports cost.

So every claimed gain has its own number: legacy → no portalocker → no site →
optimized (the backend's own work), and optimized → each optimization off.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coord_hooks.ops import shims
from coord_hooks.ops.bench import (
    UNREAD_PER_ROUND,
    Progress,
    Sample,
    Sizes,
    Spawner,
    World,
    base_env,
    build_json_state,
    clone_state,
    edit_payload,
    payload,
    ratio,
    stop_helper,
    summary,
)
from coord_hooks.paths import PLUGIN_ROOT

OPERATIONS = ("session_loading", "message_processing", "file_locking", "broadcast")
HOOK_OPERATIONS = OPERATIONS[:3]
MODES = ("whole", "in_process")


@dataclass(frozen=True)
class Variant:
    name: str
    backend: str
    what: str
    env: dict[str, str] = field(default_factory=dict)
    flags: tuple[str, ...] | None = None  # interpreter flags; None: the backend's shim's
    block_portalocker: bool = False
    # The variant this one is compared with, and the name of what differs between them.
    against: str = ""
    gain: str = ""

    def python_flags(self) -> list[str]:
        return list(self.flags) if self.flags is not None else shims.python_flags(self.backend)


EAGER = {"SESSION_DATA_LOADED": "1", "LOCKS_DATA_LOADED": "1", "GLOBAL_STATE_LOADED": "1"}
VARIANTS: tuple[Variant, ...] = (
    Variant("optimized", "optimized", "every optimization on (the shipped shim, -I -S)",
            against="legacy, no site", gain="the optimized backend's own work (cache, "
            "lazy loading and batches together)"),
    Variant("optimized, cache off", "optimized", "CACHE_TTL=0: no persisted snapshot",
            env={"CACHE_TTL": "0"}, against="optimized", gain="the snapshot cache"),
    Variant("optimized, batches off", "optimized",
            "BROADCAST_BATCH_SIZE=1: every broadcast filed at once",
            env={"BROADCAST_BATCH_SIZE": "1"}, against="optimized", gain="broadcast batches"),
    Variant("optimized, eager loading", "optimized",
            "SESSION_DATA_LOADED, LOCKS_DATA_LOADED, GLOBAL_STATE_LOADED=1", env=EAGER,
            against="optimized", gain="lazy loading"),
    Variant("optimized, with site-packages", "optimized", "the optimized shim with -I, "
            "not -I -S", flags=("-I",), against="optimized", gain="-S (no site-packages)"),
    Variant("legacy", "legacy", "the shipped legacy shim (-I: site-packages, portalocker)",
            against="legacy, no portalocker", gain="legacy's portalocker import"),
    Variant("legacy, no portalocker", "legacy", "-I, portalocker unimportable (stdlib "
            "flock)", block_portalocker=True, against="legacy, no site",
            gain="legacy's site-packages start-up"),
    Variant("legacy, no site", "legacy", "-I -S: no site-packages, so no portalocker",
            flags=("-I", "-S")),
)

# The in-process server: runs each request in this one process and times the call.
_LOOP = r"""
import json, os, sys, time
root = sys.argv.pop(1)
sys.path[:] = [root] + [p for p in sys.path if p]
from coord_hooks.hook.entry import run_hook
from coord_hooks.cli.fast import run_fast
replies = os.fdopen(os.dup(1), "w")
for line in os.fdopen(os.dup(0)):
    req = json.loads(line)
    os.environ.clear()
    os.environ.update(req["env"])
    out = os.open(req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(out, 1)
    os.close(out)
    stdin = os.open(req["stdin"], os.O_RDONLY)
    start = time.perf_counter()
    try:
        rc = run_hook(req["args"], stdin=stdin) if req["kind"] == "hook" else run_fast(req["args"])
    except SystemExit as exc:
        rc = exc.code
    except Exception as exc:
        rc = repr(exc)
    ms = (time.perf_counter() - start) * 1000.0
    sys.stdout.flush()
    os.close(stdin)
    replies.write(json.dumps({"ms": ms, "rc": rc if isinstance(rc, int) else 1}) + "\n")
    replies.flush()
"""
_BOOT = ("import sys\nroot = sys.argv.pop(1)\nsys.path[:] = [root] + [p for p in sys.path if p]\n"
         "from coord_hooks.__main__ import main\nmain()")
_NO_PORTALOCKER = ('"""Stand-in that makes portalocker unimportable (coord bench ablation)."""\n'
                   'raise ImportError("portalocker is switched off for this measurement")\n')


class InProcess:
    """One long-lived process of a variant that runs calls on request and times them."""

    def __init__(self, python: str, flags: Sequence[str], root: Path, env: dict[str, str],
                 io: Path) -> None:
        self.io = io
        io.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([python, *flags, "-c", _LOOP, str(root)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=env, text=True, bufsize=1)

    def run(self, kind: str, args: list[str], env: dict[str, str],
            stdin: bytes = b"") -> Sample:
        (self.io / "stdin").write_bytes(stdin)
        request = {"kind": kind, "args": args, "env": env, "stdin": str(self.io / "stdin"),
                   "stdout": str(self.io / "stdout")}
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            return Sample(0.0, 0, 1, b"", b"in-process runner exited")
        reply = json.loads(line)
        return Sample(float(reply["ms"]), 0, int(reply["rc"]),
                      (self.io / "stdout").read_bytes())

    def close(self) -> None:
        stop_helper(self.proc)


def variant_root(workdir: Path, variant: Variant) -> Path:
    """The package root a variant runs from: the checkout itself, or (portalocker
    blocked) a folder with a link to its ``coord_hooks`` and a ``portalocker.py`` that
    raises ImportError first on ``sys.path``."""
    if not variant.block_portalocker:
        return PLUGIN_ROOT
    root = workdir / "root-no-portalocker"
    if not root.exists():
        root.mkdir(parents=True)
        (root / "coord_hooks").symlink_to(PLUGIN_ROOT / "coord_hooks")
        (root / "portalocker.py").write_text(_NO_PORTALOCKER)
    return root


def variant_shim(workdir: Path, variant: Variant, root: Path) -> Path:
    """A hook shim for the variant: the shipped template, its flags and package root."""
    path = workdir / "shims" / f"{_slug(variant.name)}.sh"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = shims.render(variant.backend, package_root=str(root))
    shipped = shims.flags_line(shims.python_flags(variant.backend))
    if shipped not in text:
        raise RuntimeError("the shim template lost its PY_FLAGS line")
    path.write_text(text.replace(shipped, shims.flags_line(variant.python_flags())))
    path.chmod(0o755)
    return path


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name).strip("-")


@dataclass
class Runner:
    """A variant's world (state dir, env), its shim and its in-process server."""

    variant: Variant
    world: World
    shim: Path
    root: Path
    python: str
    in_process: InProcess

    def hook(self, mode: str, spawner: Spawner, event: str, data: bytes) -> Sample:
        env = self.env()
        if mode == "whole":
            return spawner.run([str(self.shim), event], env, data)
        return self.in_process.run("hook", [event, "--backend", self.variant.backend], env, data)

    def broadcast(self, mode: str, spawner: Spawner, text: str) -> Sample:
        env = {**self.env(), "COORD_BACKEND": self.variant.backend,
               "CLAUDE_CODE_SESSION_ID": self.world.roles.sender}
        if mode == "whole":
            return spawner.run([self.python, *self.variant.python_flags(), "-c", _BOOT,
                                str(self.root), "broadcast", text], env)
        return self.in_process.run("fast", ["broadcast", text], env)

    def env(self) -> dict[str, str]:
        return {**self.world.env, **self.variant.env}


class Ablation:
    """Builds one state per variant and measures the operations round by round."""

    def __init__(self, sizes: Sizes, rounds: int, python: str, workdir: Path, seed: int = 1,
                 progress: Progress | None = None,
                 variants: Sequence[Variant] = VARIANTS) -> None:
        self.sizes, self.rounds, self.python = sizes, rounds, python
        self.workdir, self.seed, self.variants = workdir, seed, tuple(variants)
        self.progress = progress
        self.rng = random.Random(seed)
        self.samples: dict[str, dict[str, dict[str, list[Sample]]]] = {}
        self.failures: list[dict[str, Any]] = []

    def steps(self) -> int:
        return (self.rounds + 1) * len(self.variants) * len(OPERATIONS) * len(MODES)

    def run(self) -> dict[str, Any]:
        if self.progress is not None:
            self.progress.start(self.steps())
        spawner = Spawner(self.workdir / "ablation-io")
        runners = self._runners()
        load_before = os.getloadavg()
        try:
            for number in range(-1, self.rounds):  # round -1: untimed warm-up
                self._round(runners, spawner, number)
        finally:
            spawner.close()
            for runner in runners:
                runner.in_process.close()
        return self._report(load_before, os.getloadavg())

    def _runners(self) -> list[Runner]:
        base = self.workdir / "ablation"
        project = Path(os.path.realpath(base)) / "project"
        for sub in ("src", "bench", "docs"):
            (project / sub).mkdir(parents=True, exist_ok=True)
        template = base / "template"
        roles = build_json_state(template, self.sizes, time.time(), self.seed)
        runners = []
        for variant in self.variants:
            state = base / f"state-{_slug(variant.name)}"
            clone_state(template, state, variant.backend)
            env = base_env(self.workdir, self.python)
            env.update(COORD_STATE_DIR=str(state), CLAUDE_PROJECT_DIR=str(project))
            world = World(variant.backend, state, project, roles, env)
            root = variant_root(base, variant)
            shim = variant_shim(base, variant, root)
            server = InProcess(self.python, variant.python_flags(), root,
                               {**env, **variant.env}, base / "io" / _slug(variant.name))
            runners.append(Runner(variant, world, shim, root, self.python, server))
        shutil.rmtree(template, ignore_errors=True)
        return runners

    def _calls(self, runner: Runner, spawner: Spawner, mode: str, number: int
               ) -> Iterator[tuple[str, Callable[[], Sample]]]:
        world, roles, cwd = runner.world, runner.world.roles, runner.world.project
        tag = f"{mode}-{number}" if number >= 0 else f"{mode}-warm"
        index = 2 * (number + 1) + (mode == "in_process")
        new_session = f"{index:08x}-ab1a-4000-8000-{index:012x}"

        def start() -> Sample:
            return runner.hook(mode, spawner, "session-start",
                               payload("session-start", new_session, cwd, source="startup"))

        def prompt() -> Sample:
            world.setup_mail(UNREAD_PER_ROUND, tag)  # untimed
            return runner.hook(mode, spawner, "user-prompt-submit",
                               payload("user-prompt-submit", roles.reader, cwd,
                                       prompt="carry on"))

        def lock() -> Sample:
            return runner.hook(mode, spawner, "pre-tool-use", edit_payload(
                "pre-tool-use", roles.locker, cwd, cwd / "bench" / f"ablation_{tag}.py"))

        def broadcast() -> Sample:
            return runner.broadcast(mode, spawner, f"{tag}: I am refactoring src/pkg01, "
                                                   "please keep out for ten minutes")

        yield "session_loading", start
        yield "message_processing", prompt
        yield "file_locking", lock
        yield "broadcast", broadcast

    def _round(self, runners: list[Runner], spawner: Spawner, number: int) -> None:
        calls = {(r.variant.name, mode): dict(self._calls(r, spawner, mode, number))
                 for r in runners for mode in MODES}
        for op in OPERATIONS:
            order = list(calls)
            self.rng.shuffle(order)
            for name, mode in order:
                sample = calls[(name, mode)][op]()
                self._check(name, mode, op, sample, number)
                if number >= 0:
                    self.samples.setdefault(op, {}).setdefault(name, {}).setdefault(
                        mode, []).append(sample)
                if self.progress is not None:
                    self.progress.step(f"ablation round {number + 1}: {name} {op} {mode}")

    def _check(self, name: str, mode: str, op: str, sample: Sample, number: int) -> None:
        ok = {"session_loading": b"additionalContext" in sample.stdout,
              "message_processing": f"note {UNREAD_PER_ROUND - 1}".encode() in sample.stdout,
              "file_locking": sample.stdout.strip() == b"",
              "broadcast": b"broadcast #" in sample.stdout}[op]
        if sample.rc != 0 or not ok:
            self.failures.append({"variant": name, "mode": mode, "operation": op,
                                  "round": number, "rc": sample.rc,
                                  "stdout": sample.stdout[-300:].decode("utf-8", "replace"),
                                  "stderr": sample.stderr[-300:].decode("utf-8", "replace")})

    def _report(self, load_before: tuple[float, ...], load_after: tuple[float, ...]
                ) -> dict[str, Any]:
        operations: dict[str, Any] = {}
        for op in OPERATIONS:
            operations[op] = {name: {mode: _stats(self.samples.get(op, {}).get(name, {})
                                                  .get(mode, []))
                                     for mode in MODES}
                              for name in (v.name for v in self.variants)}
        memory = {}
        for variant in self.variants:
            rss = [s.rss_kb for op in HOOK_OPERATIONS
                   for s in self.samples.get(op, {}).get(variant.name, {}).get("whole", [])]
            memory[variant.name] = int(statistics.median(rss)) if rss else None
        return {
            "variants": [{"name": v.name, "backend": v.backend, "what": v.what,
                          "flags": v.python_flags(), "env": v.env,
                          "portalocker_blocked": v.block_portalocker,
                          "against": v.against, "gain": v.gain} for v in self.variants],
            "rounds": self.rounds,
            "load": {"before": [round(x, 2) for x in load_before],
                     "after": [round(x, 2) for x in load_after]},
            "operations": operations,
            "memory_kb": memory,
            "gains": gains(self.variants, operations, memory),
            "failures": self.failures,
        }


def _stats(samples: list[Sample]) -> dict[str, Any]:
    stats = summary(samples)
    stats.pop("rss_p50_kb", None)
    return stats


def gains(variants: Sequence[Variant], operations: dict[str, Any],
          memory: dict[str, int | None]) -> list[dict[str, Any]]:
    """Each optimization's gain: the variant without it over the variant with it (2.0 =
    switching it off doubles the time), per operation, whole-process and in-process."""
    names = {v.name for v in variants}
    result = []
    for variant in variants:
        if not variant.against or variant.against not in names:
            continue
        # "optimized" is compared with "legacy, no site": the slower one is the one without.
        off, on = ((variant.against, variant.name) if variant.name == "optimized"
                   else (variant.name, variant.against))
        row: dict[str, Any] = {"gain": variant.gain, "without": off, "with": on}
        for op in OPERATIONS:
            row[op] = {mode: ratio(operations[op][off][mode].get("p50_ms"),
                                   operations[op][on][mode].get("p50_ms")) for mode in MODES}
        row["memory"] = ratio(memory.get(off), memory.get(on))
        result.append(row)
    return result


def run(sizes: Sizes, rounds: int, python: str, workdir: Path | None = None, seed: int = 1,
        progress: Progress | None = None) -> dict[str, Any]:
    """The ablation report (see the module docstring); a temporary work dir by default."""
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="coord-ablation-")) if workdir is None else workdir
    try:
        return Ablation(sizes, rounds, python, work, seed, progress).run()
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
