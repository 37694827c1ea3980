"""Store backends, registered by name and imported lazily (only the chosen one loads)."""

from __future__ import annotations

import importlib
from pathlib import Path

from coord_hooks.errors import ConfigError
from coord_hooks.store.base import Store, StoreReader, StoreWriter

BACKENDS: dict[str, str] = {
    "legacy": "coord_hooks.store.jsonfiles:LegacyStore",
    "optimized": "coord_hooks.store.optimized:OptimizedStore",
}

__all__ = ["BACKENDS", "Store", "StoreReader", "StoreWriter", "open_store"]


def open_store(name: str, state_dir: Path, lock_timeout: float = 10.0,
               create: bool = True) -> Store:
    """Open the backend called ``name`` on ``state_dir``."""
    try:
        target = BACKENDS[name]
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigError(f"unknown backend {name!r} (known: {known})") from None
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    store: Store = cls(state_dir, lock_timeout=lock_timeout, create=create)
    return store
