#!/usr/bin/env python3
"""Count the modules one optimized `pre-tool-use` (a denied Edit) loads, through the shim.

    .venv/bin/python scripts/hook-modules.py [REPO] [--tree]

REPO defaults to this checkout (give another checkout, e.g. an extracted `git archive
main`, to compare). Like tests/hook/test_imports.py it runs the real shim with a stand-in
interpreter that adds ``-X importtime`` and dumps ``sys.modules`` at exit (and at
``os._exit``, which hooks end with): the backend is
imported by name (`store.open_store`), which ``-X importtime`` may not show, so
``sys.modules`` is the count that says what was loaded. ``--tree`` prints the import tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

WRAPPER = """#!{python}
import os, sys
args = sys.argv[1:]
i = args.index("-c")
args[i + 1] = ("import atexit, os, sys\\n"
    "dump = lambda: open({out!r}, 'w').write('\\\\n'.join(sorted(sys.modules)))\\n"
    "atexit.register(dump)\\n"
    "os._exit = lambda code, _exit=os._exit: (dump(), _exit(code))\\n"  # hooks end so
    + args[i + 1])
os.execv({python!r}, [{python!r}, "-X", "importtime", *args])
"""


def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--tree"]
    repo = Path(args[0] if args else Path(__file__).resolve().parents[1]).resolve()
    sys.path.insert(0, str(repo / "tests" / "hook"))
    import payloads as pl

    tmp = Path(tempfile.mkdtemp(prefix="hook-modules-"))
    root = tmp / "proj"
    (root / "src").mkdir(parents=True)
    cache = tmp / "cache" / "coord-hooks"
    cache.mkdir(parents=True)
    (cache / "python").write_text(sys.executable + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COORD_", "CLAUDE"))}
    env.update(CLAUDE_PROJECT_DIR=str(root), COORD_STATE_DIR=str(root / ".claude-coordination"),
               XDG_CACHE_HOME=str(tmp / "cache"), HOME=str(tmp))
    out = tmp / "modules.txt"
    wrapper = tmp / "python-traced"
    wrapper.write_text(WRAPPER.format(python=sys.executable, out=str(out)))
    wrapper.chmod(0o755)
    holders = [subprocess.Popen(["sleep", "60"]) for _ in range(2)]
    a, b = str(uuid.uuid4()), str(uuid.uuid4())

    def run(sid: str, pid: int, payload: object, extra: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[bytes]:
        run_env = dict(env, CLAUDE_PID=str(pid), CLAUDE_CODE_SESSION_ID=sid, **(extra or {}))
        return subprocess.run([str(repo / "shims" / "hooks.sh"), "pre-tool-use"],
                              input=json.dumps(payload).encode(), capture_output=True,
                              env=run_env, cwd=root, check=False)

    try:
        run(a, holders[0].pid, pl.write(a, str(root), f"{root}/i.py"))
        result = run(b, holders[1].pid, pl.edit(b, str(root), f"{root}/i.py"),
                     {"COORD_PYTHON": str(wrapper)})
    finally:
        for proc in holders:
            proc.kill()
    decision = json.loads(result.stdout)["hookSpecificOutput"]["permissionDecision"]
    assert decision == "deny", result
    loaded = out.read_text().split()
    timed = [line for line in result.stderr.decode().splitlines()
             if line.startswith("import time:") and "self [us]" not in line]
    ours = [m for m in loaded if m.startswith("coord_hooks")]
    print(f"{repo}: sys.modules at exit {len(loaded)}, -X importtime lines {len(timed)}, "
          f"coord_hooks modules {len(ours)}")
    print("  " + " ".join(ours))
    if "--tree" in sys.argv:
        print("\n".join(timed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
