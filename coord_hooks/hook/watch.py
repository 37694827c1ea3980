"""``coord hook watch``: the idle-session doorbell, run by the plugin's monitor.

Claude Code 2.1.330 starts a plugin monitor (``monitors/monitors.json``) once per
interactive session and turns each line it prints into a task notification that wakes
the session even while it waits for its user; the wake fires UserPromptSubmit, whose
hook then delivers the messages themselves with our framing. So this process prints
only a short fixed doorbell line, never a peer's text, and only when:

* its session (the live one whose Claude Code process is ``$CLAUDE_PID``: after
  ``/clear`` the new one) is idle — its turn ended (Stop) and no prompt came since;
* messages are due for it (urgent, or past the coalescing window ``midturn_wait``;
  ``wake_idle = urgent``: urgent ones only) or a file it was denied is free now;
* it has not rung for exactly these yet (again after `RERING` seconds if they are
  still undelivered: a notification Claude Code suppressed loses nothing).

Bounded: one watcher per Claude Code process (a flock), a look every
``watch_interval`` seconds (one store read), and it exits when that process is gone
(Claude Code kills its monitors at exit, but not after a SIGKILL), when stdout is
closed, or at once if ``wake_idle = off``. Monitors never run in ``claude -p``.

Standard library only (it lives on the hook path).
"""

from __future__ import annotations

import os
import sys
import time

from coord_hooks import procs
from coord_hooks.hook import log_quietly as _log

TYPE_CHECKING = False  # typing is not imported at run time: it is on the hot path
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from coord_hooks.context import Context

RERING = 60.0  # s: ring again for what is still undelivered (a suppressed notification)
MAX_ERRORS = 120  # looks in a row that failed: the store is gone, stop watching


def doorbell(messages: int, files: int) -> str:
    """The line Claude Code shows and wakes the session with (no peer-written text)."""
    parts = []
    if messages:
        parts.append(f"{messages} new message{'s' if messages != 1 else ''} from peer "
                     "sessions")
    if files:
        parts.append(f"{files} file{'s' if files != 1 else ''} you were denied "
                     f"{'are' if files != 1 else 'is'} free now")
    return ("coord-hooks: " + " and ".join(parts)
            + "; see the coord-hooks context of this turn.\n")


class Watcher:
    """What one watcher remembers between looks."""

    def __init__(self, ctx: Context, pid: int, write: Callable[[str], None]) -> None:
        self.ctx = ctx
        self.pid = pid
        self.write = write
        self.rung: set[int | str] = set()
        self.last_ring = 0.0
        self.session_id = ""  # found by pid once, again after /clear

    def look(self, now: float) -> str | None:
        """One look at the store: the doorbell line to print, or None."""
        from coord_hooks.coordination.delivery import wake_for
        from coord_hooks.coordination.sessions import of_process

        coordinator = self.ctx.coordinator
        with self.ctx.store.read() as view:
            session = view.get_session(self.session_id) if self.session_id else None
            if session is None or session.ended or session.pid != self.pid:
                session = of_process(coordinator, view, self.pid)  # reads every session
                self.session_id = session.session_id if session is not None else ""
            if session is None:
                return None
            seqs, keys = wake_for(coordinator, view, session, now,
                                  urgent_only=self.ctx.settings.wake_idle == "urgent")
        items: set[int | str] = {*seqs, *keys}
        self.rung &= items  # delivered ones are forgotten: the set stays small
        if not items or (items <= self.rung and now - self.last_ring < RERING):
            return None
        self.rung |= items
        self.last_ring = now
        return doorbell(len(seqs), len(keys))


def watch(backend: str | None, environ: Mapping[str, str],
          sleep: Callable[[float], None] = time.sleep) -> int:
    """Run until the Claude Code process is gone; always returns 0."""
    raw_pid = environ.get("CLAUDE_PID", "").strip()
    if not raw_pid.isdigit():
        return 0  # not started by Claude Code: nothing to watch
    pid = int(raw_pid)
    born = procs.process_start(pid)
    if born is None:
        return 0
    _quiet_stderr()  # every line on stdout wakes the model: nothing else may get out
    env = dict(environ)
    # A monitor runs in the session's directory without $CLAUDE_PROJECT_DIR, which is
    # where the session started: the hooks' project root.
    env.setdefault("CLAUDE_PROJECT_DIR", os.getcwd())
    try:
        from coord_hooks.context import open_context

        ctx = open_context(backend, cwd=env["CLAUDE_PROJECT_DIR"], environ=env)
    except Exception as exc:
        _log(None, "warning", "watch_failed", error=f"{type(exc).__name__}: {exc}")
        return 0
    if ctx.settings.wake_idle == "off":
        ctx.store.close()
        return 0
    lock = _single(ctx.state_dir, pid)
    if lock is None:
        ctx.store.close()
        return 0  # another watcher serves this Claude Code process
    # Claude Code stops its monitors with SIGTERM: leave through `finally`, so the
    # watcher's lock file goes with it (the default action would leave one per session).
    import signal

    signal.signal(signal.SIGTERM, _stop)
    try:
        _loop(Watcher(ctx, pid, _print), born, sleep)
    finally:
        ctx.store.close()
        _release(lock)
    return 0


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _loop(watcher: Watcher, born: str, sleep: Callable[[float], None]) -> None:
    ctx = watcher.ctx
    errors = 0
    while procs.process_start(watcher.pid) == born:
        try:
            line = watcher.look(ctx.coordinator.clock())
            errors = 0
        except Exception as exc:
            errors += 1
            if errors == 1:
                _log(ctx.state_dir, "warning", "watch_look_failed",
                     error=f"{type(exc).__name__}: {exc}")
            if errors >= MAX_ERRORS:
                return
            line = None
        if line is not None:
            try:
                watcher.write(line)
            except (OSError, ValueError):
                return  # Claude Code went away
            _log(ctx.state_dir, "info", "watch_rang", claude_pid=watcher.pid, line=line.strip())
        sleep(ctx.settings.watch_interval)


def _print(line: str) -> None:
    sys.stdout.write(line)
    sys.stdout.flush()


def _quiet_stderr() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        pass


def _single(state_dir: Path, pid: int) -> tuple[int, Path] | None:
    """An exclusive flock for this Claude Code process, or None if another holds it."""
    import fcntl

    from coord_hooks.paths import FILE_MODE, ensure_subdir

    try:
        path = ensure_subdir(state_dir / "watch") / f"{procs.hostname()}-{pid}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    except Exception:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    _prune(os.path.dirname(path))
    return fd, path


def _prune(folder: str) -> None:
    """Remove the lock files of this host's Claude Code processes that are gone (a
    watcher killed outright leaves its file; nothing else would ever remove it)."""
    host = f"{procs.hostname()}-"
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        pid = name[len(host):-len(".lock")] if name.startswith(host) else ""
        if name.endswith(".lock") and pid.isdigit() and procs.process_start(int(pid)) is None:
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass


def _release(lock: tuple[int, Path]) -> None:
    fd, path = lock
    try:
        os.unlink(path)  # while the lock is still held: no other watcher is using it
    except OSError:
        pass
    os.close(fd)
