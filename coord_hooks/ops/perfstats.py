"""Hook latency statistics from ``logs/performance.log`` records (standard library only)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from coord_hooks import logs


@dataclass(frozen=True)
class Run:
    """One hook run (or slow operation): when, which event, how long."""

    ts: float
    event: str
    ms: float


def runs_from(records: Iterable[dict[str, Any]], since: float = 0.0) -> list[Run]:
    """Runs with a usable duration and a timestamp at or after ``since``."""
    result = []
    for record in records:
        ms = logs.duration_ms(record)
        ts = record.get("ts")
        if ms is None or not isinstance(ts, (int, float)) or ts < since:
            continue
        result.append(Run(float(ts), logs.event_name(record), ms))
    return result


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of a non-empty list (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class LatencyStats:
    event: str
    runs: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    slow: int

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.event, "runs": self.runs, "p50_ms": round(self.p50_ms, 1),
                "p95_ms": round(self.p95_ms, 1), "max_ms": round(self.max_ms, 1),
                "slow": self.slow}


def summarize(runs: Iterable[Run], slow_ms: float) -> list[LatencyStats]:
    """Per-event p50/p95/max and how many runs were at or over ``slow_ms``."""
    by_event: dict[str, list[float]] = {}
    for run in runs:
        by_event.setdefault(run.event, []).append(run.ms)
    return [LatencyStats(event, len(values), percentile(values, 50), percentile(values, 95),
                         max(values), sum(1 for v in values if v >= slow_ms))
            for event, values in sorted(by_event.items())]
