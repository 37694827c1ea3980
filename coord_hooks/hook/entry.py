"""``coord hook EVENT [--backend NAME]``: what Claude Code runs on every hook event.

Reads the payload from stdin (to EOF, with a deadline), hands it to the event's handler
(`coord_hooks.hook.handle`: only that event's module is imported), prints one JSON object or
nothing, and ALWAYS returns 0. Claude Code treats any other exit code as a non-blocking
error anyway, so a failing hook must fail open and say so in ``logs/app.log``; the only
way this hook stops anything is a lock conflict, reported as a JSON ``deny``.

Standard library only, and called before Typer is imported (tests/hook/test_imports.py).
"""

from __future__ import annotations

import os
import sys
import time

from coord_hooks import jsontext
from coord_hooks.hook import HookRun, handle, log_rate_limited
from coord_hooks.hook import log_quietly as _log

TYPE_CHECKING = False  # typing is not imported at run time: it is on the hot path
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, NoReturn

    from coord_hooks.paths import StrPath

# CLI spelling -> Claude Code's hook_event_name.
EVENTS: dict[str, str] = {
    "session-start": "SessionStart",
    "user-prompt-submit": "UserPromptSubmit",
    "pre-tool-use": "PreToolUse",
    "post-tool-use": "PostToolUse",
    "post-tool-use-failure": "PostToolUseFailure",
    "stop": "Stop",
    "subagent-start": "SubagentStart",
    "subagent-stop": "SubagentStop",
    "pre-compact": "PreCompact",
    "session-end": "SessionEnd",
}

# Stdin: Claude Code sometimes leaves it open (anthropics/claude-code#78756, #79508), so
# never wait for EOF forever. But a naive short timeout broke on slow pipes elsewhere
# (oraios/serena#1672): the deadline is extended while data keeps arriving, and once a
# complete JSON object is in hand we only wait a moment for EOF.
STDIN_DEADLINE = 2.5  # seconds without EOF before giving up (from the start)
STDIN_EXTEND = 1.0  # each chunk received pushes the deadline at least this far out
STDIN_MAX_DEADLINE = 7.0  # hard cap: PreToolUse has a 10 s timeout in hooks.json
# Per event where the default does not fit: SessionEnd hooks share a 1.5 s budget (plugin
# timeouts cannot raise it), and the store lock wait after the read is 0.8 s at most.
STDIN_DEADLINES: dict[str, tuple[float, float]] = {"SessionEnd": (0.3, 0.5)}
STDIN_GRACE = 0.05  # wait for EOF after a complete object before using it anyway
STDIN_KEEP = 8 * 1024 * 1024  # bytes kept; the rest is drained and dropped
_CHUNK = 1 << 16
# Seconds after its start past which a delivering hook no longer marks its messages
# delivered: well inside the 5 s timeouts hooks.json gives these events, after which
# Claude Code kills a hook and drops its output.
CONFIRM_WITHIN = {"SessionStart": 3.0, "UserPromptSubmit": 3.0, "PostToolUse": 3.0,
                  "PostToolUseFailure": 3.0}


