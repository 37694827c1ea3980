"""An injected clock for the coordination tests.

(Not in conftest.py: `from conftest import ...` may find another folder's conftest.)
"""

from __future__ import annotations

T0 = 1_000_000.0


class Clock:
    """An injected clock: time only moves when a test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
