"""Storage behind one protocol (`base.Store`): one module per backend, registered by name in
`BACKENDS` and imported lazily (only the chosen one loads); `layout`, `migrate`, `archive`.

May import: the standard library and the shared top-level modules only. It stores
records; the rules live above it, in `coordination`. On the hook path, so nothing outside
the standard library at import time (legacy's portalocker loads when it first locks).
"""

from __future__ import annotations

from coord_hooks.errors import ConfigError, StoreError

BACKENDS: dict[str, str] = {
    "legacy": "coord_hooks.store.jsonfiles:LegacyStore",
    "optimized": "coord_hooks.store.optimized:OptimizedStore",
    "sqlite": "coord_hooks.store.sqlite:SqliteStore",
    "redis": "coord_hooks.store.redis:RedisStore",
}

TYPE_CHECKING = False  # typing is not imported at run time: it is on the hot path
if TYPE_CHECKING:
    from coord_hooks.paths import StrPath
    from coord_hooks.settings import Settings
    from coord_hooks.store.base import Store, StoreReader, StoreWriter

__all__ = ["BACKENDS", "Store", "StoreReader", "StoreWriter", "open_store"]
_PROTOCOLS = frozenset({"Store", "StoreReader", "StoreWriter"})


def __getattr__(name: str) -> object:
    # The protocols are re-exported lazily: store.base needs `typing` at run time
    # (Protocol), and the hook path uses them only in annotations.
    if name in _PROTOCOLS:
        from coord_hooks.store import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(name: str, state_dir: StrPath, lock_timeout: float = 10.0,
               create: bool = True, settings: Settings | None = None,
               project_root: StrPath | None = None, chosen_by_layout: bool = False) -> Store:
    """Open the backend called ``name`` on ``state_dir``.

    ``settings`` reach backends that tune themselves (cache TTL, batch sizes, the redis
    server) through their ``configure(settings)`` method, if they have one;
    ``project_root`` reaches those that name the project from it (``bind_project``: the
    redis namespace comes from the repository's origin remote). ``chosen_by_layout``:
    the caller picked ``name`` from the layout it just detected, so a mismatch now means
    ``coord migrate`` ran in between (`LayoutChangedError`: open again).
    """
    try:
        target = BACKENDS[name]
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigError(f"unknown backend {name!r} (known: {known})") from None
    # A backend must never open the other layout's state dir and see an empty store.
    from coord_hooks.store.layout import check

    check(state_dir, name, waited=chosen_by_layout)
    module_name, _, class_name = target.partition(":")
    # __import__ rather than importlib.import_module: the hook path need not load importlib.
    cls = getattr(__import__(module_name, fromlist=[class_name]), class_name)
    try:
        store: Store = cls(state_dir, lock_timeout=lock_timeout, create=create)
    except StoreError:
        # A backend checks the layout itself too (sqlite): moved since our check?
        check(state_dir, name, waited=chosen_by_layout)
        raise
    configure = getattr(store, "configure", None)
    if settings is not None and configure is not None:
        configure(settings)
    bind = getattr(store, "bind_project", None)
    if project_root is not None and bind is not None:
        bind(project_root)
    return store