class Timer:
    """Per-step wall-clock timings (logged only in debug mode or when slow)."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.steps: dict[str, float] = {}

    def mark(self, step: str) -> None:
        now = time.perf_counter()
        self.steps[step] = round(self.steps.get(step, 0.0) + (now - self.last) * 1000, 2)
        self.last = now

    def total_ms(self) -> float:
        return round((time.perf_counter() - self.start) * 1000, 2)


WATCH = "watch"  # `coord hook watch`: the idle-session watcher (hook.watch), not an event


class BadInvocation(Exception):
    """The hook was called with an event we do not know."""


def parse_args(args: list[str]) -> tuple[str, str | None]:
    """``EVENT [--backend NAME]`` → (hook_event_name, backend). Unknown options ignored."""
    event: str | None = None
    backend: str | None = None
    items = iter(args)
    for arg in items:
        if arg == "--backend":
            backend = next(items, None) or None
        elif arg.startswith("--backend="):
            backend = arg.partition("=")[2] or None
        elif arg.startswith("-"):
            continue  # tolerate flags a newer shim may pass
        elif event is None:
            event = arg
    if event is not None and event in EVENTS:
        return EVENTS[event], backend
    if event == WATCH:
        return WATCH, backend
    if event is not None and event in EVENTS.values():  # Claude Code's own spelling too
        return event, backend
    raise BadInvocation(f"unknown hook event {event!r}; expected one of {', '.join(EVENTS)}")


def read_stdin(fd: int = 0, deadline: float = STDIN_DEADLINE, keep: int = STDIN_KEEP,
               grace: float = STDIN_GRACE, max_deadline: float = STDIN_MAX_DEADLINE
               ) -> tuple[bytes, str]:
    """Read ``fd`` to EOF without hanging; return (data kept, how the read ended).

    ``how`` is ``eof``, ``open`` (a complete JSON object arrived and the writer kept the
    pipe open), ``timeout``, ``tty`` (nothing read from a terminal) or ``error``. Beyond
    ``keep`` bytes the input is still drained (the writer would get EPIPE otherwise) but
    dropped, and ``how`` gets a ``+truncated`` suffix.
    """
    try:
        if os.isatty(fd):
            return b"", "tty"
    except OSError:
        return b"", "error"
    reader = _StdinReader(fd, keep)
    # Usually Claude Code has written the whole payload and closed the pipe before the
    # interpreter is up: read what is there without waiting, and only when the writer is
    # not done wait for it with select (a module this common case then never loads).
    return reader.read_ready() or reader.read_waiting(deadline, grace, max_deadline)


class _StdinReader:
    """The bytes read so far (at most ``keep`` kept, the rest counted and dropped)."""

    def __init__(self, fd: int, keep: int) -> None:
        self.fd, self.keep = fd, keep
        self.chunks: list[bytes] = []
        self.kept = self.dropped = 0

    def take(self, chunk: bytes) -> None:
        room = self.keep - self.kept
        if room > 0:
            self.chunks.append(chunk[:room])
            self.kept += min(room, len(chunk))
        self.dropped += max(0, len(chunk) - max(room, 0))

    def done(self, how: str) -> tuple[bytes, str]:
        return b"".join(self.chunks), how + ("+truncated" if self.dropped else "")

    def read_ready(self) -> tuple[bytes, str] | None:
        """Everything, if the writer is done already; None if more is still to come."""
        try:
            os.set_blocking(self.fd, False)
        except OSError:
            return None  # not a descriptor we may change: `read_waiting` reads it
        try:
            while chunk := os.read(self.fd, _CHUNK):
                self.take(chunk)
            return self.done("eof")
        except BlockingIOError:
            return None  # the writer is not done: wait for it
        except OSError:
            return self.done("error")
        finally:
            os.set_blocking(self.fd, True)

    def read_waiting(self, deadline: float, grace: float, max_deadline: float
                     ) -> tuple[bytes, str]:
        """Read to EOF with a deadline that each chunk pushes out; a complete JSON
        object on a pipe the writer left open is accepted after ``grace``."""
        import select

        start = time.monotonic()
        end = start + deadline
        hard_end = start + max_deadline
        checked_at = -1  # size of `kept` when we last tried to parse it
        while True:
            now = time.monotonic()
            if now >= end:
                return self.done("timeout")
            wait = end - now
            maybe_complete = (not self.dropped and self.kept != checked_at and self.chunks
                              and self.chunks[-1].rstrip().endswith(b"}"))
            if maybe_complete:
                wait = min(wait, grace)
            try:
                ready, _, _ = select.select([self.fd], [], [], wait)
            except (OSError, ValueError):
                return self.read_blocking()  # not selectable (e.g. some Windows pipes)
            if not ready:
                if maybe_complete:
                    checked_at = self.kept
                    if _is_json_object(b"".join(self.chunks)):
                        return self.done("open")
                continue
            try:
                chunk = os.read(self.fd, _CHUNK)
            except BlockingIOError:
                continue
            except OSError:
                return self.done("error")
            if not chunk:
                return self.done("eof")
            self.take(chunk)
            end = min(max(end, time.monotonic() + STDIN_EXTEND), hard_end)

    def read_blocking(self) -> tuple[bytes, str]:
        try:
            while chunk := os.read(self.fd, _CHUNK):
                self.take(chunk)
        except OSError:
            return self.done("error")
        return self.done("eof")


def _is_json_object(data: bytes) -> bool:
    try:
        return isinstance(jsontext.loads(data), dict)
    except (ValueError, RecursionError):
        return False


def parse_payload(raw: bytes) -> dict[str, Any] | None:
    """The hook payload as a dict, or None when it is empty or not a JSON object.

    Tolerant: invalid UTF-8 is replaced rather than rejected and a BOM is ignored; the
    handlers treat every field as optional and of unknown type.
    """
    text = raw.decode("utf-8", "replace").lstrip("\ufeff").strip()
    if not text:
        return None
    try:
        value = jsontext.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


_SALVAGE_FIELDS = ("session_id", "cwd", "hook_event_name", "tool_name", "agent_id",
                   "file_path", "notebook_path")


def salvage_payload(raw: bytes) -> dict[str, Any] | None:
    """The few string fields the handlers need, from a payload cut at `STDIN_KEEP`.

    A Write of a huge file is exactly an edit worth locking, and Claude Code sends
    ``file_path`` before ``content`` (and a PostToolUse after a huge Read still deserves
    its heartbeat); so rather than fail open, pick the fields out of the head of the
    text. Anything ambiguous (a field seen twice) gives up.
    """
    import re

    head = raw[: 1 << 20].decode("utf-8", "replace")
    found: dict[str, str] = {}
    for match in re.finditer(r'"(' + "|".join(_SALVAGE_FIELDS)
                             + r')"\s*:\s*"((?:[^"\\]|\\.)*)"', head):
        key = match.group(1)
        if key in found:
            return None
        try:
            found[key] = jsontext.loads(f'"{match.group(2)}"')
        except ValueError:
            return None
    if not found.get("session_id"):
        return None
    payload: dict[str, Any] = {k: v for k, v in found.items()
                               if k not in ("file_path", "notebook_path")}
    if "tool_name" in found:
        payload["tool_input"] = {k: found[k] for k in ("file_path", "notebook_path")
                                 if k in found}
    return payload


def exit_process(code: int) -> NoReturn:
    """End the hook process now that its work is written (stores closed, log lines are
    single ``os.write`` calls, stdout flushed here): the interpreter's own teardown of
    ~90 modules would add ~3 ms to every hook, freeing memory the kernel frees anyway.
    ``os._exit`` skips it (and ``atexit`` handlers, which the hook path registers none of).
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def emit(obj: dict[str, Any]) -> bool:
    """Write one JSON object (ASCII-only, so no locale can break it) and a newline.

    True once all of it is flushed to stdout (a pipe: then it is Claude Code's, even if
    this process is killed next); False if it could not be written.
    """
    data = (jsontext.dumps(obj, ensure_ascii=True, separators=(",", ":")) + "\n").encode()
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    except (OSError, ValueError):
        _silence_stdout()
        return False
    return True


