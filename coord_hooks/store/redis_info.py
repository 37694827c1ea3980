"""What the redis backend says about itself and its server: `store_info` (``coord status``,
``diagnose``), `server_check` (``coord doctor``), `maintenance` (``coord cleanup``).

Not on the hook path (status views and tools only); standard library only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from coord_hooks.model import StoreInfo
from coord_hooks.store import resp
from coord_hooks.store.identity import project_identity
from coord_hooks.store.redis import RedisStore, _pairs

if TYPE_CHECKING:
    from coord_hooks.settings import Settings


def maintenance(store: RedisStore, dry_run: bool = False) -> dict[str, Any]:
    """Drop lock index entries whose lock is gone (only hand edits leave them)."""
    with store._mutex, store._translated():
        conn = store.connection()
        fields = set(conn.command("HKEYS", store.keys.locks) or [])
        indexed = set(conn.command("ZRANGE", store.keys.lockidx, 0, -1) or [])
        stale = sorted(indexed - fields)
        report: dict[str, Any] = {"locks": len(fields), "stale_index_entries": len(stale)}
        if dry_run or not stale:
            return report
    with store.transaction() as tx:
        for field in stale:
            key, _, owner = field.partition("\0")
            if tx.get_lock(key, owner) is None:
                tx.delete_lock(key, owner)
    report["removed_index_entries"] = len(stale)
    return report


def store_info(store: RedisStore) -> StoreInfo:
    """Where, which project, the counts, and the server's durability settings."""
    with store._mutex, store._translated():
        conn = store.connection()
        keys = store.keys
        replies = conn.pipeline([
            ("HGETALL", keys.meta), ("HLEN", keys.sessions), ("HLEN", keys.locks),
            ("ZCARD", keys.msgs), ("LLEN", keys.archive), ("PTTL", keys.mutex),
            *SERVER_QUERIES])
    meta = _pairs(replies[0]) if not isinstance(replies[0], resp.RespError) else {}
    server, version = _server_facts(replies[6:])
    identity = store.identity
    details: dict[str, Any] = {
        "url": store.display,
        "project_id": identity.project_id,
        "project_source": identity.source,
        "project": identity.describe(),
        "namespace": keys.namespace,
        "host_id": store.host_id,
        "server_version": version or conn.server_version,
        "protocol": conn.protocol,
        "clock_offset_s": round(conn.time_offset, 3),
        "sessions": replies[1], "locks": replies[2], "live_messages": replies[3],
        "archived_messages": replies[4],
        "last_seq": int(meta.get("last_seq", 0) or 0),
        "last_fence": int(meta.get("fence", 0) or 0),
        "generation": int(meta.get("generation", 0) or 0),
        "lease_held": isinstance(replies[5], int) and replies[5] > 0,
        "retired": meta.get("retired") or None,
        "server_settings": server,
        "durable": _durable(server),
    }
    return StoreInfo(backend=store.name, location=f"{store.display} {keys.namespace}",
                     details=details)


# What `info` and `server_check` ask about the server (CONFIG may be renamed away).
SERVER_QUERIES: tuple[tuple[str, ...], ...] = (
    ("CONFIG", "GET", "appendonly"), ("CONFIG", "GET", "appendfsync"),
    ("CONFIG", "GET", "maxmemory-policy"), ("INFO", "server"))


def _server_facts(replies: list[Any]) -> tuple[dict[str, Any], str]:
    """(the server settings it showed, its version) from the `SERVER_QUERIES` replies."""
    server: dict[str, Any] = {}
    for reply in replies[:3]:
        if not isinstance(reply, resp.RespError):
            server.update(_pairs(reply))
    version = ""
    if isinstance(replies[3], str):
        for line in replies[3].splitlines():
            if line.startswith(("valkey_version:", "redis_version:")) and not version:
                name = "valkey" if line.startswith("valkey") else "redis"
                version = f"{name} {line.split(':', 1)[1].strip()}"
    return server, version


def _durable(server: dict[str, Any]) -> bool | None:
    """Does an acknowledged write survive a crash (AOF, fsync before the reply)?"""
    if "appendonly" not in server or "appendfsync" not in server:
        return None  # CONFIG is not allowed for this user: unknown
    return server.get("appendonly") == "yes" and server.get("appendfsync") == "always"


def server_check(settings: Settings, project_root: Path) -> tuple[str, str]:
    """(``ok``/``warn``/``fail``, one line) about the configured server (`coord doctor`)."""
    try:
        address = resp.parse_url(settings.redis_url, settings.redis_password)
    except ValueError as exc:
        return "fail", f"redis_url: {exc}"
    conn = resp.Connection(address, connect_timeout=settings.redis_connect_timeout,
                           timeout=settings.redis_timeout)
    try:
        server, version = _server_facts(conn.pipeline(list(SERVER_QUERIES)))
    except resp.RespUnavailable as exc:
        return "fail", f"redis at {address.display} unreachable: {exc}"
    finally:
        conn.close()
    identity = project_identity(project_root, settings.project_id)
    line = f"redis at {address.display} ({version or 'version unknown'}), {identity.describe()}"
    durable = _durable(server)
    if durable is False:
        return "warn", (f"{line}; not durable (appendonly {server.get('appendonly')}, "
                        f"appendfsync {server.get('appendfsync')}): a crash may lose "
                        "acknowledged locks and messages; set appendonly yes and "
                        "appendfsync always")
    if server.get("maxmemory-policy", "noeviction") != "noeviction":
        return "warn", (f"{line}; maxmemory-policy {server['maxmemory-policy']} may evict "
                        "coordination records; set noeviction")
    return "ok", line + ("; AOF with appendfsync always" if durable else "")
