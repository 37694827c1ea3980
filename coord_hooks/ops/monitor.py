"""`coord monitor`: sample the coordination state and the processes it knows, over time.

A sample holds: sessions (live/dead), live message count, queue depth (unread mail of live
sessions), lock count, the hook latency window (recent ``logs/performance.log`` lines),
and per process — every live session's Claude Code process (pid from the store) and the
monitor itself — its RSS (``/proc/PID/status`` VmRSS) and open handles (``/proc/PID/fd``).

Thresholds raise an alert once per crossing: a value that stays above its threshold is
not re-reported every sample; it re-arms after it drops back to or below it.

Built to run for days: nothing grows with the number of samples (bounded deques, alert
state only for subjects present in the last sample), every file is opened and closed
within one sample, no thread or timer is started. `run` returns within ``WAIT_SLICE``
(0.1 s) plus the current sample of a stop request (`StopFlag`, set by the CLI's SIGINT and
SIGTERM handlers).

Standard library only; the Rich view lives in `coord_hooks.cli.health`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coord_hooks import health, logs
from coord_hooks.context import Context
from coord_hooks.ops import perfstats

LATENCY_WINDOW = 60.0  # seconds of hook runs the latency figures cover
LATENCY_KEEP = 2_000  # most runs kept for that window (bounds memory under a hook storm)
READ_CHUNK = 256 * 1024  # most bytes of performance.log read per sample
WAIT_SLICE = 0.1  # longest single wait, so a stop request is seen quickly

DEFAULT_INTERVAL = 2.0
DEFAULT_MEMORY_MB = 1024.0
DEFAULT_FDS = 1024
DEFAULT_QUEUE = 100


# --- /proc readers -----------------------------------------------------------------------
def rss_kb(pid: int) -> int | None:
    """Resident set size in KiB from ``/proc/PID/status`` (None if unavailable)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def fd_count(pid: int) -> int | None:
    """Open file handles of ``pid`` (None when not permitted or gone)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


@dataclass
class ProcessInfo:
    pid: int
    role: str  # "monitor" or "session"
    session: str = ""  # handle (and name) of the session it belongs to
    rss_kb: int | None = None
    fds: int | None = None

    @property
    def rss_mb(self) -> float | None:
        return None if self.rss_kb is None else round(self.rss_kb / 1024, 1)

    @property
    def label(self) -> str:
        return "monitor" if self.role == "monitor" else f"session {self.session}"

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "role": self.role, "session": self.session,
                "rss_mb": self.rss_mb, "fds": self.fds}


# --- hook latency window -------------------------------------------------------------
class LatencyWindow:
    """Follows ``performance.log`` incrementally; keeps recent runs in a bounded deque."""

    def __init__(self, path: Path, window: float = LATENCY_WINDOW,
                 keep: int = LATENCY_KEEP) -> None:
        self.path = path
        self.window = window
        self.runs: deque[perfstats.Run] = deque(maxlen=keep)
        self._inode: int | None = None
        self._offset = 0
        self._partial = b""

    def poll(self) -> None:
        """Read what was appended since the last poll (handles rotation)."""
        try:
            with open(self.path, "rb") as handle:
                st = os.fstat(handle.fileno())
                if st.st_ino != self._inode or st.st_size < self._offset:
                    # First look, or the log was rotated: start near the end of the new file.
                    first = self._inode is None
                    self._inode, self._partial = st.st_ino, b""
                    self._offset = max(0, st.st_size - READ_CHUNK) if first else 0
                if st.st_size <= self._offset:
                    return
                handle.seek(self._offset)
                data = handle.read(READ_CHUNK)
        except OSError:
            return
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > logs.MAX_LINE:  # never buffer an endless garbage line
            self._partial = b""
        for raw in lines:
            record = logs.parse_line(raw)
            if record is None:
                continue
            self.runs.extend(perfstats.runs_from((record,)))

    def stats(self, now: float, slow_ms: float) -> dict[str, Any]:
        recent = [r.ms for r in self.runs if r.ts >= now - self.window]
        if not recent:
            return {"window_s": self.window, "runs": 0, "p50_ms": None, "p95_ms": None,
                    "max_ms": None, "slow": 0}
        return {"window_s": self.window, "runs": len(recent),
                "p50_ms": round(perfstats.percentile(recent, 50), 1),
                "p95_ms": round(perfstats.percentile(recent, 95), 1),
                "max_ms": round(max(recent), 1),
                "slow": sum(1 for ms in recent if ms >= slow_ms)}


# --- alerts ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Thresholds:
    memory_mb: float = DEFAULT_MEMORY_MB
    fds: int = DEFAULT_FDS
    queue: int = DEFAULT_QUEUE


@dataclass
class Alert:
    kind: str  # memory | fds | queue
    subject: str
    value: float
    threshold: float
    state: str  # "raised" or "cleared"
    ts: float

    def to_dict(self) -> dict[str, Any]:
        return {"type": "alert", "ts": round(self.ts, 3), "kind": self.kind,
                "subject": self.subject, "value": self.value, "threshold": self.threshold,
                "state": self.state}

    def describe(self) -> str:
        unit = {"memory": " MB", "fds": " handles", "queue": " unread"}.get(self.kind, "")
        if self.state == "raised":
            return (f"ALERT {self.kind}: {self.subject} at {self.value:g}{unit} "
                    f"(threshold {self.threshold:g}{unit})")
        return f"cleared {self.kind}: {self.subject} back to {self.value:g}{unit}"


class AlertTracker:
    """Edge-triggered alerts: raise on crossing above, re-arm on dropping back."""

    def __init__(self) -> None:
        self._above: set[tuple[str, str]] = set()

    def update(self, readings: list[tuple[str, str, float | None, float]],
               now: float) -> list[Alert]:
        """``readings``: (kind, subject, value, threshold) for every subject present now."""
        alerts = []
        present = set()
        for kind, subject, value, threshold in readings:
            key = (kind, subject)
            present.add(key)
            if value is None:
                continue
            if value > threshold and key not in self._above:
                self._above.add(key)
                alerts.append(Alert(kind, subject, value, threshold, "raised", now))
            elif value <= threshold and key in self._above:
                self._above.discard(key)
                alerts.append(Alert(kind, subject, value, threshold, "cleared", now))
        # A process that exited takes its alert state with it (keeps the set bounded).
        self._above &= present
        return alerts

    @property
    def active(self) -> int:
        return len(self._above)


# --- sampling ----------------------------------------------------------------------------
@dataclass
class Sample:
    ts: float
    backend: str
    sessions: dict[str, int]
    messages: int
    queue_depth: int
    queue: dict[str, int]
    locks: int
    active_locks: int
    latency: dict[str, Any]
    processes: list[ProcessInfo]
    alerts: list[Alert] = field(default_factory=list)
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "sample", "ts": round(self.ts, 3), "backend": self.backend,
            "sessions": self.sessions, "messages": self.messages,
            "queue_depth": self.queue_depth, "queue": self.queue, "locks": self.locks,
            "active_locks": self.active_locks, "latency": self.latency,
            "processes": [p.to_dict() for p in self.processes],
            "alerts": [a.to_dict() for a in self.alerts], "error": self.error,
        }


class Sampler:
    """Takes `Sample`s of one context; holds only bounded state between samples."""

    def __init__(self, ctx: Context, thresholds: Thresholds | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.ctx = ctx
        self.thresholds = thresholds or Thresholds()
        self.clock = clock
        self.latency = LatencyWindow(logs.log_dir(ctx.state_dir) / logs.PERFORMANCE_LOG)
        self.alerts = AlertTracker()
        self.pid = os.getpid()
        self._last_size_sample = 0.0

    def sample(self) -> Sample:
        now = self.clock()
        coordinator = self.ctx.coordinator
        sessions = {"live": 0, "dead": 0, "ended": 0}
        queue: dict[str, int] = {}
        processes = [ProcessInfo(self.pid, "monitor", rss_kb=rss_kb(self.pid),
                                 fds=fd_count(self.pid))]
        messages = locks = active_locks = 0
        error = ""
        try:
            for view in coordinator.sessions(include_ended=True):
                s = view.session
                if view.live:
                    sessions["live"] += 1
                    local = not s.hostname or s.hostname == coordinator.hostname
                    if s.pid is not None and local:
                        processes.append(ProcessInfo(s.pid, "session", s.label(),
                                                     rss_kb(s.pid), fd_count(s.pid)))
                elif s.ended:
                    sessions["ended"] += 1
                else:
                    sessions["dead"] += 1
            for row in coordinator.queue():
                if row.live:
                    queue[row.session.handle] = row.unread
            lock_views = coordinator.locks()
            locks, active_locks = len(lock_views), sum(1 for lv in lock_views if lv.active)
            with self.ctx.store.read() as reader:
                messages = reader.message_count()
        except Exception as exc:  # a busy or broken store must not stop the monitor
            error = f"{type(exc).__name__}: {exc}"
        self.latency.poll()
        latency = self.latency.stats(now, self.ctx.settings.slow_ms)
        depth = sum(queue.values())
        t = self.thresholds
        readings: list[tuple[str, str, float | None, float]] = [("queue", "all sessions",
                                                                 depth, t.queue)]
        for p in processes:
            subject = f"{p.label} (pid {p.pid})"
            readings.append(("memory", subject, p.rss_mb, t.memory_mb))
            readings.append(("fds", subject, p.fds, t.fds))
        alerts = self.alerts.update(readings, now)
        if now - self._last_size_sample >= health.SAMPLE_EVERY:
            # Feeds diagnose's growth figure; housekeeping may have sampled recently too.
            self._last_size_sample = now
            if health.sample_due(self.ctx.state_dir, now, health.SAMPLE_EVERY / 2):
                health.record_sample(self.ctx.state_dir,
                                     health.take_sample(self.ctx.state_dir, now))
        return Sample(now, self.ctx.backend, sessions, messages, depth, queue, locks,
                      active_locks, latency, processes, alerts, error)


# --- the loop ----------------------------------------------------------------------------
class StopFlag:
    """A stop request that threads *and* signal handlers can make.

    A signal handler must not call `threading.Event.set`: if the signal lands while the
    main thread is inside ``Event.wait`` holding the event's lock, ``set`` blocks on that
    same lock forever. `signal` only assigns an attribute; waits are short slices, so the
    loop notices within `WAIT_SLICE`.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._signalled = False
        self.signum: int | None = None

    def set(self) -> None:
        self._event.set()

    def signal(self, signum: int, frame: object = None) -> None:
        self.signum = signum
        self._signalled = True

    def is_set(self) -> bool:
        return self._signalled or self._event.is_set()

    def wait(self, timeout: float) -> bool:
        if not self.is_set():
            self._event.wait(min(timeout, WAIT_SLICE))
        return self.is_set()


