#!/usr/bin/env python3
"""Hooks keep deciding locks while `coord backend use` and `coord migrate` run (issue 9 item 3).

    .venv/bin/python scripts/stress-migrate.py [--seconds 90] [--sessions 3] [--every 1.0]
        [--min-migrations N --max-seconds S] [--repo PATH] [--json] [--keep]

Several fake Claude Code sessions (a live ``sleep`` each, as ``$CLAUDE_PID``) run the REAL
``pre-tool-use`` shim with real-shaped Edit payloads on ONE shared file, in a loop. A
session whose Edit is allowed "edits": it creates ``held.flag`` with ``O_EXCL`` (finding
it there means two sessions hold the file at once: an overlapping hold), keeps it a
moment, removes it, then releases its lock with ``coord unlock`` (retried until it
answers). Meanwhile, every ``--every`` seconds, a driver switches the backend and moves
the state directory between layouts: ``backend use sqlite`` + ``migrate --to sqlite``,
then ``backend use optimized`` + ``migrate --to json``, then ``backend use legacy``, and
again. The shims live in a scratch plugin folder (``$CLAUDE_PLUGIN_ROOT``), so the
checkout's own ``shims/hooks.sh`` is never touched.

A fail-open is a ``pre-tool-use`` that logged ``outcome: error`` in
``logs/performance.log`` (it printed nothing, so Claude Code ran the Edit undecided).
Figures: runs (migrations, backend switches), hook calls, allows, denies, fail-opens,
overlapping holds, and how often a hook found the layout moved and decided again.
``--repo`` runs another checkout (an extracted ``git archive main``) for a before/after
comparison. Exit status 1 when any fail-open or overlap was seen (the scratch folder is
then kept, and named, for a look at its logs).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]


def payload(session_id: str, cwd: Path, path: Path) -> bytes:
    return json.dumps({
        "session_id": session_id,
        "transcript_path": f"/home/dev/.claude/projects/-work-demo/{session_id}.jsonl",
        "cwd": str(cwd), "prompt_id": "5b0c7a1e-2f3d-4c5b-8a9e-0d1f2e3c4b5a",
        "permission_mode": "acceptEdits", "effort": {"level": "medium"},
        "hook_event_name": "PreToolUse", "tool_name": "Edit",
        "tool_input": {"file_path": str(path), "old_string": "a", "new_string": "b",
                       "replace_all": False},
        "tool_use_id": f"toolu_stress_{uuid.uuid4().hex[:20]}",
    }).encode()


class Stress:
    def __init__(self, repo: Path, seconds: float, sessions: int, every: float,
                 min_migrations: int = 0, max_seconds: float = 0.0) -> None:
        self.repo, self.seconds, self.every = repo, seconds, every
        self.min_migrations = min_migrations
        self.max_seconds = max(max_seconds, seconds)
        self.tmp = Path(tempfile.mkdtemp(prefix="coord-stress-migrate-"))
        self.project = self.tmp / "proj"
        (self.project / "src").mkdir(parents=True)
        self.target = self.project / "src" / "shared.py"
        self.target.write_text("a\n")
        self.flag = self.tmp / "held.flag"
        self.state = self.project / ".claude-coordination"
        self.plugin = self.tmp / "plugin"
        cache = self.tmp / "cache"
        (cache / "coord-hooks").mkdir(parents=True)
        (cache / "coord-hooks" / "python").write_text(sys.executable + "\n")
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("COORD_", "CLAUDE"))}
        self.env.update(CLAUDE_PROJECT_DIR=str(self.project), COORD_STATE_DIR=str(self.state),
                        CLAUDE_PLUGIN_ROOT=str(self.plugin), XDG_CACHE_HOME=str(cache),
                        HOME=str(self.tmp), PYTHONPATH=str(repo),
                        COORD_CONFIG=str(self.tmp / "none.toml"))
        subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                        "from coord_hooks.ops.shims import generate; "
                        "generate(Path(sys.argv[1]), package_root=sys.argv[2])",
                        str(self.plugin / "shims"), str(repo)], env=self.env, check=True)
        self.procs = [subprocess.Popen(["sleep", str(self.max_seconds + 120)])
                      for _ in range(sessions)]
        self.ids = [str(uuid.uuid4()) for _ in range(sessions)]
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def coord(self, extra: list[str], *args: str, session: int | None = None,
              check: bool = True) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if session is not None:
            env.update(CLAUDE_CODE_SESSION_ID=self.ids[session],
                       CLAUDE_PID=str(self.procs[session].pid))
        result = subprocess.run([sys.executable, "-m", "coord_hooks", *extra, *args],
                                env=env, cwd=self.project, capture_output=True, text=True,
                                timeout=120, check=False)
        if check and result.returncode != 0:
            raise SystemExit(f"coord {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def hook(self, session: int, event: str, data: bytes) -> str:
        env = dict(self.env, CLAUDE_PID=str(self.procs[session].pid))
        result = subprocess.run([str(self.plugin / "shims" / "hooks.sh"), event], input=data,
                                env=env, cwd=self.project, capture_output=True, timeout=120,
                                check=False)
        if result.returncode != 0 or result.stderr:
            self.count("hook-stderr-or-exit")
        return result.stdout.decode()

    def count(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.counts[what] += n

    def worker(self, session: int) -> None:
        rng = random.Random(session)
        start = json.dumps({"session_id": self.ids[session], "cwd": str(self.project),
                            "hook_event_name": "SessionStart", "source": "startup"}).encode()
        self.hook(session, "session-start", start)
        while not self.stop.is_set():
            out = self.hook(session, "pre-tool-use",
                            payload(self.ids[session], self.project, self.target))
            self.count("hook_calls")
            if out:
                self.count("denied")
                time.sleep(rng.uniform(0.01, 0.05))
                continue
            self.count("allowed")
            try:
                fd = os.open(self.flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                self.count("overlapping_holds")
                fd = None
            time.sleep(rng.uniform(0.02, 0.08))  # the edit
            if fd is not None:
                os.close(fd)
                os.unlink(self.flag)
            for _attempt in range(200):  # release; a migration may make it wait or refuse
                done = self.coord([], "unlock", str(self.target), session=session,
                                  check=False)
                if done.returncode in (0, 1):  # released, or no lock (taken on a fail-open)
                    break
                self.count("unlock_retries")
                time.sleep(0.05)

    def driver(self) -> None:
        steps = [("backend", "use", "sqlite"), ("migrate", "--to", "sqlite"),
                 ("backend", "use", "optimized"), ("migrate", "--to", "json"),
                 ("backend", "use", "legacy"), ("backend", "use", "optimized")]
        n = 0
        while not self.stop.wait(self.every):
            args = steps[n % len(steps)]
            n += 1
            result = self.coord([], *args, check=False)
            kind = "migrations" if args[0] == "migrate" else "backend_switches"
            self.count(kind if result.returncode == 0 else f"{kind}_refused")

    def run(self) -> dict[str, Any]:
        threads = [threading.Thread(target=self.worker, args=(i,)) for i in range(len(self.ids))]
        threads.append(threading.Thread(target=self.driver))
        began = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(self.seconds)
        # A loaded machine migrates less often per second: run on until enough happened.
        while (self.counts["migrations"] < self.min_migrations
               and time.monotonic() - began < self.max_seconds):
            time.sleep(0.2)
        self.stop.set()
        for thread in threads:
            thread.join(300)
        for proc in self.procs:
            proc.kill()
            proc.wait()
        perf = self.state / "logs" / "performance.log"
        outcomes: Counter[str] = Counter()
        for path in sorted(perf.parent.glob("performance.log*")):
            for line in path.read_text().splitlines():
                record = json.loads(line)
                if record.get("hook") == "PreToolUse":
                    outcomes[record.get("outcome", "?")] += 1
        app = self.state / "logs" / "app.log"
        lines = app.read_text().splitlines() if app.exists() else []
        failures = [json.loads(line) for line in lines if '"hook_failed"' in line]
        retried = sum(1 for line in lines if '"layout_changed_retry"' in line)
        errors = Counter(str(f.get("error", ""))[:90] for f in failures)
        return {"repo": str(self.repo), "seconds": round(time.monotonic() - began, 1),
                "sessions": len(self.ids), "every_s": self.every, **self.counts,
                "fail_opens": outcomes.get("error", 0), "layout_retries": retried,
                "outcomes": dict(outcomes),
                "hook_failed_errors": dict(errors.most_common(5)), "state_dir": str(self.state)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--repo", type=Path, default=HERE)
    parser.add_argument("--min-migrations", type=int, default=0,
                        help="run past --seconds until this many migrations happened")
    parser.add_argument("--max-seconds", type=float, default=0.0,
                        help="... but never longer than this")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    stress = Stress(args.repo.resolve(), args.seconds, args.sessions, args.every,
                    args.min_migrations, args.max_seconds)
    report = stress.run()
    report.setdefault("overlapping_holds", 0)
    failed = bool(report["fail_opens"] or report["overlapping_holds"])
    if not (failed or args.keep):
        shutil.rmtree(stress.tmp, ignore_errors=True)
        report.pop("state_dir")
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for key, value in report.items():
            print(f"{key}: {value}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
