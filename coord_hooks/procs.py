"""Process identity: a pid plus its start time, so pid reuse cannot fake liveness.

Standard library only. On Linux the start time is field 22 of ``/proc/PID/stat``
(clock ticks since boot, stable for the life of the process). Elsewhere ``ps -o lstart``
is asked once per lookup, which is slower but only runs at registration and on conflicts.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # collections.abc costs a hook ~1 ms: annotations only
if TYPE_CHECKING:
    from collections.abc import Mapping

CLAUDE_PROCESS_NAMES = ("claude", "node")


def process_start(pid: int) -> str | None:
    """An opaque token that changes when ``pid`` is reused; None if no such process."""
    if pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return None
    except OSError:
        raw = b""
    if raw:
        # comm (field 2) may contain spaces and parentheses: split after the last ')'.
        after = raw[raw.rfind(b")") + 2 :].split()
        state = after[0:1]
        if state == [b"Z"]:  # a zombie has finished running
            return None
        return after[19].decode() if len(after) > 19 else None
    if sys.platform.startswith("linux"):
        return None
    import subprocess  # lazy: ~7 ms of imports, needed only where /proc is missing

    # lstart is local time in the caller's locale: pin both, so every session's hooks
    # (whatever TZ/LANG they inherited) compute the same token for the same process.
    env = {**os.environ, "TZ": "UTC", "LC_ALL": "C"}
    try:
        out = subprocess.run(["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True,
                             text=True, timeout=2, check=False, env=env)
    except (OSError, subprocess.SubprocessError):
        return None
    text = out.stdout.strip()
    return text or None


def is_same_process(pid: int | None, start: str | None) -> bool:
    """True while ``pid`` runs and is still the process that had ``start``."""
    if pid is None:
        return False
    current = process_start(pid)
    if current is None:
        return False
    return start is None or current == start


def _parent_and_name(pid: int) -> tuple[int, str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    name = raw[raw.find(b"(") + 1 : raw.rfind(b")")].decode(errors="replace")
    after = raw[raw.rfind(b")") + 2 :].split()
    return int(after[1]), name


def find_claude_pid(environ: Mapping[str, str] | None = None) -> int | None:
    """The pid of the Claude Code process that started us, if it can be found.

    ``$CLAUDE_PID`` (Claude Code >= 2.1.214) is trusted first; otherwise the parent chain
    is walked a few steps looking for a ``claude``/``node`` process (hooks run under
    ``sh -c`` whose parent is claude).
    """
    env = os.environ if environ is None else environ
    raw = env.get("CLAUDE_PID", "").strip()
    if raw.isdigit():
        return int(raw)
    pid = os.getppid()
    for _ in range(6):
        info = _parent_and_name(pid)
        if info is None:
            return None
        parent, name = info
        if any(name.startswith(n) for n in CLAUDE_PROCESS_NAMES):
            return pid
        if parent <= 1:
            return None
        pid = parent
    return None


def hostname() -> str:
    """This machine's name, as sessions record it (a pid means nothing on another host)."""
    # os.uname() is what socket.gethostname() asks on POSIX, without importing socket
    # (~4 ms on every hook run).
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()
