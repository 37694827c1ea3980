"""Issue 9 (locks and text) through the ``coord`` CLI: patterns are validated when a lock
is taken, an existing path is a literal unless ``--glob``, durations are numbers, JSON
output is JSON, and every suggested command is shell-safe.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from coord_hooks.cli.app import app
from coord_hooks.coordination import Coordinator
from coord_hooks.model import Lock

ALICE = "aaaa1111-0000-4000-8000-000000000001"
BOB = "bbbb2222-0000-4000-8000-000000000002"
runner = CliRunner()


def coord(*args: str) -> Result:
    return runner.invoke(app, list(args))


def one_line_error(result: Result, code: int) -> str:
    """The single ``coord: error: ...`` line of a refused command (nothing on stdout)."""
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("coord: error: "), line
    return line


@pytest.fixture
def team(coordinator: Coordinator) -> Coordinator:
    """alice (live by pid: this test process) and bob (live by heartbeat)."""
    coordinator.register(ALICE, pid=os.getpid(), name="alice")
    coordinator.register(BOB)
    return coordinator


# --- item 1 and the minor globs: validated when the lock is taken ------------------------
@pytest.mark.parametrize(("pattern", "why"), [
    ("src/[z-a].py", "bad range z-a in [z-a]"),
    ("src/[a\\].py", "a backslash in [a\\] (write the character itself)"),
    ("src/[[:alpha:]].py", "character classes such as [:alpha:] are not supported"),
    ("src/[a/b].py", "a [...] set cannot match /"),
    ("src/*.py/", "a pattern cannot end with / (to lock what is inside, end it with /**)"),
    ("src/*//a.py", "empty path segment"),
    ("src/*/../a.py", "a pattern cannot contain . or .. after a wildcard"),
    ("src/*/./a.py", "a pattern cannot contain . or .. after a wildcard"),
])
def test_item1_malformed_patterns_are_refused_in_one_line(team: Coordinator, pattern: str,
                                                          why: str) -> None:
    line = one_line_error(coord("lock", "-s", "alice", pattern), 2)
    assert line == f"coord: error: bad pattern {pattern!r}: {why}"
    assert team.locks() == []


def test_item1_a_refused_pattern_takes_none_of_the_targets(team: Coordinator) -> None:
    result = coord("lock", "-s", "alice", "src/[z-a].py", "docs/*.md")
    assert result.exit_code == 2
    assert result.stderr == "coord: error: bad pattern 'src/[z-a].py': bad range z-a in [z-a]\n"
    # validated before anything is taken: nothing half-done
    assert team.locks() == []


def test_item1_a_malformed_stored_pattern_is_listed_and_can_be_released(
        team: Coordinator) -> None:
    now = time.time()
    with team.store.transaction() as tx:
        tx.put_lock(Lock("src/[z-a].py", ALICE, now, now, 1800.0, is_glob=True))
    listing = json.loads(coord("locks", "--json").stdout)
    assert [lk["key"] for lk in listing["locks"]] == ["src/[z-a].py"]
    denied = coord("lock", "-s", BOB, "src/other.py")
    assert denied.exit_code == 3
    assert "malformed pattern, treated as covering all of src/" in denied.stderr
    released = coord("unlock", "-s", "alice", "src/[z-a].py")
    assert released.exit_code == 0, released.output
    assert team.locks() == []


# --- item 5: an existing path is a literal unless --glob --------------------------------
def test_item5_an_existing_bracketed_path_is_a_literal(team: Coordinator,
                                                       project: Path) -> None:
    route = project / "app" / "[id]" / "page.tsx"
    route.parent.mkdir(parents=True)
    route.write_text("export default 1\n")
    (project / "app" / "i").mkdir()
    (project / "app" / "i" / "page.tsx").write_text("")
    result = coord("lock", "-s", "alice", "app/[id]/page.tsx")
    assert result.stdout == "locked app/[id]/page.tsx (exclusive, lease 30m)\n"
    [view] = team.locks()
    assert (view.lock.key, view.lock.is_glob) == ("app/[id]/page.tsx", False)
    # the hook's key for that file is the same lock: bob is denied, alice renews
    assert not team.try_acquire(BOB, str(route), literal=True).granted
    assert team.try_acquire(ALICE, str(route), literal=True).renewed
    # and a file the pattern would have matched is not covered
    assert team.try_acquire(BOB, "app/i/page.tsx").granted
    assert coord("unlock", "-s", "alice", "app/[id]/page.tsx").exit_code == 0
    assert [v.lock.key for v in team.locks()] == ["app/i/page.tsx"]


def test_item5_glob_flag_takes_the_pattern_even_when_a_path_matches(
        team: Coordinator, project: Path) -> None:
    (project / "app" / "[id]").mkdir(parents=True)
    (project / "app" / "i").mkdir()
    (project / "app" / "i" / "page.tsx").write_text("")
    result = coord("lock", "-s", "alice", "--glob", "app/[id]/page.tsx")
    assert result.exit_code == 0, result.output
    [view] = team.locks()
    assert (view.lock.key, view.lock.is_glob) == ("app/[id]/page.tsx", True)
    assert not team.try_acquire(BOB, "app/i/page.tsx").granted
    assert coord("unlock", "-s", "alice", "--glob", "app/[id]/page.tsx").exit_code == 0
    assert team.locks() == []


def test_item5_a_pattern_naming_nothing_is_still_a_pattern(team: Coordinator) -> None:
    assert coord("lock", "-s", "alice", "docs/*.md").exit_code == 0
    [view] = team.locks()
    assert (view.lock.key, view.lock.is_glob) == ("docs/*.md", True)


# --- minor: durations are finite positive numbers; JSON output is JSON -------------------
@pytest.mark.parametrize("ttl", ["nan", "NaN", "inf", "-inf", "1e400", "-5", "0", "0.5",
                                 "soon", ""])
def test_minor_bad_ttl_is_one_line_and_takes_nothing(team: Coordinator, ttl: str) -> None:
    line = one_line_error(coord("lock", "-s", "alice", "--ttl", ttl, "src/app.py"), 2)
    assert line == (f"coord: error: --ttl {ttl!r}: expected a number of seconds, at least 1 "
                    "and finite")
    assert team.locks() == []


def test_minor_bad_migrate_wait_is_one_line(team: Coordinator) -> None:
    line = one_line_error(coord("migrate", "--to", "sqlite", "--wait", "nan"), 2)
    assert line == ("coord: error: --wait 'nan': expected a number of seconds, at least 0 "
                    "and finite")


def test_minor_locks_json_never_prints_infinity_or_nan(team: Coordinator) -> None:
    now = time.time()
    with team.store.transaction() as tx:  # what an older version stored for --ttl 1e400
        tx.put_lock(Lock("src/app.py", ALICE, now, now, float("inf")))
        tx.put_lock(Lock("src/b.py", ALICE, float("nan"), now, 60.0))
    result = coord("locks", "--json")
    assert result.exit_code == 0, result.output
    assert "Infinity" not in result.stdout and "NaN" not in result.stdout
    doc = json.loads(result.stdout, parse_constant=lambda name: pytest.fail(name))
    by_key = {lk["key"]: lk for lk in doc["locks"]}
    assert by_key["src/app.py"]["ttl_s"] is None
    assert by_key["src/b.py"]["acquired_at"] is None
    table = coord("locks")
    assert table.exit_code == 0 and "infs" not in table.stdout


def test_minor_coordinator_refuses_a_non_finite_ttl(team: Coordinator) -> None:
    from coord_hooks.errors import UsageError

    for ttl in (float("nan"), float("inf"), -1.0, 0.0):
        with pytest.raises(UsageError, match="ttl"):
            team.try_acquire(ALICE, "src/app.py", ttl=ttl)
    assert team.locks() == []


# --- item 4: fixes in `coord diagnose` and advice in `coord doctor` are shell-safe ------
HOSTILE_ID = "$(touch PWNED)-4000-8000-000000000009"  # its handle: "$(touch "


def test_item4_diagnose_fixes_quote_every_value(team: Coordinator) -> None:
    now = time.time()
    with team.store.transaction() as tx:
        me = tx.get_session(BOB)
        assert me is not None
        tx.put_session(type(me)(session_id=HOSTILE_ID, registered_at=now, last_seen=now))
        # a lock whose owner record is gone: blocks until its lease lapses (item 7)
        tx.put_lock(Lock("src/x'$(touch PWNED)'.py", "gone0000", now, now, 1800.0))
    for n in range(55):
        team.send(ALICE, HOSTILE_ID, f"note {n}")
    doc = json.loads(coord("diagnose", "--json").stdout)
    fixes = {f["code"]: f["fix"] for f in doc["findings"]}
    assert shlex.split(fixes["backlog"]) == ["coord", "inbox", "--session", HOSTILE_ID[:8]]
    assert shlex.split(fixes["locks-orphan"]) == ["coord", "unlock", "--force",
                                                  "src/x'$(touch PWNED)'.py"]


def test_item4_doctor_advice_quotes_the_state_dir(tmp_path: Path) -> None:
    from coord_hooks.ops.doctor import check_state_dir

    state = tmp_path / "it's $(touch PWNED)"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    detail = check_state_dir(state).detail
    advice = detail[detail.index("(chmod 700 ") + 1: detail.rindex(")")]
    assert shlex.split(advice) == ["chmod", "700", str(state)]
