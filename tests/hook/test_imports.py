"""The hook hot path imports only the standard library (checked with -X importtime)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import payloads as pl
import pytest
from hookrun import REPO, Project

from coord_hooks.hook import HANDLERS, entry

FORBIDDEN = ("typer", "click", "rich", "portalocker", "orjson", "platformdirs",
             "coord_hooks.cli", "coord_hooks.ops")  # the CLI (views included) and the tools
# Standard library, but slow to import, and kept off the optimized pre-tool-use path on
# purpose (docs/performance.md, "Where the time goes"): dataclasses pulls in inspect,
# ast, dis and tokenize; typing is only for annotations (store.base's Protocols need it
# at run time); hashlib loads OpenSSL where _sha1 gives the same digests.
SLOW_STDLIB = ("dataclasses", "inspect", "typing", "hashlib", "_hashlib",
               "coord_hooks.store.base")
# coord_hooks modules an optimized pre-tool-use may load (the rooms kept it at 21;
# jsontext, which replaces the json package and its five modules, made it 22).
HOOK_PATH_BUDGET = 22
_LINE = re.compile(r"import time:\s+\d+ \|\s+\d+ \|(?P<indent>\s*)(?P<name>\S+)")


def imported(stderr: str) -> set[str]:
    return {m.group("name") for m in map(_LINE.match, stderr.splitlines()) if m}


def forbidden_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules
                  if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))


WRAPPER = """#!{python}
# Test stand-in for the hook interpreter: the shim runs Python with -I, which ignores
# PYTHONPROFILEIMPORTTIME, and modules imported with importlib.import_module (the store
# backends) never show in -X importtime. So add -X importtime AND dump sys.modules at
# exit (the hook ends with os._exit, which skips atexit: wrapped too), then exec the
# real interpreter with the shim's own flags.
import os, sys
args = sys.argv[1:]
i = args.index("-c")
args[i + 1] = (
    "import atexit, os, sys\\n"
    "dump = lambda: open({out!r}, 'w').write('\\\\n'.join(sorted(sys.modules)))\\n"
    "atexit.register(dump)\\n"
    "os._exit = lambda code, _exit=os._exit: (dump(), _exit(code))\\n"
    + args[i + 1])
os.execv({python!r}, [{python!r}, "-X", "importtime", *args])
"""


@dataclass
class Trace:
    timed: set[str]  # modules -X importtime reported (import statements)
    loaded: set[str]  # sys.modules at exit (everything)


def _wrapper(tmp_path: Path) -> tuple[Path, Path]:
    out = tmp_path / "modules.txt"
    wrapper = tmp_path / "python-traced"
    wrapper.write_text(WRAPPER.format(python=sys.executable, out=str(out)))
    wrapper.chmod(0o755)
    return wrapper, out


def _trace(stderr: str, out: Path) -> Trace:
    return Trace(imported(stderr), set(out.read_text().split()))


def _deny_scenario(project: Project, extra_env: dict[str, str]) -> str:
    """Run a locking Write and a denied Edit; return the second run's stderr."""
    a, b = project.session("a"), project.session("b")
    project.run("pre-tool-use", pl.write(a.session_id, project.cwd, f"{project.cwd}/i.py"), a)
    result = project.run("pre-tool-use", pl.edit(b.session_id, project.cwd,
                                                 f"{project.cwd}/i.py"), b,
                         extra_env=extra_env)
    assert result.rc == 0
    assert json.loads(result.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
    return result.stderr


def test_shim_pre_tool_use_loads_no_third_party_module(project: Project,
                                                       tmp_path: Path) -> None:
    wrapper, out = _wrapper(tmp_path)
    trace = _trace(_deny_scenario(project, {"COORD_PYTHON": str(wrapper)}), out)
    # the check means something: the whole decision path was loaded, and timed
    assert {"coord_hooks.hook.entry", "coord_hooks.hook.tools", "coord_hooks.coordination",
            "coord_hooks.coordination.locks", "coord_hooks.store.optimized"} <= trace.loaded
    assert {"coord_hooks.hook.tools", "coord_hooks.coordination.locks"} <= trace.timed
    assert forbidden_in(trace.loaded) == []
    assert forbidden_in(trace.timed) == []
    # Every module is paid on every Edit: the rooms must not cost the lock path more of
    # ours than the flat package did (20, and importlib besides; scripts/hook-modules.py).
    ours = sorted(m for m in trace.loaded if m.split(".")[0] == "coord_hooks")
    assert len(ours) <= HOOK_PATH_BUDGET, ours


def test_optimized_pre_tool_use_skips_slow_standard_modules(project: Project,
                                                           tmp_path: Path) -> None:
    wrapper, out = _wrapper(tmp_path)
    trace = _trace(_deny_scenario(project, {"COORD_PYTHON": str(wrapper)}), out)
    assert "coord_hooks.store.optimized" in trace.loaded  # the whole decision path ran
    assert sorted(set(SLOW_STDLIB) & trace.loaded) == []
    # JSON comes from coord_hooks.jsontext: the json package would bring re and enum
    assert "json" not in trace.loaded and "coord_hooks.jsontext" in trace.loaded
    # no pathlib (re, urllib.parse...), no contextlib (functools, collections); the one
    # write a denial makes is the denied session's wait (its file name hashed by _sha1,
    # not by hashlib, which would load OpenSSL)
    assert sorted({"pathlib", "re", "contextlib", "functools", "collections", "enum",
                   "hashlib", "_hashlib"} & trace.loaded) == []


def test_python_m_pre_tool_use_loads_no_third_party_module(project: Project) -> None:
    """`python -m coord_hooks hook ...` with site-packages present: still none imported."""
    a, b = project.session("a"), project.session("b")
    project.run("pre-tool-use", pl.write(a.session_id, project.cwd, f"{project.cwd}/j.py"), a)
    env = {**project.env, "CLAUDE_PID": str(b.pid), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "coord_hooks", "hook",
                           "pre-tool-use"],
                          input=json.dumps(pl.edit(b.session_id, project.cwd,
                                                   f"{project.cwd}/j.py")).encode(),
                          capture_output=True, env=env, cwd=project.root, check=False)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
    modules = imported(proc.stderr.decode())
    assert "coord_hooks.hook.tools" in modules
    for name in ("typer", "portalocker", "orjson", "platformdirs"):  # all installed here
        assert subprocess.run([sys.executable, "-c", f"import {name}"],
                              check=False).returncode == 0
    assert forbidden_in(modules) == []


