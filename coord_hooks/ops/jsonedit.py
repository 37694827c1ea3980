"""Rewrite a JSON document that a person owns, changing only the bytes of what changed.

`coord install` adds entries to a user's Claude Code settings file and `coord uninstall`
takes them out again. Re-serialising the whole file would reformat it (indentation, key
spacing, escapes) and show up in ``git status`` for a committed ``.claude/settings.json``.
`preserving` parses the old text with the position of every value, then writes the new
document by copying the old text of every value that is unchanged, and of every key and
separator it keeps; only added or changed values are freshly serialised, indented like
their neighbours. The result is parsed again and must equal the new document, else the
whole document is serialised afresh (never a wrong file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

_DECODER = json.JSONDecoder()
_WS = " \t\n\r"


@dataclass
class Node:
    """A value of the old text: its span, its value, and (containers) its children."""

    start: int
    end: int
    value: Any
    # objects: (key, start of the key's text, value node); arrays: (None, start, node)
    children: list[tuple[str | None, int, Node]] = field(default_factory=list)

    def inner(self, text: str) -> tuple[str, str, str] | None:
        """(text before the first child, between two children, after the last) if known."""
        if not self.children:
            return None
        first, last = self.children[0], self.children[-1]
        lead = text[self.start + 1:first[1]]
        trail = text[last[2].end:self.end - 1]
        sep = (text[self.children[0][2].end:self.children[1][1]] if len(self.children) > 1
               else "," + lead)
        return lead, sep, trail


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def parse(text: str, i: int = 0) -> Node:
    """The value starting at (or after whitespace from) ``i``, with positions."""
    i = _skip(text, i)
    if i >= len(text):
        raise ValueError("unexpected end of JSON")
    opener = text[i]
    if opener not in "{[":
        value, end = _DECODER.raw_decode(text, i)
        return Node(i, end, value)
    closer = "}" if opener == "{" else "]"
    node = Node(i, i, {} if opener == "{" else [])
    j = _skip(text, i + 1)
    if j < len(text) and text[j] == closer:
        node.end = j + 1
        return node
    while True:
        start = _skip(text, j)
        key = None
        if opener == "{":
            key, after = _DECODER.raw_decode(text, start)
            j = _skip(text, after)
            if text[j:j + 1] != ":":
                raise ValueError(f"expected ':' at {j}")
            j += 1
        child = parse(text, j)
        node.children.append((key, start, child))
        if key is None:
            node.value.append(child.value)
        else:
            node.value[key] = child.value
        j = _skip(text, child.end)
        if text[j:j + 1] == ",":
            j += 1
            continue
        if text[j:j + 1] != closer:
            raise ValueError(f"expected ',' or {closer!r} at {j}")
        node.end = j + 1
        return node


def same(a: Any, b: Any) -> bool:
    """Equal as JSON: ``1`` is not ``true``, ``1`` is not ``1.0``, key order counts."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


class _Writer:
    def __init__(self, text: str, root: Node) -> None:
        self.text = text
        lead = root.inner(text)
        self.compact = lead is not None and "\n" not in lead[0]
        self.unit = lead[0].rsplit("\n", 1)[-1] if lead and not self.compact else "  "

    def fresh(self, value: Any, depth: int) -> str:
        if self.compact:
            return json.dumps(value, ensure_ascii=False)
        dumped = json.dumps(value, ensure_ascii=False, indent=self.unit)
        return dumped.replace("\n", "\n" + self.unit * depth)

    def render(self, node: Node, value: Any, depth: int) -> str:
        if same(node.value, value):
            return self.text[node.start:node.end]
        if isinstance(value, dict) and isinstance(node.value, dict):
            return self._container(node, "{}", self._members(node, value, depth), depth)
        if isinstance(value, list) and isinstance(node.value, list):
            return self._container(node, "[]", self._elements(node, value, depth), depth)
        return self.fresh(value, depth)

    def _container(self, node: Node, brackets: str, parts: list[tuple[int | None, str]],
                   depth: int) -> str:
        """Join the parts; two that were neighbours keep the very text between them."""
        if not parts:
            return brackets
        layout = node.inner(self.text)
        if layout is None:
            pad = "" if self.compact else "\n" + self.unit * (depth + 1)
            close = "" if self.compact else "\n" + self.unit * depth
            layout = (pad, "," + (pad or " "), close)
        lead, sep, trail = layout
        out = [brackets[0], lead, parts[0][1]]
        for (before, _), (index, text) in pairwise(parts):
            if before is not None and index == before + 1:
                out.append(self.text[node.children[before][2].end:node.children[index][1]])
            else:
                out.append(sep)
            out.append(text)
        out += [trail, brackets[1]]
        return "".join(out)

    def _members(self, node: Node, value: dict[str, Any], depth: int
                 ) -> list[tuple[int | None, str]]:
        old = {key: n for n, (key, _, _) in enumerate(node.children)}
        parts: list[tuple[int | None, str]] = []
        for key, item in value.items():
            if key in old:
                n = old[key]
                _, start, child = node.children[n]
                parts.append((n, self.text[start:child.start]
                              + self.render(child, item, depth + 1)))
            else:
                parts.append((None, json.dumps(key, ensure_ascii=False) + ": "
                              + self.fresh(item, depth + 1)))
        return parts

    def _elements(self, node: Node, value: list[Any], depth: int
                  ) -> list[tuple[int | None, str]]:
        olds = [child for _, _, child in node.children]
        parts: list[tuple[int | None, str]] = []
        j = 0
        for item in value:
            match = next((k for k in range(j, len(olds)) if same(olds[k].value, item)), None)
            if match is not None:  # kept (those skipped over were removed)
                parts.append((match, self.text[olds[match].start:olds[match].end]))
                j = match + 1
            elif j < len(olds) and type(olds[j].value) is type(item):  # changed in place
                parts.append((j, self.render(olds[j], item, depth + 1)))
                j += 1
            else:
                parts.append((None, self.fresh(item, depth + 1)))
        return parts


def preserving(old_text: str, new_value: Any) -> str:
    """``new_value`` as JSON text, byte for byte like ``old_text`` where it did not change.

    Ends with a newline when the old text did (or was empty).
    """
    try:
        root = parse(old_text)
        if old_text[_skip(old_text, root.end):]:
            raise ValueError("extra data")
        writer = _Writer(old_text, root)
        text = (old_text[:root.start] + writer.render(root, new_value, 0)
                + old_text[root.end:])
        if same(json.loads(text), new_value):
            return text
    except (ValueError, IndexError, RecursionError):
        pass
    return json.dumps(new_value, indent=2, ensure_ascii=False) + "\n"
