#!/usr/bin/env python3
"""Delivery under killed hooks: how many messages are lost or shown twice (issue 9, item 11).

    python3 scripts/delivery-kill-test.py [--hooks 250] [--root DIR] [--backend optimized]
                                          [--seed 9] [--json]

One throwaway project. A sender process sends a steady stream of direct messages and
broadcasts to three recipient sessions while, for each recipient, prompt hooks
(UserPromptSubmit) and tool hooks (PostToolUse, every one due) run one after another
through the real shim of ``--root`` (default: this checkout; point it at an export of
another commit, e.g. ``git archive main | tar -x -C /tmp/before``, to compare). Most
hooks are SIGKILLed at a random 50-200 ms, the rest run with their stdout closed (a
reader that went away) or undisturbed. At the end each recipient runs clean prompt hooks
until nothing more comes. Then, per message and recipient:

* **lenient**: a message arrived if it reached any hook's stdout (the issue's measure);
* **strict**: only the stdout of hooks that exited 0 counts: Claude Code drops the
  output of a hook it kills (at its timeout), so this is what a model would have seen.

``lost`` = addressed but never arrived; ``duplicated`` = arrived more than once.
Standard library only; prints a table (or JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOKEN = re.compile(r"ktm-(\d{5})")

SENDER = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
from coord_hooks.context import open_context
sender, stop_file, every = sys.argv[2], sys.argv[4], float(sys.argv[5])
recipients = sys.argv[3].split(",")
ctx = open_context()
n = 0
while True:
    try:
        open(stop_file).close()
        break
    except FileNotFoundError:
        pass
    body = f"ktm-{n:05d} status note"
    if n % 3 == 2:
        m = ctx.coordinator.broadcast(sender, body)
        print(f"{n} * {m.seq}", flush=True)
    else:
        to = recipients[n % len(recipients)]
        m = ctx.coordinator.send(sender, to, body)
        print(f"{n} {to} {m.seq}", flush=True)
    n += 1
    time.sleep(every)
ctx.store.close()
"""


def payload(event: str, session_id: str, cwd: str) -> bytes:
    base = {"session_id": session_id, "transcript_path": f"/tmp/{session_id}.jsonl", "cwd": cwd,
            "permission_mode": "acceptEdits", "hook_event_name": event}
    if event == "UserPromptSubmit":
        base["prompt"] = "go on"
    else:
        base.update(tool_name="Bash", tool_input={"command": "ls"},
                    tool_response={"stdout": "", "stderr": ""}, tool_use_id="toolu_x",
                    duration_ms=3)
    return json.dumps(base).encode()


class Recipient:
    def __init__(self, name: str) -> None:
        self.name = name
        self.session_id = str(uuid.uuid4())
        self.stand_in = subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL)
        self.strict: list[int] = []
        self.lenient: list[int] = []
        self.hooks = self.kills = self.closed = 0


