"""The check of a store on a server (redis): reachable, durable, a shared project name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from coord_hooks.errors import StoreUnavailableError

if TYPE_CHECKING:
    from coord_hooks.ops.diagnose import Diagnosis


def check_server(d: Diagnosis) -> None:
    """Only backends whose info names a server URL; the others have nothing to say."""
    try:
        details = d.ctx.store.info().details
    except StoreUnavailableError as exc:
        d.add("server-unreachable", "error", str(exc),
              "Hooks fail open while the server is unreachable: nothing is locked and no "
              "message is delivered.",
              "coord config  # check redis_url / redis_password; start the server")
        return
    if "url" not in details:
        return
    d.stats["server"] = {k: details.get(k) for k in (
        "url", "server_version", "project_id", "project_source", "namespace", "host_id",
        "clock_offset_s", "durable", "server_settings")}
    if details.get("durable") is False:
        d.add("server-not-durable", "warning",
              f"redis at {details['url']} may lose acknowledged writes on a crash",
              f"Server settings: {details.get('server_settings')}.",
              "redis-cli CONFIG SET appendonly yes; redis-cli CONFIG SET appendfsync always")
    if details.get("project_source") == "path":
        d.add("server-project-path", "info", str(details.get("project")), "",
              "export COORD_PROJECT_ID=<a name every clone shares>")
