#!/usr/bin/env python3
"""Delivery latency through the real Claude Code CLI: from `coord send` returning to the
text being in the recipient's next model request (issue 11, item 4).

    python3 scripts/delivery-latency.py [--messages 20] [--gap 5 9] [--idle] [--window S]
                                        [--json]

Busy (default): one ``claude -p`` session (the pinned CLI, offline, against the scripted
fake model of tests/e2e, with this checkout loaded as a plugin) works through a long
turn of one-second Bash steps. Meanwhile this script sends it plain direct messages
with ``coord send`` at random intervals (``--gap`` seconds) and notes when each command
returned. Each latency is the arrival time, at the fake model, of the first request
that carries the message, minus that moment.

Idle (``--idle``): the same against an interactive session (tmux) sitting at its prompt,
which the plugin's monitor (`coord hook watch`) wakes; see README "When messages
arrive". Standard library only; prints p50/p95/min/max (or JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
sys.path.insert(0, str(REPO))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def coord_env(repo: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COORD_", "CLAUDE"))}
    env.update(CLAUDE_PROJECT_DIR=str(repo), HOME=str(home))
    return env


def send(repo: Path, home: Path, to: str, text: str) -> float:
    """Run `coord send TO TEXT` as a person would; the moment it returned."""
    out = subprocess.run([sys.executable, "-m", "coord_hooks", "send", to, text],
                         env=coord_env(repo, home), cwd=repo, capture_output=True, text=True,
                         timeout=60, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"coord send failed: {out.stderr.strip()}")
    return time.time()


def arrivals(log: Path, scenario: str, tokens: dict[str, float]) -> dict[str, float]:
    """token -> arrival time of the first main request after its send that carries it."""
    found: dict[str, float] = {}
    if not log.exists():
        return found
    for line in log.read_text().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if record.get("scenario") != scenario or record.get("kind") != "main":
            continue
        text = json.dumps(record.get("body", {}).get("messages", []))
        for token, sent in tokens.items():
            if token not in found and token in text and record["ts"] >= sent:
                found[token] = record["ts"]
    return found


def registered(repo: Path, home: Path, name: str, timeout: float = 60) -> None:
    """Wait until a session named ``name`` ('' for any) is registered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run([sys.executable, "-m", "coord_hooks", "sessions", "--json"],
                             env=coord_env(repo, home), cwd=repo, capture_output=True,
                             text=True, timeout=60, check=False)
        if out.returncode == 0 and any(s["name"] == name or not name
                                       for s in json.loads(out.stdout)["sessions"]):
            return
        time.sleep(0.5)
    raise RuntimeError(f"session {name!r} never registered")


def session_env(args: argparse.Namespace) -> dict[str, str]:
    env = {"COORD_PYTHON": sys.executable}
    if args.window is not None:
        env["COORD_MIDTURN_WAIT"] = str(args.window)
    return env


def busy(args: argparse.Namespace, root: Path, claude: Path) -> dict[str, Any]:
    from harness import ClaudeHarness, Session, bash, say

    duration = args.messages * sum(args.gap) / 2 + 20
    h = ClaudeHarness(root, claude, plugin_dirs=[REPO],
                      user_settings={"permissions": {"allow": ["Bash(coord:*)"]}},
                      env=session_env(args))
    steps = int(duration / 1.2) + 40
    turns = [bash("coord name bob", "name myself"),
             *[bash("e2e-wait done 1", "work a second") for _ in range(steps)],
             say("b done")]
    result: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: result.update(
        run=h.run(Session("b", turns), timeout=duration + steps * 2 + 120)))
    runner.start()
    registered(h.repo, h.home, "bob")
    rng = random.Random(args.seed)
    tokens: dict[str, float] = {}
    for n in range(args.messages):
        time.sleep(rng.uniform(*args.gap))
        token = f"lat-{n:03d}-{rng.randrange(10**6):06d}"
        tokens[token] = send(h.repo, h.home, "bob", f"status {token}: carry on")
    time.sleep(max(args.gap) + 5)
    (h.barrier_dir / "done").parent.mkdir(parents=True, exist_ok=True)
    (h.barrier_dir / "done").touch()
    runner.join()
    run_dir = result["run"].run_dir
    got = arrivals(run_dir / "requests.jsonl", "b", tokens)
    return {"latencies": [got[t] - tokens[t] for t in tokens if t in got],
            "missing": sorted(set(tokens) - set(got)), "run_dir": str(run_dir)}


