"""The checks of ``coord diagnose``, one small function each, registered in `CHECKS` (run in
this order; a check that raises is reported as a finding and the others still run).

May import: what `ops` may import. A new check is a function ``check_x(d: Diagnosis)``
that calls ``d.add(...)`` and may fill ``d.stats``; add it to `CHECKS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from coord_hooks.ops.checks import logs, server, setup, sharing, state

if TYPE_CHECKING:
    from coord_hooks.ops.diagnose import Diagnosis

CHECKS: dict[str, Callable[[Diagnosis], None]] = {
    "check_config": state.check_config,
    "check_sharing": sharing.check_sharing,  # before the store checks quarantine links
    "check_server": server.check_server,
    "check_store": state.check_store,
    "check_sessions": state.check_sessions,
    "check_messages": state.check_messages,
    "check_locks": state.check_locks,
    "check_quarantine": state.check_quarantine,
    "check_performance": logs.check_performance,
    "check_app_log": logs.check_app_log,
    "check_log_sizes": logs.check_log_sizes,
    "check_permissions": setup.check_permissions,
    "check_plugin": setup.check_plugin,
    "check_claude_settings": setup.check_claude_settings,
}
