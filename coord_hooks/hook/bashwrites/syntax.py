"""The syntax tree of a command (`Word`, `Redir`, `Node`) and the parser that builds it."""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing is not imported at run time: this is on the hook path
if TYPE_CHECKING:
    from collections.abc import Callable

    Seg = tuple[int, str, "Node | None"]

MAX_STEPS = 20_000  # words, segments, commands: bounds the time on hostile input
MAX_DEPTH = 40  # nesting of subshells, groups, substitutions

# Word segment kinds.
LIT, QUOTED, VAR, CMDSUB, ARITH, PROCSUB, DYN = range(7)

META = frozenset(" \t\n;&|()<>")
_PLAIN = re.compile(r"[^ \t\n;&|()<>'\"\\$`]+")
_DQ_PLAIN = re.compile(r"[^\"\\$`]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=")
_FD_VAR = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_BALANCE = re.compile(r"[(){}'\"\\]")


class Word:
    """A shell word as segments ``(kind, text, node)``: unquoted literal text (where
    globs, ``~`` and braces mean something), quoted literal text, expansions, and
    substitutions with their parsed command (``node``)."""

    __slots__ = ("raw", "segs")

    def __init__(self, segs: list[Seg], raw: str) -> None:
        self.segs = segs
        self.raw = raw


class Redir:
    __slots__ = ("body", "body_subs", "fd", "op", "quoted", "word")

    def __init__(self, fd: str | None, op: str, word: Word) -> None:
        self.fd = fd
        self.op = op
        self.word = word
        self.body: str | None = None  # a here-doc's text
        self.quoted = False  # a here-doc delimiter was quoted: no expansion in the body
        self.body_subs: list[Node] = []  # command substitutions in an unquoted here-doc


class Node:
    """``kind``: seq (items of and-or lists), andor (pipelines), pipe (commands),
    simple, subshell, group, if, loop, for, case, func, noop."""

    __slots__ = ("assigns", "bg", "kind", "name", "ops", "parts", "redirs", "words")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.parts: list[Node | None] = []
        self.bg: list[bool] = []  # seq: item i runs in the background
        self.ops: list[str] = []  # andor: the && and || between the parts
        self.words: list[Word] = []
        self.assigns: list[Word] = []
        self.redirs: list[Redir] = []
        self.name = ""


class ParseError(Exception):
    pass


class TooComplex(Exception):
    pass


class Budget:
    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps = MAX_STEPS

    def spend(self, n: int = 1) -> None:
        self.steps -= n
        if self.steps < 0:
            raise TooComplex("command too complex to analyze")


def _delimiter_text(word: Word) -> str:
    return "".join(text for _kind, text, _node in word.segs)


