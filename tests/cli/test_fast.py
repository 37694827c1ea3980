"""The stdlib fast path of ``coord send``/``coord broadcast`` behaves exactly like Typer's.

Each case runs twice on two identical state dirs: once through ``python -m coord_hooks``
(which takes the fast path when it can) and once straight through the Typer app; the
outputs, exit codes and resulting records must be the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coord_hooks.cli.fast import parse
from coord_hooks.store import BACKENDS
from coord_hooks.store.layout import BACKEND_LAYOUT

REPO = Path(__file__).resolve().parents[2]
ALICE = "aaaa1111-0000-4000-8000-0000000000fa"
BOB = "bbbb2222-0000-4000-8000-0000000000fb"
TYPER = ("import sys; sys.path.insert(0, sys.argv.pop(1)); from coord_hooks.cli.app import "
         "run_cli; raise SystemExit(run_cli(sys.argv[1:]))")
MODULES = ("import sys, runpy; sys.path.insert(0, sys.argv.pop(1)); sys.argv[0] = 'coord'; "
           "import atexit; atexit.register(lambda: sys.stderr.write('MODULES ' + ' '.join("
           "sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'click', 'rich')))"
           " + '\\n')); runpy.run_module('coord_hooks', run_name='__main__')")


def _env(state: Path, acting: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COORD_", "CLAUDE"))}
    env.update(COORD_STATE_DIR=str(state), COORD_BACKEND="optimized",
               COORD_CONFIG=str(state.parent / "none.toml"), COLUMNS="200")
    if acting:
        env["CLAUDE_CODE_SESSION_ID"] = acting
    return env


def _run(code: str, state: Path, args: list[str], acting: str | None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, str(REPO), *args], env=_env(state, acting),
                          capture_output=True, text=True, timeout=120, check=False)


def _setup(state: Path) -> None:
    from coord_hooks.coordination import Coordinator
    from coord_hooks.settings import Settings
    from coord_hooks.store import open_store

    store = open_store("optimized", state)
    coord = Coordinator(store, Settings(), state.parent, state)
    coord.register(ALICE, name="alice")
    coord.register(BOB, name="bob")
    store.close()


def _records(state: Path) -> list[tuple[str, str, str, bool]]:
    from coord_hooks.store import open_store

    store = open_store("optimized", state)
    store.flush()
    with store.read() as view:
        return [(m.sender, m.recipient, m.body, m.urgent) for m in view.messages_after(0)]


CASES = [
    (["broadcast", "hello everyone"], ALICE),
    (["broadcast", "--urgent", "stop the build"], ALICE),
    (["broadcast", "from a person"], None),
    (["send", "bob", "please release src/app.py"], ALICE),
    (["send", "alice", "done", "--urgent"], BOB),
    (["send", BOB[:6], "by prefix"], ALICE),
    (["send", "nobody", "lost"], ALICE),  # error: unknown recipient
    (["send", "bob", "   "], ALICE),  # error: empty message
    (["broadcast", "x" * 5000], ALICE),  # error: too long
]


@pytest.mark.parametrize(("args", "acting"), CASES)
def test_fast_path_matches_typer(tmp_path: Path, args: list[str], acting: str | None) -> None:
    fast_state, typer_state = tmp_path / "fast" / "state", tmp_path / "typer" / "state"
    for state in (fast_state, typer_state):
        _setup(state)
    fast = _run(MODULES, fast_state, args, acting)
    slow = _run(TYPER, typer_state, args, acting)
    assert (fast.returncode, fast.stdout) == (slow.returncode, slow.stdout)
    assert fast.stderr.split("MODULES")[0] == slow.stderr
    assert _records(fast_state) == _records(typer_state)
    if fast.returncode == 0:
        # Success never imported Typer, Click or Rich.
        assert fast.stderr.strip() == "MODULES", fast.stderr


def test_only_plain_forms_take_the_fast_path() -> None:
    assert parse(["broadcast", "hi"]) == ("broadcast", ["hi"], False)
    assert parse(["send", "bob", "hi", "--urgent"]) == ("send", ["bob", "hi"], True)
    for args in (["broadcast", "--json", "hi"], ["send", "bob", "-"], ["broadcast"],
                 ["send", "bob"], ["broadcast", "a", "b"], ["send", "-s", "x", "bob", "hi"],
                 ["broadcast", "--help"], ["broadcast", "--", "-x"], ["--backend", "legacy",
                                                                     "broadcast", "hi"]):
        assert parse(args) is None, args


@pytest.mark.parametrize("backend", sorted(b for b in BACKENDS  # an archive file to break
                                            if BACKEND_LAYOUT.get(b) in ("json", "sqlite")))
def test_a_send_whose_retention_fails_is_stored_once_with_a_warning(
        tmp_path: Path, backend: str) -> None:
    """Issue 9, item 10: retention failed after the fast path had stored the message;
    it fell back to Typer, which stored it again and reported an internal error (70)."""
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COORD_", "CLAUDE"))}
    env.update(COORD_STATE_DIR=str(state), COORD_BACKEND=backend,
               COORD_RETENTION_MESSAGES="1", COORD_CONFIG=str(tmp_path / "none.toml"))

    def coord(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "coord_hooks", *args], env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    (state / "archive" / "messages.jsonl.gz").mkdir(parents=True)  # archiving must fail
    for n in range(1, 12):  # 11 live messages: retention is due above 1 + 10
        assert coord("broadcast", f"m{n}").returncode == 0
    done = coord("broadcast", "the twelfth")
    assert (done.returncode, done.stdout) == (0, "broadcast #12 to 0 live sessions\n")
    [warning] = done.stderr.splitlines()
    assert warning.startswith("coord: warning: message #12 was stored, but archiving "
                              "older messages failed: cannot append to ")
    assert warning.endswith("messages.jsonl.gz: Is a directory")
    typer_path = coord("broadcast", "--json", "the thirteenth")  # not a plain form
    assert typer_path.returncode == 0 and json.loads(typer_path.stdout)
    assert typer_path.stderr.startswith("coord: warning: message #13 was stored, but ")
    listed = json.loads(coord("messages", "--json").stdout)["messages"]
    assert [m["body"] for m in listed] == [
        *(f"m{n}" for n in range(1, 12)), "the twelfth", "the thirteenth"]

    cleanup = coord("cleanup")  # the archive path a directory: one line, not exit 70
    assert cleanup.returncode == 4
    assert cleanup.stderr.startswith("coord: error: cannot append to ")
    assert cleanup.stderr.count("\n") == 1
