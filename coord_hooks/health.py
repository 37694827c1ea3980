"""State-directory health: disk usage, size history, quarantine report.

Standard library only: hooks take size samples through `coordination.housekeeping`
(SessionStart, Stop); ``coord diagnose`` and ``coord monitor`` read the history.

Files (all under ``<state dir>/health/``):

* ``size-history.jsonl`` — one sample per line ``{"ts", "bytes", "live_bytes", "files",
  "messages"}``, thinned so it stays a few hundred lines (see `record_sample`).
* ``housekeep.stamp`` — when housekeeping last ran (`coordination.housekeeping`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from coord_hooks import logs
from coord_hooks.errors import StoreError
from coord_hooks.fsio import atomic_write_bytes, open_state_file
from coord_hooks.model import Plain
from coord_hooks.paths import HEALTH_DIR, SAFE_OPEN, ensure_subdir

TYPE_CHECKING = False  # not `from typing import ...`: that loads typing on the hook path
if TYPE_CHECKING:
    from typing import Any

HISTORY_NAME = "size-history.jsonl"
SAMPLE_EVERY = 300.0  # seconds between automatic size samples (housekeeping, monitor)
MAX_WALK = 100_000  # stop counting a pathological state dir instead of hanging on it
# Size history thinning: keep one sample per RECENT_STEP for a day, one per OLD_STEP for a
# month. That bounds the file to ~400 lines however often diagnose runs.
RECENT_SPAN, RECENT_STEP = 86_400.0, 300.0
OLD_SPAN, OLD_STEP = 30 * 86_400.0, 6 * 3_600.0
COMPACT_AT = 600  # lines
# Not "live" data: the archive is meant to grow (never deleted), logs are capped, health
# is ours, quarantine is reported on its own.
NOT_LIVE = ("archive", "logs", HEALTH_DIR, "quarantine")


def health_dir(state_dir: Path) -> Path:
    return state_dir / HEALTH_DIR


class Usage(Plain):
    """Bytes and files under the state dir, by top-level entry."""

    # Plain classes, not dataclasses: this module is imported by the Stop hook.
    FIELDS = ("bytes", "files", "by_dir", "truncated")

    def __init__(self, bytes: int = 0, files: int = 0, by_dir: dict[str, int] | None = None,
                 truncated: bool = False) -> None:
        self.bytes = bytes
        self.files = files
        self.by_dir = {} if by_dir is None else by_dir
        self.truncated = truncated

    @property
    def live_bytes(self) -> int:
        return self.bytes - sum(self.by_dir.get(name, 0) for name in NOT_LIVE)


def state_usage(state_dir: Path, limit: int = MAX_WALK) -> Usage:
    """Walk the state dir once (no symlinks followed) and add up file sizes."""
    usage = Usage()
    stack: list[tuple[Path, str]] = [(state_dir, "")]
    while stack:
        folder, top = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if usage.files >= limit:
                        usage.truncated = True
                        return usage
                    bucket = top or (entry.name if entry.is_dir(follow_symlinks=False)
                                     else ".")
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append((Path(entry.path), bucket))
                            continue
                        size = entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
                    usage.bytes += size
                    usage.files += 1
                    usage.by_dir[bucket] = usage.by_dir.get(bucket, 0) + size
        except OSError:
            continue
    return usage


def count_messages(state_dir: Path) -> int:
    """Live message files (JSON layout), counted without reading them."""
    try:
        return sum(1 for n in os.listdir(state_dir / "messages") if n.endswith(".json"))
    except OSError:
        return 0


# --- size history ----------------------------------------------------------------------
class SizeSample(Plain):
    FIELDS = ("ts", "bytes", "live_bytes", "files", "messages")

    def __init__(self, ts: float, bytes: int, live_bytes: int, files: int,
                 messages: int) -> None:
        self.ts = ts
        self.bytes = bytes
        self.live_bytes = live_bytes
        self.files = files
        self.messages = messages

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}


def load_samples(state_dir: Path) -> list[SizeSample]:
    """Every readable sample, oldest first (bad lines skipped)."""
    path = health_dir(state_dir) / HISTORY_NAME
    samples = []
    try:
        with open(os.open(path, os.O_RDONLY | SAFE_OPEN), "rb") as handle:
            for raw in handle:
                data = logs.parse_line(raw)
                if data is None:
                    continue
                try:
                    samples.append(SizeSample(float(data["ts"]), int(data["bytes"]),
                                              int(data.get("live_bytes", data["bytes"])),
                                              int(data.get("files", 0)),
                                              int(data.get("messages", 0))))
                except (KeyError, TypeError, ValueError):
                    continue
    except OSError:
        return []
    samples.sort(key=lambda s: s.ts)
    return samples


def sample_due(state_dir: Path, now: float, min_interval: float) -> bool:
    """Is the newest size sample older than ``min_interval``? (Checked before walking.)"""
    last = _last_sample_ts(health_dir(state_dir) / HISTORY_NAME)
    return last is None or now - last >= min_interval


def take_sample(state_dir: Path, now: float | None = None) -> SizeSample:
    usage = state_usage(state_dir)
    return SizeSample(time.time() if now is None else now, usage.bytes, usage.live_bytes,
                      usage.files, count_messages(state_dir))


def record_sample(state_dir: Path, sample: SizeSample, min_interval: float = 0.0) -> bool:
    """Append ``sample`` unless the newest one is younger than ``min_interval``."""
    folder = health_dir(state_dir)
    path = folder / HISTORY_NAME
    try:
        ensure_subdir(folder)
        if min_interval > 0:
            last = _last_sample_ts(path)
            if last is not None and sample.ts - last < min_interval:
                return False
        line = json.dumps(sample.to_dict(), sort_keys=True) + "\n"
        fd = open_state_file(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, state_dir)
        try:
            os.write(fd, line.encode())
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size > COMPACT_AT * 120:  # cheap size test before counting lines
            _compact(state_dir, sample.ts)
    except (OSError, StoreError):
        return False
    return True


def _last_sample_ts(path: Path) -> float | None:
    try:
        with open(os.open(path, os.O_RDONLY | SAFE_OPEN), "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, size - 512))
            lines = handle.read().splitlines()
    except OSError:
        return None
    for raw in reversed(lines):
        data = logs.parse_line(raw)
        if data is not None and isinstance(data.get("ts"), (int, float)):
            return float(data["ts"])
    return None


def thin(samples: list[SizeSample], now: float) -> list[SizeSample]:
    """Keep one sample per step (finer for the last day); drop ones older than a month."""
    kept: list[SizeSample] = []
    for sample in samples:
        age = now - sample.ts
        if age > OLD_SPAN:
            continue
        step = RECENT_STEP if age <= RECENT_SPAN else OLD_STEP
        if kept and sample.ts - kept[-1].ts < step:
            continue
        kept.append(sample)
    if samples and (not kept or kept[-1] is not samples[-1]):
        kept.append(samples[-1])  # the newest one always stays
    return kept


def _compact(state_dir: Path, now: float) -> None:
    samples = load_samples(state_dir)
    if len(samples) <= COMPACT_AT:
        return
    kept = thin(samples, now)
    data = "".join(json.dumps(s.to_dict(), sort_keys=True) + "\n" for s in kept)
    atomic_write_bytes(health_dir(state_dir) / HISTORY_NAME, data.encode(), durable=False)


class Growth(Plain):
    """How fast the live part of the store grows, from the size history."""

    FIELDS = ("since", "bytes_per_day", "messages_per_day", "samples")

    def __init__(self, since: float | None, bytes_per_day: float | None,
                 messages_per_day: float | None, samples: int) -> None:
        self.since = since  # ts of the baseline sample (None: not enough history)
        self.bytes_per_day = bytes_per_day
        self.messages_per_day = messages_per_day
        self.samples = samples


def growth(samples: list[SizeSample], now: float, min_span: float = 3_600.0) -> Growth:
    """Rate between the newest sample and the oldest one of the last week (≥ min_span)."""
    if len(samples) < 2:
        return Growth(None, None, None, len(samples))
    latest = samples[-1]
    window = [s for s in samples if now - s.ts <= 7 * 86_400.0]
    base = window[0] if window else samples[0]
    span = latest.ts - base.ts
    if span < min_span:
        return Growth(None, None, None, len(samples))
    per_day = 86_400.0 / span
    return Growth(base.ts, (latest.live_bytes - base.live_bytes) * per_day,
                  (latest.messages - base.messages) * per_day, len(samples))


# --- quarantine ------------------------------------------------------------------------
def quarantine_report(state_dir: Path | None, now: float | None = None,
                      limit: int = 20) -> dict[str, Any]:
    """What sits in ``quarantine/`` (never deleted by us): count, bytes, newest files."""
    now = time.time() if now is None else now
    result: dict[str, Any] = {"path": "", "count": 0, "bytes": 0, "files": []}
    if state_dir is None:
        return result
    folder = state_dir / "quarantine"
    result["path"] = str(folder)
    entries: list[tuple[float, str, int]] = []
    try:
        with os.scandir(folder) as scan:
            for entry in scan:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                entries.append((st.st_mtime, entry.name, st.st_size))
    except OSError:
        return result
    entries.sort(reverse=True)
    result["count"] = len(entries)
    result["bytes"] = sum(e[2] for e in entries)
    result["files"] = [{"name": name, "bytes": size, "age_s": round(now - mtime, 1)}
                       for mtime, name, size in entries[:limit]]
    return result
