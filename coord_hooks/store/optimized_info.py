"""What ``coord status --cache`` and ``--queue`` show of the optimized backend: its snapshot
(generation, age, entries, cache counters) and its batch queue.

Imported only by `OptimizedStore.info`: no hook pays for it. Standard library only.
"""

from __future__ import annotations

import os
import time

from coord_hooks.model import StoreInfo
from coord_hooks.store.jsonfiles import JOURNAL_NAME, read_journal
from coord_hooks.store.optimized import (
    MANIFEST,
    PARTS,
    STATS_LOG,
    load_index_file,
    manifest_totals,
    read_stats_log,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from coord_hooks.store.optimized import OptimizedStore


def describe(store: OptimizedStore) -> StoreInfo:
    """`OptimizedStore.info`: the snapshot (cache) and the batch queue, as ``status`` shows them."""
    generation = store.generation()
    manifest = load_index_file(os.path.join(store.index_dir, MANIFEST)) or {}
    queued = read_journal(store.state_dir)
    now = time.time()
    totals = manifest_totals(manifest)
    for key, value in read_stats_log(os.path.join(store.index_dir, STATS_LOG)).items():
        totals[key] = totals.get(key, 0) + value
    for key, value in store.stats.pending.items():
        totals[key] += value
    lookups = totals["hits"] + totals["misses"]
    exact = manifest.get("generation") == generation
    parts: dict[str, Any] = manifest.get("parts") or {}
    counts: dict[str, Any] = manifest.get("counts") or {}
    msgs = manifest.get("msgs")
    written = manifest.get("written_at")
    last_rebuild = manifest.get("last_rebuild")
    size = 0
    for name in (MANIFEST, *PARTS):
        try:
            size += os.stat(os.path.join(store.index_dir, name)).st_size
        except OSError:
            pass
    cache = {
        "enabled": store.cache_ttl > 0,
        "ttl_s": store.cache_ttl,
        "format": "marshal",
        "location": str(store.index_dir),
        "bytes": size,
        "generation": generation,
        "snapshot_generation": manifest.get("generation"),
        "current": exact,
        "age_s": round(now - written, 1) if isinstance(written, (int, float)) else None,
        "entries": {
            "sessions": counts.get("sessions") if parts.get("sessions") is not None
            else None,
            "locks": counts.get("locks") if parts.get("locks") is not None else None,
            "messages": msgs[1] if exact and msgs else None,
        },
        "hits": totals["hits"],
        "misses": totals["misses"],
        "evictions": totals["evictions"],
        "rebuilds": totals["rebuilds"],
        "hit_ratio": round(totals["hits"] / lookups, 3) if lookups else None,
        "last_rebuild_age_s": (round(now - last_rebuild, 1)
                               if isinstance(last_rebuild, (int, float)) else None),
        "stats_since": manifest.get("stats_since"),
    }
    batch = {
        "pending": len(queued),
        "seqs": [m.seq for m in queued],
        "oldest_age_s": (round(now - min(m.created_at for m in queued), 1)
                         if queued else None),
        "batch_size": store.batch_size,
        "flush_interval_s": store.settings.batch_flush_interval,
        "journal": str(store.state_dir / JOURNAL_NAME),
    }
    return StoreInfo(backend=store.name, location=str(store.state_dir),
                     details={"generation": generation, "cache": cache,
                              "pending_broadcasts": len(queued), "batch": batch})

