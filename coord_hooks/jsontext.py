"""JSON for the hook path without the ``json`` package: `loads` and `dumps`.

``import json`` costs a hook more than a third of what it adds to the interpreter's own
start: ``json.decoder`` imports ``re`` (with ``enum``, ``functools``, ``collections``)
for a few patterns, and the whole chain is ~4-7 ms per process here (docs/performance.md,
"Near the floor"). Hooks read and write small documents (a payload of a few hundred
bytes, a session or lock record, one log line), which a small recursive-descent parser
and encoder handle in microseconds.

Same results as the standard library: `loads` accepts exactly what ``json.loads``
accepts (``NaN``/``Infinity`` included, duplicate keys: the last wins, lone surrogates
kept) and returns equal values; `dumps` writes byte for byte what ``json.dumps`` writes
with the same options (``ensure_ascii``, ``separators``, ``indent``, ``sort_keys``,
``default``). tests/test_jsontext.py checks both against the json package with
hypothesis. A large text or one with many escapes (a Write of a large file) goes to
``json.loads``: there its C scanner wins over a Python loop, and the import is worth
paying.

Standard library only (hook hot path), and nothing imported at module level.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: it is on the hot path
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# Past this many backslashes, or characters, a text is parsed by json's C scanner (each
# escape or token costs this parser a Python loop step, ~1 µs; the json import ~5 ms).
MANY_ESCAPES = 2000
MANY_CHARS = 64 * 1024

_WHITESPACE = " \t\n\r"
_NUMBER_CHARS = frozenset("+-0123456789.eE")
_HEX = frozenset("0123456789abcdefABCDEF")
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n",
                   "r": "\r", "t": "\t"}
_CONSTANTS: dict[str, Any] = {"null": None, "true": True, "false": False,
                              "NaN": float("nan"), "Infinity": float("inf"),
                              "-Infinity": float("-inf")}
_NO_CONTROL = dict.fromkeys(range(0x20))  # str.translate table deleting U+0000-U+001F


class JSONError(ValueError):
    """Not valid JSON (a ValueError, as ``json.JSONDecodeError`` is)."""

    def __init__(self, message: str, text: str, pos: int) -> None:
        line = text.count("\n", 0, pos) + 1
        column = pos - text.rfind("\n", 0, pos)
        super().__init__(f"{message}: line {line} column {column} (char {pos})")
        self.pos = pos


# --- reading -------------------------------------------------------------------------------
def loads(data: str | bytes | bytearray) -> Any:
    """Parse one JSON document, as ``json.loads`` would.

    Bytes that are not plain UTF-8 (a BOM, UTF-16 or UTF-32, encoded lone surrogates)
    and large texts go to ``json.loads``, whose encoding detection and C scanner they
    need. A document nested too deeply for either parser's recursion is a `JSONError`
    (``json`` raises RecursionError there): a peer's record can be invalid, never a crash.
    """
    if isinstance(data, (bytes, bytearray)):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return _by_json(data)
        if text.startswith("\ufeff") or "\x00" in text[:4]:  # a BOM, or UTF-16/32
            return _by_json(data)
    else:
        text = data
    if len(text) > MANY_CHARS or text.count("\\") > MANY_ESCAPES:
        return _by_json(text)
    try:
        value, end = _value(text, _skip(text, 0))
    except RecursionError:
        raise JSONError("Nested too deeply", text, 0) from None
    end = _skip(text, end)
    if end != len(text):
        raise JSONError("Extra data", text, end)
    return value


def _by_json(data: str | bytes | bytearray) -> Any:
    import json

    try:
        return json.loads(data)
    except RecursionError:
        text = data if isinstance(data, str) else ""
        raise JSONError("Nested too deeply", text, 0) from None


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def _value(text: str, pos: int) -> tuple[Any, int]:
    char = text[pos : pos + 1]
    if char == '"':
        return _string(text, pos + 1)
    if char == "{":
        return _object(text, pos + 1)
    if char == "[":
        return _array(text, pos + 1)
    if char and (char in "-0123456789"):
        if text.startswith("-Infinity", pos):
            return _CONSTANTS["-Infinity"], pos + 9
        return _number(text, pos)
    for word in ("null", "true", "false", "NaN", "Infinity"):
        if text.startswith(word, pos):
            return _CONSTANTS[word], pos + len(word)
    raise JSONError("Expecting value", text, pos)


def _number(text: str, start: int) -> tuple[int | float, int]:
    end = start
    while end < len(text) and text[end] in _NUMBER_CHARS:
        end += 1
    token = text[start:end]
    body = token[1:] if token.startswith("-") else token
    mantissa, has_exp, exponent = body.lower().partition("e")
    whole, has_dot, fraction = mantissa.partition(".")
    digits = exponent[1:] if exponent[:1] in ("+", "-") else exponent
    valid = (whole.isdigit() and (whole == "0" or not whole.startswith("0"))
             and (not has_dot or fraction.isdigit()) and (not has_exp or digits.isdigit()))
    if not valid:
        raise JSONError("Expecting value" if not whole else "Invalid number", text, start)
    return (float(token) if has_dot or has_exp else int(token)), end


def _string(text: str, pos: int) -> tuple[str, int]:
    """The string starting after its opening quote, and the position after its end."""
    chunks: list[str] = []
    end = text.find('"', pos)
    while True:
        if end < 0:
            raise JSONError("Unterminated string starting at", text, pos - 1)
        escape = text.find("\\", pos, end)
        chunk = text[pos : end if escape < 0 else escape]
        if not chunk.isprintable() and len(chunk.translate(_NO_CONTROL)) != len(chunk):
            bad = pos + next(i for i, ch in enumerate(chunk) if ch < " ")
            raise JSONError("Invalid control character at", text, bad)
        chunks.append(chunk)
        if escape < 0:
            return "".join(chunks), end + 1
        kind = text[escape + 1 : escape + 2]
        if kind == "u":
            code = _hex4(text, escape + 2)
            pos = escape + 6
            if 0xD800 <= code <= 0xDBFF and text.startswith("\\u", pos):
                low = _hex4(text, pos + 2)
                if 0xDC00 <= low <= 0xDFFF:  # a surrogate pair is one character
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    pos += 6
            chunks.append(chr(code))
        elif kind in _SIMPLE_ESCAPES:
            chunks.append(_SIMPLE_ESCAPES[kind])
            pos = escape + 2
        else:
            raise JSONError("Invalid \\escape", text, escape)
        if pos > end:  # the quote found was escaped: find the next one
            end = text.find('"', pos)


def _hex4(text: str, pos: int) -> int:
    digits = text[pos : pos + 4]
    if len(digits) != 4 or not _HEX.issuperset(digits):
        raise JSONError("Invalid \\uXXXX escape", text, pos - 1)
    return int(digits, 16)


def _object(text: str, pos: int) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    pos = _skip(text, pos)
    if text.startswith("}", pos):
        return result, pos + 1
    while True:
        if not text.startswith('"', pos):
            raise JSONError("Expecting property name enclosed in double quotes", text, pos)
        key, pos = _string(text, pos + 1)
        pos = _skip(text, pos)
        if not text.startswith(":", pos):
            raise JSONError("Expecting ':' delimiter", text, pos)
        result[key], pos = _value(text, _skip(text, pos + 1))
        pos = _skip(text, pos)
        if text.startswith("}", pos):
            return result, pos + 1
        if not text.startswith(",", pos):
            raise JSONError("Expecting ',' delimiter", text, pos)
        pos = _skip(text, pos + 1)


def _array(text: str, pos: int) -> tuple[list[Any], int]:
    result: list[Any] = []
    pos = _skip(text, pos)
    if text.startswith("]", pos):
        return result, pos + 1
    while True:
        value, pos = _value(text, pos)
        result.append(value)
        pos = _skip(text, pos)
        if text.startswith("]", pos):
            return result, pos + 1
        if not text.startswith(",", pos):
            raise JSONError("Expecting ',' delimiter", text, pos)
        pos = _skip(text, pos + 1)


# --- writing -------------------------------------------------------------------------------
_ESCAPES = {ord(ch): escaped for ch, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\b", "\\b"),
                                                  ("\f", "\\f"), ("\n", "\\n"), ("\r", "\\r"),
                                                  ("\t", "\\t"))}
_ESCAPES.update({code: f"\\u{code:04x}" for code in range(0x20) if code not in _ESCAPES})
_ASCII_ESCAPES = {**_ESCAPES, 0x7F: "\\u007f"}


def _quote(text: str, ensure_ascii: bool) -> str:
    if not ensure_ascii:
        return '"' + text.translate(_ESCAPES) + '"'
    text = text.translate(_ASCII_ESCAPES)
    if not text.isascii():
        text = "".join(ch if ch.isascii() else _unicode_escape(ord(ch)) for ch in text)
    return '"' + text + '"'


def _unicode_escape(code: int) -> str:
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def dumps(obj: Any, *, ensure_ascii: bool = True, separators: tuple[str, str] | None = None,
          indent: int | None = None, sort_keys: bool = False,
          default: Callable[[Any], Any] | None = None) -> str:
    """``json.dumps(obj, ...)`` for these options (no circular-reference check)."""
    if separators is None:
        separators = (", ", ": ") if indent is None else (",", ": ")
    out: list[str] = []
    _Encoder(ensure_ascii, separators, indent, sort_keys, default, out).encode(obj, 0)
    return "".join(out)


class _Encoder:
    def __init__(self, ensure_ascii: bool, separators: tuple[str, str], indent: int | None,
                 sort_keys: bool, default: Callable[[Any], Any] | None,
                 out: list[str]) -> None:
        self.ensure_ascii = ensure_ascii
        self.item_sep, self.key_sep = separators
        self.indent, self.sort_keys, self.default, self.out = indent, sort_keys, default, out

    def encode(self, obj: Any, level: int) -> None:
        out = self.out
        if isinstance(obj, str):
            out.append(_quote(obj, self.ensure_ascii))
        elif obj is None:
            out.append("null")
        elif obj is True:
            out.append("true")
        elif obj is False:
            out.append("false")
        elif isinstance(obj, int):
            out.append(int.__repr__(obj))
        elif isinstance(obj, float):
            out.append(_float(obj))
        elif isinstance(obj, (list, tuple)):
            self.sequence(obj, level)
        elif isinstance(obj, dict):
            self.mapping(obj, level)
        elif self.default is not None:
            self.encode(self.default(obj), level)
        else:
            raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    def _open(self, bracket: str, level: int) -> tuple[str, str]:
        """Write ``bracket``; return (separator between items, text before the closer)."""
        self.out.append(bracket)
        if self.indent is None:
            return self.item_sep, ""
        inner = "\n" + " " * (self.indent * (level + 1))
        self.out.append(inner)
        return self.item_sep + inner, "\n" + " " * (self.indent * level)

    def sequence(self, items: list[Any] | tuple[Any, ...], level: int) -> None:
        if not items:
            self.out.append("[]")
            return
        separator, closing = self._open("[", level)
        for index, item in enumerate(items):
            if index:
                self.out.append(separator)
            self.encode(item, level + 1)
        self.out.append(closing + "]")

    def mapping(self, mapping: dict[Any, Any], level: int) -> None:
        if not mapping:
            self.out.append("{}")
            return
        separator, closing = self._open("{", level)
        items = sorted(mapping.items()) if self.sort_keys else mapping.items()
        for index, (key, value) in enumerate(items):
            if index:
                self.out.append(separator)
            self.out.append(_quote(_key(key), self.ensure_ascii) + self.key_sep)
            self.encode(value, level + 1)
        self.out.append(closing + "}")


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return _float(key)
    if key is True or key is False or key is None:
        return {True: "true", False: "false", None: "null"}[key]
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