class _Cursor:
    """The text and a position in it: blanks, comments, newlines and the
    here-doc bodies they start, reserved words."""

    def __init__(self, text: str, depth: int, budget: Budget) -> None:
        self.s = text
        self.i = 0
        self.n = len(text)
        self.depth = depth
        self.budget = budget
        self.pending: list[Redir] = []  # here-docs whose body starts after the next newline

    # -- helpers -----------------------------------------------------------------------

    def error(self, what: str) -> ParseError:
        near = self.s[self.i:self.i + 20]
        return ParseError(f"{what} at character {self.i}" + (f" ({near!r})" if near else ""))

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise TooComplex("command nested too deeply to analyze")

    def leave(self) -> None:
        self.depth -= 1

    def at(self, text: str) -> bool:
        return self.s.startswith(text, self.i)

    def skip_blanks(self) -> None:
        s, n = self.s, self.n
        while self.i < n:
            c = s[self.i]
            if c == " " or c == "\t":
                self.i += 1
            elif c == "\\" and self.i + 1 < n and s[self.i + 1] == "\n":
                self.i += 2
            else:
                break

    def skip_comment(self) -> None:
        end = self.s.find("\n", self.i)
        self.i = self.n if end < 0 else end

    def skip_space(self) -> None:
        """Blanks, comments and newlines; a newline starts pending here-doc bodies."""
        while True:
            self.skip_blanks()
            if self.i >= self.n:
                return
            c = self.s[self.i]
            if c == "#":
                self.skip_comment()
            elif c == "\n":
                self.i += 1
                self.read_heredocs()
            else:
                return

    def read_heredocs(self) -> None:
        pending, self.pending = self.pending, []
        for redir in pending:
            self.budget.spend()
            delim = _delimiter_text(redir.word)
            for ch in "'\"\\":
                delim = delim.replace(ch, "")
            tabs = r"\t*" if redir.op == "<<-" else ""
            end = re.compile("^" + tabs + re.escape(delim) + "$", re.M).search(self.s, self.i)
            if end is None:
                body, self.i = self.s[self.i:], self.n
            else:
                body = self.s[self.i:end.start()]
                self.i = min(end.end() + 1, self.n)
            redir.body = body
            if not redir.quoted and ("$(" in body or "`" in body):
                sub = Parser(body, self.depth, self.budget)
                for kind, _text, node in sub.dq_segments(heredoc=True):
                    if kind == CMDSUB and node is not None:
                        redir.body_subs.append(node)

    def peek_word(self) -> str | None:
        """The plain word at the cursor when it stands alone (a reserved word candidate)."""
        m = _PLAIN.match(self.s, self.i)
        if m is None:
            return None
        end = m.end()
        if end < self.n and self.s[end] not in META:
            return None
        return m.group()

    def at_reserved(self, words: frozenset[str]) -> bool:
        w = self.peek_word()
        return w is not None and w in words

    def expect_reserved(self, word: str) -> None:
        self.skip_space()
        if self.peek_word() != word:
            raise self.error(f"expected {word!r}")
        self.i += len(word)

    # Defined by Parser; declared here for the word and compound-command readers.
    def parse_list(self, stops: frozenset[str], seq: Node | None = None) -> Node:
        raise NotImplementedError

    def parse_command(self) -> Node:
        raise NotImplementedError


