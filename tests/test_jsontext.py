"""`coord_hooks.jsontext` reads and writes exactly what the json package does."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coord_hooks import jsontext

scalars = (st.none() | st.booleans() | st.integers() | st.text()
           | st.floats(allow_nan=True, allow_infinity=True))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                      | st.dictionaries(st.text(), inner, max_size=5), max_leaves=30)
# The option sets the hook path writes with (fsio.dump_json, the journal, emit, logs).
OPTIONS: list[dict[str, Any]] = [
    {},
    {"sort_keys": True, "indent": 1, "ensure_ascii": False},
    {"sort_keys": True, "ensure_ascii": False},
    {"ensure_ascii": True, "separators": (",", ":")},
    {"default": str},
    {"indent": 3},
]


def same(a: Any, b: Any) -> bool:
    """Equality that counts NaN equal to NaN (json round-trips it)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=400)
@given(values, st.sampled_from(OPTIONS))
def test_dumps_writes_what_json_writes(value: Any, options: dict[str, Any]) -> None:
    assert jsontext.dumps(value, **options) == json.dumps(value, **options)


@settings(max_examples=400)
@given(values, st.sampled_from(OPTIONS))
def test_loads_reads_what_json_reads(value: Any, options: dict[str, Any]) -> None:
    text = json.dumps(value, **options)
    assert same(jsontext.loads(text), json.loads(text))
    try:
        raw = text.encode()
    except UnicodeEncodeError:  # a lone surrogate written with ensure_ascii=False
        return
    assert same(jsontext.loads(raw), json.loads(raw))


def outcome(parse: Any, text: str) -> tuple[str, Any]:
    try:
        return "ok", parse(text)
    except RecursionError:
        return "deep", None
    except ValueError:
        return "error", None


json_ish = st.text(alphabet='{}[]",:\\ \t\n0123456789.eE+-truefalsnulNaInfiy\x00\x1fu\u00e9\ud800'
                   'abcdABCD', max_size=40)


@settings(max_examples=2000)
@given(json_ish)
def test_any_text_is_accepted_or_refused_as_json_does(text: str) -> None:
    mine, theirs = outcome(jsontext.loads, text), outcome(json.loads, text)
    assert mine[0] == theirs[0], (text, mine, theirs)
    assert same(mine[1], theirs[1]), text


@given(values, st.integers(min_value=0, max_value=200))
def test_a_cut_document_is_refused_or_read_as_json_does(value: Any, cut: int) -> None:
    text = json.dumps(value, indent=1)[:cut]
    mine, theirs = outcome(jsontext.loads, text), outcome(json.loads, text)
    assert mine[0] == theirs[0] and same(mine[1], theirs[1]), text


@pytest.mark.parametrize("text", [
    "01", "1.", ".5", "-", "+1", "1e", "1e+", "--1", "[1,]", "{,}", '{"a" 1}', '{"a":1,}',
    '"\\x"', '"\\u12"', '"\\u12G4"', '"a\nb"', '"\x1f"', "nul", "[", "{", '"', "\ufeff{}",
    "[1 2]", '{"a":1 "b":2}', "1 2", "", "   ", "tru", "-Inf", "NaNa", "[-]",
])
def test_invalid_documents_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        jsontext.loads(text)


@pytest.mark.parametrize("text", [
    '"\\ud83d\\ude00"', '"\\ud83d"', '"\\ude00\\ud83d"', '"\\ud83d\\u0041"', '"\\/\\b\\f"',
    "-0", "-0.0", "1E400", "-1e-400", "123456789012345678901234567890", "[NaN,Infinity,"
    "-Infinity]", '{"a":1,"a":2}', ' \t\n\r[ ] ', '"\u2028\x7f"', "0e0", "1.5E+3",
])
def test_edge_cases_read_as_json_reads_them(text: str) -> None:
    assert same(jsontext.loads(text), json.loads(text))


def test_many_escapes_go_to_the_json_package() -> None:
    text = json.dumps({"content": "line\n" * (jsontext.MANY_ESCAPES + 1)})
    assert jsontext.loads(text) == json.loads(text)


@pytest.mark.parametrize("text", ["[" * 100_000, "[" * 5000 + "]" * 5000,
                                  '{"a":' * 3000 + "1" + "}" * 3000])
def test_deep_nesting_is_invalid_json_never_a_crash(text: str) -> None:
    """json raises RecursionError past its limit; a peer's record nested that deep must be
    a ValueError (invalid: quarantined), never an exception no reader expects."""
    for data in (text, text.encode(), "x" * jsontext.MANY_CHARS + text):
        with pytest.raises(ValueError):
            jsontext.loads(data)


@pytest.mark.parametrize("data", [
    b'\xef\xbb\xbf{"a": 1}', '{"a": 1}'.encode("utf-16"), '{"a": 1}'.encode("utf-16-le"),
    '{"a": 1}'.encode("utf-32"), '{"a": 1}'.encode("utf-32-be"), b'"\xed\xa0\x80"',
    b'{"task": "caf\xc3\xa9"}', b"\x00{}", b"\xff{}",
])
def test_bytes_are_read_as_json_reads_them(data: bytes) -> None:
    """Encoding detection as json.loads does it: a BOM, UTF-16/32, encoded surrogates."""
    try:
        expected: Any = json.loads(data)
    except ValueError:
        with pytest.raises(ValueError):
            jsontext.loads(data)
        return
    assert same(jsontext.loads(data), expected)


def test_a_large_document_goes_to_the_json_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many small tokens (a tool's large response) cost this parser a loop step each:
    a large text is parsed by json's C scanner instead."""
    text = json.dumps(list(range(jsontext.MANY_CHARS)))
    monkeypatch.setattr(jsontext, "_value", None)  # the pure-Python parser is not used
    assert jsontext.loads(text) == json.loads(text)


def test_unserializable_values_raise_type_error_as_json_does() -> None:
    for value in (object(), {(1, 2): 3}, {1, 2}):
        with pytest.raises(TypeError):
            json.dumps(value)
        with pytest.raises(TypeError):
            jsontext.dumps(value)
    assert jsontext.dumps({"x": object()}, default=lambda o: "obj") == '{"x": "obj"}'
