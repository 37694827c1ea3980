"""Words after parsing: brace expansion, globs, options (``-tDIR``, ``--x=y``), paths."""

from __future__ import annotations

import os

from coord_hooks.hook.bashwrites.syntax import (
    LIT,
    Node,
    Word,
    drop_chars,
    literal_prefix,
    static_text,
)

TYPE_CHECKING = False  # typing is not imported at run time: this is on the hook path
if TYPE_CHECKING:
    from coord_hooks.hook.bashwrites.syntax import Seg

MAX_BRACE_WORDS = 256  # a brace expansion producing more words is not expanded
_SHOWN = 80  # characters of a word quoted in an Unresolved detail


def is_glob(text: str) -> bool:
    if "*" in text or "?" in text:
        return True
    at = text.find("[")
    return at >= 0 and text.find("]", at + 2) > at


def shown(text: str) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


def expand_braces(word: Word) -> list[Word] | None:
    """Brace expansion (``f{,.bak}``, ``{a..c}``); None when it would be too large."""
    if not any(kind == LIT and "{" in text and "}" in text for kind, text, _n in word.segs):
        return [word]
    items: list[tuple[int, str, Node | None]] = []  # active chars as (LIT, ch)
    for kind, text, node in word.segs:
        if kind == LIT:
            items.extend((LIT, ch, None) for ch in text)
        else:
            items.append((kind, text, node))
    results = _brace_items(items, 0)
    if results is None:
        return None
    words = []
    for res in results:
        segs: list[Seg] = []
        for kind, text, node in res:
            if kind == LIT and segs and segs[-1][0] == LIT:
                segs[-1] = (LIT, segs[-1][1] + text, None)
            else:
                segs.append((kind, text, node))
        words.append(Word(segs, word.raw))
    return words


def _brace_items(items: list[Seg], depth: int) -> list[list[Seg]] | None:
    if depth > 8:
        return None
    for start, (kind, text, _n) in enumerate(items):
        if kind != LIT or text != "{":
            continue
        level, commas, end = 0, [], -1
        for j in range(start, len(items)):
            k, t, _ = items[j]
            if k != LIT:
                continue
            if t == "{":
                level += 1
            elif t == "}":
                level -= 1
                if level == 0:
                    end = j
                    break
            elif t == "," and level == 1:
                commas.append(j)
        if end < 0:
            return [items]
        head, tail = items[:start], items[end + 1:]
        if commas:
            bounds = [start, *commas, end]
            alternatives = [items[bounds[k] + 1:bounds[k + 1]] for k in range(len(commas) + 1)]
        else:
            inner = "".join(t for k, t, _ in items[start + 1:end] if k == LIT)
            if end - start - 1 != len(inner):
                continue
            try:
                seq = _brace_sequence(inner)
            except OverflowError:
                return None
            if seq is None:
                continue
            alternatives = [[(LIT, x, None)] for x in seq]
        out: list[list[Seg]] = []
        for alt in alternatives:
            expanded = _brace_items([*head, *alt, *tail], depth + 1)
            if expanded is None:
                return None
            out.extend(expanded)
            if len(out) > MAX_BRACE_WORDS:
                return None
        return out
    return [items]


def _brace_sequence(inner: str) -> list[str] | None:
    """``1..5``, ``a..e``, ``01..10..2``; None when not a sequence, OverflowError when
    too long to expand."""
    parts = inner.split("..")
    if len(parts) not in (2, 3):
        return None
    step_text = parts[2] if len(parts) == 3 else "1"
    try:
        step = abs(int(step_text)) or 1
    except ValueError:
        return None
    a, b = parts[0], parts[1]
    try:
        lo, hi = int(a), int(b)
        width = max(len(a), len(b)) if (a.lstrip("-").startswith("0") and len(a) > 1) or \
            (b.lstrip("-").startswith("0") and len(b) > 1) else 0
        if abs(hi - lo) // step > MAX_BRACE_WORDS:
            raise OverflowError("brace sequence too long")
        rng = range(lo, hi + 1, step) if lo <= hi else range(lo, hi - 1, -step)
        return [str(x).zfill(width) for x in rng]
    except ValueError:
        pass
    if len(a) == 1 and len(b) == 1 and a.isascii() and b.isascii() and a.isalpha() \
            and b.isalpha():
        lo, hi = ord(a), ord(b)
        rng = range(lo, hi + 1, step) if lo <= hi else range(lo, hi - 1, -step)
        return [chr(x) for x in rng]
    return None


def normalize(path: str) -> str:
    path = os.path.normpath(path)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    return path


def command_text(argv: list[Word]) -> str:
    text = " ".join(w.raw for w in argv[:4])
    return text + (" ..." if len(argv) > 4 else "")


def only_version(args: list[Word]) -> bool:
    return bool(args) and all(static_text(w) in ("--version", "-V", "--help", "-h", "version")
                              for w in args)


def getopt(args: list[Word], short_val: str = "", long_val: frozenset[str] = frozenset(),
            permute: bool = True) -> tuple[list[tuple[str, Word | None]], list[Word]]:
    """GNU-style options: ``(options as (name, value word), operands)``.

    ``short_val``: short options taking a value (``-tDIR`` or ``-t DIR``), ``long_val``:
    long ones (``--name=V`` always works). Without ``permute`` the first operand ends
    the options (a wrapper's command).
    """
    opts: list[tuple[str, Word | None]] = []
    operands: list[Word] = []
    i = 0
    done = False
    while i < len(args):
        word = args[i]
        i += 1
        pre = literal_prefix(word)
        if done or not pre.startswith("-") or word.raw == "-":
            operands.append(word)
            if not permute:
                done = True
            continue
        if pre == "--" and static_text(word) == "--":
            done = True
            continue
        if pre.startswith("--"):
            name, eq, _value = pre.partition("=")
            if eq:
                opts.append((name, drop_chars(word, len(name) + 1)))
            elif name in long_val and static_text(word) == name:
                opts.append((name, args[i] if i < len(args) else None))
                i += 1
            else:
                opts.append((name, None))
            continue
        k = 1
        while k < len(pre):
            ch = pre[k]
            if ch in short_val:
                rest = drop_chars(word, k + 1)
                if rest.segs and any(t for _kind, t, _n in rest.segs):
                    opts.append(("-" + ch, rest))
                else:
                    opts.append(("-" + ch, args[i] if i < len(args) else None))
                    i += 1
                break
            opts.append(("-" + ch, None))
            k += 1
    return opts, operands


def has_option(opts: list[tuple[str, Word | None]], *names: str) -> bool:
    return any(name in names for name, _v in opts)


def option_values(opts: list[tuple[str, Word | None]], *names: str) -> list[Word]:
    return [value for name, value in opts if name in names and value is not None]
