"""The message archive: append-only gzip members, read back ascending and once."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import pytest

from coord_hooks.model import Message
from coord_hooks.store import archive
from coord_hooks.store.archive import append_to_archive, archive_path, read_archive


def msgs(*seqs: int) -> list[Message]:
    return [Message(seq=s, sender="a", recipient="*", body=f"body {s} ü\n\t",
                    created_at=float(s)) for s in seqs]


def test_round_trip_ascending_and_deduplicated(tmp_path: Path) -> None:
    assert list(read_archive(tmp_path)) == []
    assert append_to_archive(tmp_path, []) == 0
    assert append_to_archive(tmp_path, msgs(3, 4)) == 2
    assert append_to_archive(tmp_path, msgs(1, 2)) == 2
    assert append_to_archive(tmp_path, msgs(4, 5)) == 2  # a crash re-archived 4
    assert list(read_archive(tmp_path)) == msgs(1, 2, 3, 4, 5)
    with gzip.open(archive_path(tmp_path), "rt", encoding="utf-8") as handle:
        assert len(handle.readlines()) == 6  # plain multi-member gzip, readable by zcat


def test_torn_tail_is_skipped(tmp_path: Path) -> None:
    append_to_archive(tmp_path, msgs(1, 2))
    path = archive_path(tmp_path)
    whole = path.read_bytes()
    append_to_archive(tmp_path, msgs(3))
    torn = path.read_bytes()
    path.write_bytes(torn[: len(whole) + (len(torn) - len(whole)) // 2])
    assert list(read_archive(tmp_path)) == msgs(1, 2)


def test_appends_after_a_torn_member_stay_readable(tmp_path: Path) -> None:
    """A writer killed mid-append leaves a torn member; later archives must not vanish.

    The killed writer never removed its live copies (it archives first, deletes after),
    so the torn member's messages are archived again by the next run.
    """
    append_to_archive(tmp_path, msgs(1, 2))
    path = archive_path(tmp_path)
    good = path.read_bytes()
    append_to_archive(tmp_path, msgs(3, 4))
    path.write_bytes(path.read_bytes()[: len(good) + 12])  # killed mid-write
    append_to_archive(tmp_path, msgs(3, 4, 5))
    append_to_archive(tmp_path, msgs(6))
    assert list(read_archive(tmp_path)) == msgs(1, 2, 3, 4, 5, 6)


def test_garbage_between_members_is_skipped(tmp_path: Path) -> None:
    append_to_archive(tmp_path, msgs(1))
    path = archive_path(tmp_path)
    with open(path, "ab") as handle:
        handle.write(b"\x1f\x8b\x08 not really gzip")
    append_to_archive(tmp_path, msgs(2))
    assert list(read_archive(tmp_path)) == msgs(1, 2)


@pytest.mark.parametrize("parser", ["orjson", "json"])
def test_a_large_archive_reads_the_same_with_either_parser(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parser: str) -> None:
    append_to_archive(tmp_path, msgs(*range(1, 60)))
    path = archive_path(tmp_path)
    path.write_bytes(path.read_bytes() + b"\x1f\x8b\x08 torn")  # a damaged tail
    expected = list(read_archive(tmp_path))  # small: json
    monkeypatch.setattr(archive, "ORJSON_FROM_BYTES", 0)  # "large"
    if parser == "json":
        monkeypatch.setitem(sys.modules, "orjson", None)  # not installed: json after all
    assert archive._line_parser(10).__module__.split(".")[0] == parser
    assert list(read_archive(tmp_path)) == expected == msgs(*range(1, 60))
