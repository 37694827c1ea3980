"""Worker processes for tests/test_races.py (imported by spawned children, run as a script
for the crash writer). Standard library + coord_hooks only: no pytest in the children.

    python tests/race_workers.py crash BACKEND STATE_DIR PROJECT_ROOT TAG SEED

runs the crash writer: it loops over coordination commands and prints one line per
*acknowledged* write (the command returned) before starting the next one, until killed.
"""

from __future__ import annotations

import os
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from coord_hooks.coordination import Coordinator
from coord_hooks.settings import load_settings
from coord_hooks.store import open_store

LOCK_TARGET = "contended.txt"
# The glob race: every racer asks for one of these; each pair overlaps, so still exactly
# one grant per round (paths and patterns decided in one atomic step, every backend).
GLOB_TARGETS = ("contended.txt", "*.txt", "contended.*", "**/contended.txt")
BARRIER_TIMEOUT = 120.0


def make_coordinator(backend: str, state_dir: str, root: str,
                     **settings: Any) -> Coordinator:
    # The environment's settings (the redis server and namespace a test chose), changed.
    config = load_settings(None).replace(**settings)
    store = open_store(backend, Path(state_dir), lock_timeout=60.0)
    configure = getattr(store, "configure", None)
    if configure is not None:
        configure(config)
    return Coordinator(store, config, Path(root), Path(state_dir))


def _report_failure(queue: Any, barrier: Any, who: str) -> None:
    queue.put(("error", who, traceback.format_exc()))
    try:
        barrier.abort()  # wake everyone: the test fails instead of hanging
    except Exception:
        pass


# --- (a) one lock, many racers ----------------------------------------------------------
def lock_racer(backend: str, state_dir: str, root: str, index: int, rounds: int,
               barrier: Any, queue: Any, shape: str = "path") -> None:
    """Each round: everybody tries the same path (or overlapping patterns) at once; the
    winner releases after."""
    who = f"racer-{index:02d}"
    target = GLOB_TARGETS[index % len(GLOB_TARGETS)] if shape == "globs" else LOCK_TARGET
    try:
        coord = make_coordinator(backend, state_dir, root)
        sid = f"{who}-{os.getpid()}-{random.getrandbits(32):08x}"
        coord.register(sid, pid=os.getpid(), cwd=root)
        wins: list[int] = []
        seen: dict[int, list[str]] = {}  # round -> holders this racer was denied by
        barrier.wait(BARRIER_TIMEOUT)
        for round_no in range(rounds):
            barrier.wait(BARRIER_TIMEOUT)  # everyone starts the round together
            result = coord.try_acquire(sid, target, cwd=root, reason=f"round {round_no}")
            if result.granted:
                wins.append(round_no)
            else:
                seen[round_no] = sorted(c.lock.owner for c in result.conflicts)
            barrier.wait(BARRIER_TIMEOUT)  # everyone has tried
            if result.granted:
                coord.release(sid, target, cwd=root)
        queue.put(("ok", who, {"sid": sid, "wins": wins, "denied_by": seen}))
        coord.store.close()
    except Exception:
        _report_failure(queue, barrier, who)


# --- (b) broadcasts while others read ------------------------------------------------------
def broadcaster(backend: str, state_dir: str, root: str, index: int, count: int,
                settings: dict[str, Any], barrier: Any, queue: Any) -> None:
    """Send ``count`` broadcasts, reading its own inbox now and then; drain at the end."""
    who = f"writer-{index}"
    try:
        coord = make_coordinator(backend, state_dir, root, **settings)
        sid = f"{who}-{os.getpid()}"
        coord.register(sid, pid=os.getpid(), cwd=root)
        got: list[tuple[int, str]] = []
        barrier.wait(BARRIER_TIMEOUT)  # everybody registered (but the late joiner)
        sent = []
        for i in range(count):
            message = coord.broadcast(sid, f"{who}:{i}")
            sent.append((message.seq, message.body))
            if i % 7 == 0:
                got += [(m.seq, m.body) for m in coord.inbox(sid)]
        queue.put(("sent", who, sent))
        barrier.wait(BARRIER_TIMEOUT)  # every writer sent everything, readers stopped
        got += [(m.seq, m.body) for m in coord.inbox(sid)]
        queue.put(("ok", who, {"sid": sid, "sent": sent, "got": got, "registered_seq": 0}))
        barrier.wait(BARRIER_TIMEOUT)  # stay alive (live) until everyone drained
        coord.store.close()
    except Exception:
        _report_failure(queue, barrier, who)


