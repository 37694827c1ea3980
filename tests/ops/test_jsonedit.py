"""`ops.jsonedit.preserving`: a person's JSON file changes only where its value changed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coord_hooks.ops.jsonedit import parse, preserving, same

USER_TEXT = """{
    "model": "opus",
    "env": {"FOO": "1",   "CAF\\u00c9": "\\u00e9"},
    "hooks": {
        "Stop": [
            { "hooks": [ {"type": "command", "command": "notify-send done"} ] }
        ]
    },
    "permissions": {"allow": ["Bash(npm test:*)"]}
}
"""


def _with(value: Any, event: str, group: Any) -> Any:
    new = json.loads(json.dumps(value))
    new.setdefault("hooks", {}).setdefault(event, []).append(group)
    return new


OURS = {"hooks": [{"type": "command", "command": "/x/hooks.sh stop # mark", "timeout": 5}]}


def test_an_added_entry_changes_nothing_else() -> None:
    old = json.loads(USER_TEXT)
    added = preserving(USER_TEXT, _with(old, "Stop", OURS))
    assert json.loads(added) == _with(old, "Stop", OURS)
    # every line of the user's file is still there, as it was (a comma may follow it now)
    lines = added.splitlines()
    for line in USER_TEXT.splitlines():
        assert line in lines or line + "," in lines or line.strip() in ("]", "}"), line
    assert '"CAF\\u00c9": "\\u00e9"' in added and '{"FOO": "1",   ' in added
    # the new group is indented like its neighbour
    assert '\n            {\n                "hooks": [' in added
    # and taking it out again gives back the very bytes
    assert preserving(added, old) == USER_TEXT


@pytest.mark.parametrize("text", [
    '{"a": 1, "hooks": {"Stop": []}}',  # compact, no newline at the end
    '{\n\t"a": [1, 2],\n\t"b": {}\n}\n',  # tabs
    '{}\n', '  {"a": {"b": {"c": [true, null, 1.5]}}}  \n',
])
def test_round_trips_keep_every_byte(text: str) -> None:
    old = json.loads(text)
    new = _with(old, "PreToolUse", OURS)
    changed = preserving(text, new)
    assert json.loads(changed) == new
    assert preserving(changed, old) == text


def test_a_new_key_goes_last_and_a_removed_one_leaves_no_comma() -> None:
    text = '{\n  "a": 1,\n  "b": 2\n}\n'
    assert (preserving(text, {"a": 1, "b": 2, "c": [3]})
            == '{\n  "a": 1,\n  "b": 2,\n  "c": [\n    3\n  ]\n}\n')
    assert preserving(text, {"b": 2}) == '{\n  "b": 2\n}\n'
    assert preserving(text, {"a": 1}) == '{\n  "a": 1\n}\n'


def test_types_count_when_comparing() -> None:
    assert not same(1, True) and not same(1, 1.0)
    assert not same({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert preserving('{"a": 1}', {"a": True}) == '{"a": true}'


def test_unparsable_text_is_written_afresh() -> None:
    assert preserving("not json", {"a": 1}) == '{\n  "a": 1\n}\n'
    assert preserving('{"a": 1} trailing', {"a": 1}) == '{\n  "a": 1\n}\n'


def test_parse_records_positions() -> None:
    text = '{"k": [1, {"x": "y"}]}'
    node = parse(text)
    key, start, child = node.children[0]
    assert key == "k" and text[start:child.start] == '"k": '
    assert text[child.start:child.end] == '[1, {"x": "y"}]'


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                  max_size=3),
    max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(old=st.dictionaries(st.text(max_size=3), json_values, max_size=4),
       new=st.dictionaries(st.text(max_size=3), json_values, max_size=4),
       indent=st.sampled_from([None, 1, 2, 4, "\t"]))
def test_the_result_is_always_the_new_document(old: dict[str, Any], new: dict[str, Any],
                                               indent: int | str | None) -> None:
    text = json.dumps(old, indent=indent)
    result = preserving(text, new)
    assert same(json.loads(result), new)
    assert preserving(text, old) == text  # nothing changed: not a byte either