class _Words(_Cursor):
    """Shell words: quoting, escapes, expansions and substitutions."""

    # -- words -------------------------------------------------------------------------

    def parse_word(self) -> Word:
        s, n = self.s, self.n
        start = self.i
        segs: list[Seg] = []
        while self.i < n:
            c = s[self.i]
            if c in META:
                break
            self.budget.spend()
            m = _PLAIN.match(s, self.i)
            if m is not None:
                segs.append((LIT, m.group(), None))
                self.i = m.end()
            elif c == "\\":
                if self.i + 1 >= n:
                    segs.append((LIT, "\\", None))
                    self.i += 1
                elif s[self.i + 1] == "\n":
                    self.i += 2
                else:
                    segs.append((QUOTED, s[self.i + 1], None))
                    self.i += 2
            elif c == "'":
                end = s.find("'", self.i + 1)
                if end < 0:
                    raise self.error("unterminated single quote")
                segs.append((QUOTED, s[self.i + 1:end], None))
                self.i = end + 1
            elif c == '"':
                self.i += 1
                segs.extend(self.dq_segments())
            elif c == "`":
                segs.append(self.parse_backtick())
            else:  # "$"
                segs.extend(self.parse_dollar(in_dq=False))
        return Word(segs, s[start:self.i])

    def dq_segments(self, heredoc: bool = False) -> list[Seg]:
        """The inside of double quotes (cursor after the opening quote), or of an
        unquoted here-doc body (``heredoc``: up to the end of the text)."""
        s, n = self.s, self.n
        segs: list[Seg] = []
        while True:
            if self.i >= n:
                if heredoc:
                    return segs
                raise self.error("unterminated double quote")
            self.budget.spend()
            c = s[self.i]
            if c == '"' and not heredoc:
                self.i += 1
                return segs
            if c == "\\":
                nxt = s[self.i + 1] if self.i + 1 < n else ""
                if nxt == "\n":
                    self.i += 2
                elif nxt and nxt in '$`"\\':
                    segs.append((QUOTED, nxt, None))
                    self.i += 2
                else:
                    segs.append((QUOTED, "\\", None))
                    self.i += 1
            elif c == "$":
                segs.extend((QUOTED if k == LIT else k, t, nd)
                            for k, t, nd in self.parse_dollar(in_dq=True))
            elif c == "`":
                segs.append(self.parse_backtick())
            else:
                m = _DQ_PLAIN.match(s, self.i)
                text = m.group() if m is not None else c
                segs.append((QUOTED, text, None))
                self.i += len(text)

    def parse_backtick(self) -> Seg:
        start = self.i
        j = self.i + 1
        out = []
        while True:
            k = self.s.find("`", j)
            if k < 0:
                raise self.error("unterminated backquote")
            self.budget.spend()
            backslashes = 0
            while k - 1 - backslashes >= j and self.s[k - 1 - backslashes] == "\\":
                backslashes += 1
            out.append(self.s[j:k])
            if backslashes % 2 == 0:
                break
            out.append("`")
            j = k + 1
        self.i = k + 1
        inner = "".join(out)
        inner = inner.replace("\\`", "`").replace("\\$", "$").replace("\\\\", "\\")
        self.enter()
        sub = Parser(inner, self.depth, self.budget)
        node, err = sub.parse_program()
        self.leave()
        if err is not None:
            raise ParseError("in backquotes: " + err)
        return (CMDSUB, self.s[start:self.i], node)

    def parse_dollar(self, in_dq: bool) -> list[Seg]:
        s, i = self.s, self.i
        nxt = s[i + 1] if i + 1 < self.n else ""
        if s.startswith("$((", i):
            end = self.arith_end(i + 3)
            if end is not None:
                self.i = end
                return [(ARITH, s[i:end], None)]
        if nxt == "(":
            node = self.substitution()
            return [(CMDSUB, s[i:self.i], node)]
        if nxt == "{":
            end = self.balanced_end(i + 2, "{", "}")
            self.i = end
            return [(VAR, s[i:end], None)]
        if nxt == "'" and not in_dq:
            return [(QUOTED, self.ansi_c(), None)]
        if nxt == '"' and not in_dq:
            self.i += 2
            return self.dq_segments()
        m = _NAME.match(s, i + 1)
        if m is not None:
            self.i = m.end()
            return [(VAR, s[i:self.i], None)]
        if nxt and nxt in "0123456789@*#?$!-":
            self.i += 2
            return [(VAR, s[i:self.i], None)]
        self.i += 1
        return [(LIT, "$", None)]

    def substitution(self) -> Node:
        """The commands of ``$(...)``, ``<(...)`` or ``>(...)`` (cursor on the ``$``/``<``)."""
        self.i += 2
        self.enter()
        node = self.parse_list(frozenset())
        self.skip_space()
        if not self.at(")"):
            raise self.error("expected ')' closing a substitution")
        self.i += 1
        self.leave()
        return node

    def balanced_end(self, start: int, opening: str, closing: str) -> int:
        depth = 1
        pos = start
        while True:
            m = _BALANCE.search(self.s, pos)
            if m is None:
                raise self.error(f"unterminated ${opening}")
            self.budget.spend()
            c = m.group()
            pos = m.end()
            if c == "\\":
                pos += 1
            elif c == "'":
                end = self.s.find("'", pos)
                pos = self.n if end < 0 else end + 1
            elif c == '"':
                end = pos
                while True:
                    end = self.s.find('"', end)
                    if end < 0 or self.s[end - 1] != "\\":
                        break
                    end += 1
                pos = self.n if end < 0 else end + 1
            elif c == opening:
                depth += 1
            elif c == closing:
                depth -= 1
                if depth == 0:
                    return pos

    def ansi_c(self) -> str:
        s = self.s
        i = self.i + 2
        out: list[str] = []
        simple = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f",
                  "v": "\v", "e": "\x1b", "E": "\x1b", "\\": "\\", "'": "'", '"': '"',
                  "?": "?"}
        while True:
            if i >= self.n:
                raise self.error("unterminated $'")
            self.budget.spend()
            c = s[i]
            if c == "'":
                self.i = i + 1
                return "".join(out)
            if c != "\\" or i + 1 >= self.n:
                out.append(c)
                i += 1
                continue
            e = s[i + 1]
            i += 2
            if e in simple:
                out.append(simple[e])
            elif e in "xuU":
                width = {"x": 2, "u": 4, "U": 8}[e]
                digits = ""
                while len(digits) < width and i < self.n and s[i] in "0123456789abcdefABCDEF":
                    digits += s[i]
                    i += 1
                out.append(chr(min(int(digits, 16), 0x10FFFF)) if digits else "\\" + e)
            elif e in "01234567":
                digits = e
                while len(digits) < 3 and i < self.n and s[i] in "01234567":
                    digits += s[i]
                    i += 1
                out.append(chr(int(digits, 8)))
            elif e == "c" and i < self.n:
                out.append(chr(ord(s[i]) & 0x1F))
                i += 1
            else:
                out.append("\\" + e)

    def arith_end(self, start: int) -> int | None:
        """Index after the ``))`` closing an arithmetic ``((`` whose body starts at start."""
        depth = 2
        i = start
        while i < self.n:
            self.budget.spend()
            c = self.s[i]
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 1:
                    return i + 2 if self.s.startswith(")", i + 1) else None
            elif c == "\n" and depth == 2:
                return None
            i += 1
        return None


