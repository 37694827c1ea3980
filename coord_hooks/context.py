"""Build the objects a command or hook needs: settings, paths, store, coordinator.

Standard library only: the hook hot path calls `open_coordinator`.
"""

from __future__ import annotations

import os

from coord_hooks import logs
from coord_hooks.coordination import Coordinator
from coord_hooks.model import Plain
from coord_hooks.paths import PLUGIN_DIR, project_root_of, state_dir_of
from coord_hooks.settings import Settings, load_settings
from coord_hooks.store import BACKENDS, open_store
from coord_hooks.store.layout import backend_for

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from coord_hooks.paths import StrPath
    from coord_hooks.store import Store

SHIM_LINK = os.path.join(PLUGIN_DIR, "shims", "hooks.sh")


class Context(Plain):
    """What a command or hook works with.

    ``project_dir`` and ``state_path`` are str: the hook path never builds a
    ``pathlib.Path`` (its import costs a hook ~4 ms); ``project_root`` and ``state_dir``
    are the same as Paths, for the CLI and tools.
    """

    FIELDS = ("settings", "project_dir", "state_path", "backend", "store", "coordinator")

    def __init__(self, settings: Settings, project_root: StrPath, state_dir: StrPath,
                 backend: str, store: Store, coordinator: Coordinator) -> None:
        self.settings = settings
        self.project_dir = os.fspath(project_root)
        self.state_path = os.fspath(state_dir)
        self.backend = backend
        self.store = store
        self.coordinator = coordinator

    @property
    def project_root(self) -> Path:
        from pathlib import Path

        return Path(self.project_dir)

    @property
    def state_dir(self) -> Path:
        from pathlib import Path

        return Path(self.state_path)


def linked_backend(link: StrPath | None = None) -> str | None:
    """The backend the ``shims/hooks.sh`` symlink selects (``hooks-<name>.sh``)."""
    try:
        target = os.readlink(SHIM_LINK if link is None else link)
    except OSError:
        return None
    name = os.path.basename(target)
    if name.startswith("hooks-") and name.endswith(".sh"):
        backend = name[len("hooks-") : -len(".sh")]
        return backend if backend in BACKENDS else None
    return None


def choose_backend(settings: Settings, explicit: str | None,
                   environ: Mapping[str, str] | None = None,
                   state_dir: StrPath | None = None) -> str:
    """``$COORD_BACKEND`` > ``--backend`` > the shim symlink > config file > default.

    Hooks get ``--backend`` from the shim the symlink points at, so commands follow the
    symlink too: ``coord backend use X`` switches both. The config file's ``backend``
    matters where there is no symlink (a ``pip``-installed ``coord`` without the plugin).

    The state dir's layout has the last word (`store.layout`): a choice naming a backend
    of the other layout (``optimized`` on a dir migrated to ``coord.db``) is redirected
    to that layout's backend, so hooks keep working after ``coord migrate`` and no
    backend ever opens an empty store beside the real data.
    """
    env = os.environ if environ is None else environ
    where = state_dir if state_dir is not None else state_dir_of(None, env)
    return backend_for(where, _preferred_backend(settings, explicit, env))


def _preferred_backend(settings: Settings, explicit: str | None,
                       env: Mapping[str, str]) -> str:
    if env.get("COORD_BACKEND", "").strip():
        return settings.backend
    if explicit:
        return explicit
    return linked_backend() or settings.backend


def open_context(backend: str | None = None, cwd: str | None = None,
                 environ: Mapping[str, str] | None = None, create: bool = True,
                 lock_timeout: float | None = None, lenient: bool = False) -> Context:
    """Resolve paths and settings, and open the chosen store backend.

    ``lock_timeout`` caps the configured store lock wait (hooks must finish inside
    Claude Code's hook timeout, so they wait less than a human's command would).
    ``lenient`` (hooks): settings that cannot be used are skipped, not raised
    (`settings.load_settings`).
    """
    env = os.environ if environ is None else environ
    project_root = project_root_of(cwd, env)
    state_dir = state_dir_of(cwd, env)
    settings = load_settings(state_dir if os.path.isdir(state_dir) else None, env, lenient)
    logs.configure(settings.log_max_bytes)  # quarantine/force-release logs honour the cap too
    chosen = choose_backend(settings, backend, env, state_dir)
    wait = settings.store_lock_timeout
    if lock_timeout is not None:
        wait = min(wait, lock_timeout)
    store = open_store(chosen, state_dir, lock_timeout=wait, create=create,
                       settings=settings, project_root=project_root, chosen_by_layout=True)
    # A store with its own clock (redis: the server's) stamps records for every machine
    # alike; the host id decides which sessions' pids this process may check.
    clock = getattr(store, "clock", None)
    coordinator = Coordinator(store, settings, project_root, state_dir,
                              **({"clock": clock} if clock is not None else {}),
                              hostname=settings.host_id.strip() or None)
    return Context(settings, project_root, state_dir, chosen, store, coordinator)
