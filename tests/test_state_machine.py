"""Model-based test: random sequences of coordination commands against a tiny model.

The model knows nothing of cursors or files: each session has a list of messages it
has not received yet, locks are a dict, and the lock overlap of the few keys used is
written out by hand. Any divergence between the model and the Coordinator fails.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from coord_hooks.coordination import Coordinator
from coord_hooks.errors import LockConflictError, NoSessionError, NotFoundError
from coord_hooks.model import Message
from coord_hooks.settings import Settings, load_settings
from coord_hooks.store import BACKENDS, open_store

SESSIONS = ("aaaa0001-model", "bbbb0002-model", "cccc0003-model", "dddd0004-model")
KEEP = 3  # retention_messages; sending archives past KEEP + max(10, KEEP // 10)
SLACK = max(10, KEEP // 10)
KEYS = ("a.txt", "b.txt", "d", "d/x.txt", "d/*.txt", "*.txt")
# Which keys can cover a common file ("d" is a folder in the project).
# "*.txt" and "d/*.txt" share no file, but two patterns are compared conservatively.
_PAIRS = {("a.txt", "*.txt"), ("b.txt", "*.txt"), ("d", "d/x.txt"), ("d", "d/*.txt"),
          ("d/x.txt", "d/*.txt"), ("*.txt", "d/*.txt")}
OVERLAP = {(a, b) for a in KEYS for b in KEYS
           if a == b or (a, b) in _PAIRS or (b, a) in _PAIRS}
RENDER_CHARS = 10
# Who inside a session asks: its main conversation ('') or one of two subagents.
AGENTS = ("", "sub-1", "sub-2")


def siblings(held_by: str, asker: str) -> bool:
    """Two subagents of one session (they deny each other: no sharing setting here)."""
    return bool(held_by) and bool(asker) and held_by != asker


def render(message: Message) -> str:
    return "x" * RENDER_CHARS


class CoordinationMachine(RuleBasedStateMachine):
    BACKEND = "legacy"

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="coord-sm-"))
        project = Path(os.path.realpath(self.tmp / "project"))
        (project / "d").mkdir(parents=True)
        self.store = open_store(self.BACKEND, self.tmp / "state")
        if self.BACKEND == "redis":  # a project namespace per example, on the test's server
            self.store.configure(load_settings(None).replace(project_id=f"sm-{self.tmp.name}"))
        self.coord = Coordinator(self.store, Settings(retention_messages=KEEP), project,
                                 self.tmp / "state", clock=lambda: 1_000_000.0,
                                 hostname="model")
        self.cwd = str(project)
        # --- the model ---
        self.registered: dict[str, bool] = {}  # session -> ended
        self.locks: dict[tuple[str, str], bool] = {}  # (key, owner) -> exclusive
        self.agents: dict[tuple[str, str], str] = {}  # (key, owner) -> subagent holding it
        self.pending: dict[str, list[str]] = {}  # session -> bodies not yet received
        self.live_bodies: list[str] = []  # unarchived messages, oldest first
        self.recipients: dict[str, set[str]] = {}  # body -> sessions it is meant for
        self.all_bodies: list[str] = []
        self.counter = 0

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def live(self, sid: str) -> bool:
        return sid in self.registered and not self.registered[sid]

    # --- sessions ---
    @rule(sid=st.sampled_from(SESSIONS))
    def register(self, sid: str) -> None:
        self.coord.register(sid, cwd=self.cwd)
        self.registered[sid] = False
        self.pending.setdefault(sid, [])

    @rule(sid=st.sampled_from(SESSIONS))
    def end(self, sid: str) -> None:
        session, released = self.coord.end(sid)
        if sid not in self.registered:
            assert session is None and released == []
            return
        expected = sorted(k for k, o in self.locks if o == sid)
        assert sorted(lk.key for lk in released) == expected
        self.registered[sid] = True
        self.locks = {ko: ex for ko, ex in self.locks.items() if ko[1] != sid}
        self.agents = {ko: a for ko, a in self.agents.items() if ko[1] != sid}

    # --- locks ---
    @rule(sid=st.sampled_from(SESSIONS), key=st.sampled_from(KEYS), exclusive=st.booleans(),
          agent=st.sampled_from(AGENTS))
    def acquire(self, sid: str, key: str, exclusive: bool, agent: str) -> None:
        if not self.live(sid):
            with pytest.raises(NoSessionError):
                self.coord.try_acquire(sid, key, cwd=self.cwd, exclusive=exclusive,
                                       agent_id=agent)
            return
        result = self.coord.try_acquire(sid, key, cwd=self.cwd, exclusive=exclusive,
                                        agent_id=agent)
        # the record stays its subagent's when another renews it: that one's siblings block
        keeper = self.agents.get((key, sid)) or agent
        blockers = sorted((k, o) for (k, o), ex in self.locks.items()
                          if (o != sid or siblings(self.agents[(k, o)],
                                                   agent if k == key else keeper))
                          and (k, key) in OVERLAP and (exclusive or ex))
        assert sorted((c.lock.key, c.lock.owner) for c in result.conflicts) == blockers
        assert result.granted is (not blockers)
        if result.granted:
            assert result.renewed is ((key, sid) in self.locks)
            self.locks[(key, sid)] = exclusive
            # a subagent takes its main conversation's record; a held one stays its holder's
            if not self.agents.get((key, sid)):
                self.agents[(key, sid)] = agent

    @rule(sid=st.sampled_from(SESSIONS), first=st.sampled_from(KEYS),
          second=st.sampled_from(KEYS), exclusive=st.booleans())
    def a_session_and_its_subagents(self, sid: str, first: str, second: str,
                                    exclusive: bool) -> None:
        # A session handing work to two parallel subagents: common enough in real use
        # that the machine should not wait for random rules to line it up.
        self.acquire(sid, first, True, "")  # the main conversation edits
        self.acquire(sid, first, True, "sub-1")  # a subagent takes that lock over
        self.acquire(sid, second, exclusive, "sub-2")  # its sibling, in parallel
        self.acquire(sid, second, exclusive, "")  # the main conversation passes through

    @rule(sid=st.sampled_from(SESSIONS), agent=st.sampled_from(AGENTS[1:]))
    def subagent_stops(self, sid: str, agent: str) -> None:
        if sid not in self.registered:
            return  # hand_over needs no session record: nothing to hand
        moved = self.coord.hand_over(sid, agent)
        expected = sorted(k for (k, o), a in self.agents.items() if o == sid and a == agent)
        assert sorted(lk.key for lk in moved) == expected
        for key in expected:
            self.agents[(key, sid)] = ""

    @rule(sid=st.sampled_from(SESSIONS), key=st.sampled_from(KEYS))
    def release(self, sid: str, key: str) -> None:
        if (key, sid) in self.locks:
            released = self.coord.release(sid, key, cwd=self.cwd)
            assert [(lk.key, lk.owner) for lk in released] == [(key, sid)]
            del self.locks[(key, sid)]
            del self.agents[(key, sid)]
        elif any(k == key for k, _ in self.locks):
            with pytest.raises(LockConflictError):
                self.coord.release(sid, key, cwd=self.cwd)
        else:
            with pytest.raises(NotFoundError):
                self.coord.release(sid, key, cwd=self.cwd)

    # --- messages ---
    def _sent(self, body: str, recipients: set[str]) -> None:
        self.all_bodies.append(body)
        self.live_bodies.append(body)
        self.recipients[body] = recipients
        for sid in recipients:
            self.pending[sid].append(body)
        if len(self.live_bodies) > KEEP + SLACK:
            self._retain()

    def _retain(self) -> int:
        candidates = self.live_bodies[:max(0, len(self.live_bodies) - KEEP)]
        archived = 0
        for body in candidates:
            if any(self.live(s) and body in self.pending[s] for s in self.recipients[body]):
                break
            archived += 1
        gone = set(self.live_bodies[:archived])
        del self.live_bodies[:archived]
        # Ended sessions lose archived mail from their inbox (it stays in history).
        for sid, bodies in self.pending.items():
            assert self.live(sid) is False or not gone & set(bodies)
            self.pending[sid] = [b for b in bodies if b not in gone]
        return archived

    def _body(self) -> str:
        self.counter += 1
        return f"msg-{self.counter}"

    @rule(sender=st.sampled_from(SESSIONS), to=st.sampled_from(SESSIONS))
    def send(self, sender: str, to: str) -> None:
        if to not in self.registered:
            with pytest.raises(NotFoundError):
                self.coord.send(sender, to, "nobody home")
            return
        body = self._body()
        self.coord.send(sender, to, body)
        self._sent(body, {to})

    @rule(sender=st.one_of(st.none(), st.sampled_from(SESSIONS)))
    def broadcast(self, sender: str | None) -> None:
        body = self._body()
        self.coord.broadcast(sender, body)
        self._sent(body, {s for s in self.registered if s != sender})

    @rule(sid=st.sampled_from(SESSIONS), peek=st.booleans())
    def inbox(self, sid: str, peek: bool) -> None:
        if sid not in self.registered:
            with pytest.raises(NoSessionError):
                self.coord.inbox(sid, peek=peek)
            return
        got = [m.body for m in self.coord.inbox(sid, peek=peek)]
        assert got == self.pending[sid]
        if not peek:
            self.pending[sid] = []

    @rule(sid=st.sampled_from(SESSIONS), fits=st.integers(min_value=1, max_value=4))
    def deliver(self, sid: str, fits: int) -> None:
        delivery = self.coord.deliver(sid, fits * RENDER_CHARS, render)
        self.coord.confirm(delivery)  # the hook's output is out
        if sid not in self.registered:
            assert delivery.messages == [] and delivery.remaining == 0
            return
        expected = self.pending[sid][:fits]
        assert [m.body for m in delivery.messages] == expected
        assert delivery.remaining == len(self.pending[sid]) - len(expected)
        del self.pending[sid][:fits]

    @rule()
    def retain(self) -> None:
        assert self.coord.retain() == self._retain()

    # --- invariants ---
    @invariant()
    def locks_match_and_never_conflict(self) -> None:
        views = self.coord.locks()
        held = {(lv.lock.key, lv.lock.owner): lv.lock.exclusive for lv in views}
        assert held == self.locks
        agents = {(lv.lock.key, lv.lock.owner): lv.lock.agent_id for lv in views}
        assert agents == self.agents
        for (k1, o1), ex1 in held.items():
            assert self.live(o1)
            for (k2, o2), ex2 in held.items():
                apart = o1 != o2 or siblings(agents[(k1, o1)], agents[(k2, o2)])
                if apart and (k1, k2) in OVERLAP:
                    assert not (ex1 or ex2), f"{k1} ({o1}) and {k2} ({o2}) both granted"

    @invariant()
    def messages_match(self) -> None:
        with self.store.read() as view:
            assert [m.body for m in view.messages_after(0)] == self.live_bodies
        assert [m.body for m in self.coord.history(archived=True)] == self.all_bodies

    @invariant()
    def unread_counts_match(self) -> None:
        views = {v.session.session_id: (v.unread, v.live)
                 for v in self.coord.sessions(include_ended=True)}
        assert views == {sid: (len(self.pending[sid]), self.live(sid))
                         for sid in self.registered}


MODEL_BACKENDS = [name for name in ("legacy", "optimized", "sqlite", "redis")
                  if name in BACKENDS]


@pytest.mark.parametrize("backend", MODEL_BACKENDS)
def test_coordination_matches_model(backend: str, request: pytest.FixtureRequest) -> None:
    if backend == "redis":
        request.getfixturevalue("redis_project")  # a real server
    machine = type(f"Machine_{backend}", (CoordinationMachine,), {"BACKEND": backend})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=int(os.environ.get("COORD_SM_EXAMPLES", "40")), stateful_step_count=30,
        deadline=None, suppress_health_check=list(HealthCheck)))