class _Compound(_Words):
    """Compound commands: { }, if, while/until, for/select, case, functions, [[ ]]."""

    def parse_group(self) -> Node:
        node = Node("group")
        node.parts.append(self.parse_list(frozenset({"}"})))
        self.expect_reserved("}")
        return node

    def parse_if(self) -> Node:
        node = Node("if")  # parts: cond, body, cond, body, ..., [else body]
        while True:
            node.parts.append(self.parse_list(frozenset({"then"})))
            self.expect_reserved("then")
            node.parts.append(self.parse_list(frozenset({"elif", "else", "fi"})))
            self.skip_space()
            word = self.peek_word()
            if word == "elif":
                self.i += 4
                continue
            if word == "else":
                self.i += 4
                node.parts.append(self.parse_list(frozenset({"fi"})))
            self.expect_reserved("fi")
            return node

    def parse_while(self) -> Node:
        node = Node("loop")
        node.parts.append(self.parse_list(frozenset({"do"})))
        self.expect_reserved("do")
        node.parts.append(self.parse_list(frozenset({"done"})))
        self.expect_reserved("done")
        return node

    def parse_for(self) -> Node:
        node = Node("loop")
        node.parts.append(None)
        self.skip_blanks()
        if self.at("(("):
            end = self.arith_end(self.i + 2)
            if end is None:
                raise self.error("unterminated for ((")
            self.i = end
        else:
            self.parse_word()
            self.skip_space()
            if self.peek_word() == "in":
                self.i += 2
                while True:
                    self.skip_blanks()
                    if self.i >= self.n or self.s[self.i] in ";\n":
                        break
                    if self.s[self.i] == "#":
                        self.skip_comment()
                        continue
                    if self.s[self.i] in META:
                        raise self.error("unexpected " + repr(self.s[self.i]))
                    node.words.append(self.parse_word())
        self.skip_blanks()
        if self.at(";"):
            self.i += 1
        self.skip_space()
        if self.peek_word() == "{":
            self.i += 1
            node.parts.append(self.parse_group())
            return node
        self.expect_reserved("do")
        node.parts.append(self.parse_list(frozenset({"done"})))
        self.expect_reserved("done")
        return node

    def parse_case(self) -> Node:
        node = Node("case")
        self.skip_blanks()
        node.words.append(self.parse_word())
        self.skip_space()
        self.expect_reserved("in")
        while True:
            self.skip_space()
            if self.peek_word() == "esac":
                self.i += 4
                return node
            if self.i >= self.n:
                raise self.error("unterminated case")
            if self.at("("):
                self.i += 1
            while True:  # patterns: pat | pat )
                self.skip_blanks()
                if self.i < self.n and self.s[self.i] not in META:
                    self.parse_word()
                    self.skip_blanks()
                if self.at("|"):
                    self.i += 1
                elif self.at(")"):
                    self.i += 1
                    break
                else:
                    raise self.error("bad case pattern")
            node.parts.append(self.parse_list(frozenset({"esac"})))
            self.skip_space()
            for term in (";;&", ";;", ";&"):
                if self.at(term):
                    self.i += len(term)
                    break

    def parse_function(self) -> Node:
        self.skip_blanks()
        name = self.parse_word()
        self.skip_blanks()
        if self.at("("):
            self.i += 1
            self.skip_blanks()
            if not self.at(")"):
                raise self.error("expected ')'")
            self.i += 1
        return self.function_body(name)

    def function_body(self, name: Word) -> Node:
        self.skip_space()
        node = Node("func")
        node.name = static_text(name) or ""
        node.parts.append(self.parse_command())
        return node

    def parse_test(self) -> Node:
        """``[[ ... ]]``: its ``<``, ``>``, ``&&`` and parentheses are not shell syntax."""
        node = Node("noop")
        while True:
            self.skip_space()
            if self.i >= self.n:
                raise self.error("unterminated [[")
            if self.peek_word() == "]]":
                self.i += 2
                return node
            c = self.s[self.i]
            if c in "<>()!&|":
                self.i += 1
                continue
            node.words.append(self.parse_word())
            self.budget.spend()