def reader(backend: str, state_dir: str, root: str, index: int, mode: str,
           settings: dict[str, Any], barrier: Any, queue: Any, done: Any) -> None:
    """Poll for mail until the writers are done, then drain once more."""
    who = f"reader-{index}-{mode}"
    try:
        coord = make_coordinator(backend, state_dir, root, **settings)
        sid = f"{who}-{os.getpid()}"
        if mode != "late":
            coord.register(sid, pid=os.getpid(), cwd=root)
        got: list[tuple[int, str]] = []
        polls = 0

        def poll() -> None:
            if mode == "deliver":  # a hook: at most ~3 messages per prompt
                delivery = coord.deliver(sid, 60, lambda m: "x" * 20)
                got.extend((m.seq, m.body) for m in delivery.messages)
                coord.confirm(delivery)  # its output is out
            elif mode == "peek":  # a status view, then a read
                coord.inbox(sid, peek=True)
                got.extend((m.seq, m.body) for m in coord.inbox(sid))
            else:
                got.extend((m.seq, m.body) for m in coord.inbox(sid))

        barrier.wait(BARRIER_TIMEOUT)
        if mode == "late":
            time.sleep(0.2 + random.random() * 0.3)  # joins while broadcasts fly
            coord.register(sid, pid=os.getpid(), cwd=root)
        while not done.is_set():
            poll()
            polls += 1
            time.sleep(random.random() * 0.01)
        barrier.wait(BARRIER_TIMEOUT)  # writers are done
        while True:
            before = len(got)
            poll()
            if mode != "deliver" or len(got) == before:
                break
        with coord.store.read() as view:
            session = view.get_session(sid)
        registered_seq = session.registered_seq if session else -1
        queue.put(("ok", who, {"sid": sid, "got": got, "polls": polls,
                               "registered_seq": registered_seq}))
        barrier.wait(BARRIER_TIMEOUT)
        coord.store.close()
    except Exception:
        _report_failure(queue, barrier, who)


# --- (c) the crash writer -----------------------------------------------------------------
def crash_writer(backend: str, state_dir: str, root: str, tag: str, seed: int) -> None:
    """Loop over writes forever, acknowledging each one on stdout once it returned."""
    rng = random.Random(seed)
    coord = make_coordinator(backend, state_dir, root, retention_messages=5)
    out = sys.stdout

    def ack(*fields: object) -> None:
        out.write(" ".join(str(f) for f in fields) + "\n")
        out.flush()

    sid = f"crash-{tag}"
    peer = f"peer-{tag}"
    coord.register(peer, cwd=root)  # no pid: stays live by heartbeat, holds mail
    coord.register(sid, pid=os.getpid(), cwd=root)
    ack("S", sid)
    held: list[str] = []
    n = 0
    while True:
        n += 1
        op = rng.random()
        if op < 0.25:
            key = f"files/{tag}-{n}.txt"
            result = coord.try_acquire(sid, key, cwd=root)
            if result.granted:
                held.append(key)
                ack("L", key)
        elif op < 0.35 and held:
            key = held.pop(rng.randrange(len(held)))
            ack("P", key)  # a release in flight: a kill may land before or after it
            coord.release(sid, key, cwd=root)
            ack("U", key)
        elif op < 0.6:
            message = coord.broadcast(sid, f"b-{tag}-{n}")
            ack("M", message.seq, message.body)
        elif op < 0.8:
            message = coord.send(sid, rng.choice((sid, peer)), f"d-{tag}-{n}")
            ack("M", message.seq, message.body)
        elif op < 0.95:
            messages = coord.inbox(sid)
            if messages:
                ack("R", max(m.seq for m in messages))
        else:
            coord.inbox(peer)  # the peer reads, so retention can archive
            ack("A", coord.retain())


if __name__ == "__main__":
    if len(sys.argv) != 7 or sys.argv[1] != "crash":
        sys.exit(__doc__)
    crash_writer(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
