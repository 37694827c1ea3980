"""The message archive shared by every backend: ``archive/messages.jsonl.gz``.

Each archiving run appends one gzip member (a valid multi-member gzip file) holding one
JSON line per message, fsynced before the live copies are removed. A crash between the
two leaves a message both live and archived; readers drop such duplicates by ``seq``.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from coord_hooks.model import Message
from coord_hooks.paths import FILE_MODE, ensure_subdir

ARCHIVE_NAME = "messages.jsonl.gz"


def archive_path(state_dir: Path) -> Path:
    return state_dir / "archive" / ARCHIVE_NAME


def append_to_archive(state_dir: Path, messages: Iterable[Message]) -> int:
    """Append messages durably; return how many were written."""
    lines = [json.dumps(m.to_dict(), sort_keys=True, ensure_ascii=False) + "\n"
             for m in messages]
    if not lines:
        return 0
    ensure_subdir(state_dir / "archive")
    payload = gzip.compress("".join(lines).encode("utf-8"))
    fd = os.open(archive_path(state_dir), os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    try:
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)
    return len(lines)


def read_archive(state_dir: Path) -> Iterator[Message]:
    """Archived messages ascending by seq, duplicates dropped; a torn tail is skipped."""
    path = archive_path(state_dir)
    if not path.exists():
        return iter(())
    seen: dict[int, Message] = {}
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                try:
                    message = Message.from_dict(json.loads(line))
                except (ValueError, TypeError):
                    continue
                seen.setdefault(message.seq, message)
    except (OSError, EOFError):
        # A crash mid-append leaves a truncated last member; what came before is intact.
        pass
    return iter(sorted(seen.values(), key=lambda m: m.seq))