def idle_now(repo: Path) -> bool:
    """Is the (only) session idle: its turn ended and no prompt came since?"""
    from coord_hooks.context import open_context

    ctx = open_context(cwd=str(repo), environ={"CLAUDE_PROJECT_DIR": str(repo)}, create=False)
    try:
        with ctx.store.read() as view:
            return any(s.idle_since is not None and not s.ended for s in view.sessions())
    finally:
        ctx.store.close()


def idle(args: argparse.Namespace, root: Path, claude: Path) -> dict[str, Any]:
    from harness import ClaudeHarness, Session, say

    h = ClaudeHarness(root, claude, plugin_dirs=[REPO], env=session_env(args))
    turns = [say("ready"), *[say(f"noted {n}") for n in range(args.messages)]]
    run = h.start(Session("b", turns, interactive=True),
                  timeout=args.messages * (max(args.gap) + 30) + 120)
    rng = random.Random(args.seed)
    tokens: dict[str, float] = {}
    got: dict[str, float] = {}
    try:
        registered(h.repo, h.home, "", timeout=60)
        time.sleep(2.0)  # the TUI draws its prompt after SessionStart
        run.type("b", "hello")
        for n in range(args.messages):
            run.until("the session to be idle", lambda: idle_now(h.repo), seconds=60)
            time.sleep(rng.uniform(*args.gap))  # idle for a while: no turn under way
            token = f"lat-{n:03d}-{rng.randrange(10**6):06d}"
            tokens[token] = send(h.repo, h.home, _only_session(h.repo, h.home),
                                 f"status {token}: carry on")
            run.until(f"the wake for {token}",
                      lambda t=token: arrivals(run.run_dir / "requests.jsonl", "b",
                                               {t: tokens[t]}), seconds=60)
        got = arrivals(run.run_dir / "requests.jsonl", "b", tokens)
    finally:
        run.type("b", "/exit")
        run.wait()
    return {"latencies": [got[t] - tokens[t] for t in tokens if t in got],
            "missing": sorted(set(tokens) - set(got)), "run_dir": str(run.run_dir)}


def _only_session(repo: Path, home: Path) -> str:
    out = subprocess.run([sys.executable, "-m", "coord_hooks", "sessions", "--json"],
                         env=coord_env(repo, home), cwd=repo, capture_output=True, text=True,
                         timeout=60, check=True)
    [session] = json.loads(out.stdout)["sessions"]
    return str(session["handle"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--gap", type=float, nargs=2, default=(5.0, 9.0),
                        metavar=("MIN", "MAX"), help="seconds between two sends")
    parser.add_argument("--idle", action="store_true", help="an idle interactive recipient")
    parser.add_argument("--window", type=float, default=None,
                        help="the recipient's coalescing window, midturn_wait (default: 3 s)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true", help="keep the run directory")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from harness import find_claude

    found = find_claude()
    if found is None:
        print("no claude CLI: run scripts/install-claude-cli.sh", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="coord-latency-"))
    report = (idle if args.idle else busy)(args, root, found[0])
    values = report["latencies"]
    summary = {"recipient": "idle" if args.idle else "busy", "messages": args.messages,
               "window_s": 3.0 if args.window is None else args.window,
               "delivered": len(values), "missing": report["missing"],
               "p50_s": round(statistics.median(values), 2) if values else None,
               "p95_s": round(percentile(values, 0.95), 2) if values else None,
               "min_s": round(min(values), 2) if values else None,
               "max_s": round(max(values), 2) if values else None,
               "latencies_s": [round(v, 2) for v in values], "cli": found[1],
               "run_dir": report["run_dir"] if args.keep else None}
    if not args.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for key, value in summary.items():
            print(f"{key:12} {value}")
    return 0 if not report["missing"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