class Parser(_Compound):
    """Recursive descent over a command (the bash grammar, less what cannot
    matter for writes: arithmetic bodies, case patterns and test operands are skimmed)."""

    # -- lists and commands ------------------------------------------------------------

    def parse_program(self) -> tuple[Node, str | None]:
        """The whole text; on a syntax error, the items parsed before it and the error."""
        seq = Node("seq")
        try:
            self.parse_list(frozenset(), seq)
            self.skip_space()
            if self.i < self.n:
                raise self.error("unexpected " + repr(self.s[self.i]))
        except ParseError as exc:
            return seq, str(exc)
        return seq, None

    def parse_list(self, stops: frozenset[str], seq: Node | None = None) -> Node:
        seq = seq if seq is not None else Node("seq")
        while True:
            self.skip_space()
            if self.i >= self.n or self.s[self.i] == ")" or self.at(";;") or self.at(";&"):
                return seq
            if stops and self.at_reserved(stops):
                return seq
            start = self.i
            node = self.parse_andor()
            self.skip_blanks()
            bg = False
            if self.i < self.n:
                c = self.s[self.i]
                if c == "&" and not self.at("&&"):
                    bg = True
                    self.i += 1
                elif c == ";" and not self.at(";;") and not self.at(";&"):
                    self.i += 1
            seq.parts.append(node)
            seq.bg.append(bg)
            if self.i == start:
                raise self.error("unexpected " + repr(self.s[self.i]))

    def parse_andor(self) -> Node:
        node = Node("andor")
        node.parts.append(self.parse_pipeline())
        while True:
            self.skip_blanks()
            if self.at("&&") or self.at("||"):
                node.ops.append(self.s[self.i:self.i + 2])
                self.i += 2
                self.skip_space()
                node.parts.append(self.parse_pipeline())
            else:
                return node

    def parse_pipeline(self) -> Node:
        self.skip_blanks()
        while True:  # `! cmd`, `time [-p] cmd`: no effect on what is written
            w = self.peek_word()
            if w in ("!", "time", "coproc"):
                self.i += len(w or "")
                self.skip_blanks()
                if w == "time" and self.peek_word() == "-p":
                    self.i += 2
                    self.skip_blanks()
            else:
                break
        node = Node("pipe")
        node.parts.append(self.parse_command())
        while True:
            self.skip_blanks()
            if self.at("|") and not self.at("||"):
                self.i += 2 if self.at("|&") else 1
                self.skip_space()
                node.parts.append(self.parse_command())
            else:
                return node

    def parse_command(self) -> Node:
        self.budget.spend()
        self.skip_blanks()
        if self.at("(("):
            end = self.arith_end(self.i + 2)
            if end is not None:
                self.i = end
                node = Node("noop")
                self.parse_redirs(node)
                return node
        if self.at("("):
            self.i += 1
            self.enter()
            node = Node("subshell")
            node.parts.append(self.parse_list(frozenset()))
            self.skip_space()
            if not self.at(")"):
                raise self.error("expected ')'")
            self.i += 1
            self.leave()
            self.parse_redirs(node)
            return node
        word = self.peek_word()
        if word in _COMPOUND:
            self.i += len(word or "")
            self.enter()
            node = _COMPOUND[word or ""](self)
            self.leave()
            self.parse_redirs(node)
            return node
        return self.parse_simple()

    def parse_redirs(self, node: Node) -> None:
        while True:
            self.skip_blanks()
            redir = self.try_redirect()
            if redir is None:
                return
            node.redirs.append(redir)

    def parse_simple(self) -> Node:
        node = Node("simple")
        s = self.s
        while True:
            self.skip_blanks()
            if self.i >= self.n:
                break
            c = s[self.i]
            if c in "<>" and self.i + 1 < self.n and s[self.i + 1] == "(":
                node.words.append(self.parse_procsub())
                continue
            if c in "\n;|)" or (c == "&" and not self.at("&>")):
                break
            redir = self.try_redirect()
            if redir is not None:
                node.redirs.append(redir)
                continue
            if c == "(":
                if len(node.words) == 1 and not node.assigns:
                    self.i += 1
                    self.skip_blanks()
                    if not self.at(")"):
                        raise self.error("expected ')'")
                    self.i += 1
                    self.enter()
                    func = self.function_body(node.words[0])
                    self.leave()
                    return func
                raise self.error("unexpected '('")
            if c == "#":
                self.skip_comment()
                break
            word = self.parse_word()
            if not node.words and word.segs and word.segs[0][0] == LIT \
                    and ASSIGNMENT.match(word.segs[0][1]):
                node.assigns.append(word)
                if self.at("(") and word.raw.endswith("="):
                    self.parse_array(node)
            else:
                node.words.append(word)
        return node

    def parse_array(self, node: Node) -> None:
        self.i += 1
        while True:
            self.skip_space()
            if self.i >= self.n:
                raise self.error("unterminated array")
            if self.at(")"):
                self.i += 1
                return
            if self.s[self.i] in META:
                raise self.error("unexpected " + repr(self.s[self.i]))
            node.assigns.append(self.parse_word())

    def parse_procsub(self) -> Word:
        start = self.i
        body = self.substitution()
        return Word([(PROCSUB, self.s[start:self.i], body)], self.s[start:self.i])

    def try_redirect(self) -> Redir | None:
        s, i, n = self.s, self.i, self.n
        fd: str | None = None
        j = i
        while j < n and s[j] in "0123456789":
            j += 1
        if j > i:
            fd = s[i:j]
        elif j < n and s[j] == "{":
            m = _FD_VAR.match(s, j)
            if m is None:
                return None
            fd, j = m.group(), m.end()
        if j >= n:
            return None
        if s[j] not in "<>":
            if fd is None and s.startswith("&>", j):
                op = "&>>" if s.startswith("&>>", j) else "&>"
            else:
                return None
        else:
            if s.startswith("(", j + 1):
                return None  # process substitution, not a redirection
            for op in (">>", ">|", ">&", ">", "<<<", "<<-", "<<", "<&", "<>", "<"):
                if s.startswith(op, j):
                    break
        self.i = j + len(op)
        self.budget.spend()
        self.skip_blanks()
        if self.i >= self.n or self.s[self.i] in META:
            raise self.error(f"missing target after {op}")
        redir = Redir(fd, op, self.parse_word())
        if op in ("<<", "<<-"):
            redir.quoted = any(kind != LIT for kind, _t, _n in redir.word.segs)
            self.pending.append(redir)
        return redir