class JsonLinesLog:
    """``--log FILE``: one JSON object per line, size-capped like our own logs."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes

    def write(self, record: dict[str, Any]) -> None:
        # Open, append, close per line: no handle is held across samples, and a rotated or
        # deleted file is simply recreated.
        logs.append_line(self.path, json.dumps(record, default=str) + "\n", self.max_bytes)


PUSH_GAP = 0.25  # s: with push, at most this often a sample more than the interval's


def change_waiter(store: Any) -> Callable[[float], bool] | None:
    """``wait(timeout) -> changed`` for a store that publishes its commits (redis), else None.

    The monitor then samples as soon as anything is committed, not only every interval,
    without polling the store.
    """
    subscribe = getattr(store, "subscribe", None)
    if subscribe is None:
        return None
    try:
        subscriber = subscribe()
    except Exception:
        return None  # the server is unreachable: the samples say so

    def wait(timeout: float) -> bool:
        try:
            return subscriber.get_message(timeout) is not None
        except Exception:
            time.sleep(timeout)  # lost the server: fall back to the interval
            return False

    return wait


def run(sampler: Sampler, interval: float, stop: StopFlag,
        on_sample: Callable[[Sample], None], max_samples: int | None = None,
        changes: Callable[[float], bool] | None = None) -> int:
    """Sample every ``interval`` seconds until ``stop`` is set; return how many samples.

    With ``changes`` (see `change_waiter`) a commit to the store wakes the loop early.
    """
    taken = 0
    next_at = time.monotonic()
    last = 0.0
    while not stop.is_set():
        last = time.monotonic()
        sample = sampler.sample()
        for alert in sample.alerts:
            if alert.state == "raised":
                logs.log_event(sampler.ctx.state_dir, "warning", "monitor_alert",
                               **alert.to_dict())
        on_sample(sample)
        taken += 1
        if max_samples is not None and taken >= max_samples:
            break
        next_at += interval
        # Sleep in short slices so a stop request is honoured well within a second even
        # with a long --interval; skip ahead instead of bursting if we fell behind.
        while not stop.is_set():
            left = next_at - time.monotonic()
            if left <= 0:
                if left < -interval:
                    next_at = time.monotonic()
                break
            if changes is None:
                stop.wait(min(left, WAIT_SLICE))
            elif changes(min(left, WAIT_SLICE)) and time.monotonic() - last >= PUSH_GAP:
                break  # something was committed: show it now
    return taken
