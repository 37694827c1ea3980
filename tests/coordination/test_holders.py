"""Who holds a lock inside a session (subagents), and several keys in one transaction.

Run on every store backend, through the `Coordinator` the hooks use (the fixtures are
this folder's conftest).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from clocked import T0, Clock
from test_coordination import ALICE, BOB, reg

from coord_hooks.coordination import Asker, Coordinator, Want

SUB_1, SUB_2 = "a16c0a5686fa4c219", "b27d1b6797ab5d32a"


def holders(coord: Coordinator) -> list[tuple[str, str, str, str]]:
    return [(v.lock.key, v.lock.owner, v.lock.agent_id, v.lock.agent_type)
            for v in coord.locks()]


# --- subagents ------------------------------------------------------------------------
def test_sibling_subagents_of_one_session_deny_each_other(coord: Coordinator) -> None:
    reg(coord, ALICE, name="alice")
    assert coord.try_acquire(ALICE, "src/a.py", agent_id=SUB_1,
                             agent_type="general-purpose").granted
    denied = coord.try_acquire(ALICE, "src/a.py", agent_id=SUB_2, agent_type="Explore")
    assert not denied.granted
    [conflict] = denied.conflicts
    assert conflict.sibling and conflict.lock.agent_id == SUB_1
    text = denied.denial_reason()
    assert text.startswith(f"src/a.py is held by subagent {SUB_1} (general-purpose), another "
                           "subagent of this session working in parallel; exclusive lock")
    assert "coord send" not in text  # nobody to message: it is this very session
    # a pattern held by one sibling covers the other's file too
    assert coord.try_acquire(ALICE, "docs/*.md", agent_id=SUB_2).granted
    assert not coord.try_acquire(ALICE, "docs/x.md", agent_id=SUB_1).granted
    assert holders(coord) == [("docs/*.md", ALICE, SUB_2, ""),
                              ("src/a.py", ALICE, SUB_1, "general-purpose")]


def test_the_share_setting_lets_siblings_share_a_sessions_locks(coord: Coordinator) -> None:
    coord.settings = coord.settings.replace(subagents_share_locks=True)
    reg(coord, ALICE)
    reg(coord, BOB)
    assert coord.try_acquire(ALICE, "src/a.py", agent_id=SUB_1).granted
    again = coord.try_acquire(ALICE, "src/a.py", agent_id=SUB_2)
    assert again.granted and again.renewed
    assert holders(coord) == [("src/a.py", ALICE, SUB_1, "")]  # the first taker keeps it
    # sharing is within a session only: another session is still denied
    assert not coord.try_acquire(BOB, "src/a.py").granted


def test_the_main_conversation_and_its_subagents_never_conflict(coord: Coordinator,
                                                                clock: Clock) -> None:
    reg(coord, ALICE)
    assert coord.try_acquire(ALICE, "src/a.py").granted
    clock.advance(10)
    # a subagent editing its parent's file takes the lock over (its siblings are kept out)
    taken = coord.try_acquire(ALICE, "src/a.py", agent_id=SUB_1, agent_type="Plan")
    assert taken.granted and taken.renewed and taken.lock is not None
    assert taken.lock.acquired_at == T0  # the same lease, passed down
    assert holders(coord) == [("src/a.py", ALICE, SUB_1, "Plan")]
    assert not coord.try_acquire(ALICE, "src/a.py", agent_id=SUB_2).granted
    # the main conversation passes through its subagent's lock, which stays the subagent's
    assert coord.try_acquire(ALICE, "src/a.py").granted
    assert coord.try_acquire(ALICE, "src/*.py").granted
    assert holders(coord) == [("src/*.py", ALICE, "", ""), ("src/a.py", ALICE, SUB_1, "Plan")]


def test_the_main_conversation_cannot_make_a_subagents_lock_clash_with_its_sibling(
        coord: Coordinator) -> None:
    """Renewing a subagent's record leaves that subagent holding it: making it exclusive
    while a sibling shares an overlapping pattern would have the two clash."""
    reg(coord, ALICE)
    assert coord.try_acquire(ALICE, "a.txt", agent_id=SUB_1, exclusive=False).granted
    assert coord.try_acquire(ALICE, "*.txt", agent_id=SUB_2, exclusive=False).granted
    upgrade = coord.try_acquire(ALICE, "a.txt", exclusive=True)  # the main conversation
    assert not upgrade.granted
    assert [c.lock.agent_id for c in upgrade.conflicts] == [SUB_2]
    assert coord.try_acquire(ALICE, "a.txt", exclusive=False).granted  # a renewal is fine
    assert holders(coord) == [("*.txt", ALICE, SUB_2, ""), ("a.txt", ALICE, SUB_1, "")]


def test_another_sessions_deny_names_the_subagent(coord: Coordinator) -> None:
    reg(coord, ALICE, name="alice", task="the parser")
    reg(coord, BOB)
    coord.acquire(ALICE, "src/a.py", agent_id=SUB_1, agent_type="general-purpose")
    denied = coord.try_acquire(BOB, "src/a.py")
    [conflict] = denied.conflicts
    assert not conflict.sibling
    assert denied.denial_reason().startswith(
        f"src/a.py is locked by subagent {SUB_1} (general-purpose) of session "
        f"{ALICE[:8]} (alice); working on (in its own words): \"the parser\"; exclusive lock "
        "taken 0s ago")
    assert f"coord send {ALICE[:8]} 'Could you release src/a.py" in denied.denial_reason()
    assert (conflict.to_dict()["holder_agent_id"],
            conflict.to_dict()["holder_agent_type"]) == (SUB_1, "general-purpose")


def test_a_stopped_subagents_locks_pass_to_its_session(coord: Coordinator) -> None:
    reg(coord, ALICE)
    reg(coord, BOB)
    coord.acquire(ALICE, "src/a.py", agent_id=SUB_1, agent_type="general-purpose")
    coord.acquire(ALICE, "src/b.py", agent_id=SUB_2)
    coord.acquire(ALICE, "src/c.py")
    moved = coord.hand_over(ALICE, SUB_1)
    assert [(lk.key, lk.agent_id) for lk in moved] == [("src/a.py", "")]
    assert holders(coord) == [("src/a.py", ALICE, "", ""), ("src/b.py", ALICE, SUB_2, ""),
                              ("src/c.py", ALICE, "", "")]
    # never to nobody: the session still holds it, other sessions are still denied...
    assert not coord.try_acquire(BOB, "src/a.py").granted
    # ...and the sibling that was kept out may now take it
    assert coord.try_acquire(ALICE, "src/a.py", agent_id=SUB_2).granted
    assert coord.hand_over(ALICE, "not-an-agent") == []


def test_at_stop_every_subagent_not_running_hands_its_locks_over(coord: Coordinator) -> None:
    reg(coord, ALICE)
    coord.acquire(ALICE, "src/a.py", agent_id=SUB_1)
    coord.acquire(ALICE, "src/b.py", agent_id=SUB_2)
    moved = coord.hand_over(ALICE, keep=frozenset({SUB_2}))  # SUB_2 runs in the background
    assert [lk.key for lk in moved] == ["src/a.py"]
    assert holders(coord) == [("src/a.py", ALICE, "", ""), ("src/b.py", ALICE, SUB_2, "")]


# --- several keys at once ---------------------------------------------------------------
def test_several_keys_are_granted_together_or_not_at_all(coord: Coordinator) -> None:
    reg(coord, ALICE)
    reg(coord, BOB)
    coord.acquire(ALICE, "src/held.py")
    wants = [Want("src/free.py", False), Want("src/held.py", False), Want("src/b.py", False)]
    results = coord.try_acquire_keys(Asker(BOB), wants)
    assert [r.granted for r in results] == [False, False, False]
    assert [len(r.conflicts) for r in results] == [0, 1, 0]
    assert [v.lock.key for v in coord.locks()] == ["src/held.py"]  # nothing taken
    results = coord.try_acquire_keys(Asker(BOB), [wants[0], wants[2]])
    assert [r.granted for r in results] == [True, True]
    assert sorted(v.lock.key for v in coord.locks() if v.lock.owner == BOB) == [
        "src/b.py", "src/free.py"]


def test_a_check_only_folder_key_is_denied_by_a_lock_inside_and_never_locked(
        coord: Coordinator) -> None:
    reg(coord, ALICE)
    reg(coord, BOB)
    coord.acquire(ALICE, "src/sub/deep.py")
    [denied] = coord.try_acquire_keys(Asker(BOB), [Want("src", False, take=False)])
    assert not denied.granted
    assert denied.denial_reason().startswith("src/sub/deep.py (inside src) is locked by")
    [root] = coord.try_acquire_keys(Asker(BOB), [Want(".", False, take=False)])
    assert root.denial_reason().startswith("src/sub/deep.py (inside the project) is locked")
    [free] = coord.try_acquire_keys(Asker(BOB), [Want("docs", False, take=False)])
    assert free.granted and free.lock is None
    assert [v.lock.owner for v in coord.locks()] == [ALICE]


@pytest.mark.parametrize("share", [False, True])
def test_several_keys_follow_the_subagent_rules(coord: Coordinator, share: bool) -> None:
    coord.settings = coord.settings.replace(subagents_share_locks=share)
    reg(coord, ALICE)
    coord.acquire(ALICE, "src/a.py", agent_id=SUB_1)
    results = coord.try_acquire_keys(Asker(ALICE, SUB_2, "Explore"),
                                     [Want("src/b.py", False), Want("src/a.py", False)])
    assert [r.granted for r in results] == [share, share]
    expected = [("src/a.py", ALICE, SUB_1, "")]
    if share:
        expected.append(("src/b.py", ALICE, SUB_2, "Explore"))
    assert holders(coord) == expected


# --- the ask line -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a$(touch pwned).py", 'say "hi".md', "back`tick`.txt",
                                  "it's.py", "x\\y.py", "bang!.py"])
def test_the_ask_line_is_safe_to_paste_into_a_shell(coord: Coordinator, name: str,
                                                    tmp_path: Path) -> None:
    import subprocess

    reg(coord, ALICE)
    reg(coord, BOB)
    coord.acquire(ALICE, f"src/{name}", literal=True)
    [conflict] = coord.try_acquire(BOB, f"src/{name}", literal=True).conflicts
    line = conflict.send_command(f"src/{name}")
    assert line.startswith(f"coord send {ALICE[:8]} ")
    # what bash makes of it: exactly one argument, the message, and nothing run
    ran = subprocess.run(["bash", "-c", "coord() { printf '%s\\n' \"$@\"; }; " + line],
                         cwd=tmp_path, capture_output=True, text=True, check=True)
    assert ran.stdout == f"send\n{ALICE[:8]}\nCould you release src/{name} when you can?\n"
    assert not (tmp_path / "pwned").exists()