_COMPOUND: dict[str, Callable[[Parser], Node]] = {
    "{": Parser.parse_group,
    "if": Parser.parse_if,
    "while": Parser.parse_while,
    "until": Parser.parse_while,
    "for": Parser.parse_for,
    "select": Parser.parse_for,
    "case": Parser.parse_case,
    "function": Parser.parse_function,
    "[[": Parser.parse_test,
}


def static_text(word: Word) -> str | None:
    """The word's text when it has no expansion (quotes removed), else None."""
    out = []
    for kind, text, _node in word.segs:
        if kind != LIT and kind != QUOTED:
            return None
        out.append(text)
    return "".join(out)


def literal_prefix(word: Word) -> str:
    """The literal text the word starts with (up to its first expansion)."""
    out = []
    for kind, text, _node in word.segs:
        if kind != LIT and kind != QUOTED:
            break
        out.append(text)
    return "".join(out)


def drop_chars(word: Word, count: int) -> Word:
    """The word without its first ``count`` literal characters (``-tDIR`` -> ``DIR``)."""
    segs = list(word.segs)
    while count and segs:
        kind, text, node = segs[0]
        if kind != LIT and kind != QUOTED:
            break
        if len(text) <= count:
            count -= len(text)
            segs.pop(0)
        else:
            segs[0] = (kind, text[count:], node)
            count = 0
    return Word(segs, word.raw)


def literal_word(text: str) -> Word:
    return Word([(QUOTED, text, None)], text)


def dynamic_word(why: str) -> Word:
    return Word([(DYN, why, None)], why)
