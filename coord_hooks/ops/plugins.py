"""Where the coord-hooks plugin is on this machine, wherever this ``coord`` runs from.

A ``coord`` installed with pip or pipx lives in site-packages, which holds no shims and
must never be written to; the hooks Claude Code runs are the plugin's. The plugin is
found, in this order: a ``--plugin-dir`` given to the command, ``$CLAUDE_PLUGIN_ROOT``
(else the checkout this code runs from, when it is a plugin), and the copies Claude Code
installed (its registry, ``<config dir>/plugins/installed_plugins.json``, which 2.1.330
writes as ``{"version": 2, "plugins": {"coord-hooks@<marketplace>": [{"scope",
"installPath", "version", …}]}}``).
"""

from __future__ import annotations

import json
import os
import site
import sysconfig
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from coord_hooks.paths import PLUGIN_ROOT

PLUGIN_NAME = "coord-hooks"
REGISTRY = Path("plugins") / "installed_plugins.json"


@dataclass(frozen=True)
class PluginCopy:
    """One copy of the plugin: its root (with ``shims/``, ``bin/``, ``coord_hooks/``)."""

    root: Path
    origin: str  # "--plugin-dir", "$CLAUDE_PLUGIN_ROOT", "this checkout", "installed"
    plugin_id: str = ""  # "coord-hooks@<marketplace>" for installed copies
    scope: str = ""  # user, project or local, for installed copies

    @property
    def shims(self) -> Path:
        return self.root / "shims"

    @property
    def label(self) -> str:
        return "installed plugin" if self.origin == "installed" else "plugin"

    def describe(self) -> str:
        if self.origin == "installed":
            return f"{self.plugin_id} ({self.scope} scope) at {self.root}"
        return f"{self.root} ({self.origin})"


def is_plugin_root(path: Path) -> bool:
    """Does ``path`` hold the coord-hooks plugin (its manifest and shims)?"""
    try:
        manifest = json.loads((path / ".claude-plugin" / "plugin.json").read_text())
    except (OSError, ValueError):
        return False
    return (isinstance(manifest, dict) and manifest.get("name") == PLUGIN_NAME
            and (path / "shims").is_dir())


def claude_config_dir(environ: Mapping[str, str]) -> Path:
    explicit = environ.get("CLAUDE_CONFIG_DIR", "").strip()
    if explicit:
        return Path(explicit).expanduser()
    return Path(environ.get("HOME") or Path.home()) / ".claude"


def installed(environ: Mapping[str, str]) -> list[PluginCopy]:
    """The copies Claude Code's plugin registry lists for coord-hooks."""
    try:
        data = json.loads((claude_config_dir(environ) / REGISTRY).read_text())
    except (OSError, ValueError):
        return []
    entries = data.get("plugins") if isinstance(data, dict) else None
    found = []
    for plugin_id, copies in (entries.items() if isinstance(entries, dict) else ()):
        if not (isinstance(plugin_id, str) and plugin_id.split("@")[0] == PLUGIN_NAME
                and isinstance(copies, list)):
            continue
        for entry in copies:
            path = entry.get("installPath") if isinstance(entry, dict) else None
            if isinstance(path, str) and path:
                found.append(PluginCopy(Path(path), "installed", plugin_id,
                                        str(entry.get("scope") or "user")))
    return found


def find(environ: Mapping[str, str] | None = None,
         plugin_dirs: Sequence[Path] = ()) -> list[PluginCopy]:
    """Every copy of the plugin this machine has, each root once, in the order above."""
    env = os.environ if environ is None else environ
    candidates = [PluginCopy(Path(d).expanduser(), "--plugin-dir") for d in plugin_dirs]
    if env.get("CLAUDE_PLUGIN_ROOT", "").strip():
        # Inside a plugin's hook or command: that copy is the one in use, not this code's.
        candidates.append(PluginCopy(Path(env["CLAUDE_PLUGIN_ROOT"]), "$CLAUDE_PLUGIN_ROOT"))
    else:
        candidates.append(PluginCopy(PLUGIN_ROOT, "this checkout"))
    candidates += installed(env)
    found: list[PluginCopy] = []
    seen: set[str] = set()
    for copy in candidates:
        key = os.path.realpath(copy.root)
        if key in seen:
            continue
        explicit = copy.origin in ("--plugin-dir", "$CLAUDE_PLUGIN_ROOT", "installed")
        if explicit or is_plugin_root(copy.root):  # an explicit one is checked even if broken
            seen.add(key)
            found.append(copy)
    return found


def runs_from_plugin() -> bool:
    """Is this code the plugin's own copy (a checkout or an installed plugin)?"""
    return is_plugin_root(PLUGIN_ROOT)


def site_packages() -> list[Path]:
    """The site-packages folders of this interpreter (never written to by coord)."""
    folders = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    try:
        folders.update(site.getsitepackages())
    except AttributeError:  # pragma: no cover - very old virtualenv's site.py
        pass
    user = getattr(site, "USER_SITE", None)
    if user:
        folders.add(user)
    return [Path(f) for f in sorted(folders)]


def in_site_packages(path: Path) -> bool:
    target = os.path.realpath(path)
    for folder in site_packages():
        base = os.path.realpath(folder)
        if target == base or target.startswith(base + os.sep):
            return True
    return False
