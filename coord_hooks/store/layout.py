"""Which layout a state directory holds: the JSON files, the SQLite database, or redis.

The legacy and optimized backends share one JSON layout, so a user may switch between
them at any time; ``sqlite`` keeps everything in ``coord.db``. A backend of the other
layout must never open a state directory and silently see an empty store, so the layout
is recorded in a small marker file, ``<state dir>/layout`` (``json``, ``sqlite`` or
``redis``), written by the SQLite backend when it creates its database, by the redis
backend when it is first used on a state directory (its records live on the server; the
directory keeps config and logs), and by ``coord migrate``.

Without a marker the layout is inferred: ``coord.db`` means sqlite, JSON records mean
json (state dirs made before the marker existed), and an empty directory has none yet.

Standard library only (hook hot path): reading the marker is one small ``open``.
"""

from __future__ import annotations

import os
import time

from coord_hooks.errors import LayoutChangedError, StoreError
from coord_hooks.paths import SAFE_OPEN, is_link_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from coord_hooks.paths import StrPath

MARKER = "layout"
DB_NAME = "coord.db"
JSON = "json"
SQLITE = "sqlite"
REDIS = "redis"
LAYOUTS = (JSON, SQLITE, REDIS)
# Record folders and files of the JSON layout (see `coord_hooks.store.jsonfiles`).
JSON_DIRS = ("sessions", "locks", "messages")
# broadcasts.jsonl: the optimized backend's batch journal can hold the only messages.
JSON_FILES = ("seq.json", "broadcasts.jsonl")

# Backends by the layout they read. A backend missing here (a future networked one)
# keeps no data in the state directory and is never checked.
BACKEND_LAYOUT = {"legacy": JSON, "optimized": JSON, "sqlite": SQLITE, "redis": REDIS}
DEFAULT_BACKEND = {JSON: "optimized", SQLITE: "sqlite", REDIS: "redis"}


def read_marker(state_dir: StrPath) -> str | None:
    """The layout recorded in the marker file, or None when there is no valid marker."""
    # os.open/os.read rather than open(): this runs in every hook, ~5 µs instead of ~40.
    path = os.path.join(state_dir, MARKER)
    try:
        fd = os.open(path, os.O_RDONLY | SAFE_OPEN)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if is_link_error(exc):
            return None  # a planted link is no marker (writing one replaces the link)
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    try:
        head = os.read(fd, 64)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    words = head.split(maxsplit=1)
    first = words[0].decode("ascii", "replace") if words else ""
    return first if first in LAYOUTS else None


def write_marker(state_dir: StrPath, layout: str, why: str = "") -> None:
    """Record ``layout`` atomically (temp + fsync + rename)."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}")
    from coord_hooks.fsio import atomic_write_bytes

    note = f"{layout}\n# written {time.strftime('%Y-%m-%d %H:%M:%S')}"
    note += f" by {why}\n" if why else "\n"
    note += "# json = sessions/ locks/ messages/ files; sqlite = coord.db; redis = on the "
    note += "server of redis_url. Change it only with `coord migrate --to json|sqlite|redis`.\n"
    atomic_write_bytes(os.path.join(state_dir, MARKER), note.encode())


def has_json_data(state_dir: StrPath) -> bool:
    """Does the directory hold any JSON-layout record?"""
    if any(os.path.exists(os.path.join(state_dir, name)) for name in JSON_FILES):
        return True
    for name in JSON_DIRS:
        try:
            with os.scandir(os.path.join(state_dir, name)) as entries:
                if any(e.name.endswith(".json") and not e.name.startswith(".")
                       for e in entries):
                    return True
        except (FileNotFoundError, NotADirectoryError):
            continue
    return False


def detect(state_dir: StrPath, want: str | None = None) -> str | None:
    """The layout of ``state_dir``: the marker, else inferred; None for an empty dir.

    With ``want`` set, only whether the directory holds the *other* layout matters, so
    the JSON folders are not scanned for a JSON backend (the hook hot path).
    """
    marked = read_marker(state_dir)
    if marked is not None:
        return marked
    if os.path.exists(os.path.join(state_dir, DB_NAME)):
        return SQLITE
    if want != JSON and has_json_data(state_dir):
        return JSON
    return None


def mismatch_message(state_dir: StrPath, backend: str, layout: str) -> str:
    """The one-paragraph refusal shown when ``backend`` cannot read ``layout``."""
    want = BACKEND_LAYOUT.get(backend, "?")
    if layout == SQLITE:
        held = f"its records are in {DB_NAME}"
    elif layout == REDIS:
        held = "its records are on the redis server (redis_url)"
    else:
        held = "its records are JSON files (sessions/, locks/, messages/)"
    return (f"state directory {state_dir} uses the {layout} layout ({held}), but backend "
            f"{backend!r} reads the {want} layout. Use --backend "
            f"{DEFAULT_BACKEND[layout]} (or unset COORD_BACKEND), or move the data with "
            f"`coord migrate --to {want}`.")


def check(state_dir: StrPath, backend: str, waited: bool = False) -> None:
    """Refuse clearly when ``backend`` cannot read the layout ``state_dir`` holds.

    ``waited``: checked again under the store lock, after waiting for it; a mismatch then
    means ``coord migrate`` ran meanwhile, and `LayoutChangedError` tells the caller to
    open the store again (a hook retries on the right store: a layout change is never a
    reason to let an edit through undecided).
    """
    want = BACKEND_LAYOUT.get(backend)
    if want is None:
        return
    layout = detect(state_dir, want)
    if layout is not None and layout != want:
        if waited:
            raise LayoutChangedError(layout_changed_message(state_dir, layout))
        raise StoreError(mismatch_message(state_dir, backend, layout))


def layout_changed_message(state_dir: StrPath, layout: str) -> str:
    return (f"state directory {state_dir} moved to the {layout} layout (coord migrate) "
            "while this waited for its lock; nothing was done: run it again")


def backend_for(state_dir: StrPath, preferred: str) -> str:
    """``preferred`` if it reads the layout ``state_dir`` holds, else that layout's default.

    Used for *preferences* (config file, shim symlink, built-in default): the data decides
    the family, the preference only chooses within it.
    """
    want = BACKEND_LAYOUT.get(preferred)
    if want is None:
        return preferred
    try:
        layout = detect(state_dir, want)
    except StoreError:
        return preferred
    if layout is None or layout == want:
        return preferred
    return DEFAULT_BACKEND[layout]
