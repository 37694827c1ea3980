"""The message archive shared by every backend: ``archive/messages.jsonl.gz``.

Each archiving run appends one gzip member (a valid multi-member gzip file) holding one
JSON line per message, fsynced before the live copies are removed. A crash between the
two leaves a message both live and archived; readers drop such duplicates by ``seq``.
A crash *during* the append leaves a torn member, and later runs append after it: the
reader decodes member by member and skips damaged bytes, so nothing archived later is
lost (the torn member's messages were still live, and are archived again).
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from coord_hooks.errors import StoreError
from coord_hooks.fsio import read_state_file, write_state_file
from coord_hooks.model import Message
from coord_hooks.paths import ensure_subdir

TYPE_CHECKING = False  # typing is not imported at run time: retention runs in hooks
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from coord_hooks.paths import StrPath

ARCHIVE_NAME = "messages.jsonl.gz"


def archive_path(state_dir: StrPath) -> Path:
    return Path(state_dir) / "archive" / ARCHIVE_NAME


def append_to_archive(state_dir: StrPath, messages: Iterable[Message]) -> int:
    """Append messages durably; return how many were written."""
    lines = [json.dumps(m.to_dict(), sort_keys=True, ensure_ascii=False) + "\n"
             for m in messages]
    if not lines:
        return 0
    ensure_subdir(Path(state_dir) / "archive")
    payload = gzip.compress("".join(lines).encode("utf-8"))
    write_state_file(archive_path(state_dir), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                     payload, state_dir, "append to")
    return len(lines)


# An archive this large (compressed; ~40,000 messages) is parsed by orjson when it is
# installed: 0.74x json's time at 100,000 messages, a loss below ~10,000 where its import
# is not repaid (scripts/measure-orjson.py). Only commands read the archive, never hooks.
ORJSON_FROM_BYTES = 2_000_000


def _line_parser(size: int) -> Callable[[str], Any]:
    if size >= ORJSON_FROM_BYTES:
        try:
            import orjson
        except ImportError:
            pass
        else:
            return orjson.loads
    return json.loads


def read_archive(state_dir: StrPath) -> Iterator[Message]:
    """Archived messages ascending by seq, duplicates dropped; damaged bytes skipped."""
    path = archive_path(state_dir)
    try:
        raw = read_state_file(path, state_dir)
    except FileNotFoundError:
        return iter(())
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    loads = _line_parser(len(raw))
    seen: dict[int, Message] = {}
    for content in _members(raw):
        for line in content.decode("utf-8", "replace").split("\n"):
            try:
                message = Message.from_dict(loads(line))
            except (ValueError, TypeError, AttributeError):
                continue  # an empty or torn last line (orjson's errors are ValueErrors)
            seen.setdefault(message.seq, message)
    return iter(sorted(seen.values(), key=lambda m: m.seq))


_MAGIC = b"\x1f\x8b\x08"
_CHUNK = 1 << 16


def _members(raw: bytes) -> Iterator[bytes]:
    """The decompressed content of each gzip member; a damaged one yields what it can.

    Fed in chunks so that a large archive of many members decodes in linear time.
    """
    view = memoryview(raw)
    pos = 0
    while (start := raw.find(_MAGIC, pos)) >= 0:
        decoder = zlib.decompressobj(wbits=31)  # one gzip member, CRC checked
        parts: list[bytes] = []
        cursor = start
        try:
            while not decoder.eof and cursor < len(raw):
                chunk = view[cursor:cursor + _CHUNK]
                parts.append(decoder.decompress(chunk))
                cursor += len(chunk)
        except zlib.error:
            pos = start + 1  # damaged: look for the next member header
            continue
        yield b"".join(parts)
        pos = cursor - len(decoder.unused_data) if decoder.eof else start + 1
