"""The optimized backend: same on-disk layout as legacy, standard-library locking.

(First cut: a plain `fcntl.flock` mutex instead of portalocker, so the hook hot path
imports nothing outside the standard library. Caching and batching come with issue 4.)
"""

from __future__ import annotations

from coord_hooks.fsio import FlockLock
from coord_hooks.store.jsonfiles import JsonFileStore, _Mutex


class OptimizedStore(JsonFileStore):
    name = "optimized"

    def _mutex(self) -> _Mutex:
        return FlockLock(self.state_dir / ".lock", self.lock_timeout)
