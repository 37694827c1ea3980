"""Append-only JSON-line logs in ``<state dir>/logs/`` with size-capped rotation.

``app.log`` holds warnings, errors and ``slow_operation`` lines; ``performance.log`` one
line per hook run. Writes are single ``O_APPEND`` writes (atomic for short lines), and a
log failure never propagates: logging must not break a hook.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

DEFAULT_MAX_BYTES = 1_000_000
KEEP_ROTATED = 2


def _append(path: Path, line: str, max_bytes: int) -> None:
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        try:
            if path.stat().st_size >= max_bytes:
                rotate(path)
        except FileNotFoundError:
            pass
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode("utf-8", "replace"))
        finally:
            os.close(fd)
    except OSError:
        pass


def rotate(path: Path) -> None:
    """Shift ``log`` → ``log.1`` → ``log.2``; the oldest generation is dropped.

    Dropping the oldest rotated *log* is the one deletion we allow: logs are diagnostics,
    not user data, and the cap is what keeps days-long sessions healthy.
    """
    for index in range(KEEP_ROTATED, 0, -1):
        older = path.with_name(f"{path.name}.{index}")
        newer = path.with_name(f"{path.name}.{index - 1}") if index > 1 else path
        try:
            os.replace(newer, older)
        except FileNotFoundError:
            pass


def log_event(state_dir: Path, level: str, event: str, max_bytes: int = DEFAULT_MAX_BYTES,
              **fields: Any) -> None:
    """Append one structured line to ``logs/app.log``."""
    record = {"ts": round(time.time(), 3), "level": level, "event": event, "pid": os.getpid()}
    record.update(fields)
    _append(state_dir / "logs" / "app.log", json.dumps(record, default=str) + "\n", max_bytes)


def log_performance(state_dir: Path, max_bytes: int = DEFAULT_MAX_BYTES,
                    **fields: Any) -> None:
    """Append one line to ``logs/performance.log`` (hook latencies)."""
    record = {"ts": round(time.time(), 3)}
    record.update(fields)
    _append(state_dir / "logs" / "performance.log", json.dumps(record, default=str) + "\n",
            max_bytes)
