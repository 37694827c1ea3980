"""The ``coord`` CLI: every command's output, ``--json`` shapes, and exact error lines.

Most tests go through Typer's CliRunner; a few run ``python -m coord_hooks`` for real.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner, Result

from coord_hooks.cli import app as cli
from coord_hooks.cli.app import app, run_cli
from coord_hooks.coordination import Coordinator
from coord_hooks.model import StoreInfo

REPO = Path(__file__).resolve().parents[2]
ALICE = "aaaa1111-0000-4000-8000-000000000001"
BOB = "bbbb2222-0000-4000-8000-000000000002"
CAROL = "bbbb3333-0000-4000-8000-000000000003"

SESSION_KEYS = {"session_id", "handle", "name", "task", "state", "live", "end_reason", "pid",
                "hostname", "cwd", "project_dir", "model", "source", "registered_at",
                "last_seen", "ended_at", "idle_s", "locks", "unread"}
LOCK_KEYS = {"key", "is_glob", "exclusive", "owner", "holder_handle", "holder_name", "reason",
             "agent_id", "agent_type", "acquired_at", "renewed_at", "ttl_s", "age_s", "idle_s",
             "active", "fence"}
MESSAGE_KEYS = {"seq", "created_at", "age_s", "sender", "sender_handle", "sender_name",
                "recipient", "recipient_handle", "recipient_name", "broadcast", "urgent", "body"}
QUEUE_KEYS = {"session_id", "handle", "name", "live", "unread", "urgent",
              "oldest_unread_age_s"}
ACQUIRE_KEYS = {"target", "key", "is_glob", "granted", "renewed", "exclusive", "ttl_s",
                "reason", "conflicts", "denial"}

runner = CliRunner()


def coord(*args: str, input: str | bytes | None = None) -> Result:
    return runner.invoke(app, list(args), input=input)


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def team(coordinator: Coordinator) -> Coordinator:
    """alice (live by pid: this test process), bob and carol (live by fresh heartbeat)."""
    coordinator.register(ALICE, pid=os.getpid(), name="alice", task="router refactor",
                         cwd="/w")
    coordinator.register(BOB, cwd="/w")
    coordinator.register(CAROL)
    return coordinator


def stored_messages(coordinator: Coordinator) -> list[Any]:
    return coordinator.history(None)


# --- help and global options -------------------------------------------------------------
def test_every_command_has_help() -> None:
    group = typer.main.get_command(app)
    commands = group.commands  # type: ignore[attr-defined]
    assert {"sessions", "locks", "lock", "unlock", "send", "broadcast", "inbox", "messages",
            "status", "config", "cleanup", "whoami", "name"} <= set(commands)
    for name, command in commands.items():
        assert command.help and command.help.strip(), f"{name} has no help"
        result = coord(name, "--help")
        assert result.exit_code == 0, name
        first_line = command.help.strip().splitlines()[0]
        assert first_line in " ".join(result.stdout.split()), name


def test_version() -> None:
    result = coord("--version")
    assert result.exit_code == 0
    assert result.stdout == "coord-hooks 0.1.0\n"


def test_unknown_backend_is_a_usage_error(project: Path) -> None:
    result = coord("--backend", "bogus", "sessions")
    assert result.exit_code == 2
    assert "'bogus' is not one of legacy, optimized" in result.stderr


def test_backend_option_selects_the_store(team: Coordinator) -> None:
    assert as_json(coord("--backend", "legacy", "status", "--json"))["backend"] == "legacy"
    assert as_json(coord("--backend", "optimized", "status", "--json"))["backend"] == "optimized"


def test_state_dir_option(tmp_path: Path, project: Path, state_dir: Path) -> None:
    other = tmp_path / "elsewhere"
    result = coord("--state-dir", str(other), "broadcast", "hello")
    assert result.exit_code == 0, result.output
    assert (other / "messages").is_dir()
    assert not state_dir.exists()


# --- sessions ------------------------------------------------------------------------------
def test_sessions_table(team: Coordinator) -> None:
    team.acquire(ALICE, "src/app.py")
    team.end(CAROL)
    result = coord("sessions")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    alice = next(line for line in lines if "aaaa1111" in line)
    for text in ("alice", "router refactor", "live", str(os.getpid()), "0s ago", "src/app.py",
                 "/w"):
        assert text in alice
    assert any("bbbb2222" in line for line in lines)
    assert "bbbb3333" not in result.stdout  # ended: only with --all
    everything = coord("sessions", "--all")
    assert "bbbb3333" in everything.stdout and "ended (ended)" in everything.stdout


def test_sessions_json(team: Coordinator) -> None:
    team.acquire(ALICE, "src/app.py")
    doc = as_json(coord("sessions", "--json"))
    assert list(doc) == ["sessions"]
    assert [s["session_id"] for s in doc["sessions"]] == [ALICE, BOB, CAROL]
    for s in doc["sessions"]:
        assert set(s) == SESSION_KEYS
    alice = doc["sessions"][0]
    assert alice["name"] == "alice" and alice["locks"] == ["src/app.py"] and alice["live"]
    assert isinstance(alice["idle_s"], float)


def test_sessions_reaps_dead_sessions(team: Coordinator) -> None:
    team.register(BOB, pid=os.getpid(), pid_start="not-this-process")  # pid reused: dead
    doc = as_json(coord("sessions", "--all", "--json"))
    bob = next(s for s in doc["sessions"] if s["session_id"] == BOB)
    assert bob["state"] == "ended" and bob["end_reason"] == "dead"


def test_sessions_empty(project: Path, coordinator: Coordinator) -> None:
    result = coord("sessions")
    assert result.exit_code == 0
    assert result.stdout == "no live sessions (coord sessions --all shows ended ones)\n"
    assert as_json(coord("sessions", "--json")) == {"sessions": []}


@pytest.mark.parametrize("args", [
    ["sessions"], ["locks"], ["messages"], ["status"], ["status", "--queue"],
    ["status", "--performance"], ["cleanup", "--dry-run"], ["inbox", "--peek", "-s", "abcd"],
    ["sessions", "--json"],
])
def test_read_commands_do_not_create_state(project: Path, state_dir: Path,
                                           args: list[str]) -> None:
    result = coord(*args)
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr == (f"coord: error: no coordination state at {state_dir} yet (it is "
                             "created when a session registers or a command writes)\n")
    assert not state_dir.exists()


# --- locks ---------------------------------------------------------------------------------
def test_locks_table_and_json(team: Coordinator) -> None:
    team.acquire(ALICE, "src/app.py", reason="refactor [router]")
    team.acquire(BOB, "docs/**/*.md", exclusive=False, ttl=90)
    result = coord("locks")
    assert result.exit_code == 0
    row = next(line for line in result.stdout.splitlines() if "src/app.py" in line)
    for text in ("aaaa1111 (alice)", "exclusive", "refactor [router]", "0s ago", "30m",
                 "active"):
        assert text in row
    glob_row = next(line for line in result.stdout.splitlines() if "docs/**/*.md" in line)
    assert "shared glob" in glob_row and "90s" in glob_row
    doc = as_json(coord("locks", "--json"))
    assert list(doc) == ["locks"]
    assert [lk["key"] for lk in doc["locks"]] == ["docs/**/*.md", "src/app.py"]
    for lk in doc["locks"]:
        assert set(lk) == LOCK_KEYS
    assert doc["locks"][1]["owner"] == ALICE and doc["locks"][1]["active"] is True


def test_locks_shows_lapsed_lease(team: Coordinator) -> None:
    team.acquire(ALICE, "src/app.py", ttl=5)
    with team.store.transaction() as tx:
        [lock] = tx.locks()
        lock.renewed_at -= 100
        tx.put_lock(lock)
        alice = tx.get_session(ALICE)
        assert alice is not None
        alice.last_seen -= 100
        tx.put_session(alice)
    assert "lapsed" in coord("locks").stdout
    assert as_json(coord("locks", "--json"))["locks"][0]["active"] is False


def test_locks_empty(project: Path, coordinator: Coordinator) -> None:
    assert coord("locks").stdout == "no locks\n"
    assert as_json(coord("locks", "--json")) == {"locks": []}


# --- lock ------------------------------------------------------------------------------------
def test_lock_grants_and_renews(team: Coordinator) -> None:
    result = coord("--session", "alice", "lock", "src/app.py", "docs/*.md", "--reason", "why",
                   "--ttl", "600")
    assert result.exit_code == 0, result.output
    assert result.stdout == ("locked src/app.py (exclusive, lease 10m)\n"
                             "locked docs/*.md (exclusive, lease 10m)\n")
    again = coord("lock", "src/app.py", "--session", "aaaa")
    assert again.stdout == "renewed src/app.py (exclusive, lease 10m)\n"
    locks = {lv.lock.key: lv.lock for lv in team.locks()}
    assert set(locks) == {"src/app.py", "docs/*.md"}
    assert locks["docs/*.md"].is_glob and locks["src/app.py"].reason == "why"
    assert locks["src/app.py"].ttl == 600 and locks["src/app.py"].owner == ALICE


def test_lock_shared(team: Coordinator) -> None:
    assert coord("lock", "-s", "alice", "--shared", "src/app.py").exit_code == 0
    result = coord("lock", "-s", BOB, "--shared", "src/app.py")
    assert result.stdout == "locked src/app.py (shared, lease 30m)\n"
    assert sorted(lv.lock.owner for lv in team.locks()) == [ALICE, BOB]


def test_lock_json(team: Coordinator) -> None:
    team.acquire(ALICE, "src/app.py")
    result = coord("lock", "-s", BOB, "src/app.py", "src/b.py", "--json")
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert list(doc) == ["session_id", "results"]
    assert doc["session_id"] == BOB
    for r in doc["results"]:
        assert set(r) == ACQUIRE_KEYS
    denied, granted = doc["results"]
    assert denied["granted"] is False and denied["conflicts"][0]["holder"] == ALICE
    assert denied["conflicts"][0]["holder_name"] == "alice"
    assert granted["granted"] is True and granted["key"] == "src/b.py"


DENIAL = re.compile(
    r'coord: denied: src/app\.py is locked by session aaaa1111 \(alice\); working on \(in its '
    r'own words\): "router refactor"; reason \(in its own words\): "mine"; exclusive lock '
    r"taken \d+s ago, holder last active \d+s ago\. "
    r"Ask it with: coord send aaaa1111 'Could you release src/app\.py when you can\?'")


def test_lock_denied_reports_each_target_and_exits_3(team: Coordinator) -> None:
    team.acquire(ALICE, "src/app.py", reason="mine")
    result = coord("lock", "-s", "bbbb2", "src/app.py", "src/free.py")
    assert result.exit_code == 3
    assert result.stdout == "locked src/free.py (exclusive, lease 30m)\n"
    [line] = result.stderr.splitlines()
    assert DENIAL.fullmatch(line), line
    # the free target was granted, the held one was not
    owners = {lv.lock.key: lv.lock.owner for lv in team.locks()}
    assert owners == {"src/app.py": ALICE, "src/free.py": BOB}


def test_lock_glob_conflicts_with_file(team: Coordinator) -> None:
    team.acquire(ALICE, "docs/**/*.md")
    result = coord("lock", "-s", BOB, "docs/guide/intro.md")
    assert result.exit_code == 3
    assert result.stderr.startswith(
        "coord: denied: docs/**/*.md (covers docs/guide/intro.md) is locked by session "
        "aaaa1111 (alice)")


def test_lock_path_outside_project_is_stored_absolute(team: Coordinator,
                                                      tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    result = coord("lock", "-s", "alice", str(outside), "../elsewhere.txt")
    assert result.exit_code == 0, result.output
    keys = sorted(lv.lock.key for lv in team.locks())
    assert keys == sorted([str(outside), str(tmp_path / "elsewhere.txt")])
    assert f"locked {outside} (exclusive, lease 30m)" in result.stdout


def test_lock_relative_to_cwd(team: Coordinator, project: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project / "src")
    assert coord("lock", "-s", "alice", "app.py").stdout.startswith("locked src/app.py ")


def test_lock_without_session(team: Coordinator) -> None:
    result = coord("lock", "src/app.py")
    assert result.exit_code == 1
    assert result.stderr == ("coord: error: lock needs a session: pass --session ID (a handle, "
                             "prefix or name) or set $CLAUDE_CODE_SESSION_ID\n")
    assert team.locks() == []


def test_lock_unknown_and_ambiguous_session(team: Coordinator) -> None:
    unknown = coord("lock", "-s", "zzzz", "src/app.py")
    assert unknown.exit_code == 1
    assert unknown.stderr == ("coord: error: no session 'zzzz'; sessions: aaaa1111 (alice), "
                              "bbbb2222, bbbb3333\n")
    ambiguous = coord("lock", "-s", "bbbb", "src/app.py")
    assert ambiguous.exit_code == 1
    assert ambiguous.stderr == ("coord: error: 'bbbb' matches several sessions: bbbb2222, "
                                "bbbb3333\n")
    short = coord("--session", "bb", "lock", "x")
    assert short.exit_code == 1
    assert short.stderr == ("coord: error: no session named 'bb' and a prefix needs at least 4 "
                            "characters; sessions: aaaa1111 (alice), bbbb2222, bbbb3333\n")
    assert team.locks() == []


def test_lock_as_env_session_registers_it(coordinator: Coordinator,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CODE_SESSION_ID", "eeee5555-model")
    result = coord("lock", "src/app.py")
    assert result.exit_code == 0, result.output
    [view] = coordinator.sessions()
    assert view.session.session_id == "eeee5555-model" and view.session.source == "cli"
    assert [lv.lock.owner for lv in coordinator.locks()] == ["eeee5555-model"]


def test_lock_bad_ttl_is_usage_error(team: Coordinator) -> None:
    result = coord("lock", "-s", "alice", "--ttl", "0", "x")
    assert result.exit_code == 2
    assert result.stderr == ("coord: error: --ttl '0': expected a number of seconds, at "
                             "least 1 and finite\n")


# --- unlock ----------------------------------------------------------------------------------
def test_unlock_own(team: Coordinator) -> None:
    team.acquire(ALICE, "src/app.py")
    result = coord("unlock", "-s", "alice", "src/app.py")
    assert result.exit_code == 0
    assert result.stdout == "released src/app.py\n"
    assert team.locks() == []


def test_unlock_others_needs_force(team: Coordinator, state_dir: Path) -> None:
    team.acquire(ALICE, "src/app.py")
    result = coord("unlock", "-s", BOB, "src/app.py")
    assert result.exit_code == 3
    assert result.stderr == ("coord: error: src/app.py is held by aaaa1111, not by you; use "
                             "--force to release it anyway\n")
    assert len(team.locks()) == 1
    forced = coord("unlock", "-s", BOB, "src/app.py", "--force")
    assert forced.exit_code == 0
    assert forced.stdout == "released src/app.py (forced; held by aaaa1111)\n"
    assert team.locks() == []
    log = [json.loads(line) for line in (state_dir / "logs" / "app.log").read_text().splitlines()]
    assert any(r["event"] == "force_release" and r["by"] == BOB for r in log)


def test_unlock_force_as_human(team: Coordinator) -> None:
    team.acquire(ALICE, "src/app.py")
    result = coord("unlock", "--force", "src/app.py", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc == {"session_id": None, "results": [
        {"target": "src/app.py", "key": "src/app.py", "forced": True, "error": None,
         "released": [{"key": "src/app.py", "owner": ALICE, "holder_handle": "aaaa1111"}]}]}


def test_unlock_without_session_or_force(team: Coordinator) -> None:
    team.acquire(ALICE, "src/app.py")
    result = coord("unlock", "src/app.py")
    assert result.exit_code == 1
    assert result.stderr == ("coord: error: unlock (without --force) needs a session: pass "
                             "--session ID (a handle, prefix or name) or set "
                             "$CLAUDE_CODE_SESSION_ID\n")
    assert len(team.locks()) == 1


def test_unlock_reports_each_target(team: Coordinator) -> None:
    team.acquire(ALICE, "src/app.py")
    result = coord("unlock", "-s", "alice", "nothing.py", "src/app.py")
    assert result.exit_code == 1
    assert result.stdout == "released src/app.py\n"
    assert result.stderr == "coord: error: no lock on nothing.py\n"
    assert team.locks() == []


# --- send and broadcast ----------------------------------------------------------------------
def test_send_as_human(team: Coordinator) -> None:
    result = coord("send", "alice", "please release src/app.py")
    assert result.exit_code == 0
    assert result.stdout == "sent #1 to aaaa1111 (alice)\n"
    [message] = stored_messages(team)
    assert message.sender == "human" and message.recipient == ALICE
    assert message.body == "please release src/app.py" and not message.urgent


def test_send_as_session_urgent_json(team: Coordinator) -> None:
    result = coord("send", "-s", "bbbb2", "aaaa1111", "now!", "--urgent", "--json")
    doc = as_json(result)
    assert list(doc) == ["message"]
    assert set(doc["message"]) == MESSAGE_KEYS
    assert doc["message"]["sender"] == BOB and doc["message"]["recipient"] == ALICE
    assert doc["message"]["recipient_name"] == "alice" and doc["message"]["urgent"] is True
    urgent = coord("send", "alice", "x", "--urgent")
    assert urgent.stdout == "sent #2 to aaaa1111 (alice) (urgent)\n"


def test_send_from_stdin(team: Coordinator) -> None:
    result = coord("send", "alice", "-", input="line one\nline two\n")
    assert result.exit_code == 0
    assert stored_messages(team)[0].body == "line one\nline two"


def test_send_to_ended_session_is_kept(team: Coordinator) -> None:
    team.end(CAROL)
    assert coord("send", "bbbb3", "for later").exit_code == 0
    assert [m.body for m in team.inbox(CAROL, peek=True)] == ["for later"]


@pytest.mark.parametrize(("args", "stdin", "error"), [
    (["send", "alice", "   "], None, "message is empty; nothing was sent"),
    (["send", "alice", "-"], b"", "message is empty; nothing was sent"),
    (["send", "alice", "-"], b"\xff\xfe binary", "message looks binary (NUL bytes or invalid "
                                                  "UTF-8); nothing was sent"),
    (["send", "alice", "-"], b"a\x00b", "message looks binary (NUL bytes or invalid UTF-8); "
                                        "nothing was sent"),
    (["send", "alice", "x" * 4001], None, "message is 4001 characters, the limit is 4000 "
                                          "(COORD_MAX_MESSAGE_CHARS); nothing was sent"),
    (["broadcast", "\x01\x02"], None, "message is empty; nothing was sent"),
    (["send", "zzzz", "hi"], None, "no session 'zzzz'; sessions: aaaa1111 (alice), bbbb2222, "
                                   "bbbb3333"),
    (["send", "bbbb", "hi"], None, "'bbbb' matches several sessions: bbbb2222, bbbb3333"),
])
def test_bad_messages_store_nothing(team: Coordinator, args: list[str], stdin: bytes | None,
                                    error: str) -> None:
    result = coord(*args, input=stdin)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"coord: error: {error}\n"
    assert stored_messages(team) == []


def test_message_limit_follows_settings(team: Coordinator,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COORD_MAX_MESSAGE_CHARS", "5")
    result = coord("send", "alice", "123456")
    assert result.stderr == ("coord: error: message is 6 characters, the limit is 5 "
                             "(COORD_MAX_MESSAGE_CHARS); nothing was sent\n")


def test_broadcast(team: Coordinator) -> None:
    result = coord("broadcast", "-s", "alice", "tests are red, hold merges")
    assert result.exit_code == 0
    assert result.stdout == "broadcast #1 to 2 live sessions\n"
    for sid in (BOB, CAROL):
        assert [m.body for m in team.inbox(sid)] == ["tests are red, hold merges"]
    assert team.inbox(ALICE) == []  # not to its own sender


def test_broadcast_json_as_human(team: Coordinator) -> None:
    team.end(CAROL)
    doc = as_json(coord("broadcast", "all hands", "--urgent", "--json"))
    assert list(doc) == ["message", "recipients"]
    assert set(doc["message"]) == MESSAGE_KEYS
    assert doc["message"]["broadcast"] is True and doc["message"]["urgent"] is True
    assert doc["message"]["sender"] == "human"
    assert doc["recipients"] == [ALICE, BOB]


# --- inbox and messages ----------------------------------------------------------------------
def test_inbox_marks_read_peek_does_not(team: Coordinator) -> None:
    team.send(BOB, "alice", "first")
    team.broadcast(CAROL, "to all")
    peek = coord("inbox", "-s", "alice", "--peek")
    assert peek.exit_code == 0
    lines = peek.stdout.splitlines()
    assert any("first" in line and "bbbb2222" in line and "aaaa1111 (alice)" in line
               for line in lines)
    assert any("to all" in line and "everyone" in line for line in lines)
    doc = as_json(coord("inbox", "-s", "alice", "--json"))
    assert doc["session_id"] == ALICE and doc["marked_read"] is True
    assert [m["body"] for m in doc["messages"]] == ["first", "to all"]
    for m in doc["messages"]:
        assert set(m) == MESSAGE_KEYS
    assert coord("inbox", "-s", "alice").stdout == "no unread messages\n"


def test_inbox_all_includes_read_and_archived(team: Coordinator,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(4):
        team.send(BOB, "alice", f"m{i}")
    team.send(ALICE, "bbbb2", "sent by alice")  # not addressed to alice: not in her inbox
    team.inbox(ALICE)
    team.inbox(BOB)
    monkeypatch.setenv("COORD_RETENTION_MESSAGES", "1")
    assert as_json(coord("cleanup", "--json"))["archived"] == 4
    doc = as_json(coord("inbox", "-s", "alice", "--all", "--json"))
    assert doc["marked_read"] is False
    assert [m["body"] for m in doc["messages"]] == ["m0", "m1", "m2", "m3"]
    assert "m0" in coord("inbox", "-s", "alice", "--all").stdout


def test_inbox_needs_session(team: Coordinator) -> None:
    result = coord("inbox")
    assert result.exit_code == 1
    assert result.stderr == ("coord: error: inbox needs a session: pass --session ID (a handle, "
                             "prefix or name) or set $CLAUDE_CODE_SESSION_ID\n")


def test_inbox_from_env_session(team: Coordinator, monkeypatch: pytest.MonkeyPatch) -> None:
    team.send(None, "bbbb2", "for bob")
    monkeypatch.setenv("CLAUDE_CODE_SESSION_ID", BOB)
    doc = as_json(coord("inbox", "--json"))
    assert [m["body"] for m in doc["messages"]] == ["for bob"]
    assert doc["messages"][0]["sender_handle"] == "human"


def test_messages_lists_everything(team: Coordinator, monkeypatch: pytest.MonkeyPatch) -> None:
    team.send(BOB, "alice", "one")
    team.broadcast(None, "two")
    team.send(ALICE, "bbbb3", "three")
    team.inbox(ALICE)
    team.inbox(BOB)
    team.inbox(CAROL)
    result = coord("messages")
    assert result.exit_code == 0
    for body in ("one", "two", "three"):
        assert body in result.stdout
    doc = as_json(coord("messages", "--json"))
    assert list(doc) == ["session_id", "archived", "messages"]
    assert [m["seq"] for m in doc["messages"]] == [1, 2, 3]
    carol = as_json(coord("messages", "--session", "bbbb3", "--json"))
    assert carol["session_id"] == CAROL
    assert [m["body"] for m in carol["messages"]] == ["two", "three"]
    monkeypatch.setenv("COORD_RETENTION_MESSAGES", "1")
    assert coord("cleanup").exit_code == 0
    assert [m["seq"] for m in as_json(coord("messages", "--json"))["messages"]] == [3]
    archived = as_json(coord("messages", "--archived", "--json"))
    assert archived["archived"] is True
    assert [m["seq"] for m in archived["messages"]] == [1, 2, 3]


def test_messages_empty(project: Path, coordinator: Coordinator) -> None:
    assert coord("messages").stdout == ("no messages (coord messages --archived shows archived "
                                        "ones)\n")


# --- status --------------------------------------------------------------------------------
def test_status_overview(team: Coordinator, state_dir: Path) -> None:
    team.acquire(ALICE, "src/app.py")
    team.send(None, "bbbb2", "hello")
    result = coord("--backend", "optimized", "status")
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith(f"backend optimized · state {state_dir}\n")
    for text in ("Sessions", "Locks", "Queue", "aaaa1111", "src/app.py",
                 "broadcasts waiting in the batch queue: 0"):
        assert text in out
    bob_row = next(line for line in out.split("Queue")[1].splitlines() if "bbbb2222" in line)
    assert re.search(r"live\s+│\s+1\s+│\s+0\s+│\s+0s ago", bob_row), bob_row


def test_status_json(team: Coordinator, state_dir: Path, project: Path) -> None:
    team.acquire(ALICE, "src/app.py")
    team.send(None, "bbbb2", "hello")
    doc = as_json(coord("status", "--json"))
    assert list(doc) == ["backend", "state_dir", "project_root", "store", "sessions", "locks",
                         "queue", "pending_broadcasts", "guard"]
    assert doc["store"] == {}  # only a shared server (redis) says where and which project
    assert doc["state_dir"] == str(state_dir) and doc["project_root"] == str(project)
    assert all(set(s) == SESSION_KEYS for s in doc["sessions"])
    assert all(set(lk) == LOCK_KEYS for lk in doc["locks"])
    assert all(set(q) == QUEUE_KEYS for q in doc["queue"])
    bob = next(q for q in doc["queue"] if q["session_id"] == BOB)
    assert bob["unread"] == 1 and bob["oldest_unread_age_s"] is not None
    assert doc["pending_broadcasts"] == 0


def test_status_says_what_is_guarded_and_counts_unjudged_bash(team: Coordinator,
                                                              state_dir: Path) -> None:
    assert coord("status").stdout.splitlines()[1:3] == [
        "guarded: Edit, Write, MultiEdit, NotebookEdit, Bash (parsed)",
        "Bash commands: none seen yet"]
    log = state_dir / "logs" / "performance.log"
    log.parent.mkdir(exist_ok=True)
    lines = [{"hook": "PreToolUse", "tool": "Bash", "outcome": "read-only"},
             {"hook": "PreToolUse", "tool": "Bash", "outcome": "no-writes",
              "unjudged": ["program"]},
             {"hook": "PreToolUse", "tool": "Bash", "outcome": "locked",
              "unjudged": ["program", "variable"]},
             {"hook": "PreToolUse", "tool": "Bash", "outcome": "deny"},
             {"hook": "PreToolUse", "outcome": "locked"},  # an Edit
             {"hook": "PostToolUse", "outcome": "ok"}]
    log.write_text("".join(json.dumps({"ts": 1.0, "ms": 30.0, **line}) + "\n"
                           for line in lines))
    out = coord("status").stdout.splitlines()
    assert out[2] == ("Bash commands (last 1000 hook runs): 4 seen, 1 read-only, 3 parsed, "
                      "1 denied, 2 not judged (program 2, variable 1)")
    guard = as_json(coord("status", "--json"))["guard"]
    assert guard["bash"] == {"runs": 4, "read_only": 1, "parsed": 3, "locked": 1,
                             "denied": 1, "unjudged": 2}
    assert guard["unjudged_by_kind"] == {"program": 2, "variable": 1}
    assert guard["subagents_share_locks"] is False


def test_status_queue(team: Coordinator) -> None:
    team.send(None, "alice", "a", urgent=True)
    team.send(None, "alice", "b")
    doc = as_json(coord("status", "--queue", "--json"))
    assert list(doc) == ["backend", "queue", "pending_broadcasts", "batch"]
    assert set(doc["batch"]) == {"pending", "seqs", "oldest_age_s", "batch_size",
                                 "flush_interval_s"}
    alice = next(q for q in doc["queue"] if q["session_id"] == ALICE)
    assert (alice["unread"], alice["urgent"]) == (2, 1)
    table = coord("status", "--queue").stdout
    assert "Sessions" not in table and "aaaa1111 (alice)" in table
    assert table.endswith("broadcasts waiting in the batch queue: 0\n")


def test_status_queue_shows_backend_batch(team: Coordinator,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from coord_hooks.store.optimized import OptimizedStore

    def info(self: OptimizedStore) -> StoreInfo:
        return StoreInfo("optimized", str(self.state_dir),
                         {"pending_broadcasts": 3, "cache": {"entries": 7, "hits": 12}})

    monkeypatch.setattr(OptimizedStore, "info", info)
    opt = ("--backend", "optimized")
    assert as_json(coord(*opt, "status", "--queue", "--json"))["pending_broadcasts"] == 3
    assert "broadcasts waiting in the batch queue: 3" in coord(*opt, "status", "--queue").stdout
    assert as_json(coord(*opt, "status", "--json"))["pending_broadcasts"] == 3
    cache = as_json(coord(*opt, "status", "--cache", "--json"))
    assert cache["available"] is True and cache["cache"] == {"entries": 7, "hits": 12}
    table = coord(*opt, "status", "--cache-stats").stdout
    assert re.search(r"entries\s+│\s+7", table) and re.search(r"hits\s+│\s+12", table)


def test_status_cache_without_cache(team: Coordinator) -> None:
    result = coord("--backend", "legacy", "status", "--cache")
    assert result.stdout == "the legacy backend keeps no cache (cache_ttl setting: 30s)\n"
    doc = as_json(coord("--backend", "legacy", "status", "--cache-stats", "--json"))
    assert doc == {"backend": "legacy", "cache_ttl_s": 30.0, "available": False,
                   "cache": None, "note": "the legacy backend keeps no cache"}


def test_status_performance(team: Coordinator, state_dir: Path) -> None:
    log = state_dir / "logs" / "performance.log"
    assert coord("status", "--performance").stdout == f"no hook runs recorded yet ({log})\n"
    empty = as_json(coord("status", "--performance", "--json"))
    assert empty["runs"] == 0 and empty["events"] == {}
    log.parent.mkdir(exist_ok=True)
    log.write_text("".join(json.dumps({"ts": 1.0, "hook": "pre-tool-use", "ms": float(ms),
                                       "backend": "optimized", "outcome": "ok"}) + "\n"
                           for ms in range(1, 21)))
    (state_dir / "logs" / "app.log").write_text(json.dumps(
        {"ts": time.time() - 120, "level": "warning", "event": "slow_operation",
         "hook": "pre-tool-use", "ms": 20.0, "backend": "optimized", "outcome": "ok"}) + "\n")
    doc = as_json(coord("status", "--performance", "--json"))
    assert list(doc) == ["backend", "log", "window", "runs", "events", "by_backend",
                         "first_ts", "last_ts", "slow_threshold_ms",
                         "slow_operations", "note"]
    assert doc["events"] == {"pre-tool-use": {"runs": 20, "p50_ms": 10.0, "p95_ms": 19.0,
                                              "max_ms": 20.0}}
    table = coord("status", "--performance").stdout
    row = next(line for line in table.splitlines() if "pre-tool-use" in line)
    assert re.search(r"20\s+│\s+10\s+│\s+19\s+│\s+20", row), row
    assert table.endswith("recent slow operations (over 250 ms):\n"
                          "  2m ago: pre-tool-use took 20 ms (optimized, ok)\n")


def test_status_one_view_at_a_time(team: Coordinator) -> None:
    result = coord("status", "--queue", "--performance")
    assert result.exit_code == 2
    assert result.stderr == "coord: error: choose one view, not --queue and --performance\n"


# --- config --------------------------------------------------------------------------------
def test_config_shows_value_and_source(project: Path, state_dir: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COORD_LOCK_TTL", "60")
    monkeypatch.setenv("BROADCAST_BATCH_SIZE", "3")
    result = coord("config")
    assert result.exit_code == 0
    assert not state_dir.exists()  # config reads, never creates
    lock_ttl = next(line for line in result.stdout.splitlines() if "lock_ttl" in line)
    assert "60.0" in lock_ttl and "$COORD_LOCK_TTL" in lock_ttl
    batch = next(line for line in result.stdout.splitlines() if "broadcast_batch_size" in line)
    assert "$BROADCAST_BATCH_SIZE" in batch
    doc = as_json(coord("config", "--json"))
    assert list(doc) == ["state_dir", "project_root", "backend", "config_files", "settings",
                         "ignored"]
    assert doc["settings"]["lock_ttl"]["value"] == 60.0
    assert doc["settings"]["lock_ttl"]["source"] == "$COORD_LOCK_TTL"
    assert doc["settings"]["broadcast_batch_size"] == {
        "value": 3, "source": "$BROADCAST_BATCH_SIZE",
        "env": "COORD_BROADCAST_BATCH_SIZE or BROADCAST_BATCH_SIZE",
        "help": "queued broadcasts that trigger a flush"}
    assert doc["settings"]["debug"]["source"] == "default"


def test_config_file_and_unknown_keys(project: Path, state_dir: Path) -> None:
    state_dir.mkdir()
    (state_dir / "config.toml").write_text("retention_messages = 42\ncolour = 'red'\n")
    result = coord("config")
    assert result.exit_code == 0
    assert result.stderr == ("coord: warning: unknown setting 'colour' in a config file is "
                             "ignored\n")
    doc = as_json(coord("config", "--json"))
    assert doc["settings"]["retention_messages"] == {
        "value": 42, "source": str(state_dir / "config.toml"),
        "env": "COORD_RETENTION_MESSAGES", "help": "messages kept live before archiving "
                                                    "older ones"}
    assert doc["ignored"] == ["colour"]


def test_bad_setting_is_a_config_error(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COORD_LOCK_TTL", "soon")
    result = coord("config")
    assert result.exit_code == 2
    assert result.stderr == ("coord: error: $COORD_LOCK_TTL: bad value 'soon' for lock_ttl "
                             "(could not convert string to float: 'soon')\n")


# --- cleanup -------------------------------------------------------------------------------
def _make_bob_dead(team: Coordinator) -> None:
    team.acquire(BOB, "src/bob.py")
    team.register(BOB, pid=os.getpid(), pid_start="not-this-process")


def test_cleanup_dry_run_changes_nothing(team: Coordinator) -> None:
    _make_bob_dead(team)
    result = coord("cleanup", "--dry-run")
    assert result.exit_code == 0
    assert result.stdout == ("dry run: would end 1 dead session(s), release 1 lapsed lock(s), "
                             "archive 0 of 0 message(s) (retention 500)\n"
                             "  session bbbb2222\n  lock src/bob.py\n")
    assert [lv.lock.key for lv in team.locks()] == ["src/bob.py"]
    with team.store.read() as view:
        bob = view.get_session(BOB)
    assert bob is not None and not bob.ended


def test_cleanup(team: Coordinator) -> None:
    _make_bob_dead(team)
    doc = as_json(coord("cleanup", "--json"))
    assert doc["dry_run"] is False
    assert doc["dead_sessions"] == [BOB] and doc["expired_locks"] == ["src/bob.py"]
    assert doc["archived"] == 0
    assert team.locks() == []
    assert "ended 0 dead session(s)" in coord("cleanup").stdout


# --- whoami and name -----------------------------------------------------------------------
def test_whoami_human(project: Path, state_dir: Path) -> None:
    result = coord("whoami")
    assert result.exit_code == 0
    assert result.stdout == ("human (no acting session: pass --session ID or set "
                             "$CLAUDE_CODE_SESSION_ID)\n")
    assert as_json(coord("whoami", "--json")) == {
        "session_id": None, "handle": None, "name": "", "task": "", "origin": "human",
        "registered": False, "live": False}
    assert not state_dir.exists()


def test_whoami_session(team: Coordinator, monkeypatch: pytest.MonkeyPatch) -> None:
    assert coord("whoami", "-s", "alice").stdout == (
        f"aaaa1111 (alice) · {ALICE} · live · from --session · working on: router refactor\n")
    monkeypatch.setenv("CLAUDE_CODE_SESSION_ID", BOB)
    assert as_json(coord("whoami", "--json")) == {
        "session_id": BOB, "handle": "bbbb2222", "name": "", "task": "",
        "origin": "$CLAUDE_CODE_SESSION_ID", "registered": True, "live": True}
    monkeypatch.setenv("CLAUDE_CODE_SESSION_ID", "ffff0000-new")
    assert coord("whoami").stdout == ("ffff0000 · ffff0000-new · not registered · from "
                                      "$CLAUDE_CODE_SESSION_ID\n")


def test_name_sets_identity(team: Coordinator) -> None:
    result = coord("name", "-s", "bbbb2", "bob", "--task", "flaky tests")
    assert result.exit_code == 0
    assert result.stdout == "bbbb2222 is now bob, working on: flaky tests\n"
    assert team.resolve("bob").session_id == BOB
    doc = as_json(coord("--session", "bob", "name", "bobby", "--json"))
    assert list(doc) == ["session"] and set(doc["session"]) == SESSION_KEYS
    assert doc["session"]["name"] == "bobby" and doc["session"]["task"] == "flaky tests"


@pytest.mark.parametrize(("name", "code", "error"), [
    ("alice", 2, "name 'alice' is already used by session aaaa1111"),
    ("two words", 2, "bad name 'two words': use one word without spaces"),
    ("  ", 2, "bad name '  ': use one word without spaces"),
])
def test_name_errors(team: Coordinator, name: str, code: int, error: str) -> None:
    result = coord("name", "-s", "bbbb2", name)
    assert result.exit_code == code
    assert result.stderr == f"coord: error: {error}\n"
    assert team.resolve(BOB).name == ""


def test_name_needs_session(team: Coordinator) -> None:
    result = coord("name", "bob")
    assert result.exit_code == 1
    assert result.stderr.startswith("coord: error: name needs a session: pass --session ID")


# --- store trouble -------------------------------------------------------------------------
@pytest.mark.parametrize(("backend", "folder", "command"), [
    ("legacy", "sessions", "sessions"),
    ("legacy", "messages", "messages"),
    # the optimized backend may serve sessions from its snapshot, but reads message files
    ("optimized", "messages", "messages"),
])
def test_corrupt_file_is_quarantined_with_warning(team: Coordinator, state_dir: Path,
                                                  backend: str, folder: str,
                                                  command: str) -> None:
    team.send(None, "alice", "one")
    team.send(None, "alice", "two")
    broken = state_dir / folder / ("000000000001.json" if folder == "messages" else "x.json")
    broken.write_text("{not json")
    result = coord("--backend", backend, command, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    if folder == "messages":
        assert [m["body"] for m in doc["messages"]] == ["two"]
    else:
        assert len(doc["sessions"]) == 3
    [moved] = os.listdir(state_dir / "quarantine")
    assert moved.startswith(f"{folder}__{broken.name}.")
    assert result.stderr == (f"coord: warning: a corrupt store file was moved to "
                             f"{state_dir / 'quarantine' / moved} (details in "
                             f"{state_dir / 'logs' / 'app.log'})\n")
    again = coord("--backend", backend, command)
    assert again.exit_code == 0 and again.stderr == ""


def test_read_only_state_dir(team: Coordinator, state_dir: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    real_access = os.access

    def access(path: Any, mode: int, **kw: Any) -> bool:
        if Path(path) == state_dir and mode & os.W_OK:
            return False
        return real_access(path, mode, **kw)

    monkeypatch.setattr(os, "access", access)
    for args in (["sessions"], ["broadcast", "hi"]):
        result = coord(*args)
        assert result.exit_code == 4
        assert result.stderr == f"coord: error: state directory {state_dir} is not writable\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_state_dir_for_real(team: Coordinator, state_dir: Path) -> None:
    state_dir.chmod(0o500)
    try:
        result = coord("broadcast", "hi")
    finally:
        state_dir.chmod(0o700)
    assert result.exit_code == 4
    assert result.stderr == f"coord: error: state directory {state_dir} is not writable\n"


def test_state_dir_that_cannot_be_created(project: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("COORD_STATE_DIR", str(blocker / "state"))
    result = coord("broadcast", "hi")
    assert result.exit_code == 4
    assert result.stderr == (f"coord: error: cannot create state directory {blocker / 'state'}: "
                             "Not a directory\n")


@pytest.mark.parametrize("backend", ["legacy", "optimized"])
def test_a_generation_that_is_a_directory_is_one_line(team: Coordinator, state_dir: Path,
                                                       backend: str) -> None:
    """Issue 9 (minor): this was "internal error" with exit 70."""
    (state_dir / "generation").unlink()
    (state_dir / "generation").mkdir()
    for args in (["status"], ["lock", "src/a.py", "--session", "alice"],
                 ["broadcast", "hi"]):
        result = coord("--backend", backend, *args)
        assert result.exit_code == 4, result.output
        assert result.stderr == (f"coord: error: cannot read {state_dir / 'generation'}: "
                                 "Is a directory\n")


def test_diagnose_output_that_cannot_be_written_is_one_line(team: Coordinator) -> None:
    """Issue 9 (minor): ``coord diagnose --output /proc/nope/x`` was exit 70."""
    result = coord("diagnose", "--output", "/proc/nope/x")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("coord: error: cannot write the report to /proc/nope/x: ")
    assert result.stderr.count("\n") == 1


def test_internal_error_is_one_line_and_logged(team: Coordinator, state_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: Coordinator) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(Coordinator, "locks", boom)
    result = coord("locks")
    assert result.exit_code == 70
    assert result.stdout == ""
    log = state_dir / "logs" / "app.log"
    assert result.stderr == (f"coord: internal error: RuntimeError: boom second line "
                             f"(details in {log})\n")
    record = json.loads(log.read_text().splitlines()[-1])
    assert record["event"] == "internal_error" and record["level"] == "error"
    assert "Traceback" in record["traceback"] and "boom" in record["traceback"]


# --- run_cli: the entry point __main__ uses -------------------------------------------------
def test_run_cli_exit_codes(team: Coordinator, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli(["sessions"]) == 0
    assert "aaaa1111" in capsys.readouterr().out
    assert run_cli(["send", "zzzz", "hi"]) == 1
    assert capsys.readouterr().err == ("coord: error: no session 'zzzz'; sessions: aaaa1111 "
                                       "(alice), bbbb2222, bbbb3333\n")
    assert run_cli(["frobnicate"]) == 2
    assert "No such command 'frobnicate'" in capsys.readouterr().err
    assert run_cli(["--help"]) == 0
    assert run_cli(["--version"]) == 0
    assert capsys.readouterr().out.endswith("coord-hooks 0.1.0\n")
    team.acquire(ALICE, "src/app.py")
    assert run_cli(["lock", "-s", BOB, "src/app.py"]) == 3
    capsys.readouterr()

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("bad thing")

    # an exception escaping the app itself (not a command) is still one line and 70
    monkeypatch.setattr(cli, "app", boom)
    assert run_cli(["sessions"]) == 70
    assert capsys.readouterr().err.startswith("coord: internal error: ValueError: bad thing (")


def test_command_groups_are_registered_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    # The command group list is a plain tuple of importable modules; each must offer register().
    assert isinstance(cli.COMMAND_GROUPS, tuple)
    for name in cli.COMMAND_GROUPS:
        module = __import__(name, fromlist=["register"])
        assert callable(module.register), name


# --- real subprocesses: python -m coord_hooks ---------------------------------------------
def run(project: Path, *args: str, stdin: bytes | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO),
                                                           full_env.get("PYTHONPATH")]))
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "coord_hooks", *args], cwd=project,
                          input=stdin, capture_output=True, env=full_env, timeout=60,
                          check=False)


def test_subprocess_session_lifecycle(team: Coordinator, project: Path) -> None:
    granted = run(project, "lock", "-s", "alice", "src/app.py", "--json")
    assert granted.returncode == 0, granted.stderr
    assert json.loads(granted.stdout)["results"][0]["granted"] is True
    denied = run(project, "lock", "src/app.py", env={"CLAUDE_CODE_SESSION_ID": BOB})
    assert denied.returncode == 3
    assert denied.stdout == b""
    assert denied.stderr.decode().startswith(
        "coord: denied: src/app.py is locked by session aaaa1111 (alice); working on (in its "
        'own words): "router refactor"; exclusive lock taken ')
    assert len(denied.stderr.splitlines()) == 1
    sent = run(project, "send", "alice", "-", stdin=b"please release it\n",
               env={"CLAUDE_CODE_SESSION_ID": BOB})
    assert sent.returncode == 0 and sent.stdout == b"sent #1 to aaaa1111 (alice)\n"
    inbox = run(project, "inbox", "--session", "alice", "--json")
    assert inbox.returncode == 0
    [message] = json.loads(inbox.stdout)["messages"]
    assert message["body"] == "please release it" and message["sender"] == BOB
    status = run(project, "status", "--json")
    assert status.returncode == 0
    doc = json.loads(status.stdout)
    assert [lk["key"] for lk in doc["locks"]] == ["src/app.py"]
    assert {s["session_id"] for s in doc["sessions"]} == {ALICE, BOB, CAROL}


@pytest.mark.parametrize(("args", "stdin", "code", "stderr"), [
    (["send", "zzzz", "hi"], None, 1,
     "coord: error: no session 'zzzz'; sessions: aaaa1111 (alice), bbbb2222, bbbb3333\n"),
    (["send", "bbbb", "hi"], None, 1,
     "coord: error: 'bbbb' matches several sessions: bbbb2222, bbbb3333\n"),
    (["send", "alice", "-"], b"\x00\x01\x02", 1,
     "coord: error: message looks binary (NUL bytes or invalid UTF-8); nothing was sent\n"),
    (["broadcast", ""], None, 1, "coord: error: message is empty; nothing was sent\n"),
    (["lock", "x"], None, 1, "coord: error: lock needs a session: pass --session ID (a handle, "
                             "prefix or name) or set $CLAUDE_CODE_SESSION_ID\n"),
    (["status", "--cache", "--queue"], None, 2,
     "coord: error: choose one view, not --queue and --cache\n"),
])
def test_subprocess_error_lines(team: Coordinator, project: Path, args: list[str],
                                stdin: bytes | None, code: int, stderr: str) -> None:
    result = run(project, *args, stdin=stdin)
    assert result.returncode == code
    assert result.stderr.decode() == stderr
    assert result.stdout == b""
    assert stored_messages(team) == []


def test_subprocess_missing_state_and_usage(project: Path, state_dir: Path) -> None:
    missing = run(project, "locks", "--json")
    assert missing.returncode == 4
    assert missing.stderr.decode() == (f"coord: error: no coordination state at {state_dir} yet "
                                       "(it is created when a session registers or a command "
                                       "writes)\n")
    usage = run(project, "send", "only-one-arg")
    assert usage.returncode == 2
    assert b"Missing argument 'TEXT'" in usage.stderr
    assert b"Traceback" not in usage.stderr


# --- docs -------------------------------------------------------------------------------
CORE_COMMANDS = ("sessions", "locks", "lock", "unlock", "send", "broadcast", "inbox",
                 "messages", "status", "config", "cleanup", "whoami", "name")


def test_docs_describe_every_core_command_and_option() -> None:
    text = (REPO / "docs" / "cli.md").read_text()
    sections = {m.group(1): m.group(2) for m in
                re.finditer(r"^### `coord (\w+)[^`]*`\n(.*?)(?=^### |\Z)", text, re.M | re.S)}
    headings = dict(re.findall(r"^### (`coord (\w+)[^`]*`)", text, re.M))
    group = typer.main.get_command(app)
    for name in CORE_COMMANDS:
        assert name in sections, f"docs/cli.md has no section for coord {name}"
        command = group.commands[name]  # type: ignore[attr-defined]
        documented = next(h for h, n in headings.items() if n == name) + sections[name]
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help":
                    assert opt in documented, f"coord {name} {opt} is not documented"
    for option in ("--backend", "--state-dir", "--session", "--version"):
        assert option in text


# --- first contact -------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "line"), [
    (["status"], "no sessions yet"), (["status", "--queue"], "no sessions yet"),
    (["sessions"], "no sessions yet"), (["locks"], "no locks yet"),
])
def test_a_project_without_state_is_calm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         args: list[str], line: str) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    monkeypatch.delenv("COORD_STATE_DIR")  # the default place: <project>/.claude-coordination
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(root))
    result = coord(*args)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (f"{line}: no Claude Code session has registered in this project "
                             f"(its state will be in {root / '.claude-coordination'})\n")
    assert not (root / ".claude-coordination").exists()
    doc = as_json(coord(*args, "--json"))
    assert doc.get("sessions", []) == [] and doc.get("locks", []) == []
    assert doc.get("queue", []) == []


def test_backend_option_of_the_other_layout_says_to_migrate(team: Coordinator,
                                                            state_dir: Path) -> None:
    result = coord("--backend", "sqlite", "status")
    assert result.exit_code == 4 and result.stdout == ""
    assert result.stderr.startswith(f"coord: error: state directory {state_dir} uses the json "
                                    "layout")
    assert "`coord migrate --to sqlite`" in result.stderr
    assert not list(state_dir.glob("coord.db*"))  # nothing of sqlite left behind


def test_help_is_whole_and_plain() -> None:
    listing = coord("--help").stdout
    commands = listing.split("Commands:", 1)[1]
    assert "..." not in commands  # summaries are not cut short
    assert "Show the acting session (from --session or $CLAUDE_CODE_SESSION_ID), or 'human'" \
        in " ".join(commands.split())
    group = typer.main.get_command(app)
    for name in group.commands:  # type: ignore[attr-defined]
        text = coord(name, "--help").stdout
        assert not re.search(r"<(int|float|str|path|list\[\w+\])>", text), (name, text)
        assert "{" not in text.splitlines()[0]
        assert not re.search(r"seed's|\(issue|issue \d", text), name
    assert coord("lock", "--help").stdout.startswith(
        "Usage: coord lock [OPTIONS] PATH_OR_GLOB...\n")
    assert "  PATH_OR_GLOB...  Files or glob patterns to lock." in coord("lock", "--help").stdout
