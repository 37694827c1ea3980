"""coord monitor: sample shape, edge-triggered alerts, clean shutdown, flat memory and handles."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from coord_hooks import logs
from coord_hooks.cli import health as cli_health
from coord_hooks.context import Context, open_context
from coord_hooks.ops import monitor as mon

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def ctx(state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(tmp_path))
    context = open_context()
    yield context
    context.store.close()




def own_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def child_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO))


# --- one sample ------------------------------------------------------------------------------
def test_once_json_shape(ctx: Context, pids: Callable[[], int],
                         capsys: pytest.CaptureFixture[str]) -> None:
    pid = pids()
    ctx.coordinator.register("alice001-aaaa", pid=pid, name="alice")
    ctx.coordinator.acquire("alice001-aaaa", "a.py", cwd=str(ctx.project_root))
    ctx.coordinator.send(None, "alice", "hi")
    logs.log_performance(ctx.state_dir, event="pre-tool-use", ms=12.0)
    assert cli_health.main(["monitor", "--once", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"type", "ts", "backend", "sessions", "messages", "queue_depth", "queue",
                        "locks", "active_locks", "latency", "processes", "alerts", "error"}
    assert doc["type"] == "sample" and doc["error"] == ""
    assert doc["sessions"] == {"live": 1, "dead": 0, "ended": 0}
    assert (doc["messages"], doc["queue_depth"], doc["queue"]) == (1, 1, {"alice001": 1})
    assert (doc["locks"], doc["active_locks"]) == (1, 1)
    assert doc["latency"]["runs"] == 1 and doc["latency"]["p95_ms"] == 12.0
    me, claude = doc["processes"]
    assert me["role"] == "monitor" and me["pid"] == os.getpid()
    assert claude == {"pid": pid, "role": "session", "session": "alice001 (alice)",
                      "rss_mb": claude["rss_mb"], "fds": claude["fds"]}
    assert isinstance(me["rss_mb"], float) and me["rss_mb"] > 1
    assert isinstance(claude["fds"], int) and claude["fds"] >= 3
    assert doc["alerts"] == []


def test_once_human_view_and_log(ctx: Context, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "mon.jsonl"
    assert cli_health.main(["monitor", "--once", "--log", str(log),
                            "--memory-threshold", "1"]) == 0
    out = capsys.readouterr().out
    assert "coord monitor" in out and "processes" in out and "monitor" in out
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["type"] for r in records] == ["sample", "alert"]  # RSS > 1 MB, once
    assert records[1]["kind"] == "memory" and records[1]["state"] == "raised"


def test_bad_interval_is_a_usage_error(ctx: Context, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_health.main(["monitor", "--interval", "0"]) == 2
    assert "--interval must be greater than 0" in capsys.readouterr().err


# --- alerts ----------------------------------------------------------------------------------
def test_alerts_fire_once_per_crossing_and_rearm() -> None:
    tracker = mon.AlertTracker()
    states = []
    for value in (10, 60, 70, 90, 50, 40, 80, 81):
        alerts = tracker.update([("memory", "pid 1", value, 50)], 0.0)
        states.append([a.state for a in alerts])
    assert states == [[], ["raised"], [], [], ["cleared"], [], ["raised"], []]
    assert tracker.active == 1


def test_alert_state_of_a_vanished_process_is_dropped() -> None:
    tracker = mon.AlertTracker()
    tracker.update([("fds", "pid 1", 99, 10), ("fds", "pid 2", 99, 10)], 0.0)
    assert tracker.active == 2
    tracker.update([("fds", "pid 2", 99, 10)], 1.0)  # pid 1 exited
    assert tracker.active == 1
    again = tracker.update([("fds", "pid 1", 99, 10), ("fds", "pid 2", 99, 10)], 2.0)
    assert [(a.subject, a.state) for a in again] == [("pid 1", "raised")]


def test_queue_alert_from_real_samples(ctx: Context, pids: Callable[[], int]) -> None:
    ctx.coordinator.register("bob00002-bbbb", pid=pids())
    sampler = mon.Sampler(ctx, mon.Thresholds(queue=2))
    for i in range(3):
        ctx.coordinator.send(None, "bob00002", f"m{i}")
    first, second = sampler.sample(), sampler.sample()
    assert [(a.kind, a.state, a.value) for a in first.alerts] == [("queue", "raised", 3)]
    assert second.alerts == []
    ctx.coordinator.inbox("bob00002-bbbb")
    third = sampler.sample()
    assert [(a.kind, a.state) for a in third.alerts] == [("queue", "cleared")]
    assert "ALERT queue: all sessions at 3 unread" in first.alerts[0].describe()


def test_raised_alerts_go_to_app_log(ctx: Context) -> None:
    sampler = mon.Sampler(ctx, mon.Thresholds(fds=0))
    mon.run(sampler, 0.01, mon.StopFlag(), lambda s: None, max_samples=3)
    events = [r for r in logs.read_records(ctx.state_dir / "logs" / "app.log")
              if r.get("event") == "monitor_alert"]
    assert len(events) == 1 and events[0]["kind"] == "fds"


# --- latency window -------------------------------------------------------------------------
def test_latency_window_follows_appends_partial_lines_and_rotation(tmp_path: Path) -> None:
    path = tmp_path / "performance.log"
    window = mon.LatencyWindow(path, window=60.0, keep=100)
    window.poll()  # absent: nothing, no error
    now = time.time()
    with open(path, "ab") as handle:
        handle.write(json.dumps({"ts": now, "event": "stop", "ms": 5}).encode() + b"\n")
        handle.write(b'{"ts": %f, "event": "stop", "ms": ' % now)  # half a line
    window.poll()
    assert window.stats(now, 250)["runs"] == 1
    with open(path, "ab") as handle:
        handle.write(b"700}\n")
    window.poll()
    stats = window.stats(now, 250)
    assert (stats["runs"], stats["max_ms"], stats["slow"]) == (2, 700, 1)
    logs.rotate(path)
    path.write_bytes(json.dumps({"ts": now, "event": "stop", "ms": 9}).encode() + b"\n")
    window.poll()
    assert window.stats(now, 250)["runs"] == 3
    assert window.stats(now + 120, 250)["runs"] == 0  # all older than the window
    for i in range(500):
        window.runs.append(mon.perfstats.Run(now, "x", float(i)))
    assert len(window.runs) == 100  # bounded however many hooks run


# --- the loop: no leaks, clean stop ------------------------------------------------------------
def test_run_leaves_no_threads_or_handles(ctx: Context, pids: Callable[[], int],
                                          tmp_path: Path) -> None:
    ctx.coordinator.register("carol003-cccc", pid=pids())
    sink = mon.JsonLinesLog(tmp_path / "m.jsonl", 10_000)
    sampler = mon.Sampler(ctx)
    sampler.sample()  # first-use allocations (imports, caches) happen before we count
    threads, fds = threading.active_count(), own_fds()
    taken = mon.run(sampler, 0.001, mon.StopFlag(), lambda s: sink.write(s.to_dict()),
                    max_samples=50)
    assert taken == 50
    assert threading.active_count() == threads
    assert own_fds() == fds
    assert len((tmp_path / "m.jsonl").read_text().splitlines()) > 0


def test_stop_from_another_thread_ends_a_long_wait(ctx: Context) -> None:
    stop = mon.StopFlag()
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    started = time.monotonic()
    taken = mon.run(mon.Sampler(ctx), 60.0, stop, lambda s: None)
    assert time.monotonic() - started < 2.0 and taken == 1
    timer.join()


def start_monitor(args: list[str], **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "coord_hooks.cli.health", "monitor", *args],
                            env=child_env(), text=True, **kwargs)  # type: ignore[call-overload]


def wait_for_lines(path: Path, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} did not get {count} lines")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_the_monitor_within_a_second(ctx: Context, tmp_path: Path,
                                                  signum: int) -> None:
    log = tmp_path / "mon.jsonl"
    # A 30 s interval: the monitor is asleep when the signal comes, as it mostly is.
    proc = start_monitor(["--interval", "30", "--log", str(log)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        wait_for_lines(log, 1)
        time.sleep(0.2)
        sent = time.monotonic()
        proc.send_signal(signum)
        rc = proc.wait(timeout=5)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
        _out, err = proc.communicate()
    assert rc == 0, err
    assert elapsed < 1.0, f"took {elapsed:.2f}s to stop"
    assert "Traceback" not in err


def test_json_stream_mode_stops_on_sigterm(ctx: Context) -> None:
    proc = start_monitor(["--interval", "0.05", "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert first["type"] == "sample"
    assert proc.returncode == 0, err
    assert all(json.loads(line)["type"] in ("sample", "alert") for line in out.splitlines())


# --- soak ---------------------------------------------------------------------------------------
SENDER = r"""
import os, random, sys, time
from coord_hooks import logs
from coord_hooks.context import open_context
ctx = open_context()
c = ctx.coordinator
ids = sys.argv[2:]
stop_at = time.time() + float(sys.argv[1])
random.seed(5)
n = 0
while time.time() < stop_at:
    me = random.choice(ids)
    if n % 5 == 0:
        c.broadcast(me, f"broadcast {n}")
    else:
        c.send(me, random.choice(ids), f"direct {n} " + "x" * random.randint(0, 400))
    if n % 7 == 0:
        c.inbox(random.choice(ids))
    if n % 11 == 0:
        c.acquire(me, f"src/f{n % 13}.py", cwd=str(ctx.project_root)) if not c.try_acquire(
            me, f"src/f{n % 13}.py", cwd=str(ctx.project_root)).granted else c.release(
            me, f"src/f{n % 13}.py", cwd=str(ctx.project_root))
    logs.log_performance(ctx.state_dir, event="pre-tool-use", ms=random.uniform(5, 40))
    n += 1
    time.sleep(0.04)
