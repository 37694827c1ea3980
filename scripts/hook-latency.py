#!/usr/bin/env python3
"""Hook latency: `pre-tool-use` through the real shim vs bare interpreter start-up.

    python3 scripts/hook-latency.py [--runs 50] [--backend optimized]

Everything runs in one throwaway project, interleaved round-robin (so machine noise
hits every variant alike), each run a fresh process the way Claude Code spawns hooks:

* ``python3 -c pass``: whatever ``python3`` is on PATH (often a pyenv/asdf shim);
* ``<resolved> -c pass`` and ``-I -S -c pass``: the real interpreter the shim caches;
* ``import the hook path only``: that interpreter importing what a hook imports;
* ``shim pre-tool-use (renew)``: shims/hooks.sh for an Edit of a file this session
  already holds (the common case: allowed, prints nothing);
* ``shim pre-tool-use (deny)``: another session's Edit of it (prints the deny JSON);
* ``... without -S``: the same renew through a shim generated with site-packages on.

Prints p50/p95/min in milliseconds. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--backend", default="optimized")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from coord_hooks.ops import shims

    tmp = Path(tempfile.mkdtemp(prefix="coord-latency-"))
    stand_ins: list[subprocess.Popen[bytes]] = []
    try:
        project = tmp / "project"
        project.mkdir()
        home = tmp / "home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("COORD_", "CLAUDE"))}
        env.update(HOME=str(home), CLAUDE_PROJECT_DIR=str(project))
        env.pop("XDG_CACHE_HOME", None)
        shim = REPO / "shims" / f"hooks-{args.backend}.sh"
        no_s = tmp / "no-S"
        shims.generate(no_s, package_root=str(REPO))
        text = (no_s / shim.name).read_text().replace(shims.flags_line(["-I", "-S"]),
                                                        shims.flags_line(["-I"]))
        (no_s / shim.name).write_text(text)

        def session() -> tuple[str, dict[str, str]]:
            proc = subprocess.Popen(["sleep", "3600"])
            stand_ins.append(proc)
            return str(uuid.uuid4()), {**env, "CLAUDE_PID": str(proc.pid)}

        def hook(path: Path, event: str, payload: dict[str, object],
                 penv: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
            return subprocess.run([str(path), event], input=json.dumps(payload).encode(),
                                  capture_output=True, env=penv, cwd=project, check=False)

        def payload(sid: str, tool: str) -> dict[str, object]:
            return {"session_id": sid, "transcript_path": f"/tmp/{sid}.jsonl",
                    "cwd": str(project), "permission_mode": "acceptEdits",
                    "effort": {"level": "medium"}, "hook_event_name": "PreToolUse",
                    "tool_name": tool, "tool_input": {"file_path": str(project / "app.py"),
                                                      "old_string": "a", "new_string": "b"},
                    "tool_use_id": "toolu_latency"}

        a_id, a_env = session()
        b_id, b_env = session()
        start = {"cwd": str(project), "hook_event_name": "SessionStart", "source": "startup"}
        for sid, senv in ((a_id, a_env), (b_id, b_env)):  # also resolves + caches python3
            hook(shim, "session-start", {**start, "session_id": sid}, senv)
        first = hook(shim, "pre-tool-use", payload(a_id, "Write"), a_env)
        deny = hook(shim, "pre-tool-use", payload(b_id, "Edit"), b_env)
        assert first.stdout == b"" and b'"deny"' in deny.stdout, (first, deny)
        resolved = (home / ".cache" / "coord-hooks" / "python").read_text().strip()
        python3 = shutil.which("python3") or "python3"

        variants: dict[str, list[str] | tuple[Path, str, dict[str, object], dict[str, str]]] = {
            f"python3 -c pass ({python3})": [python3, "-c", "pass"],
            f"resolved -c pass ({resolved})": [resolved, "-c", "pass"],
            "resolved -I -S -c pass": [resolved, "-I", "-S", "-c", "pass"],
            "resolved -I -S, import the hook path only": [
                resolved, "-I", "-S", "-c",
                f"import sys; sys.path.insert(0, {str(REPO)!r}); import coord_hooks.hook.tools, "
                f"coord_hooks.coordination.locks, coord_hooks.store.{args.backend}"],
            "shim pre-tool-use, renew (allow)": (shim, "pre-tool-use", payload(a_id, "Edit"),
                                                 a_env),
            "shim pre-tool-use, deny": (shim, "pre-tool-use", payload(b_id, "Edit"), b_env),
            "shim without -S, renew": (no_s / shim.name, "pre-tool-use",
                                       payload(a_id, "Edit"), a_env),
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.runs):
            for name, spec in variants.items():
                started = time.perf_counter()
                if isinstance(spec, list):
                    subprocess.run(spec, check=True, env=env)
                else:
                    done = hook(*spec)
                    assert done.returncode == 0
                times[name].append((time.perf_counter() - started) * 1000)
        print(f"backend {args.backend}, {args.runs} runs each, interleaved; "
              f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}")
        print(f"{'variant':<{max(map(len, times))}}  {'p50':>7}  {'p95':>7}  {'min':>7}")
        for name, values in times.items():
            print(f"{name:<{max(map(len, times))}}  {statistics.median(values):7.1f}  "
                  f"{percentile(values, 0.95):7.1f}  {min(values):7.1f}")
    finally:
        for proc in stand_ins:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
