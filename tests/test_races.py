"""Races and crashes with real processes (slow, but part of CI).

Figures (processes, rounds, grants, kills, durations) are printed; run

    .venv/bin/python -m pytest tests/test_races.py -m slow -s -q

to see them. COORD_RACE_PROCS, COORD_RACE_ROUNDS and COORD_CRASH_KILLS scale the tests.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
for entry in (str(REPO), str(TESTS)):  # spawned children inherit sys.path
    if entry not in sys.path:
        sys.path.insert(0, entry)

import race_workers  # noqa: E402

from coord_hooks.model import Message  # noqa: E402
from coord_hooks.store import BACKENDS, Store, open_store  # noqa: E402

pytestmark = pytest.mark.slow

PROCS = int(os.environ.get("COORD_RACE_PROCS", "16"))
ROUNDS = int(os.environ.get("COORD_RACE_ROUNDS", "200"))
KILLS = int(os.environ.get("COORD_CRASH_KILLS", "30"))
SPAWN = multiprocessing.get_context("spawn")
JSON_PAIR = ("legacy", "optimized")

# Every backend alone, plus the two JSON backends on one state dir at once.
VARIANTS = sorted(BACKENDS) + (["mixed"] if all(b in BACKENDS for b in JSON_PAIR) else [])


def backend_for(variant: str, index: int) -> str:
    return JSON_PAIR[index % 2] if variant == "mixed" else variant


def figure(name: str, **values: Any) -> None:
    """Print one line of figures (kept for the closing note) and keep it on disk."""
    line = json.dumps({"test": name, **values})
    print(f"\nFIGURES {line}")
    out = os.environ.get("COORD_FIGURES")
    if out:
        with open(out, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def gather(queue: Any, processes: list[Any], want: dict[str, int],
           timeout: float = 600) -> dict[str, dict[str, Any]]:
    """Read results until ``want`` (status -> how many) is met; a traceback fails."""
    got: dict[str, dict[str, Any]] = {status: {} for status in want}
    deadline = time.monotonic() + timeout
    while any(len(got[status]) < n for status, n in want.items()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for workers: {got.keys()}")
        try:
            status, who, payload = queue.get(timeout=2)
        except Exception:
            if not any(p.is_alive() for p in processes):
                pytest.fail(f"workers exited without reporting: {want} vs "
                            f"{ {k: len(v) for k, v in got.items()} }")
            continue
        if status == "error":
            pytest.fail(f"{who} failed:\n{payload}")
        got.setdefault(status, {})[who] = payload
    return got


def finish(processes: list[Any]) -> None:
    for process in processes:
        process.join(30)
        if process.is_alive():  # pragma: no cover - only on a hang
            process.kill()
            process.join()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return Path(os.path.realpath(root))


# --- (a) exactly one grant per round --------------------------------------------------
@pytest.mark.parametrize("shape", ["path", "globs"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_one_lock_many_processes(variant: str, shape: str, project: Path, state_dir: Path,
                                 request: pytest.FixtureRequest) -> None:
    if variant == "redis":
        request.getfixturevalue("redis_project")  # a real server, this test's namespace
    open_store(backend_for(variant, 0), state_dir).close()  # create the state dir once
    barrier = SPAWN.Barrier(PROCS)
    queue = SPAWN.Queue()
    processes = [SPAWN.Process(target=race_workers.lock_racer,
                               args=(backend_for(variant, i), str(state_dir), str(project), i,
                                     ROUNDS, barrier, queue, shape))
                 for i in range(PROCS)]
    started = time.monotonic()
    for process in processes:
        process.start()
    try:
        results = gather(queue, processes, {"ok": PROCS})["ok"]
    finally:
        finish(processes)
    elapsed = time.monotonic() - started

    winners: dict[int, list[str]] = {}
    for payload in results.values():
        for round_no in payload["wins"]:
            winners.setdefault(round_no, []).append(payload["sid"])
    doubles = {r: w for r, w in winners.items() if len(w) > 1}
    assert doubles == {}, (f"{len(doubles)} of {ROUNDS} rounds had several winners, e.g. "
                           f"{dict(list(doubles.items())[:2])}")
    grants = sum(len(w) for w in winners.values())
    assert grants == ROUNDS and sorted(winners) == list(range(ROUNDS))
    # Every loser was denied by exactly that round's winner, nobody else.
    for payload in results.values():
        for round_no, holders in payload["denied_by"].items():
            assert holders == winners[int(round_no)], (round_no, holders)
    attempts = sum(len(p["wins"]) + len(p["denied_by"]) for p in results.values())
    assert attempts == PROCS * ROUNDS
    with open_store(backend_for(variant, 0), state_dir).read() as view:
        assert view.locks() == []  # every winner released
    figure("one_lock_many_processes", backend=variant, shape=shape, processes=PROCS,
           rounds=ROUNDS, attempts=attempts, grants=grants, double_grants=len(doubles),
           seconds=round(elapsed, 1))


# --- (b) broadcasts while others read -------------------------------------------------
@pytest.mark.parametrize("variant", VARIANTS)
def test_broadcasts_reach_everyone_once(variant: str, project: Path, state_dir: Path,
                                        request: pytest.FixtureRequest) -> None:
    if variant == "redis":
        request.getfixturevalue("redis_project")
    writers, per_writer = 4, 60
    modes = ["inbox", "inbox", "deliver", "peek", "late"]
    settings = {"retention_messages": 20}  # archiving runs while mail flies
    open_store(backend_for(variant, 0), state_dir).close()
    total = writers + len(modes)
    barrier = SPAWN.Barrier(total)
    queue = SPAWN.Queue()
    done = SPAWN.Event()
    processes = [SPAWN.Process(target=race_workers.broadcaster,
                               args=(backend_for(variant, i), str(state_dir), str(project),
                                     i, per_writer, settings, barrier, queue))
                 for i in range(writers)]
    processes += [SPAWN.Process(target=race_workers.reader,
                                args=(backend_for(variant, writers + j), str(state_dir),
                                      str(project), j, mode, settings, barrier, queue, done))
                  for j, mode in enumerate(modes)]
    started = time.monotonic()
    for process in processes:
        process.start()
    try:
        gather(queue, processes, {"sent": writers})
        done.set()  # the writers are through: readers stop polling and drain
        results = gather(queue, processes, {"ok": total})["ok"]
    finally:
        finish(processes)
    elapsed = time.monotonic() - started

    sent: dict[int, tuple[str, str]] = {}
    for payload in results.values():
        for seq, body in payload.get("sent", []):
            assert seq not in sent, f"seq {seq} given twice"
            sent[seq] = (payload["sid"], body)
    assert len(sent) == writers * per_writer
    delivered = 0
    for who, payload in results.items():
        got = payload["got"]
        counts = Counter(seq for seq, _ in got)
        twice = {seq: n for seq, n in counts.items() if n > 1}
        assert twice == {}, f"{who} got messages more than once: {twice}"
        expected = {seq for seq, (sender, _) in sent.items()
                    if sender != payload["sid"] and seq > payload["registered_seq"]}
        assert set(counts) == expected, (
            f"{who}: lost {sorted(expected - set(counts))[:10]}, "
            f"unexpected {sorted(set(counts) - expected)[:10]}")
        assert all(sent[seq][1] == body for seq, body in got)
        delivered += len(got)
    late = next(p for w, p in results.items() if w.endswith("-late"))
    store = open_store(backend_for(variant, 0), state_dir)
    archived = len(list(store.archived_messages()))
    figure("broadcasts_reach_everyone_once", backend=variant, writers=writers,
           readers=len(modes), broadcasts=len(sent), deliveries=delivered,
           late_joiner_registered_after_seq=late["registered_seq"], archived=archived,
           lost=0, duplicated=0, seconds=round(elapsed, 1))


# --- (c) SIGKILL at random points -----------------------------------------------------
def read_acks(process: subprocess.Popen[str], lines: list[str]) -> threading.Thread:
    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


def load_everything(store: Store) -> tuple[dict[int, Message], dict[int, Message]]:
    """Read every record through the protocol; nothing may raise."""
    with store.read() as view:
        view.sessions()
        view.locks()
        view.last_seq()
        view.message_count()
    with store.transaction() as tx:
        live = {m.seq: m for m in tx.messages_after(0)}
        assert len(live) == tx.message_count()
    archived = {m.seq: m for m in store.archived_messages()}
    return live, archived


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_sigkill_loses_no_acknowledged_write(backend: str, project: Path, state_dir: Path,
                                             request: pytest.FixtureRequest) -> None:
    if backend == "redis":
        request.getfixturevalue("redis_project")
    seed = int(os.environ.get("COORD_CRASH_SEED", "0")) or random.randrange(1, 2**31)
    rng = random.Random(seed)
    open_store(backend, state_dir).close()
    acked_messages: dict[int, str] = {}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    kills = 0
    ops = Counter()
    started = time.monotonic()
    for iteration in range(KILLS):
        tag = f"{iteration:03d}"
        process = subprocess.Popen(
            [sys.executable, str(TESTS / "race_workers.py"), "crash", backend, str(state_dir),
             str(project), tag, str(rng.getrandbits(32))],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        lines: list[str] = []
        pump = read_acks(process, lines)
        deadline = time.monotonic() + 30
        while not lines and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert lines and lines[0].startswith("S "), process.stderr.read() if process.stderr \
            else "writer did not start"
        time.sleep(rng.uniform(0.0, 0.4))  # a random point in the stream of writes
        process.send_signal(signal.SIGKILL)
        process.wait()
        pump.join(10)
        assert process.returncode == -signal.SIGKILL, process.stderr and process.stderr.read()
        kills += 1

        sid = lines[0].split()[1]
        locks: set[str] = set()
        released: set[str] = set()
        read_upto = 0
        for line in lines[1:]:
            kind, *rest = line.split(" ", 2)
            ops[kind] += 1
            if kind == "M":
                acked_messages[int(rest[0])] = rest[1]
            elif kind == "L":
                locks.add(rest[0])
            elif kind == "P":
                locks.discard(rest[0])  # may or may not be released: not checked
            elif kind == "U":
                released.add(rest[0])
            elif kind == "R":
                read_upto = max(read_upto, int(rest[0]))

        # Every record file still parses: atomic writes leave no torn file to quarantine.
        for path in state_dir.rglob("*.json"):
            json.loads(path.read_bytes())
        assert not (state_dir / "quarantine").exists() or not any(
            (state_dir / "quarantine").iterdir())

        readers = [backend]
        if backend in JSON_PAIR and all(b in BACKENDS for b in JSON_PAIR):
            readers.append(JSON_PAIR[1 - JSON_PAIR.index(backend)])  # same layout
        for name in readers:
            store = open_store(name, state_dir)
            live, archived = load_everything(store)
            for seq in set(live) & set(archived):
                assert live[seq] == archived[seq]
            everything = {**archived, **live}
            lost = {seq: body for seq, body in acked_messages.items()
                    if seq not in everything or everything[seq].body != body}
            assert lost == {}, f"kill {kills} ({name}): acknowledged messages lost: {lost}"
            with store.transaction() as tx:  # fresh reads, whatever a backend caches
                held = {lk.key for lk in tx.locks() if lk.owner == sid}
                session = tx.get_session(sid)
            # Acknowledged grants are held, acknowledged releases gone (a grant or release
            # in flight when the kill came may have happened or not).
            assert locks <= held, f"kill {kills} ({name}): locks lost: {sorted(locks - held)}"
            assert not released & held, f"kill {kills} ({name}): released but held: {held}"
            assert session is not None and session.cursor >= read_upto
            store.close()
    elapsed = time.monotonic() - started
    assert ops["M"] > 0 and ops["L"] > 0  # the writers got going before being killed
    leftovers = sum(1 for p in state_dir.rglob(".*.tmp"))  # temp files of killed writes
    figure("sigkill_loses_no_acknowledged_write", backend=backend, seed=seed, kills=kills,
           acknowledged_messages=len(acked_messages), acknowledged_ops=dict(ops),
           lost=0, temp_files_left=leftovers, seconds=round(elapsed, 1))
