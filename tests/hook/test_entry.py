"""The hook entry: stdin with a deadline, tolerant parsing, fail-open, logs, fuzzing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import payloads as pl
import pytest
from hookrun import SHIM, Project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coord_hooks.hook import entry
from coord_hooks.settings import Settings


# --- argument parsing ---------------------------------------------------------------------
def test_parse_args_accepts_both_spellings_and_backend_anywhere() -> None:
    assert entry.parse_args(["pre-tool-use"]) == ("PreToolUse", None)
    assert entry.parse_args(["--backend", "legacy", "stop"]) == ("Stop", "legacy")
    assert entry.parse_args(["session-end", "--backend=optimized"]) == ("SessionEnd",
                                                                         "optimized")
    assert entry.parse_args(["UserPromptSubmit", "--future-flag"]) == ("UserPromptSubmit",
                                                                       None)
    with pytest.raises(entry.BadInvocation):
        entry.parse_args(["notification"])
    with pytest.raises(entry.BadInvocation):
        entry.parse_args([])


# --- reading stdin ------------------------------------------------------------------------
def _pipe_with(data: bytes, close: bool = True) -> tuple[int, int]:
    r, w = os.pipe()

    def feed() -> None:
        os.write(w, data)
        if close:
            os.close(w)

    threading.Thread(target=feed, daemon=True).start()
    return r, w


def test_read_stdin_reads_to_eof() -> None:
    r, _ = _pipe_with(b'{"a": 1}')
    assert entry.read_stdin(r) == (b'{"a": 1}', "eof")
    os.close(r)


def test_read_stdin_takes_a_payload_already_there_and_leaves_the_pipe_blocking() -> None:
    """The common case: the writer wrote and closed before the hook read a byte."""
    r, w = os.pipe()
    os.write(w, b'{"a": 1}')
    os.close(w)
    assert entry.read_stdin(r) == (b'{"a": 1}', "eof")
    assert os.get_blocking(r)  # the descriptor is left as it was found
    os.close(r)


def test_read_stdin_waits_for_the_rest_after_a_first_part(tmp_path: Path) -> None:
    """Part of the payload there, the rest later: the wait takes over, nothing is lost."""
    r, w = os.pipe()
    os.write(w, b'{"session_id": ')

    def rest() -> None:
        time.sleep(0.2)
        os.write(w, b'"x"}')
        os.close(w)

    threading.Thread(target=rest, daemon=True).start()
    assert entry.read_stdin(r, deadline=5.0) == (b'{"session_id": "x"}', "eof")
    assert os.get_blocking(r)
    os.close(r)


def test_read_stdin_returns_a_complete_object_when_the_writer_keeps_the_pipe_open() -> None:
    r, w = _pipe_with(b'{"session_id": "x"}\n', close=False)
    started = time.monotonic()
    data, how = entry.read_stdin(r, deadline=5.0)
    assert (data, how) == (b'{"session_id": "x"}\n', "open")
    assert time.monotonic() - started < 2.0  # the grace, not the deadline
    os.close(r)
    os.close(w)


def test_read_stdin_gives_up_on_an_incomplete_payload_at_the_deadline() -> None:
    r, w = _pipe_with(b'{"session_id": "x", "cwd": ', close=False)
    data, how = entry.read_stdin(r, deadline=0.3, max_deadline=0.5)
    assert (data, how) == (b'{"session_id": "x", "cwd": ', "timeout")
    os.close(r)
    os.close(w)


def test_read_stdin_keeps_at_most_the_cap_but_drains_everything() -> None:
    r, w = os.pipe()
    total = 3 * 65536 + 123
    done = threading.Event()

    def feed() -> None:
        os.write(w, b"x" * total)  # blocks unless the reader drains it all
        os.close(w)
        done.set()

    threading.Thread(target=feed, daemon=True).start()
    data, how = entry.read_stdin(r, keep=1000)
    assert len(data) == 1000 and how == "eof+truncated"
    assert done.wait(5)
    os.close(r)


def test_read_stdin_extends_the_deadline_while_data_flows() -> None:
    r, w = os.pipe()

    def trickle() -> None:
        for _ in range(6):
            os.write(w, b"  ")
            time.sleep(0.1)
        os.write(w, b'{"slow": true}')
        os.close(w)

    threading.Thread(target=trickle, daemon=True).start()
    data, how = entry.read_stdin(r, deadline=0.25)
    assert how == "eof" and data.strip() == b'{"slow": true}'
    os.close(r)


# --- parsing ------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "expected"), [
    (b"", None), (b"   \n", None), (b"null", None), (b"[1, 2]", None), (b"42", None),
    (b"{not json", None), (b'\xef\xbb\xbf{"a": 1}', {"a": 1}),
    (b'{"cwd": "/tmp/\xff\xfe"}', {"cwd": "/tmp/\ufffd\ufffd"}),
    (b"[" * 100_000 + b"]" * 100_000, None),
])
def test_parse_payload_is_tolerant(raw: bytes, expected: Any) -> None:
    assert entry.parse_payload(raw) == expected


def test_salvage_finds_the_target_of_a_huge_write() -> None:
    payload = pl.write("5e55-1000", "/w", "/w/big.bin", content="z" * 100)
    raw = json.dumps(payload).encode()[:-40]  # cut inside the content
    assert entry.parse_payload(raw) is None
    salvaged = entry.salvage_payload(raw)
    assert salvaged is not None
    assert salvaged["session_id"] == "5e55-1000" and salvaged["tool_name"] == "Write"
    assert salvaged["tool_input"] == {"file_path": "/w/big.bin"}
    assert entry.salvage_payload(b'{"session_id": "a", "session_id": "b"}') is None
    assert entry.salvage_payload(b'{"cwd": "/w", "tool_name": "Write", "tool_input": {') is None


def test_a_truncated_post_tool_use_still_keeps_the_session_alive(project: Project) -> None:
    a = project.session("a")
    big = pl.post_tool_use(a.session_id, project.cwd, f"{project.cwd}/big.log")
    big["tool_response"]["content"] = "r" * (9 * 1024 * 1024)
    assert project.run("post-tool-use", big, a).output is None
    [view] = project.coordinator().sessions()
    assert view.session.session_id == a.session_id  # registered by the heartbeat
    assert project.perf_log()[-1]["outcome"] == "ok"


# --- fail open ----------------------------------------------------------------------------
def test_garbage_input_exits_zero_silently_and_is_logged(project: Project) -> None:
    project.state_dir.mkdir(parents=True)
    result = project.run("pre-tool-use", None, raw=b"\x00\x01 definitely not json")
    assert result.output is None and result.stderr == ""
    [record] = project.app_log()
    assert record["event"] == "hook_bad_input" and record["hook"] == "PreToolUse"
    assert project.perf_log()[-1]["outcome"] == "bad-input"


def test_unknown_event_exits_zero_silently_and_is_logged(project: Project) -> None:
    project.state_dir.mkdir(parents=True)
    result = project.run("notification", {"session_id": "x"})
    assert result.output is None and result.stderr == ""
    assert project.app_log()[-1]["event"] == "hook_bad_invocation"


def test_an_internal_error_fails_open_and_logs_the_traceback(project: Project) -> None:
    sess = project.session()
    project.state_dir.mkdir(parents=True)
    (project.state_dir / ".lock").mkdir()  # the store's lock file cannot be opened
    result = project.run("pre-tool-use", pl.write(sess.session_id, project.cwd,
                                                  f"{project.cwd}/f.py"), sess)
    assert result.output is None and result.stderr == ""
    [record] = [r for r in project.app_log() if r["event"] == "hook_failed"]
    assert record["level"] == "error" and "StoreError" in record["error"]
    assert "Traceback" in record["traceback"]


def test_a_setting_that_cannot_be_used_is_skipped_by_hooks(project: Project) -> None:
    """A bad value (here in the environment) is logged and the default used: hooks never
    stop checking locks over a setting (`coord config` says what is wrong)."""
    sess = project.session()
    project.state_dir.mkdir(parents=True)
    result = project.run("pre-tool-use", pl.write(sess.session_id, project.cwd,
                                                  f"{project.cwd}/f.py"), sess,
                         extra_env={"COORD_LOCK_TTL": "not-a-number"})
    assert result.output is None and result.stderr == ""
    assert [lv.lock.ttl for lv in project.coordinator().locks()] == [Settings().lock_ttl]
    [record] = [r for r in project.app_log() if r["event"] == "config_ignored"]
    assert "COORD_LOCK_TTL" in record["error"] and "not-a-number" in record["error"]


def test_no_state_dir_anywhere_is_swallowed(tmp_path: Path, project: Project) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    sess = project.session()
    result = project.run("session-start", pl.session_start(sess.session_id, project.cwd),
                         sess, extra_env={"COORD_STATE_DIR": str(blocker / "state")})
    assert result.output is None and result.stderr == ""


def test_a_huge_write_is_still_locked_through_salvage(project: Project) -> None:
    a, b = project.session("a"), project.session("b")
    big = pl.write(a.session_id, project.cwd, f"{project.cwd}/huge.txt",
                   content="q" * (9 * 1024 * 1024))
    result = project.run("pre-tool-use", big, a)
    assert result.output is None
    out = project.run("pre-tool-use", pl.edit(b.session_id, project.cwd,
                                              f"{project.cwd}/huge.txt"), b).output
    assert out is not None and out["hookSpecificOutput"]["permissionDecision"] == "deny"


# --- stdin left open, through the real shim ------------------------------------------------
def _run_with_open_stdin(project: Project, event: str, data: bytes,
                         env: dict[str, str]) -> tuple[int, bytes, bytes, float]:
    """Start the shim, write ``data`` and never close stdin; kill it after 15 s."""
    proc = subprocess.Popen([str(SHIM), event], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=project.root)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    watchdog = threading.Timer(15, proc.kill)
    watchdog.start()
    started = time.monotonic()
    try:
        proc.stdin.write(data)
        proc.stdin.flush()  # ... and never closed, as Claude Code sometimes does
        out = proc.stdout.read()  # EOF when the hook exits
        err = proc.stderr.read()
        rc = proc.wait()
        elapsed = time.monotonic() - started
    finally:
        watchdog.cancel()
        proc.stdin.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return rc, out, err, elapsed


def test_stdin_left_open_does_not_hang(project: Project) -> None:
    sess = project.session()
    env = {**project.env, "CLAUDE_PID": str(sess.pid)}
    data = json.dumps(pl.session_start(sess.session_id, project.cwd)).encode()
    rc, out, err, elapsed = _run_with_open_stdin(project, "session-start", data, env)
    assert (rc, err) == (0, b"")
    assert elapsed < 10  # killed by the watchdog otherwise
    assert json.loads(out)["hookSpecificOutput"]["hookEventName"] == "SessionStart"


def test_stdin_open_with_a_partial_payload_gives_up(project: Project) -> None:
    rc, out, err, elapsed = _run_with_open_stdin(
        project, "pre-tool-use", b'{"session_id": "abc", "tool_name": "Wri', project.env)
    assert (rc, out, err) == (0, b"", b"")
    assert elapsed < 10


# --- logs ---------------------------------------------------------------------------------
def test_one_performance_line_per_run(project: Project) -> None:
    sess = project.session()
    for event, build in pl.EVERY_EVENT.items():
        assert project.run(event, build(sess.session_id, project.cwd), sess).rc == 0
    records = project.perf_log()
    assert [r["hook"] for r in records] == [
        "SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure",
        "Stop", "SubagentStart", "SubagentStop", "PreCompact", "SessionEnd"]
    for r in records:
        assert set(r) == {"ts", "hook", "ms", "backend", "outcome"}
        assert r["backend"] == "optimized" and r["ms"] > 0
    assert [r["outcome"] for r in records][:3] == ["context", "ok", "locked"]
    assert records[-1]["outcome"] == "ended"


def test_slow_runs_are_logged_as_slow_operation(project: Project) -> None:
    sess = project.session()
    project.run("stop", pl.stop(sess.session_id, project.cwd), sess,
                extra_env={"COORD_SLOW_MS": "0"})
    [slow] = [r for r in project.app_log() if r["event"] == "slow_operation"]
    assert slow["hook"] == "Stop" and slow["level"] == "warning" and "open" in slow["steps"]


@pytest.mark.parametrize("variable", ["COORD_DEBUG", "COORDINATION_DEBUG"])
def test_debug_mode_logs_step_timings_without_changing_stdout(project: Project,
                                                              variable: str) -> None:
    a, b = project.session("a"), project.session("b")
    project.run("pre-tool-use", pl.write(a.session_id, project.cwd, f"{project.cwd}/d.py"), a)
    plain = project.run("pre-tool-use", pl.edit(b.session_id, project.cwd,
                                                f"{project.cwd}/d.py"), b).output
    debug = project.run("pre-tool-use", pl.edit(b.session_id, project.cwd,
                                                f"{project.cwd}/d.py"), b,
                        extra_env={variable: "1"}).output
    assert plain is not None and debug is not None
    strip = re.compile(r"\d+s ago")
    assert strip.sub("", json.dumps(plain)) == strip.sub("", json.dumps(debug))
    timings = [r for r in project.app_log() if r["event"] == "hook_timing"]
    assert len(timings) == 1
    assert {"stdin", "parse", "import", "open", "touch", "acquire"} <= set(timings[0]["steps"])


# --- fuzzing ------------------------------------------------------------------------------
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=4),
    max_leaves=12)
_keys = st.sampled_from(["session_id", "cwd", "tool_name", "tool_input", "source", "prompt",
                         "reason", "agent_id", "hook_event_name", "model"])
_payloads = st.dictionaries(_keys, _json_values | st.sampled_from(
    ["Write", "Edit", "NotebookEdit", "s-1", "/", ".", ""]), max_size=8)
_stdin = st.one_of(
    st.binary(max_size=300),
    _payloads.map(lambda p: json.dumps(p).encode()),
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


def _run_in_process(data: bytes, event: str, capsys: pytest.CaptureFixture[str]
                    ) -> str:
    r, w = os.pipe()
    threading.Thread(target=lambda: (os.write(w, data), os.close(w)), daemon=True).start()
    try:
        assert entry.run_hook([event], stdin=r) == 0
    finally:
        os.close(r)
    return capsys.readouterr().out


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_stdin, event=st.sampled_from(sorted(entry.EVENTS)))
def test_fuzzed_stdin_in_process(data: bytes, event: str, project: Project,
                                 capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in project.env.items():
        monkeypatch.setenv(key, value)
    out = _run_in_process(data, event, capsys)
    if out:
        assert out.endswith("\n") and out.count("\n") == 1
        assert isinstance(json.loads(out), dict)
    errors = [r for r in project.app_log() if r["event"] == "hook_failed"]
    assert errors == [], errors[-1]


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_stdin, event=st.sampled_from(sorted(entry.EVENTS)))
def test_fuzzed_stdin_through_the_shim(data: bytes, event: str, project: Project) -> None:
    result = project.run(event, None, raw=data)
    assert result.rc == 0 and "Traceback" not in result.stderr and result.stderr == ""
    result.output  # noqa: B018 - asserts: nothing, or exactly one JSON object



def test_session_end_with_stdin_left_open_ends_inside_its_budget(project: Project) -> None:
    """SessionEnd hooks share a 1.5 s budget (claude-code-hooks.md, Timeouts); stdin left
    open (#79508, SessionEnd on /clear) must not take it all (issue 9: it took 2.55 s)."""
    sess = project.session()
    assert project.run("session-start", pl.session_start(sess.session_id, project.cwd),
                       sess).rc == 0
    for data in (b"", b'{"session_id": "abc", "hook_event_name": "Sessi'):
        rc, out, err, elapsed = _run_with_open_stdin(project, "session-end", data, project.env)
        assert (rc, out, err) == (0, b"", b"")
        assert elapsed < 1.5, f"SessionEnd took {elapsed:.2f} s with stdin left open"
    [*_, record] = [r for r in project.app_log() if r["event"] == "hook_bad_input"]
    assert record["hook"] == "SessionEnd" and record["stdin"] == "timeout"


def test_a_payload_cwd_that_does_not_exist_gets_no_state_dir(tmp_path: Path,
                                                             project: Project) -> None:
    """Without $CLAUDE_PROJECT_DIR the state dir comes from the payload's cwd: a cwd that
    is gone (a deleted worktree) must not get a ``.claude-coordination`` made under it."""
    gone = tmp_path / "deleted-worktree" / "sub"
    env = {k: v for k, v in project.env.items()
           if k not in ("CLAUDE_PROJECT_DIR", "COORD_STATE_DIR")}
    sess = project.session()
    for event, payload in (("session-start", pl.session_start(sess.session_id, str(gone))),
                           ("pre-tool-use", pl.write(sess.session_id, str(gone),
                                                     f"{gone}/a.py"))):
        done = subprocess.run([str(SHIM), event], input=json.dumps(payload).encode(),
                              env=env, cwd=tmp_path, capture_output=True, timeout=30,
                              check=False)
        assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert not (tmp_path / "deleted-worktree").exists()


# --- confirming a delivery ----------------------------------------------------------------
def _hook_run(event: str, started_ago: float) -> tuple[entry.HookRun, list[str]]:
    timer = entry.Timer()
    timer.start -= started_ago
    run = entry.HookRun(event=event, payload={}, backend=None, environ={}, timer=timer)
    confirmed: list[str] = []
    run.after_output(lambda: confirmed.append(event))
    return run, confirmed


def test_a_delivery_is_confirmed_right_after_its_output(project: Project) -> None:
    run, confirmed = _hook_run("PostToolUse", started_ago=0.2)
    entry._confirm(run, run.timer, project.state_dir)
    assert confirmed == ["PostToolUse"]


def test_a_hook_near_its_timeout_leaves_its_delivery_unconfirmed(project: Project) -> None:
    """Claude Code kills a hook at its timeout and drops its output: a late hook must not
    mark messages delivered (they come again, maybe twice, never lost)."""
    assert set(entry.CONFIRM_WITHIN) == {"SessionStart", "UserPromptSubmit", "PostToolUse",
                                         "PostToolUseFailure"}
    hooks = json.loads((Path(__file__).resolve().parents[2] / "hooks.json").read_text())
    for event, seconds in entry.CONFIRM_WITHIN.items():
        [group] = hooks["hooks"][event]
        assert seconds <= group["hooks"][0]["timeout"] - 1.5, event  # well inside
    run, confirmed = _hook_run("UserPromptSubmit",
                               started_ago=entry.CONFIRM_WITHIN["UserPromptSubmit"] + 0.1)
    project.state_dir.mkdir(parents=True, exist_ok=True)
    entry._confirm(run, run.timer, project.state_dir)
    assert confirmed == []
    assert [r["event"] for r in project.app_log()] == ["delivery_unconfirmed"]


def test_the_hook_process_ends_fast_with_its_output_flushed(tmp_path: Path) -> None:
    """`exit_process` skips the interpreter's teardown (os._exit) but loses no output."""
    import sys

    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from coord_hooks.hook.entry import exit_process\n"
            "import atexit; atexit.register(lambda: print('teardown ran'))\n"
            "sys.stdout.write('partial line, no newline'); sys.stderr.write('err')\n"
            "exit_process(3)")
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(Path(entry.__file__)
                                                                         .parents[2])],
                          capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (3, "partial line, no newline", "err")


def test_only_the_hook_process_itself_ends_early(project: Project,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`main(argv)` called inside a process (tests, tools) raises SystemExit as before:
    only the process entry point (``main()``) ends with os._exit."""
    from coord_hooks.__main__ import main

    for name in ("COORD_STATE_DIR", "CLAUDE_PROJECT_DIR"):
        monkeypatch.setenv(name, project.env[name])
    sess = project.session()
    r, w = os.pipe()
    os.write(w, json.dumps(pl.user_prompt_submit(sess.session_id, project.cwd)).encode())
    os.close(w)
    saved = os.dup(0)
    os.dup2(r, 0)
    os.close(r)
    try:
        with pytest.raises(SystemExit) as done:
            main(["hook", "user-prompt-submit"])
    finally:
        os.dup2(saved, 0)
        os.close(saved)
    assert done.value.code == 0
    assert [rec["hook"] for rec in project.perf_log()] == ["UserPromptSubmit"]