print(n)
"""


def proc_figures(pid: int) -> tuple[float, int]:
    rss = mon.rss_kb(pid)
    fds = mon.fd_count(pid)
    assert rss is not None and fds is not None
    return rss / 1024, fds


@pytest.mark.slow
def test_soak_memory_and_handles_stay_flat(ctx: Context, pids: Callable[[], int],
                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """~100 s at 0.05 s with sessions sending from another process; RSS and fds stay flat.

    COORD_SOAK_SECONDS makes it longer (or shorter) when run by hand.
    """
    duration = float(os.environ.get("COORD_SOAK_SECONDS", "100"))
    monkeypatch.setenv("COORD_RETENTION_MESSAGES", "200")  # retention and archive churn
    ids = [f"soak{i:04d}-{'x' * 8}" for i in range(4)]
    for sid in ids:
        ctx.coordinator.register(sid, pid=pids(), name=sid[:6])
    log = tmp_path / "soak.jsonl"
    screen = open(tmp_path / "screen.txt", "w")  # noqa: SIM115 - closed below
    env = dict(child_env(), TTY_COMPATIBLE="1", COLUMNS="120", COORD_RETENTION_MESSAGES="200")
    monitor = subprocess.Popen(
        [sys.executable, "-m", "coord_hooks.cli.health", "monitor", "--interval", "0.05",
         "--log", str(log), "--queue-threshold", "40"],
        env=env, stdout=screen, stderr=subprocess.PIPE, text=True)
    sender = subprocess.Popen([sys.executable, "-c", SENDER, str(duration), *ids],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    launched = time.monotonic()
    try:
        wait_for_lines(log, 20)
        time.sleep(2.0)  # imports, first-use caches and the Rich view are warm now
        started = time.monotonic()
        rss_start, fds_start = proc_figures(monitor.pid)
        peak_rss, peak_fds = rss_start, fds_start
        rss_mid: float | None = None
        while sender.poll() is None and time.monotonic() - started < duration + 30:
            time.sleep(1.0)
            rss, fds = proc_figures(monitor.pid)
            peak_rss, peak_fds = max(peak_rss, rss), max(peak_fds, fds)
            if rss_mid is None and time.monotonic() - started >= duration / 2:
                rss_mid = rss
        rss_end, fds_end = proc_figures(monitor.pid)
        elapsed, total = time.monotonic() - started, time.monotonic() - launched
        monitor.send_signal(signal.SIGTERM)
        rc = monitor.wait(timeout=5)
        sent_out, sent_err = sender.communicate(timeout=30)
    finally:
        for proc in (monitor, sender):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        screen.close()
    assert sender.returncode == 0, sent_err
    samples = [json.loads(line) for line in log.read_text().splitlines()]
    sample_count = sum(1 for r in samples if r["type"] == "sample")
    alerts = [r for r in samples if r["type"] == "alert"]
    with capsys.disabled():
        print(f"\nsoak: monitor ran {total:.0f} s at --interval 0.05 (measured over the "
              f"last {elapsed:.0f} s), {sample_count} samples, "
              f"{sent_out.strip()} operations sent, {len(alerts)} alert(s); "
              f"monitor RSS start {rss_start:.1f} MB mid {rss_mid or 0:.1f} MB "
              f"end {rss_end:.1f} MB "
              f"(peak {peak_rss:.1f}), handles start {fds_start} end {fds_end} "
              f"(peak {peak_fds})")
    assert rc == 0, monitor.stderr.read() if monitor.stderr else ""
    assert sample_count > 200
    assert rss_end < 50 and peak_rss < 50
    assert fds_end < 40 and peak_fds < 40
    # Rich's bounded LRU caches (Segment._split_cells keeps 16k entries) fill during the
    # first minutes, so RSS may rise a little at first; after that it must not move.
    assert rss_end - rss_start < 5.0, "RSS must stay bounded"
    assert rss_mid is not None and rss_end - rss_mid < 1.5, "RSS must be flat once warm"
    assert fds_end - fds_start <= 1, "handles must stay flat"
    # Alerts are edge-triggered: far fewer than samples even with a busy queue.
    assert len(alerts) < sample_count / 10
    assert all(r["error"] == "" for r in samples if r["type"] == "sample")
