"""The standard-library path (what ``bin/coord`` runs with a bare python3) behaves exactly
like the Typer app.

Each case runs on two copies of one prepared state: once through ``bin/coord`` with a
PATH whose only python3 is a virtualenv without any package (so the script takes its
standard-library branch), once through the Typer app. Exit codes, ``--json`` documents,
error lines and the text output must be the same. The Typer app runs with Rich blocked
here so that both draw plain tables; `test_typer_path_draws_rich_tables` covers Rich.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coord_hooks.cli import usage
from coord_hooks.cli.fast import FULL_ONLY, parse
from coord_hooks.store import BACKENDS
from coord_hooks.store.layout import BACKEND_LAYOUT

REPO = Path(__file__).resolve().parents[2]
ALICE = "aaaa1111-0000-4000-8000-0000000000fa"
BOB = "bbbb2222-0000-4000-8000-0000000000fb"
TYPER_PLAIN = ("import sys; sys.modules['rich'] = None; sys.path.insert(0, sys.argv.pop(1)); "
               "from coord_hooks.cli.app import run_cli; raise SystemExit(run_cli(sys.argv[1:]))")
MODULES = ("import sys, runpy; sys.path.insert(0, sys.argv.pop(1)); sys.argv[0] = 'coord'; "
           "import atexit; atexit.register(lambda: sys.stderr.write('MODULES ' + ' '.join("
           "sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'click', 'rich')))"
           " + '\\n')); runpy.run_module('coord_hooks', run_name='__main__')")
# Times move between the two runs: compare everything else.
AGE = re.compile(r"\b\d+[smhd] ago\b")
TIME_KEYS = {"idle_s", "age_s", "last_seen", "renewed_at", "acquired_at", "created_at",
             "registered_at", "oldest_unread_age_s", "oldest_age_s", "last_rebuild_age_s",
             "last_rebuild", "written_at", "ts"}


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bin dir whose python3 has the standard library only (a venv without packages)."""
    root = tmp_path_factory.mktemp("bare-venv")
    venv.create(root, with_pip=False, system_site_packages=False)
    check = subprocess.run([str(root / "bin" / "python3"), "-c", "import typer"],
                           capture_output=True, check=False)
    assert check.returncode != 0, "the bare venv must not see typer"
    only = tmp_path_factory.mktemp("bare-bin")
    (only / "python3").symlink_to(root / "bin" / "python3")
    for tool in ("bash", "mkdir", "mv", "rm", "readlink"):  # what bin/coord itself uses
        found = shutil.which(tool)
        assert found, tool
        (only / tool).symlink_to(found)
    return only


