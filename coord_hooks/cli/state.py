"""The per-invocation state of one ``coord`` command: the global options, the lazily
opened context, and the acting session.

Standard library only: the Typer app keeps a `CliState` in click's ``ctx.meta`` and the
standard-library path (`coord_hooks.cli.fast`) makes its own; the commands in
`coord_hooks.cli.commands` take it either way.
"""

from __future__ import annotations

import os

from coord_hooks.cli.output import PROG, warn
from coord_hooks.errors import NoSessionError, StoreError
from coord_hooks.paths import resolve_state_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from coord_hooks.context import Context
    from coord_hooks.model import Session

ENV_SESSION = "CLAUDE_CODE_SESSION_ID"
ENV_STATE_DIR = "COORD_STATE_DIR"


class Acting:
    """Who a command acts as: a session id (and where it came from), or a human."""

    def __init__(self, session_id: str | None, origin: str,
                 session: Session | None = None) -> None:
        self.session_id = session_id
        self.origin = origin  # "--session", "$CLAUDE_CODE_SESSION_ID" or "human"
        self.session = session


class CliState:
    """Global options and the lazily opened context of one ``coord`` invocation."""

    def __init__(self, backend: str | None = None, session: str | None = None) -> None:
        self.backend = backend
        self.session = session
        self._context: Context | None = None
        self._quarantine_before: set[str] = set()

    def context(self, write: bool = True, reap: bool = True) -> Context:
        """Open settings, store and coordinator once; reap dead sessions (unless told not).

        Read-only commands (``write=False``) never create the state directory: when it
        does not exist they fail with a clear error naming it, which also catches a
        mistyped ``--state-dir`` or a command run in the wrong project.
        """
        if self._context is None:
            from coord_hooks.context import open_context

            state_dir = resolve_state_dir()
            if not write and not os.path.lexists(state_dir):
                raise StoreError(f"no coordination state at {state_dir} yet (it is created "
                                 "when a session registers or a command writes)")
            self._check_explicit_backend(state_dir)
            self._quarantine_before = _listdir(state_dir / "quarantine")
            self._context = open_context(backend=self.backend)
            if reap:
                # Dead sessions are cleaned lazily by whichever command runs next.
                self._context.coordinator.reap()
        return self._context

    def no_state_yet(self) -> bool:
        """True when this project has no state directory and none was named.

        Read commands then show a calm "no sessions yet" instead of failing; a state
        directory named by ``--state-dir`` or ``$COORD_STATE_DIR`` that does not exist
        is still an error (a typo should not look like an empty project).
        """
        if self._context is not None or os.environ.get(ENV_STATE_DIR, "").strip():
            return False
        return not os.path.lexists(resolve_state_dir())

    def _check_explicit_backend(self, state_dir: Path) -> None:
        """``--backend X`` on state of the other layout: say so, never show other data.

        (Hooks and the configured backend follow the data instead: `store.layout`.)
        """
        if self.backend is None or os.environ.get("COORD_BACKEND", "").strip():
            return
        from coord_hooks.store import layout

        found = layout.detect(state_dir) if os.path.isdir(state_dir) else None
        want = layout.BACKEND_LAYOUT.get(self.backend)
        if found is not None and want is not None and found != want:
            raise StoreError(layout.mismatch_message(state_dir, self.backend, found))

    def acting(self, ctx: Context | None, explicit: str | None = None) -> Acting:
        """``--session`` (resolved: id, name or prefix) > ``$CLAUDE_CODE_SESSION_ID`` > human."""
        handle = explicit or self.session
        if handle:
            if ctx is None:
                ctx = self.context(write=False)
            session = ctx.coordinator.resolve(handle)
            return Acting(session.session_id, "--session", session)
        env_id = os.environ.get(ENV_SESSION, "").strip()
        if env_id:
            found: Session | None = None
            if ctx is not None:
                with ctx.store.read() as view:
                    found = view.get_session(env_id)
            return Acting(env_id, f"${ENV_SESSION}", found)
        return Acting(None, "human")

    def require_session(self, ctx: Context | None, explicit: str | None, what: str,
                        heartbeat: bool = False) -> Acting:
        """The acting session, or a one-line error saying how to name one.

        With ``heartbeat``, a session named by ``$CLAUDE_CODE_SESSION_ID`` (the model
        running ``coord`` in its Bash tool) is touched, registering it if no hook did.
        """
        acting = self.acting(ctx, explicit)
        if acting.session_id is None:
            raise NoSessionError(f"{what} needs a session: pass --session ID (a handle, prefix "
                                 f"or name) or set ${ENV_SESSION}")
        if heartbeat and ctx is not None:
            acting = self.heartbeat(ctx, acting)
        return acting

    def heartbeat(self, ctx: Context, acting: Acting) -> Acting:
        if acting.session_id is None or acting.origin != f"${ENV_SESSION}":
            return acting
        from coord_hooks import procs

        session = ctx.coordinator.touch(acting.session_id, pid=procs.find_claude_pid(),
                                        source="cli")
        return Acting(acting.session_id, acting.origin, session)

    def finish(self) -> None:
        """Print the coordinator's warnings and files quarantined; close the store."""
        if self._context is None:
            return
        for warning in self._context.coordinator.warnings:
            warn(f"{PROG}: warning: {warning}")
        folder = self._context.state_dir / "quarantine"
        for name in sorted(_listdir(folder) - self._quarantine_before):
            warn(f"{PROG}: warning: a corrupt store file was moved to {folder / name} "
                 f"(details in {self._context.state_dir / 'logs' / 'app.log'})")
        self._context.store.close()
        self._context = None


def _listdir(folder: Path) -> set[str]:
    try:
        return set(os.listdir(folder))
    except OSError:
        return set()