def coordination_off(why: str) -> dict[str, Any]:
    """SessionStart's output when the state dir is refused (a link, a file, another
    user's): a warning for the user and a note for the model, the reason on one line."""
    from coord_hooks.model import peer_words  # the path is the clone's: odd names stay inline

    reason = peer_words(why, 600)
    return {
        "systemMessage": f"coord-hooks: coordination is OFF in this project: {reason}",
        "hookSpecificOutput": {
            "hookEventName": "SessionStart",
            "additionalContext": (
                "[coord-hooks] Coordination with other Claude Code sessions is OFF in this "
                f"project: {reason}. Files are not locked for you and edits of files other "
                "sessions work on are not checked; messages are neither sent nor delivered. "
                "If other sessions may be working here, tell the user before editing."),
        },
    }


def _silence_stdout() -> None:
    # A reader that went away must not turn into "Exception ignored ... BrokenPipeError"
    # and exit code 120 when the interpreter flushes stdout at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _state_dir_for(payload: Mapping[str, Any] | None,
                   environ: Mapping[str, str]) -> StrPath | None:
    try:
        from coord_hooks.paths import state_dir_of

        cwd = payload.get("cwd") if payload else None
        return state_dir_of(cwd if isinstance(cwd, str) and cwd else None, environ)
    except Exception:
        return None


def _env_debug(environ: Mapping[str, str]) -> bool:
    return any(environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
               for name in ("COORD_DEBUG", "COORDINATION_DEBUG"))


