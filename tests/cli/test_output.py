"""`cli.output`: what every command prints, on both paths (Rich or plain tables, JSON)."""

from __future__ import annotations

import json
import sys

import pytest

from coord_hooks.cli import output


def test_plain_tables_align_and_never_pad_the_last_column() -> None:
    text = output.plain_table("Locks", ["KEY", "HOLDER", "REASON"],
                              [["a.py", "aaaa1111 (alice)", "x"], ["b/c.py", "bob", ""]])
    assert text.splitlines() == ["Locks",
                                 "KEY     HOLDER            REASON",
                                 "a.py    aaaa1111 (alice)  x",
                                 "b/c.py  bob"]


def test_a_long_cell_is_shown_whole_and_stops_aligning_its_column() -> None:
    long = "x" * (output.PLAIN_COLUMN_WIDTH + 10)
    lines = output.plain_table(None, ["A", "B"], [[long, "1"], ["s", "2"]]).splitlines()
    assert lines[1] == f"{long}  1"
    assert lines[2] == "s" + " " * (output.PLAIN_COLUMN_WIDTH - 1) + "  2"


def test_control_characters_are_shown_not_sent(capsys: pytest.CaptureFixture[str]) -> None:
    assert output.clean_cell("red \x1b[31mtext\x1b[0m\u202e") == \
        "red \\x1b[31mtext\\x1b[0m\\u202e"
    assert output.clean_cell("two\nlines", keep_newlines=True) == "two\nlines"
    output.say("peer says \x9b2J")
    assert capsys.readouterr().out == "peer says \\x9b2J\n"


def test_json_escapes_what_json_leaves_raw(capsys: pytest.CaptureFixture[str]) -> None:
    output.emit_json({"body": "csi \x9b2J del \x7f bidi \u202e ok é 😀"})
    out = capsys.readouterr().out
    assert "\x9b" not in out and "\u202e" not in out and "é 😀" in out
    assert json.loads(out) == {"body": "csi \x9b2J del \x7f bidi \u202e ok é 😀"}


def _document(n: int) -> dict[str, object]:
    return {"session_id": None, "messages": [
        {"seq": i, "body": f"message {i} ü \x1b", "created_at": 1.7e9 + i / 7,
         "urgent": i % 2 == 0, "name": None} for i in range(n)]}


@pytest.mark.parametrize("blocked", [False, True])
def test_a_large_document_is_the_same_text_from_orjson_or_json(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        blocked: bool) -> None:
    doc = _document(output.ORJSON_FROM_RECORDS)
    output.emit_json(doc)  # small: json
    expected = capsys.readouterr().out
    if blocked:
        monkeypatch.setitem(sys.modules, "orjson", None)
    output.emit_json(doc, records=len(doc["messages"]))  # type: ignore[arg-type]
    assert capsys.readouterr().out == expected


def test_a_value_orjson_refuses_falls_back_to_json(capsys: pytest.CaptureFixture[str]) -> None:
    output.emit_json({"body": "lone \udc80 surrogate"}, records=10_000)
    assert json.loads(capsys.readouterr().out) == {"body": "lone \udc80 surrogate"}
