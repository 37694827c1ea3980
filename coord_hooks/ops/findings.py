"""What `coord diagnose` reports: `Finding` (what, how bad, the command that fixes it), the
`Report`, and the small wording helpers every check uses.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coord_hooks import __version__

SEVERITIES = ("error", "warning", "info")
MAX_LISTED = 10
# Set where Claude Code is started; each hook then logs per-step timings to logs/app.log.
DEBUG_FIX = "export COORDINATION_DEBUG=1  # per-step hook timings go to logs/app.log"


@dataclass
class Finding:
    """One observation: what, how bad, and the command that fixes it."""

    code: str
    severity: str
    title: str
    detail: str = ""
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "title": self.title,
                "detail": self.detail, "fix": self.fix, "data": self.data}


@dataclass
class Report:
    generated_at: float
    state_dir: str
    project_root: str
    backend: str
    findings: list[Finding]
    stats: dict[str, Any]
    path: str = ""

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def exit_code(self) -> int:
        return 1 if self.count("error") else 0

    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.severity != "info"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at,
            "version": __version__,
            "state_dir": self.state_dir,
            "project_root": self.project_root,
            "backend": self.backend,
            "report_path": self.path,
            "summary": {s: self.count(s) for s in SEVERITIES},
            "exit_code": self.exit_code,
            "findings": [f.to_dict() for f in self.findings],
            "stats": self.stats,
        }


def q(path: Path | str) -> str:
    """Quote a path for a shell command in a fix."""
    return shlex.quote(str(path))


def q_operand(value: str) -> str:
    """`q`, after ``-- `` when the value would read as an option (a file named ``-x``)."""
    return ("-- " if value.startswith("-") else "") + q(value)


def human_bytes(n: float) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover - loop always returns


def listed(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")