def run_hook(shim: Path, event: str, who: Recipient, env: dict[str, str], cwd: Path,
             mode: str, rng: random.Random) -> None:
    data = payload(event, who.session_id, str(cwd))
    hook_env = {**env, "CLAUDE_PID": str(who.stand_in.pid),
                "CLAUDE_CODE_SESSION_ID": who.session_id}
    who.hooks += 1
    if mode == "closed":
        read_end, write_end = os.pipe()
        os.close(read_end)
        subprocess.run([str(shim), "user-prompt-submit" if event == "UserPromptSubmit"
                        else "post-tool-use"], input=data, stdout=write_end,
                       stderr=subprocess.DEVNULL, env=hook_env, cwd=cwd, timeout=60,
                       check=False)
        os.close(write_end)
        who.closed += 1
        return
    proc = subprocess.Popen([str(shim), "user-prompt-submit" if event == "UserPromptSubmit"
                             else "post-tool-use"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=hook_env,
                            cwd=cwd)
    assert proc.stdin is not None and proc.stdout is not None
    timer = None
    if mode == "kill":
        timer = threading.Timer(rng.uniform(0.05, 0.20), proc.send_signal, [signal.SIGKILL])
        timer.start()
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    out = proc.stdout.read().decode(errors="replace")
    proc.wait()
    if timer is not None:
        timer.cancel()
    found = [int(n) for n in TOKEN.findall(out)]
    who.lenient += found
    if proc.returncode == 0:
        who.strict += found
    else:
        who.kills += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hooks", type=int, default=250, help="disturbed hooks in all")
    parser.add_argument("--root", type=Path, default=REPO,
                        help="package root whose shims/hooks-<backend>.sh to run")
    parser.add_argument("--backend", default="optimized")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--closed", type=float, default=0.15,
                        help="share of hooks run with stdout closed")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    root = args.root.resolve()
    shim = root / "shims" / f"hooks-{args.backend}.sh"
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="coord-kill-"))
    project = tmp / "project"
    project.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COORD_", "CLAUDE"))}
    env.update(HOME=str(tmp), CLAUDE_PROJECT_DIR=str(project), COORD_PYTHON=sys.executable,
               COORD_STATE_DIR=str(project / ".claude-coordination"),
               XDG_CACHE_HOME=str(tmp / "cache"), COORD_BACKEND=args.backend,
               # every tool hook is due: mid-turn delivery as often as prompts
               COORD_MIDTURN_WAIT="0", COORD_MIDTURN_INTERVAL="0")
    recipients = [Recipient(n) for n in ("r1", "r2", "r3")]
    sender_id = str(uuid.uuid4())
    started = time.monotonic()
    sender = None
    try:
        for who in [*recipients]:
            run_hook(shim, "UserPromptSubmit", who, env, project, "clean", rng)
        subprocess.run([str(shim), "session-start"], env={**env, "CLAUDE_PID": str(os.getpid())},
                       input=json.dumps({"session_id": sender_id, "cwd": str(project),
                                         "hook_event_name": "SessionStart",
                                         "source": "startup"}).encode(),
                       cwd=project, capture_output=True, timeout=60, check=False)
        stop_file = tmp / "stop"
        sender = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", SENDER, str(root), sender_id,
             ",".join(r.session_id for r in recipients), str(stop_file), "0.02"],
            env=env, cwd=project, stdout=subprocess.PIPE, text=True)
        per = args.hooks // len(recipients)

        def work(who: Recipient) -> None:
            local = random.Random(rng.random())
            for _ in range(per):
                event = local.choice(("UserPromptSubmit", "PostToolUse"))
                mode = "closed" if local.random() < args.closed else "kill"
                run_hook(shim, event, who, env, project, mode, local)

        threads = [threading.Thread(target=work, args=(r,)) for r in recipients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stop_file.touch()
        assert sender.stdout is not None
        sent = [line.split() for line in sender.stdout.read().splitlines()]
        sender.wait(timeout=60)
        for who in recipients:  # the next prompts, undisturbed, until nothing is left
            for _ in range(200):
                before = len(who.lenient)
                hooks_before = who.hooks
                run_hook(shim, "UserPromptSubmit", who, env, project, "clean", rng)
                who.hooks = hooks_before  # not counted among the disturbed
                if len(who.lenient) == before:
                    break
    finally:
        if sender is not None and sender.poll() is None:
            sender.kill()
        for who in recipients:
            who.stand_in.kill()
            who.stand_in.wait()
    expected: dict[str, set[int]] = {r.session_id: set() for r in recipients}
    for n, to, _seq in sent:
        for who in recipients:
            if to in ("*", who.session_id):
                expected[who.session_id].add(int(n))
    report: dict[str, object] = {
        "root": str(root), "backend": args.backend, "seed": args.seed,
        "hooks": sum(r.hooks for r in recipients), "killed": sum(r.kills for r in recipients),
        "stdout_closed": sum(r.closed for r in recipients), "messages_sent": len(sent),
        "deliveries_expected": sum(len(v) for v in expected.values()),
        "seconds": round(time.monotonic() - started, 1)}
    for measure in ("lenient", "strict"):
        lost = dup = 0
        for who in recipients:
            got: list[int] = getattr(who, measure)
            lost += len(expected[who.session_id] - set(got))
            dup += len(got) - len(set(got))
        report[f"lost_{measure}"] = lost
        report[f"duplicated_{measure}"] = dup
    shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:22} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