@pytest.mark.parametrize("event", sorted(pl.EVERY_EVENT))
def test_every_event_stays_standard_library_only(project: Project, tmp_path: Path,
                                                 event: str) -> None:
    sess = project.session()
    wrapper, out = _wrapper(tmp_path)
    result = project.run(event, pl.EVERY_EVENT[event](sess.session_id, project.cwd), sess,
                         extra_env={"COORD_PYTHON": str(wrapper)})
    assert result.rc == 0
    trace = _trace(result.stderr, out)
    family = HANDLERS[entry.EVENTS[event]].partition(":")[0]  # this event's handler module
    assert f"coord_hooks.hook.{family}" in trace.loaded
    assert forbidden_in(trace.loaded) == []
    # Stop runs after every turn and SessionStart housekeeps: they stay as lean.
    assert sorted(set(SLOW_STDLIB) & trace.loaded) == []


def test_a_payload_already_written_is_read_without_select(project: Project,
                                                         tmp_path: Path) -> None:
    """Claude Code has usually written and closed the payload before the hook reads it:
    then the hook never loads `select` (it waits only when more is still to come)."""
    wrapper, out = _wrapper(tmp_path)
    sess = project.session()
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(pl.edit(sess.session_id, project.cwd,
                                          f"{project.cwd}/s.py")))
    env = {**project.env, "CLAUDE_PID": str(sess.pid), "COORD_PYTHON": str(wrapper)}
    with payload.open("rb") as stdin:
        done = subprocess.run([str(REPO / "shims" / "hooks.sh"), "pre-tool-use"], stdin=stdin,
                              capture_output=True, env=env, cwd=project.root, check=False)
    assert done.returncode == 0 and done.stdout == b""
    trace = _trace(done.stderr.decode(), out)
    assert "coord_hooks.store.optimized" in trace.loaded  # it did take the lock
    assert "select" not in trace.loaded


def test_the_optimized_shim_skips_site_packages(project: Project, tmp_path: Path) -> None:
    # -S: not even the site module (whose .pth processing costs tens of ms) is loaded
    wrapper, out = _wrapper(tmp_path)
    trace = _trace(_deny_scenario(project, {"COORD_PYTHON": str(wrapper)}), out)
    assert "site" not in trace.loaded
    assert "coord_hooks.store.optimized" in trace.loaded


def test_bash_pre_tool_use_stays_standard_library_and_lean(project: Project,
                                                          tmp_path: Path) -> None:
    a, b = project.session("a"), project.session("b")
    project.run("pre-tool-use", pl.write(a.session_id, project.cwd, f"{project.cwd}/k.py"), a)
    wrapper, out = _wrapper(tmp_path)
    env = {"COORD_PYTHON": str(wrapper)}
    denied = project.run("pre-tool-use", pl.bash(b.session_id, project.cwd, "sed -i s/a/b/ k.py"),
                         b, extra_env=env)
    assert json.loads(denied.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
    trace = _trace(denied.stderr, out)
    assert {"coord_hooks.hook.bash", "coord_hooks.hook.bashwrites.analysis",
            "coord_hooks.coordination.locks"} <= trace.loaded
    assert forbidden_in(trace.loaded) == []
    assert sorted(set(SLOW_STDLIB) & trace.loaded) == []
    # a plainly read-only command loads neither the parser nor the store
    quiet = project.run("pre-tool-use", pl.bash(b.session_id, project.cwd, "git status"), b,
                        extra_env=env)
    assert quiet.stdout == ""
    trace = _trace(quiet.stderr, out)
    assert "coord_hooks.hook.bash" in trace.loaded
    assert not {m for m in trace.loaded if m.startswith(("coord_hooks.hook.bashwrites",
                                                          "coord_hooks.store",
                                                          "coord_hooks.coordination"))}
    # ...nor `re` (the lexical check splits with str.translate; only the parser needs re)
    assert sorted({"re", "json", "pathlib", "contextlib"} & trace.loaded) == []