def _env(tmp: Path, state: Path | None, acting: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COORD_", "CLAUDE", "XDG_"))}
    env.update(COORD_BACKEND="optimized", COORD_CONFIG=str(tmp / "none.toml"), COLUMNS="200",
               HOME=str(tmp / "home"), CLAUDE_PROJECT_DIR=str(tmp / "project"))
    if state is not None:
        env["COORD_STATE_DIR"] = str(state)
    if acting:
        env["CLAUDE_CODE_SESSION_ID"] = acting
    return env


def run_bare(bare: Path, tmp: Path, state: Path | None, args: list[str],
             acting: str | None = None, stdin: str | None = None
             ) -> subprocess.CompletedProcess[str]:
    """``bin/coord ARGS`` with a package-less python3 (and bash) alone on PATH."""
    env = _env(tmp, state, acting)
    env["PATH"] = str(bare)
    return subprocess.run([str(REPO / "bin" / "coord"), *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=60, check=False,
                          cwd=tmp / "project")


def run_typer(tmp: Path, state: Path | None, args: list[str], acting: str | None = None,
              stdin: str | None = None, code: str = TYPER_PLAIN
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, str(REPO), *args],
                          env=_env(tmp, state, acting), input=stdin, capture_output=True,
                          text=True, timeout=60, check=False, cwd=tmp / "project")


def _prepare(state: Path) -> None:
    from coord_hooks.coordination import Coordinator
    from coord_hooks.settings import Settings
    from coord_hooks.store import open_store

    store = open_store("optimized", state)
    coord = Coordinator(store, Settings(), state.parent, state)
    coord.register(ALICE, name="alice", task="router refactor", cwd=str(state.parent))
    coord.register(BOB, name="bob")
    coord.acquire(ALICE, "src/app.py", reason="refactor \x1b[31mred\x1b[0m")
    coord.send(BOB, "alice", "please\nrelease src/app.py", urgent=True)
    coord.broadcast(None, "hello from a person")
    store.close()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("prepared") / "state"
    _prepare(state)
    return state


def _workspace(tmp: Path, prepared: Path | None, name: str) -> Path:
    """A project dir and a copy of the prepared state for one run."""
    (tmp / name / "project").mkdir(parents=True)
    (tmp / name / "home").mkdir()
    if prepared is not None:
        shutil.copytree(prepared, tmp / name / "state", symlinks=True)
    return tmp / name


def _same_output(text: str) -> str:
    if text.lstrip().startswith("{"):
        try:
            return json.dumps(_without_times(json.loads(text)), sort_keys=True)
        except ValueError:
            pass
    # an age's width ("9m ago", "10m ago") moves the columns after it
    return re.sub(r" {2,}", "  ", AGE.sub("N ago", text))


def _without_times(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _without_times(v) for k, v in data.items() if k not in TIME_KEYS}
    if isinstance(data, list):
        return [_without_times(v) for v in data]
    return data


# (arguments, acting session, stdin): each runs on a fresh copy of the prepared state.
CASES: list[tuple[list[str], str | None, str | None]] = [
    (["status"], None, None),
    (["status", "--json"], None, None),
    (["status", "--queue"], None, None),
    (["status", "--queue", "--json"], None, None),
    (["status", "--cache", "--json"], None, None),
    (["status", "--performance"], None, None),
    (["status", "--queue", "--cache"], None, None),
    (["sessions"], None, None),
    (["sessions", "--all", "--json"], None, None),
    (["locks"], None, None),
    (["locks", "--json"], None, None),
    (["lock", "src/b.py", "docs/*.md", "--reason", "why"], ALICE, None),
    (["lock", "--json", "src/b.py", "--ttl", "60", "--shared"], ALICE, None),
    (["lock", "src/app.py", "src/free.py"], BOB, None),  # one denied: exit 3
    (["lock", "x.py"], None, None),  # no session
    (["lock", "-s", "nobody", "x.py"], None, None),
    (["--session", "alice", "lock", "x.py"], None, None),
    (["unlock", "src/app.py"], ALICE, None),
    (["unlock", "src/app.py"], BOB, None),  # held by alice
    (["unlock", "src/app.py", "--force", "--json"], None, None),
    (["wait", "src/free.py"], BOB, None),
    (["wait", "src/app.py", "--timeout", "0.2"], BOB, None),  # held by alice: exit 3
    (["wait", "src/app.py", "--timeout", "0", "--json"], None, None),
    (["wait", "x", "--timeout", "nan"], BOB, None),
    (["send", "bob", "hi there"], ALICE, None),
    (["send", "nobody", "lost"], ALICE, None),
    (["send", "bob", "   "], ALICE, None),
    (["send", "bob", "-", "--json"], ALICE, "from stdin\n"),
    (["broadcast", "--urgent", "stop the build"], ALICE, None),
    (["broadcast", "x" * 5000], ALICE, None),
    (["inbox"], ALICE, None),
    (["inbox", "--peek", "--json"], ALICE, None),
    (["inbox", "--all"], BOB, None),
    (["inbox"], None, None),
    (["messages"], None, None),
    (["messages", "--archived", "--json"], None, None),
    (["messages", "-s", "bob"], None, None),
    (["whoami"], ALICE, None),
    (["whoami", "--json"], None, None),
    (["name", "alicia", "--task", "docs"], ALICE, None),
    (["name", "two words"], ALICE, None),
    # usage errors, as Click reports them
    (["lock"], ALICE, None),
    (["lock", "x", "--ttl", "abc"], ALICE, None),
    (["lock", "x", "--ttl", "0.5"], ALICE, None),
    (["lock", "--ttl"], ALICE, None),
    (["locks", "--bogus"], None, None),
    (["locks", "--jso"], None, None),
    (["locks", "--json=1"], None, None),
    (["locks", "extra", "more"], None, None),
    (["inbox", "-ap"], ALICE, None),
    (["send", "bob"], ALICE, None),
    (["--backend", "bogus", "status"], None, None),
    (["--bogus", "status"], None, None),
    (["--backend"], None, None),
    (["frobnicate"], None, None),
    (["--backend", "sqlite", "status"], None, None),
    (["--state-dir", "{tmp}/nowhere", "status"], None, None),
    (["--version"], None, None),
]


@pytest.mark.parametrize(("args", "acting", "stdin"), CASES,
                         ids=[" ".join(c[0])[:40] for c in CASES])
def test_standard_library_path_matches_typer(tmp_path: Path, prepared: Path, bare_python: Path,
                                             args: list[str], acting: str | None,
                                             stdin: str | None) -> None:
    bare, typer = _workspace(tmp_path, prepared, "bare"), _workspace(tmp_path, prepared, "t")
    got = run_bare(bare_python, bare, bare / "state",
                   [a.replace("{tmp}", str(bare)) for a in args], acting, stdin)
    want = run_typer(typer, typer / "state", [a.replace("{tmp}", str(typer)) for a in args],
                     acting, stdin)
    assert got.returncode == want.returncode, (got.stderr, want.stderr)
    assert (got.stderr.replace(str(bare), "TMP")
            == want.stderr.replace(str(typer), "TMP")), (got.stderr, want.stderr)
    assert (_same_output(got.stdout.replace(str(bare), "TMP"))
            == _same_output(want.stdout.replace(str(typer), "TMP")))
    assert "Traceback" not in got.stderr


@pytest.mark.parametrize("args", [["status"], ["status", "--queue"], ["sessions"], ["locks"],
                                  ["sessions", "--json"], ["status", "--json"],
                                  ["inbox", "--peek"], ["messages"]])
def test_a_project_without_state_is_calm_on_both_paths(tmp_path: Path, bare_python: Path,
                                                       args: list[str]) -> None:
    bare, typer = _workspace(tmp_path, None, "bare"), _workspace(tmp_path, None, "t")
    got = run_bare(bare_python, bare, None, args, ALICE)
    want = run_typer(typer, None, args, ALICE)
    assert (got.returncode, want.returncode) == (0, 0), (got.stderr, want.stderr)
    assert got.stderr == want.stderr == ""
    assert got.stdout.replace(str(bare), "TMP") == want.stdout.replace(str(typer), "TMP")
    if "--json" not in args and args[0] in ("status", "sessions", "locks"):
        assert "no sessions yet" in got.stdout or "no locks yet" in got.stdout
    assert not (bare / "project" / ".claude-coordination").exists()  # nothing was created


def test_the_bare_path_really_is_the_standard_library(tmp_path: Path, prepared: Path,
                                                      bare_python: Path) -> None:
    ws = _workspace(tmp_path, prepared, "w")
    code = ("import sys; sys.argv[1:] = ['status', '--queue']; from coord_hooks.__main__ "
            "import main\ntry:\n    main()\nfinally:\n    print('THIRD', sorted(m for m in "
            "sys.modules if m.split('.')[0] in ('typer', 'click', 'rich', 'platformdirs', "
            "'portalocker', 'orjson')))")
    env = _env(ws, ws / "state", None)
    proc = subprocess.run([str(bare_python / "python3"), "-I", "-S", "-c",
                           f"import sys; sys.path.insert(0, {str(REPO)!r}); " + code],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "THIRD []" in proc.stdout
    assert "aaaa1111 (alice)" in proc.stdout and "UNREAD" in proc.stdout


@pytest.mark.parametrize("command", ["doctor", "install", "monitor"])
def test_full_cli_commands_say_how_to_install_it(tmp_path: Path, prepared: Path,
                                                 bare_python: Path, command: str) -> None:
    ws = _workspace(tmp_path, prepared, "w")
    proc = run_bare(bare_python, ws, ws / "state", [command])
    assert proc.returncode == 1 and proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert f"`coord {command}` needs the full coord CLI" in line
    assert f"pipx install '{REPO}'" in line and "status" in line


def test_bare_help_lists_what_works(tmp_path: Path, bare_python: Path) -> None:
    ws = _workspace(tmp_path, None, "w")
    proc = run_bare(bare_python, ws, None, ["--help"])
    assert proc.returncode == 0
    for name in usage.COMMANDS:
        assert f"\n  {name} " in proc.stdout
    assert "pipx install" in proc.stdout
    lock_help = run_bare(bare_python, ws, None, ["lock", "--help"])
    assert lock_help.returncode == 0
    assert lock_help.stdout.startswith("Usage: coord lock [OPTIONS] PATH_OR_GLOB...\n")
    assert "--ttl SECONDS" in lock_help.stdout and "Exit status 3" in lock_help.stdout


def test_typer_path_draws_rich_tables(tmp_path: Path, prepared: Path) -> None:
    ws = _workspace(tmp_path, prepared, "w")
    rich = run_typer(ws, ws / "state", ["locks"], code=TYPER_PLAIN.replace(
        "sys.modules['rich'] = None; ", ""))
    assert rich.returncode == 0 and "┃ KEY" in rich.stdout
    # a peer's control characters never reach the terminal (the reason is still shown)
    assert "\x1b" not in rich.stdout and "[31mred" in rich.stdout


# --- the declarations match the Typer commands ------------------------------------------------
def _typer_params(command: str) -> list[tuple[str, tuple[str, ...], bool, int]]:
    import typer.main

    from coord_hooks.cli.app import app

    group = typer.main.get_command(app)
    cmd = group if command == "" else group.commands[command]  # type: ignore[attr-defined]
    return [(p.name or "", tuple(sorted(p.opts)) if p.param_type_name == "option" else (),
             bool(getattr(p, "is_flag", False)), p.nargs) for p in cmd.params]


@pytest.mark.parametrize("command", ["", *usage.COMMANDS])
def test_declarations_match_the_typer_commands(command: str) -> None:
    params = usage.GLOBAL if command == "" else usage.COMMANDS[command]
    ours = [(p.dest, tuple(sorted(p.flags)), p.is_option and p.value is None,
             p.nargs if not p.is_option else 1) for p in params]
    assert ours == _typer_params(command)


def test_full_only_lists_every_other_command() -> None:
    import typer.main

    from coord_hooks.cli.app import app

    names = {name for name, c in typer.main.get_command(app).commands.items()  # type: ignore[attr-defined]
             if not c.hidden}
    assert names == set(usage.COMMANDS) | set(FULL_ONLY)


# --- the send/broadcast speed path of a full install ------------------------------------------
FAST_CASES = [
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


def _records(state: Path) -> list[tuple[str, str, str, bool]]:
    from coord_hooks.store import open_store

    store = open_store("optimized", state)
    store.flush()
    with store.read() as view:
        return [(m.sender, m.recipient, m.body, m.urgent) for m in view.messages_after(0)]


@pytest.fixture
def two_states(tmp_path: Path, prepared: Path) -> Iterator[tuple[Path, Path]]:
    yield _workspace(tmp_path, prepared, "fast"), _workspace(tmp_path, prepared, "typer")


@pytest.mark.parametrize(("args", "acting"), FAST_CASES)
def test_fast_path_matches_typer(two_states: tuple[Path, Path], args: list[str],
                                 acting: str | None) -> None:
    fast_ws, typer_ws = two_states
    fast = run_typer(fast_ws, fast_ws / "state", args, acting, code=MODULES)
    slow = run_typer(typer_ws, typer_ws / "state", args, acting,
                     code=TYPER_PLAIN.replace("sys.modules['rich'] = None; ", ""))
    assert (fast.returncode, fast.stdout) == (slow.returncode, slow.stdout)
    assert fast.stderr.split("MODULES")[0] == slow.stderr
    assert _records(fast_ws / "state") == _records(typer_ws / "state")
    # Neither success nor failure imported Typer, Click or Rich.
    assert fast.stderr.split("MODULES")[1].strip() == "", fast.stderr


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