def run_hook(args: list[str], environ: Mapping[str, str] | None = None, stdin: int = 0) -> int:
    """Run one hook event end to end; always returns 0 (see the module docstring)."""
    env = os.environ if environ is None else environ
    timer = Timer()
    event = args[0] if args else "?"
    backend: str | None = None
    payload: dict[str, Any] | None = None
    state_dir: StrPath | None = None
    run: HookRun | None = None
    outcome = "error"
    delivered = False
    try:
        try:
            event, backend = parse_args(args)
        except BadInvocation as exc:
            read_stdin(stdin)  # drain anyway: the writer must not get EPIPE
            state_dir = _state_dir_for(None, env)
            _log(state_dir, "warning", "hook_bad_invocation", error=str(exc), args=args)
            return 0
        if event == WATCH:  # a long-lived process with no payload (a plugin monitor)
            from coord_hooks.hook.watch import watch

            outcome = "watched"
            return watch(backend, env)
        deadline, max_deadline = STDIN_DEADLINES.get(event, (STDIN_DEADLINE,
                                                             STDIN_MAX_DEADLINE))
        raw, how = read_stdin(stdin, deadline=deadline, max_deadline=max_deadline)
        timer.mark("stdin")
        payload = parse_payload(raw)
        if payload is None and how.endswith("+truncated"):
            payload = salvage_payload(raw)
        timer.mark("parse")
        state_dir = _state_dir_for(payload, env)
        if payload is None:
            outcome = "bad-input"
            _log(state_dir, "warning", "hook_bad_input", hook=event, bytes=len(raw), stdin=how)
            return 0
        if how not in ("eof", "open"):
            _log(state_dir, "warning", "hook_stdin", hook=event, stdin=how, bytes=len(raw))

        timer.mark("import")
        # A bad payload never gets here, so it never loads the store (HookRun.open does).
        run = HookRun(event=event, payload=payload, backend=backend, environ=env, timer=timer)
        output = handle(run)
        outcome = run.outcome
        if run.ctx is not None:
            state_dir = run.ctx.state_path
        delivered = output is not None and emit(output)
        timer.mark("output")
    except KeyboardInterrupt:
        outcome = "interrupted"
    except Exception as exc:
        if run is not None and run.ctx is not None:
            state_dir = run.ctx.state_path
        if getattr(exc, "quiet_in_hooks", False):
            # The store's server is down or unreachable: every hook would say so. One
            # line a minute, no traceback; the hook fails open (prints nothing).
            outcome = "unavailable"
            log_rate_limited(state_dir, "store_unavailable", hook=event, error=str(exc))
            return 0
        if event == "SessionStart" and getattr(exc, "refused_state", False):
            # Nothing can be logged in a refused state dir, and every later hook of the
            # session fails open: the user and the model hear it once, here.
            outcome = "state-refused"
            emit(coordination_off(str(exc)))
            return 0
        import traceback  # lazy: ~2 ms of imports that only failures need

        outcome = "error"
        _log(state_dir, "error", "hook_failed", hook=event, error=f"{type(exc).__name__}: {exc}",
             hint=_hint(exc), traceback=traceback.format_exc(limit=8)[-4000:])
    finally:
        _log_run(run, state_dir, event, backend, outcome, timer, env)
        if delivered and run is not None:
            _confirm(run, timer, state_dir)  # last: see _confirm
        if run is not None:
            run.close()
    return 0


def _confirm(run: HookRun, timer: Timer, state_dir: StrPath | None) -> None:
    """The output is flushed: mark what it delivered as delivered (at least once).

    Claude Code drops the output of a hook it kills (at its timeout), so a message is
    only safe once the hook exits 0. Hence last of all, after the logs, with nothing
    but closing the store between it and the exit (`__main__` then leaves at once): a
    hook killed on its way out may show a message twice, rarely loses one. And a hook
    this close to its timeout leaves its messages unread for the next hook.
    """
    if not run.confirmations:
        return
    budget = CONFIRM_WITHIN.get(run.event)
    if budget is not None and timer.total_ms() > budget * 1000:
        _log(state_dir, "warning", "delivery_unconfirmed", hook=run.event,
             ms=timer.total_ms(), why="too close to the hook timeout; delivered again later")
        return
    try:
        for confirm in run.confirmations:
            confirm()
    except Exception as exc:
        _log(state_dir, "error", "hook_failed", hook=run.event,
             error=f"confirm: {type(exc).__name__}: {exc}")


def _hint(exc: BaseException) -> str:
    if isinstance(exc, ModuleNotFoundError):
        return (f"module {exc.name!r} is not importable by the hook's Python "
                f"({sys.executable}); set COORD_PYTHON, or run `coord doctor`")
    return ""


def _log_run(run: Any, state_dir: StrPath | None, event: str, backend: str | None, outcome: str,
             timer: Timer, env: Mapping[str, str]) -> None:
    """Write the performance line (and slow/debug lines)."""
    try:
        ctx = run.ctx if run is not None else None
        # A networked store counts its exchanges with the server (read before close).
        trips = getattr(ctx.store, "round_trips", None) if ctx is not None else None
        if state_dir is None:
            return
        from coord_hooks import logs

        total = timer.total_ms()
        used = ctx.backend if ctx is not None else (backend or "")
        extra: dict[str, Any] = dict(run.perf) if run is not None else {}
        if trips is not None:
            extra["round_trips"] = trips
        logs.log_performance(state_dir, hook=event, ms=total, backend=used, outcome=outcome,
                             **extra)
        slow_ms = ctx.settings.slow_ms if ctx is not None else 250.0
        debug = ctx.settings.debug if ctx is not None else _env_debug(env)
        if total > slow_ms:
            logs.log_event(state_dir, "warning", "slow_operation", hook=event, ms=total,
                           backend=used, outcome=outcome, steps=timer.steps)
        if debug:
            logs.log_event(state_dir, "debug", "hook_timing", hook=event, ms=total,
                           backend=used, outcome=outcome, steps=timer.steps)
    except Exception:
        pass  # logging must never break a hook

