"""Which files would a Bash command write? A static answer for the PreToolUse hook.

``analyze(command, cwd, home)`` reads a Bash tool command the way bash would parse it and
returns an `Analysis`: the files it would write (`Target`: absolute path, the construct
that writes it, and how) and what it could not judge (`Unresolved`: variables, globs,
command substitutions, programs such as ``python -c`` or ``make``...). Nothing is guessed:
a path that cannot be known statically is reported as unresolved, never as a target.
It never raises and never reads or runs anything (``is_dir``, when given, is the only
file-system question it asks: whether a ``cp``/``mv``/``ln`` destination is a folder).

Parser choice (issue 10), by measurement: ``scripts/bash-parser-compare.py`` converts each
candidate's tree to this module's and judges it with the same analysis (what ``sed -i``,
``cp -t``, ``git restore``... write), over the 316 commands of tests/hook/bash_corpus.py.
Figures from this machine (2 cores shared with other jobs, load 1.5-2, Python 3.11.7;
ranges over three runs of ``--runs 21``, each a median):

    parser            import (-X importtime)  process +ms  parse/cmd  +analysis  correct
    bashlex 0.18           117-133 ms          122-142 ms  244-258 µs 272-295 µs  296/316
    tree-sitter-bash 0.25    3.8-5.3 ms          14-20 ms    29-31 µs   49-57 µs  307/316
    this module (stdlib)     1.8-2.2 ms        noise (<3)    17-25 µs   40-59 µs  316/316
    (python -I -S -c pass: 9.4-13.3 ms; python -I -c pass, with site-packages: 27.6-40 ms)

- ``bashlex`` (pure Python, a port of bash's yacc grammar) costs ten hooks to import and
  fails on what agents type most: a here-doc with a quoted delimiter (so Claude Code's own
  ``git commit -m "$(cat <<'EOF' ... EOF)"``), ``[[ ]]``, ``(( ))``, ``$((...))``,
  ``case``, ``time``, ``$'...'``; it also mis-removes quotes in ``'it'"'"'s'``.
- ``tree-sitter-bash`` (C) is fast and tolerant, but it gives ``cd x && cmd > f`` the
  redirection on the whole list (so ``f`` resolves in the wrong folder), reads
  ``[ a > b ]`` as a comparison (bash writes ``b``), and an error node loses the commands
  before it. Above all, both live in site-packages, which the hook shim skips
  (``python -I -S``): using one means vendoring a compiled wheel per platform or giving up
  ``-S`` (+18-27 ms on every hook, measured above).
- This module: a hand-written recursive-descent lexer and parser for the bash grammar
  that matters for writes (words with their quoting and expansions, redirections,
  here-docs, lists, pipelines, subshells, groups, if/while/for/case, functions, ``[[``,
  ``((``) using ``os`` and ``re`` only, both loaded by the hook already. ``shlex`` with
  ``punctuation_chars`` was the other stdlib option and was dropped without a full
  build: it splits ``2>&1`` into ``2 > & 1``, knows nothing of ``$(...)``, backticks,
  here-docs or ``$'...'``, and loses where quotes were (``"a > b"`` vs ``a > b``).
  Caveat: the corpus was written alongside this parser, so its 316/316 is an upper bound;
  the others' misses listed by ``--misses`` are real parser faults, not adapter gaps.

Checked against bash itself: tests/hook/test_bashwrites.py runs generated commands
(redirections, here-docs, cd, subshells, links, quoting...) with real bash in a scratch
folder and asserts that every file bash created, changed or removed was reported.

Import it lazily: the hook should parse only when another live session holds a lock that
could match (issue 10, point 6); the import then costs ~2 ms (a 150 KB .pyc and six
regular expressions) and a typical command 20-70 µs.

Paths are normalized lexically (``os.path.normpath``: ``.``, ``..``, ``//``) against the
payload cwd and every ``cd``/``pushd`` the command makes (a subshell's, a pipeline
element's or a background job's ``cd`` does not leak). Lexical ``..`` is what bash's own
``cd`` does; for a file argument behind a symlinked folder (``link/../f``) the kernel
resolves ``..`` physically, so the two can differ: a known, rare divergence. No realpath
here: the hook maps each target with `canonical_key` (realpath) exactly as it maps an
Edit's ``file_path``.

Standard library only, no dataclasses/typing at run time: it runs in the PreToolUse
hook before a Bash command.
"""

from __future__ import annotations

import os
import re

from coord_hooks.plain import Plain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Seg = tuple[int, str, "Node | None"]
    Handler = Callable[["_Analyzer", str, list["Word"], "_State", list["Redir"]], None]

MAX_CHARS = 1_000_000  # longer commands are not judged (agents' here-docs stay below)
MAX_STEPS = 20_000  # words, segments, commands: bounds the time on hostile input
MAX_DEPTH = 40  # nesting of subshells, groups, substitutions
MAX_SHELL_NESTING = 3  # bash -c 'bash -c "..."' levels parsed
MAX_BRACE_WORDS = 256  # a brace expansion producing more words is not expanded
_SHOWN = 80  # characters of a word quoted in an Unresolved detail

# Unresolved kinds (stable strings: the hook and tests match on them).
VARIABLE = "variable"  # $X, ${X}, $((...)) where a path is needed
COMMAND_SUBSTITUTION = "command-substitution"  # $(...) or `...` where a path is needed
GLOB = "glob"  # unquoted *, ?, [...] where a path is needed (or a too large {a,b})
TILDE = "tilde"  # ~user, or ~ without a known home
CWD = "cwd"  # a relative path after a `cd` that could not be resolved
DYNAMIC = "dynamic"  # names only known at run time: xargs, find -delete/-exec, tar -x
PROGRAM = "program"  # runs code whose writes are not parsed: python -c, make, ./x.sh
UNKNOWN_COMMAND = "unknown-command"  # a command this module does not know
GIT_WORKTREE = "git-worktree"  # git switching/resetting/merging: rewrites the work tree
PATCH = "patch"  # git apply / patch: targets are named inside the diff
PARSE = "parse"  # not valid shell (the part before the error is still analyzed)
LIMIT = "limit"  # too long or too deep to analyze
INTERNAL = "internal"  # a bug here: the hook fails open

# Word segment kinds.
_LIT, _QUOTED, _VAR, _CMDSUB, _ARITH, _PROCSUB, _DYN = range(7)

_META = frozenset(" \t\n;&|()<>")
_PLAIN = re.compile(r"[^ \t\n;&|()<>'\"\\$`]+")
_DQ_PLAIN = re.compile(r"[^\"\\$`]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=")
_FD_VAR = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_BALANCE = re.compile(r"[(){}'\"\\]")
# Paths that are never project files: writing to them clobbers nothing.
_NOT_FILES = frozenset({"/dev/null", "/dev/zero", "/dev/stdout", "/dev/stderr", "/dev/stdin",
                        "/dev/tty", "/dev/full", "/dev/random", "/dev/urandom"})
_NOT_FILE_DIRS = ("/dev/fd/", "/proc/self/fd/", "/dev/pts/")


class _Fact(Plain):
    """A value compared and hashed by its fields (the analysis deduplicates them)."""

    __slots__ = ()

    def __hash__(self) -> int:  # type: ignore[override]  # never changed once made
        return hash(self._astuple())


class Target(_Fact):
    """A file the command would write: absolute normalized ``path``, the ``form`` (the
    construct: ``redirect``, ``sed-i``, ``mv``...) and ``op``: ``write``, ``delete``,
    ``move-src`` (renamed away) or ``move-dst`` (renamed onto). A folder path stands for
    everything inside it (``rm -r dir``, ``git checkout -- .``)."""

    __slots__ = ("form", "op", "path")
    FIELDS = ("path", "form", "op")

    def __init__(self, path: str, form: str, op: str) -> None:
        self.path = path
        self.form = form
        self.op = op


class Unresolved(_Fact):
    """Something the analysis could not judge: ``kind`` (one of the constants above),
    the ``form`` or command it concerns, and ``detail`` (the word or command as
    written, shortened)."""

    __slots__ = ("detail", "form", "kind")
    FIELDS = ("kind", "form", "detail")

    def __init__(self, kind: str, form: str, detail: str) -> None:
        self.kind = kind
        self.form = form
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.form} {self.detail} ({self.kind})" if self.detail else \
            f"{self.form} ({self.kind})"


class Analysis(Plain):
    """What a command writes (`targets`) and what could not be judged (`unresolved`).

    ``judged`` is True when nothing is unresolved: the targets are then all the files
    the command can write (as far as the forms this module knows go). Targets found
    next to something unresolved are still real targets.
    """

    __slots__ = ("targets", "unresolved")
    FIELDS = ("targets", "unresolved")

    def __init__(self, targets: list[Target], unresolved: list[Unresolved]) -> None:
        self.targets = targets
        self.unresolved = unresolved

    @property
    def judged(self) -> bool:
        return not self.unresolved


# --------------------------------------------------------------------------------------
# Syntax tree


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


class _ParseError(Exception):
    pass


class _Limit(Exception):
    pass


class _Budget:
    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps = MAX_STEPS

    def spend(self, n: int = 1) -> None:
        self.steps -= n
        if self.steps < 0:
            raise _Limit("command too complex to analyze")


def _delimiter_text(word: Word) -> str:
    return "".join(text for _kind, text, _node in word.segs)


class _Parser:
    """Recursive descent over the command text (the bash grammar, less what cannot
    matter for writes: arithmetic bodies, case patterns and test operands are skimmed)."""

    def __init__(self, text: str, depth: int, budget: _Budget) -> None:
        self.s = text
        self.i = 0
        self.n = len(text)
        self.depth = depth
        self.budget = budget
        self.pending: list[Redir] = []  # here-docs whose body starts after the next newline

    # -- helpers -----------------------------------------------------------------------

    def error(self, what: str) -> _ParseError:
        near = self.s[self.i:self.i + 20]
        return _ParseError(f"{what} at character {self.i}" + (f" ({near!r})" if near else ""))

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Limit("command nested too deeply to analyze")

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
                sub = _Parser(body, self.depth, self.budget)
                for kind, _text, node in sub.dq_segments(heredoc=True):
                    if kind == _CMDSUB and node is not None:
                        redir.body_subs.append(node)

    def peek_word(self) -> str | None:
        """The plain word at the cursor when it stands alone (a reserved word candidate)."""
        m = _PLAIN.match(self.s, self.i)
        if m is None:
            return None
        end = m.end()
        if end < self.n and self.s[end] not in _META:
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

    # -- lists and commands ------------------------------------------------------------

    def parse_program(self) -> tuple[Node, str | None]:
        """The whole text; on a syntax error, the items parsed before it and the error."""
        seq = Node("seq")
        try:
            self.parse_list(frozenset(), seq)
            self.skip_space()
            if self.i < self.n:
                raise self.error("unexpected " + repr(self.s[self.i]))
        except _ParseError as exc:
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
                    if self.s[self.i] in _META:
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
                if self.i < self.n and self.s[self.i] not in _META:
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
        node.name = _static(name) or ""
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
            if not node.words and word.segs and word.segs[0][0] == _LIT \
                    and _ASSIGN.match(word.segs[0][1]):
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
            if self.s[self.i] in _META:
                raise self.error("unexpected " + repr(self.s[self.i]))
            node.assigns.append(self.parse_word())

    def parse_procsub(self) -> Word:
        start = self.i
        self.i += 2
        self.enter()
        body = self.parse_list(frozenset())
        self.skip_space()
        if not self.at(")"):
            raise self.error("expected ')'")
        self.i += 1
        self.leave()
        return Word([(_PROCSUB, self.s[start:self.i], body)], self.s[start:self.i])

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
        if self.i >= self.n or self.s[self.i] in _META:
            raise self.error(f"missing target after {op}")
        redir = Redir(fd, op, self.parse_word())
        if op in ("<<", "<<-"):
            redir.quoted = any(kind != _LIT for kind, _t, _n in redir.word.segs)
            self.pending.append(redir)
        return redir

    # -- words -------------------------------------------------------------------------

    def parse_word(self) -> Word:
        s, n = self.s, self.n
        start = self.i
        segs: list[Seg] = []
        while self.i < n:
            c = s[self.i]
            if c in _META:
                break
            self.budget.spend()
            m = _PLAIN.match(s, self.i)
            if m is not None:
                segs.append((_LIT, m.group(), None))
                self.i = m.end()
            elif c == "\\":
                if self.i + 1 >= n:
                    segs.append((_LIT, "\\", None))
                    self.i += 1
                elif s[self.i + 1] == "\n":
                    self.i += 2
                else:
                    segs.append((_QUOTED, s[self.i + 1], None))
                    self.i += 2
            elif c == "'":
                end = s.find("'", self.i + 1)
                if end < 0:
                    raise self.error("unterminated single quote")
                segs.append((_QUOTED, s[self.i + 1:end], None))
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
                    segs.append((_QUOTED, nxt, None))
                    self.i += 2
                else:
                    segs.append((_QUOTED, "\\", None))
                    self.i += 1
            elif c == "$":
                segs.extend((_QUOTED if k == _LIT else k, t, nd)
                            for k, t, nd in self.parse_dollar(in_dq=True))
            elif c == "`":
                segs.append(self.parse_backtick())
            else:
                m = _DQ_PLAIN.match(s, self.i)
                text = m.group() if m is not None else c
                segs.append((_QUOTED, text, None))
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
        sub = _Parser(inner, self.depth, self.budget)
        node, err = sub.parse_program()
        self.leave()
        if err is not None:
            raise _ParseError("in backquotes: " + err)
        return (_CMDSUB, self.s[start:self.i], node)

    def parse_dollar(self, in_dq: bool) -> list[Seg]:
        s, i = self.s, self.i
        nxt = s[i + 1] if i + 1 < self.n else ""
        if s.startswith("$((", i):
            end = self.arith_end(i + 3)
            if end is not None:
                self.i = end
                return [(_ARITH, s[i:end], None)]
        if nxt == "(":
            self.i += 2
            self.enter()
            node = self.parse_list(frozenset())
            self.skip_space()
            if not self.at(")"):
                raise self.error("expected ')' closing $(")
            self.i += 1
            self.leave()
            return [(_CMDSUB, s[i:self.i], node)]
        if nxt == "{":
            end = self.balanced_end(i + 2, "{", "}")
            self.i = end
            return [(_VAR, s[i:end], None)]
        if nxt == "'" and not in_dq:
            return [(_QUOTED, self.ansi_c(), None)]
        if nxt == '"' and not in_dq:
            self.i += 2
            return self.dq_segments()
        m = _NAME.match(s, i + 1)
        if m is not None:
            self.i = m.end()
            return [(_VAR, s[i:self.i], None)]
        if nxt and nxt in "0123456789@*#?$!-":
            self.i += 2
            return [(_VAR, s[i:self.i], None)]
        self.i += 1
        return [(_LIT, "$", None)]

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


_COMPOUND: dict[str, Callable[[_Parser], Node]] = {
    "{": _Parser.parse_group,
    "if": _Parser.parse_if,
    "while": _Parser.parse_while,
    "until": _Parser.parse_while,
    "for": _Parser.parse_for,
    "select": _Parser.parse_for,
    "case": _Parser.parse_case,
    "function": _Parser.parse_function,
    "[[": _Parser.parse_test,
}


# --------------------------------------------------------------------------------------
# Words


def _static(word: Word) -> str | None:
    """The word's text when it has no expansion (quotes removed), else None."""
    out = []
    for kind, text, _node in word.segs:
        if kind != _LIT and kind != _QUOTED:
            return None
        out.append(text)
    return "".join(out)


def _prefix(word: Word) -> str:
    """The literal text the word starts with (up to its first expansion)."""
    out = []
    for kind, text, _node in word.segs:
        if kind != _LIT and kind != _QUOTED:
            break
        out.append(text)
    return "".join(out)


def _drop(word: Word, count: int) -> Word:
    """The word without its first ``count`` literal characters (``-tDIR`` -> ``DIR``)."""
    segs = list(word.segs)
    while count and segs:
        kind, text, node = segs[0]
        if kind != _LIT and kind != _QUOTED:
            break
        if len(text) <= count:
            count -= len(text)
            segs.pop(0)
        else:
            segs[0] = (kind, text[count:], node)
            count = 0
    return Word(segs, word.raw)


def _lit_word(text: str) -> Word:
    return Word([(_QUOTED, text, None)], text)


def _dynamic_word(why: str) -> Word:
    return Word([(_DYN, why, None)], why)


def _is_glob(text: str) -> bool:
    if "*" in text or "?" in text:
        return True
    at = text.find("[")
    return at >= 0 and text.find("]", at + 2) > at


def _shown(text: str) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


def _expand_braces(word: Word) -> list[Word] | None:
    """Brace expansion (``f{,.bak}``, ``{a..c}``); None when it would be too large."""
    if not any(kind == _LIT and "{" in text and "}" in text for kind, text, _n in word.segs):
        return [word]
    items: list[tuple[int, str, Node | None]] = []  # active chars as (LIT, ch)
    for kind, text, node in word.segs:
        if kind == _LIT:
            items.extend((_LIT, ch, None) for ch in text)
        else:
            items.append((kind, text, node))
    results = _brace_items(items, 0)
    if results is None:
        return None
    words = []
    for res in results:
        segs: list[Seg] = []
        for kind, text, node in res:
            if kind == _LIT and segs and segs[-1][0] == _LIT:
                segs[-1] = (_LIT, segs[-1][1] + text, None)
            else:
                segs.append((kind, text, node))
        words.append(Word(segs, word.raw))
    return words


def _brace_items(items: list[Seg], depth: int) -> list[list[Seg]] | None:
    if depth > 8:
        return None
    for start, (kind, text, _n) in enumerate(items):
        if kind != _LIT or text != "{":
            continue
        level, commas, end = 0, [], -1
        for j in range(start, len(items)):
            k, t, _ = items[j]
            if k != _LIT:
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
            inner = "".join(t for k, t, _ in items[start + 1:end] if k == _LIT)
            if end - start - 1 != len(inner):
                continue
            try:
                seq = _brace_sequence(inner)
            except OverflowError:
                return None
            if seq is None:
                continue
            alternatives = [[(_LIT, x, None)] for x in seq]
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


def _normalize(path: str) -> str:
    path = os.path.normpath(path)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    return path


# --------------------------------------------------------------------------------------
# Analysis: what each command writes


class _State:
    """The shell state that changes where a relative path points.

    ``cwd`` is where the shell is if every ``cd`` so far succeeded; ``alt`` the other
    folders it may be in, had one failed (``cd gone; rm f`` removes ./f). None: unknown.
    """

    __slots__ = ("alt", "cwd", "errexit", "funcs", "oldpwd", "stack", "why")

    def __init__(self, cwd: str | None, why: str = "") -> None:
        self.cwd = cwd
        self.why = why  # why cwd is unknown
        self.alt: list[str] = []
        self.errexit = False  # set -e: a failing cd ends the script
        self.oldpwd: str | None = None
        self.stack: list[str | None] = []
        self.funcs: set[str] = set()

    def copy(self) -> _State:
        st = _State(self.cwd, self.why)
        st.alt = list(self.alt)
        st.errexit = self.errexit
        st.oldpwd = self.oldpwd
        st.stack = list(self.stack)
        st.funcs = set(self.funcs)
        return st

    def chdir(self, path: str | None, why: str = "", alt: list[str] | None = None) -> None:
        self.oldpwd = self.cwd
        self.cwd = path
        self.why = why
        self.alt = [a for a in alt or [] if a != path]


class _Analyzer:
    def __init__(self, home: str | None, is_dir: Callable[[str], bool] | None) -> None:
        self.home = _normalize(home) if home and home.startswith("/") else None
        self.is_dir = is_dir
        self.budget = _Budget()
        self.targets: list[Target] = []
        self.unresolved: list[Unresolved] = []
        self._seen: set[object] = set()
        self.shell_nesting = 0
        self.links: dict[str, str] = {}  # links made by `ln` in this command -> their file
        self.alt_paths: list[str] = []  # the last relative path resolved in st.alt
        self.start = "\0"  # the payload's cwd: a folder that exists

    def result(self) -> Analysis:
        return Analysis(self.targets, self.unresolved)

    def add(self, path: str, form: str, op: str) -> None:
        target = Target(path, form, op)
        if target not in self._seen:
            self._seen.add(target)
            self.targets.append(target)

    def note(self, kind: str, form: str, detail: str) -> None:
        item = Unresolved(kind, form, _shown(detail))
        if item not in self._seen:
            self._seen.add(item)
            self.unresolved.append(item)

    # -- scripts and nodes -------------------------------------------------------------

    def script(self, text: str, st: _State, depth: int) -> None:
        parser = _Parser(text, depth, self.budget)
        seq, err = parser.parse_program()
        self.run(seq, st)
        if err is not None:
            self.note(PARSE, "shell", err)

    def nested(self, text: str, st: _State, form: str) -> None:
        """A script given as a string (``bash -c``, ``eval``), parsed one level down."""
        if self.shell_nesting >= MAX_SHELL_NESTING:
            self.note(LIMIT, form, "nested shells")
            return
        self.shell_nesting += 1
        try:
            self.script(text, st, self.shell_nesting * 4)
        finally:
            self.shell_nesting -= 1

    def run(self, node: Node | None, st: _State) -> None:
        if node is None:
            return
        self.budget.spend()
        kind = node.kind
        if kind == "seq":
            for part, bg in zip(node.parts, node.bg, strict=True):
                self.run(part, st.copy() if bg else st)
        elif kind == "andor":
            # The list stops at its first failing command: the shell may end in the state
            # before any command that can fail (a cd into a missing folder, a make...).
            ends: list[str | None] = []
            for part in node.parts:
                if not self.cannot_fail(part, st):
                    ends += [st.cwd, *st.alt]
                self.run(part, st)
            if not st.errexit and not _exits_on_failure(node):
                self.may_end_in(st, ends)
        elif kind == "pipe":
            if len(node.parts) == 1:
                self.run(node.parts[0], st)
            else:  # every element of a pipeline runs in a subshell
                for part in node.parts:
                    self.run(part, st.copy())
        elif kind == "simple":
            self.simple(node, st)
        else:
            self.compound(node, st)

    def compound(self, node: Node, st: _State) -> None:
        for redir in node.redirs:
            self.redirect(redir, st)
        for word in node.words:
            self.substitutions(word, st)
        kind = node.kind
        if kind == "subshell":
            self.run(node.parts[0], st.copy())
        elif kind == "group":
            self.run(node.parts[0], st)
        elif kind == "if":
            ends: list[_State] = []
            parts = node.parts
            for i in range(0, len(parts) - 1, 2):
                self.run(parts[i], st)
                branch = st.copy()
                self.run(parts[i + 1], branch)
                ends.append(branch)
            if len(parts) % 2:
                branch = st.copy()
                self.run(parts[-1], branch)
                ends.append(branch)
            else:
                ends.append(st.copy())  # no branch taken
            self.join(st, ends, "cd inside if")
        elif kind == "loop":
            self.run(node.parts[0], st)
            body = st.copy()
            self.run(node.parts[1], body)
            self.join(st, [st.copy(), body], "cd inside a loop")
        elif kind == "case":
            ends = [st.copy()]
            for part in node.parts:
                branch = st.copy()
                self.run(part, branch)
                ends.append(branch)
            self.join(st, ends, "cd inside case")
        elif kind == "func":
            if node.name:
                st.funcs.add(node.name)
            self.run(node.parts[0], st.copy())

    def may_end_in(self, st: _State, ends: list[str | None]) -> None:
        """Add the folders an and-or list may have stopped in to where the shell is."""
        now = [st.cwd, *st.alt]
        cwds = list(dict.fromkeys([*now, *ends]))
        if cwds == now:
            return
        if None in cwds or len(cwds) > 5:
            st.chdir(None, st.why or "a cd that may fail")
        else:
            st.alt = [c for c in cwds[1:] if c is not None]

    def cannot_fail(self, part: Node | None, st: _State) -> bool:
        """``true``, ``:``, or a ``cd`` into folders that exist (it cannot leave us
        behind); anything else may fail as far as this analysis knows."""
        if part is None or len(part.parts) != 1 or part.parts[0] is None:
            return False
        command = part.parts[0]
        if command.kind != "simple" or not command.words or command.redirs:
            return False
        name = _static(command.words[0])
        if name in ("true", ":"):
            return True
        if name != "cd" or len(command.words) != 2:
            return False
        if _static(command.words[1]) == "-":
            return self.folders_exist([st.oldpwd])
        probe = st.copy()
        self.move(probe, command.words[1], "cd")
        return self.folders_exist([probe.cwd, *probe.alt])

    def folders_exist(self, paths: list[str | None]) -> bool:
        """Do they all exist? The payload's cwd and its parents do, as far as we know."""
        try:
            return all(p is not None and (
                p == self.start or self.start.startswith(p.rstrip("/") + "/")
                or (self.is_dir is not None and self.is_dir(p))) for p in paths)
        except Exception:
            return False

    def move(self, st: _State, word: Word, why: str) -> None:
        """``cd WORD`` from every folder the shell may be in."""
        news = []
        for cwd in [st.cwd, *st.alt]:
            probe = _State(cwd, st.why)
            probe.oldpwd = st.oldpwd
            news.append(self.resolve(word, probe)[0])
        if None in news:
            st.chdir(None, why)
        else:
            st.chdir(news[0], why, [n for n in news[1:] if n is not None])

    @staticmethod
    def join(st: _State, ends: list[_State], why: str) -> None:
        # where each branch may leave the shell: all of them are possible afterwards
        cwds = list(dict.fromkeys(c for end in ends for c in [end.cwd, *end.alt]))
        if None in cwds or len(cwds) > 5:
            st.chdir(None, why)
        elif cwds != [st.cwd, *st.alt]:
            st.chdir(cwds[0], why, [c for c in cwds[1:] if c is not None])
        for end in ends:
            st.funcs |= end.funcs

    def substitutions(self, word: Word, st: _State) -> None:
        for kind, _text, node in word.segs:
            if node is not None and kind in (_CMDSUB, _PROCSUB):
                self.run(node, st.copy())

    def simple(self, node: Node, st: _State) -> None:
        for word in node.assigns:
            self.substitutions(word, st)
        for word in node.words:
            self.substitutions(word, st)
        for redir in node.redirs:
            self.substitutions(redir.word, st)
            for sub in redir.body_subs:
                self.run(sub, st.copy())
            self.redirect(redir, st)
        if not node.words:
            return
        argv: list[Word] = []
        for word in node.words:
            expanded = _expand_braces(word)
            if expanded is None:
                argv.append(Word([(_DYN, "brace expansion too large", None)], word.raw))
            else:
                argv.extend(expanded)
        self.budget.spend(len(argv))
        self.command(argv, st, node.redirs)

    def redirect(self, redir: Redir, st: _State) -> None:
        op = redir.op
        if op in ("<", "<<", "<<-", "<<<", "<&"):
            return
        if op == ">&":
            text = _static(redir.word)
            if text is not None and (text == "-" or text.rstrip("-").isdigit()):
                return  # 2>&1, >&2, >&-: duplicates a descriptor
        self.target(redir.word, st, "redirect", "write")

    # -- paths -------------------------------------------------------------------------

    def resolve(self, word: Word, st: _State) -> tuple[str | None, tuple[str, str] | None]:
        """(absolute path, None), (None, (kind, detail)) or (None, None) for no file."""
        out = []
        for kind, text, _node in word.segs:
            if kind in (_LIT, _QUOTED):
                out.append(text)
            elif kind == _VAR:
                name = text[2:-1] if text.startswith("${") else text[1:]
                if name == "HOME" and self.home is not None:
                    out.append(self.home)
                elif name == "PWD" and st.cwd is not None:
                    out.append(st.cwd)
                else:
                    return None, (VARIABLE, word.raw)
            elif kind == _ARITH:
                return None, (VARIABLE, word.raw)
            elif kind == _CMDSUB:
                return None, (COMMAND_SUBSTITUTION, word.raw)
            elif kind == _DYN:
                return None, (DYNAMIC, text)
            else:  # process substitution: a pipe, not a file
                return None, None
        if any(kind == _LIT and _is_glob(text) for kind, text, _n in word.segs):
            return None, (GLOB, word.raw)
        text = "".join(out)
        first = word.segs[0] if word.segs else None
        if first is not None and first[0] == _LIT and first[1].startswith("~"):
            head = first[1].partition("/")[0]
            tail = text[len(head):]
            if head == "~" and self.home is not None:
                text = self.home + tail
            elif head == "~+" and st.cwd is not None:
                text = st.cwd + tail
            elif head == "~-" and st.oldpwd is not None:
                text = st.oldpwd + tail
            else:
                return None, (TILDE, word.raw)
        if not text:
            return None, None
        return self.absolute(text, st, word.raw)

    def absolute(self, text: str, st: _State,
                 raw: str) -> tuple[str | None, tuple[str, str] | None]:
        self.alt_paths = []
        if not text.startswith("/"):
            if st.cwd is None:
                return None, (CWD, f"{raw} after {st.why}" if st.why else raw)
            self.alt_paths = [_normalize(a + "/" + text) for a in st.alt]
            text = st.cwd + "/" + text
        return _normalize(text), None

    def target(self, word: Word, st: _State, form: str, op: str) -> str | None:
        self.alt_paths = []
        path, problem = self.resolve(word, st)
        if problem is not None:
            self.note(problem[0], form, problem[1])
            return None
        for other in self.alt_paths:  # where it lands if a cd before it failed
            if other not in _NOT_FILES and not other.startswith(_NOT_FILE_DIRS):
                self.add(other, form, op)
                self.through_links(other, form, op)
        if path is None or path in _NOT_FILES or path.startswith(_NOT_FILE_DIRS):
            return None
        self.add(path, form, op)
        self.through_links(path, form, op)
        return path

    def through_links(self, path: str, form: str, op: str) -> None:
        """A write to a link this command made also writes the file it points to."""
        if not self.links or op in ("delete", "move-src"):  # those remove the link itself
            return
        for _ in range(8):  # a chain of links, bounded
            for link, real in self.links.items():
                if path == link or path.startswith(link + "/"):
                    path = real + path[len(link):]
                    self.add(path, form, op)
                    break
            else:
                return

    def into(self, folder: Word, src: Word, st: _State, form: str, op: str) -> str | None:
        """``folder/basename(src)``: what cp/mv/ln/install write into a folder."""
        base = _static(src)
        path, problem = self.resolve(src, st)
        if problem is not None:  # a variable, a glob...: the name inside is unknown
            self.note(problem[0], form, problem[1])
            return None
        if path is None:
            return None
        name = os.path.basename(path)
        if base is not None and (base.rstrip("/").endswith(("/.", "/..")) or
                                 base.rstrip("/") in (".", "..", "")):
            return self.target(folder, st, form, op)
        joined = Word([*folder.segs, (_QUOTED, "/" + name, None)], folder.raw)
        return self.target(joined, st, form, op)

    def link(self, link: str, src: Word, st: _State, symbolic: bool) -> None:
        """Remember a link the command makes: a later write through it writes ``src``."""
        text = _static(src)
        if text is None:
            return
        if symbolic and not text.startswith("/"):  # relative to the link's folder
            text = os.path.dirname(link) + "/" + text
        resolved = self.absolute(text, st, src.raw)[0]
        if resolved is not None and resolved != link:
            self.links[link] = resolved

    def in_place(self, files: list[Word], st: _State, form: str, suffix: str) -> None:
        """``sed -i[SUFFIX]``, ``perl -i[SUFFIX]``: each file, and its backup copy."""
        for word in files:
            path = self.target(word, st, form, "write")
            if path is None or not suffix:
                continue
            if "*" in suffix:  # GNU: `*` stands for the file's name
                name = suffix.replace("*", os.path.basename(path))
                backup = name if name.startswith("/") else os.path.dirname(path) + "/" + name
            else:
                backup = path + suffix
            self.add(_normalize(backup), form, "write")

    def dest_is_folder(self, dest: Word, st: _State) -> bool:
        text = _static(dest)
        if text is not None and text.endswith("/"):
            return True
        if self.is_dir is None:
            return False
        path = self.resolve(dest, st)[0]
        if path is None:
            return False
        try:
            return bool(self.is_dir(path))
        except Exception:
            return False

    # -- commands ----------------------------------------------------------------------

    def command(self, argv: list[Word], st: _State, redirs: list[Redir],
                unknown: str = UNKNOWN_COMMAND) -> None:
        self.budget.spend()
        first = argv[0]
        name = _static(first)
        if name is None:
            problem = self.resolve(first, st)[1]
            kind = problem[0] if problem is not None else VARIABLE
            self.note(kind, "command", first.raw)
            return
        base = name
        if "/" in name:
            folder, _sep, base = name.rpartition("/")
            if not (folder.endswith("bin") or folder.endswith("/.bin")):
                self.note(PROGRAM, base or name, name)  # ./script.sh, tools/x
                return
        if base in st.funcs:
            return  # its body was analyzed where it was defined
        handler = _HANDLERS.get(base)
        if handler is None and base.startswith("python"):
            handler = _HANDLERS["python"]
        args = argv[1:]
        if handler is not None:
            handler(self, base, args, st, redirs)
        elif base in _READ_ONLY:
            return
        elif base in _PROGRAMS:
            if not _only_version(args):
                self.note(PROGRAM, base, _command_text(argv))
        elif not _only_version(args):
            self.note(unknown, base, _command_text(argv))


def _exits_on_failure(node: Node) -> bool:
    """``cd x || exit 1``: the list ends the script when its cd fails."""
    for op, part in zip(node.ops, node.parts[1:], strict=False):
        if op == "||" and part is not None and len(part.parts) == 1:
            command = part.parts[0]
            if command is not None and command.kind == "simple" and command.words and \
                    _static(command.words[0]) in ("exit", "return"):
                return True
    return False


def _command_text(argv: list[Word]) -> str:
    text = " ".join(w.raw for w in argv[:4])
    return text + (" ..." if len(argv) > 4 else "")


def _only_version(args: list[Word]) -> bool:
    return bool(args) and all(_static(w) in ("--version", "-V", "--help", "-h", "version")
                              for w in args)


def _getopt(args: list[Word], short_val: str = "", long_val: frozenset[str] = frozenset(),
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
        pre = _prefix(word)
        if done or not pre.startswith("-") or word.raw == "-":
            operands.append(word)
            if not permute:
                done = True
            continue
        if pre == "--" and _static(word) == "--":
            done = True
            continue
        if pre.startswith("--"):
            name, eq, _value = pre.partition("=")
            if eq:
                opts.append((name, _drop(word, len(name) + 1)))
            elif name in long_val and _static(word) == name:
                opts.append((name, args[i] if i < len(args) else None))
                i += 1
            else:
                opts.append((name, None))
            continue
        k = 1
        while k < len(pre):
            ch = pre[k]
            if ch in short_val:
                rest = _drop(word, k + 1)
                if rest.segs and any(t for _kind, t, _n in rest.segs):
                    opts.append(("-" + ch, rest))
                else:
                    opts.append(("-" + ch, args[i] if i < len(args) else None))
                    i += 1
                break
            opts.append(("-" + ch, None))
            k += 1
    return opts, operands


def _has(opts: list[tuple[str, Word | None]], *names: str) -> bool:
    return any(name in names for name, _v in opts)


def _values(opts: list[tuple[str, Word | None]], *names: str) -> list[Word]:
    return [value for name, value in opts if name in names and value is not None]


# -- handlers: one per command family --------------------------------------------------


def _h_operands(form: str, op: str, short_val: str = "",
                long_val: frozenset[str] = frozenset()) -> Handler:
    """rm, unlink, touch, truncate...: every operand is written (or deleted)."""

    def handler(an: _Analyzer, name: str, args: list[Word], st: _State,
                redirs: list[Redir]) -> None:
        _opts, operands = _getopt(args, short_val, long_val)
        for word in operands:
            an.target(word, st, form, op)

    return handler


def _h_tee(an: _Analyzer, name: str, args: list[Word], st: _State,
           redirs: list[Redir]) -> None:
    _opts, operands = _getopt(args)
    for word in operands:
        if _static(word) != "-":
            an.target(word, st, "tee", "write")


def _h_dd(an: _Analyzer, name: str, args: list[Word], st: _State,
          redirs: list[Redir]) -> None:
    for word in args:
        if _prefix(word).startswith("of="):
            # of=~/x: bash expands ~ after `name=` in an argument, as resolve() does
            an.target(_drop(word, 3), st, "dd", "write")


def _copy_like(form: str, short_val: str, long_val: frozenset[str],
               moves: bool = False) -> Handler:
    """cp, mv, install, ln: the destination (and for mv the sources)."""

    def handler(an: _Analyzer, name: str, args: list[Word], st: _State,
                redirs: list[Redir]) -> None:
        opts, operands = _getopt(args, short_val, long_val)
        if form == "install" and _has(opts, "-d", "--directory"):
            return  # creates folders
        folders = _values(opts, "-t", "--target-directory")
        if form == "ln" and not folders and len(operands) == 1:  # ln -s /x/tool: ./tool
            made = an.into(_lit_word(st.cwd) if st.cwd else _lit_word("."), operands[0], st,
                           form, "write")
            if made is not None:
                an.link(made, operands[0], st, _has(opts, "-s", "--symbolic"))
            return
        if folders:
            sources, dest = operands, folders[-1]
            into = True
        elif len(operands) >= 2:
            sources, dest = operands[:-1], operands[-1]
            exact = _has(opts, "-T", "--no-target-directory")
            into = not exact and (len(sources) > 1 or an.dest_is_folder(dest, st))
        else:
            return
        op = "move-dst" if moves else "write"
        for src in sources:
            if moves:
                an.target(src, st, form, "move-src")
            made = an.into(dest, src, st, form, op) if into else an.target(dest, st, form, op)
            if form == "ln" and made is not None:
                an.link(made, src, st, _has(opts, "-s", "--symbolic"))

    return handler


def _h_rsync(an: _Analyzer, name: str, args: list[Word], st: _State,
             redirs: list[Redir]) -> None:
    opts, operands = _getopt(args, "efBTM", _RSYNC_LONG_VAL)
    for log in _values(opts, "--log-file", "--write-batch", "--only-write-batch"):
        an.target(log, st, "rsync", "write")
    if _has(opts, "-n", "--dry-run", "--list-only") or len(operands) < 2:
        return
    dest = operands[-1]
    text = _prefix(dest)
    if text.startswith("rsync://") or ":" in text.split("/", 1)[0]:
        return  # remote destination
    an.target(dest, st, "rsync", "write")
    if _has(opts, "--remove-source-files"):
        for src in operands[:-1]:
            if ":" not in _prefix(src).split("/", 1)[0]:
                an.target(src, st, "rsync", "delete")


_RSYNC_LONG_VAL = frozenset({
    "--exclude", "--include", "--filter", "--exclude-from", "--include-from",
    "--files-from", "--rsh", "--log-file", "--backup-dir", "--suffix", "--partial-dir",
    "--temp-dir", "--compare-dest", "--copy-dest", "--link-dest", "--chmod", "--chown",
    "--timeout", "--port", "--bwlimit", "--rsync-path", "--out-format", "--max-size",
    "--min-size", "--password-file", "--info", "--debug", "--iconv", "--max-delete",
    "--modify-window", "--usermap", "--groupmap", "--contimeout", "--sockopts",
    "--remote-option", "--checksum-choice", "--compress-choice", "--compress-level",
    "--block-size", "--skip-compress", "--write-batch", "--read-batch",
    "--only-write-batch", "--protocol", "--address", "--log-file-format"})


def _h_sed(an: _Analyzer, name: str, args: list[Word], st: _State,
           redirs: list[Redir]) -> None:
    inplace = False
    suffix = ""
    scripts: list[Word] = []
    operands: list[Word] = []
    i = 0
    done = False
    while i < len(args):
        word = args[i]
        i += 1
        pre = _prefix(word)
        if done or not pre.startswith("-") or pre == "-":
            operands.append(word)
            continue
        if pre == "--":
            done = True
        elif pre.startswith("--"):
            opt, eq, attached = pre.partition("=")
            if opt == "--in-place":
                inplace, suffix = True, attached
            elif opt in ("--expression", "--file"):
                given = _drop(word, len(opt) + 1) if eq else (args[i] if i < len(args) else None)
                i += 0 if eq else 1
                if given is not None:
                    scripts.append(given if opt == "--expression" else _lit_word(""))
            elif opt == "--line-length" and not eq:
                i += 1
        else:
            for k in range(1, len(pre)):
                ch = pre[k]
                if ch == "i":
                    inplace, suffix = True, pre[k + 1:]
                    if pre == "-i" and i < len(args) and _static(args[i]) == "":
                        i += 1  # BSD/macOS `sed -i '' script file`
                    break
                if ch in "efl":
                    rest = pre[k + 1:]
                    value = _drop(word, k + 1) if rest else (args[i] if i < len(args)
                                                             else None)
                    i += 0 if rest else 1
                    if ch == "e" and value is not None:
                        scripts.append(value)
                    elif ch == "f":
                        scripts.append(_lit_word(""))
                    break
    if not scripts and operands:
        scripts.append(operands.pop(0))
    for script in scripts:
        text = _static(script) or ""
        if re.search(_SED_WRITE, text):
            an.note(PROGRAM, "sed", "w command in " + script.raw)
    if inplace:
        an.in_place(operands, st, "sed-i", suffix)


_SED_WRITE = r"(?:^|[;\n}0-9$]|/[gpIiMme0-9]*)\s*[wW]\s+\S"  # compiled on use (re caches)



def _h_perl(an: _Analyzer, name: str, args: list[Word], st: _State,
            redirs: list[Redir]) -> None:
    inplace = False
    suffix = ""
    has_program = False
    operands: list[Word] = []
    i = 0
    done = False
    while i < len(args):
        word = args[i]
        i += 1
        pre = _prefix(word)
        if done or not pre.startswith("-") or pre == "-":
            operands.append(word)
            done = True  # perl stops at its first operand (the script or a file)
            continue
        if pre == "--":
            done = True
            continue
        for k in range(1, len(pre)):
            ch = pre[k]
            if ch == "i":
                inplace, suffix = True, pre[k + 1:]
                break
            if ch in "eE":
                has_program = True
                if k + 1 == len(pre):
                    i += 1
                break
            if ch in "0lFMmIxdDCV":  # take the rest of the cluster as their value
                if ch in "IMm" and k + 1 == len(pre):
                    i += 1
                break
    if not has_program and operands:
        operands = operands[1:]  # a script file: perl's first operand
    if not inplace:  # a perl program may open and write any file
        an.note(PROGRAM, "perl", _command_text([_lit_word(name), *args]))
        return
    an.in_place(operands, st, "perl-i", suffix)


_AWK_WRITES = r"\bprintf?\b[^;{}\n]*?(?:>|\|)|\bsystem\s*\(|\|\s*&"  # compiled on use


def _h_awk(an: _Analyzer, name: str, args: list[Word], st: _State,
           redirs: list[Redir]) -> None:
    opts, operands = _getopt(args, "Fvfie", frozenset({
        "--field-separator", "--assign", "--file", "--include", "--source", "--exec"}))
    if _values(opts, "-f", "--file", "-E", "--exec"):
        an.note(PROGRAM, name, "program file")
        return
    programs = _values(opts, "-e", "--source")
    if not programs and operands:
        programs = [operands.pop(0)]
    for program in programs:
        text = _static(program)
        if text is None or re.search(_AWK_WRITES, text):
            an.note(PROGRAM, name, program.raw)
    if any(_static(v) == "inplace" for v in _values(opts, "-i", "--include")):
        for word in operands:
            if not _ASSIGN.match(_prefix(word)):
                an.target(word, st, "awk-i", "write")


def _h_xxd(an: _Analyzer, name: str, args: list[Word], st: _State,
           redirs: list[Redir]) -> None:
    operands = []
    i = 0
    while i < len(args):  # xxd's options are single-dash words: -l 64, -len 64, -l64
        text = _prefix(args[i])
        i += 1
        if text.startswith("-") and len(text) > 1:
            if text.lstrip("-")[:1] in "cglosn" and not text[2:].isdigit() and \
                    text not in ("-ps", "-postscript", "-plain"):
                i += 1
        else:
            operands.append(args[i - 1])
    if len(operands) >= 2:  # xxd [-r] infile outfile
        an.target(operands[1], st, "xxd", "write")


def _h_sort(an: _Analyzer, name: str, args: list[Word], st: _State,
            redirs: list[Redir]) -> None:
    opts, _operands = _getopt(args, "kotST", frozenset({
        "--key", "--output", "--field-separator", "--buffer-size", "--temporary-directory",
        "--files0-from", "--parallel", "--batch-size", "--compress-program",
        "--random-source"}))
    for out in _values(opts, "-o", "--output"):
        an.target(out, st, "sort", "write")


def _h_uniq(an: _Analyzer, name: str, args: list[Word], st: _State,
            redirs: list[Redir]) -> None:
    _opts, operands = _getopt(args, "fsw", frozenset({"--skip-fields", "--skip-chars",
                                                      "--check-chars"}))
    if len(operands) >= 2:
        an.target(operands[1], st, "uniq", "write")


def _h_patch(an: _Analyzer, name: str, args: list[Word], st: _State,
             redirs: list[Redir]) -> None:
    opts, operands = _getopt(args, "pioFdrBDVYzgx", frozenset({
        "--strip", "--input", "--output", "--fuzz", "--directory", "--reject-file",
        "--prefix", "--ifdef", "--version-control", "--basename-prefix", "--suffix",
        "--get", "--debug", "--quoting-style"}))
    if _has(opts, "--dry-run"):
        return
    here = st
    folders = _values(opts, "-d", "--directory")
    if folders:
        here = st.copy()
        path = an.resolve(folders[-1], st)[0]
        here.chdir(path, "patch -d " + folders[-1].raw)
    outputs = _values(opts, "-o", "--output")
    for out in outputs:
        if _static(out) != "-":
            an.target(out, here, "patch", "write")
    if outputs:
        return
    if operands:
        an.target(operands[0], here, "patch", "write")
    else:
        an.note(PATCH, "patch", "files named inside the diff")


def _h_tar(an: _Analyzer, name: str, args: list[Word], st: _State,
           redirs: list[Redir]) -> None:
    if args and not _prefix(args[0]).startswith("-") and _static(args[0]):
        args = [_lit_word("-" + (_static(args[0]) or "")), *args[1:]]  # tar czf x.tgz
    opts, _operands = _getopt(args, "fCbTXLgKNV", frozenset({
        "--file", "--directory", "--files-from", "--exclude-from", "--exclude",
        "--listed-incremental", "--transform", "--owner", "--group", "--mode"}))
    names = {n for n, _v in opts}
    files = _values(opts, "-f", "--file")
    if names & {"-c", "--create", "-r", "--append", "-u", "--update", "-A", "--concatenate"}:
        for archive in files:
            if _static(archive) != "-":
                an.target(archive, st, "tar", "write")
    elif names & {"-x", "--extract", "--get"} and not names & {"-O", "--to-stdout"}:
        an.note(DYNAMIC, "tar", "extracts the files named in the archive")


def _h_curl(an: _Analyzer, name: str, args: list[Word], st: _State,
            redirs: list[Redir]) -> None:
    opts, _operands = _getopt(args, "oDcdHXuAebFTwmxKErzCYyQtUP", _CURL_LONG_VAL)
    for out in _values(opts, "-o", "--output", "-D", "--dump-header", "-c", "--cookie-jar",
                       "--trace", "--trace-ascii", "--stderr", "--etag-save"):
        if _static(out) != "-":
            an.target(out, st, "curl", "write")
    if _has(opts, "-O", "--remote-name", "--remote-name-all", "-J"):
        an.note(DYNAMIC, "curl", "-O names the file after the URL")


_CURL_LONG_VAL = frozenset({
    "--output", "--dump-header", "--cookie-jar", "--trace", "--trace-ascii", "--stderr",
    "--etag-save", "--data", "--data-raw", "--data-binary", "--data-urlencode", "--header",
    "--request", "--user", "--user-agent", "--referer", "--cookie", "--form", "--upload-file",
    "--write-out", "--max-time", "--proxy", "--config", "--cert", "--range", "--time-cond",
    "--continue-at", "--speed-limit", "--speed-time", "--quote", "--url", "--retry",
    "--connect-timeout", "--output-dir", "--json", "--resolve", "--cacert", "--key"})


def _h_wget(an: _Analyzer, name: str, args: list[Word], st: _State,
            redirs: list[Redir]) -> None:
    opts, operands = _getopt(args, "OoaPtTUeiBwQlAREdDYX", frozenset({
        "--output-document", "--output-file", "--append-output", "--directory-prefix",
        "--tries", "--timeout", "--user-agent", "--execute", "--input-file", "--header",
        "--wait", "--quota", "--level", "--accept", "--reject", "--user", "--password"}))
    for log in _values(opts, "-o", "--output-file", "-a", "--append-output"):
        an.target(log, st, "wget", "write")
    docs = _values(opts, "-O", "--output-document")
    for doc in docs:
        if _static(doc) != "-":
            an.target(doc, st, "wget", "write")
    if not docs and operands and not _has(opts, "--spider"):
        an.note(DYNAMIC, "wget", "names the file after the URL")


def _h_find(an: _Analyzer, name: str, args: list[Word], st: _State,
            redirs: list[Redir]) -> None:
    i = 0
    while i < len(args) and not _prefix(args[i]).startswith(("-", "(", "!", ")", ",")):
        i += 1
    while i < len(args):
        text = _static(args[i])
        i += 1
        if text == "-delete":
            an.note(DYNAMIC, "find", "-delete removes the files it matches")
        elif text in ("-fprint", "-fprint0", "-fls", "-fprintf") and i < len(args):
            an.target(args[i], st, "find", "write")
            i += 1
        elif text in ("-exec", "-execdir", "-ok", "-okdir"):
            argv: list[Word] = []
            while i < len(args) and _static(args[i]) not in (";", "+"):
                word = args[i]
                argv.append(_dynamic_word("find " + text + " {}") if "{}" in word.raw
                            else word)
                i += 1
            i += 1
            if argv:
                here = st.copy()
                if text in ("-execdir", "-okdir"):
                    here.chdir(None, "find " + text)
                an.command(argv, here, [])


def _h_xargs(an: _Analyzer, name: str, args: list[Word], st: _State,
             redirs: list[Redir]) -> None:
    opts, operands = _getopt(args, "IiLnPdEsa", frozenset({
        "--replace", "--max-lines", "--max-args", "--max-procs", "--delimiter", "--eof",
        "--max-chars", "--arg-file", "--process-slot-var"}), permute=False)
    replace = [(_static(v) or "") for v in _values(opts, "-I", "--replace", "-i")]
    argv = operands or [_lit_word("echo")]
    if replace and replace[0]:
        argv = [_dynamic_word("xargs input") if replace[0] in w.raw else w for w in argv]
    else:
        argv = [*argv, _dynamic_word("xargs input")]
    an.command(argv, st.copy(), [])


def _h_wrapper(short_val: str, long_val: frozenset[str] = frozenset(),
               skip: int = 0) -> Handler:
    """nohup, nice, timeout, stdbuf...: run the command after their own options."""

    def handler(an: _Analyzer, name: str, args: list[Word], st: _State,
                redirs: list[Redir]) -> None:
        opts, operands = _getopt(args, short_val, long_val, permute=False)
        if name == "command" and _has(opts, "-v", "-V"):
            return
        if name == "time":
            for out in _values(opts, "-o", "--output"):
                an.target(out, st, "time", "write")
        rest = operands[skip:]
        if rest:
            an.command(rest, st, redirs)

    return handler


def _h_env(an: _Analyzer, name: str, args: list[Word], st: _State,
           redirs: list[Redir]) -> None:
    opts, operands = _getopt(args, "uCS", frozenset({"--unset", "--chdir", "--split-string"}),
                             permute=False)
    while operands and _ASSIGN.match(_prefix(operands[0])):
        operands = operands[1:]
    if _values(opts, "-S", "--split-string"):
        an.note(PROGRAM, "env", "-S splits a command string")
        return
    here = st
    for folder in _values(opts, "-C", "--chdir"):
        here = st.copy()
        path = an.resolve(folder, st)[0]
        here.chdir(path, "env -C " + folder.raw)
    if operands:
        an.command(operands, here, redirs)


def _h_sudo(an: _Analyzer, name: str, args: list[Word], st: _State,
            redirs: list[Redir]) -> None:
    opts, operands = _getopt(args, "ugCDhprtUTR", frozenset({
        "--user", "--group", "--close-from", "--chdir", "--host", "--prompt", "--role",
        "--type", "--other-user", "--command-timeout", "--chroot"}), permute=False)
    while operands and _ASSIGN.match(_prefix(operands[0])):
        operands = operands[1:]
    if operands:
        an.command(operands, st, redirs)
    elif _has(opts, "-i", "-s", "--login", "--shell"):
        an.note(PROGRAM, name, "interactive shell")


_SHELLS = frozenset({"bash", "sh", "dash", "zsh", "ksh", "mksh", "ash"})


def _h_shell(an: _Analyzer, name: str, args: list[Word], st: _State,
             redirs: list[Redir]) -> None:
    command_mode = False
    operands: list[Word] = []
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        pre = _prefix(word)
        if operands or not (pre.startswith("-") or pre.startswith("+")) or pre in ("-", "--"):
            if pre != "--" or operands:
                operands.append(word)
            continue
        if pre.startswith("--"):
            if pre in ("--rcfile", "--init-file"):
                i += 1
            continue
        if pre[1:] in ("o", "O"):
            i += 1
            continue
        if "c" in pre[1:]:
            command_mode = True
    if command_mode:
        if not operands:
            return
        text = _static(operands[0])
        if text is None:
            kind = an.resolve(operands[0], st)[1]
            an.note(kind[0] if kind else VARIABLE, name + " -c", operands[0].raw)
            return
        an.nested(text, st.copy(), name + " -c")
        return
    if operands:
        an.note(PROGRAM, name, _command_text([_lit_word(name), *args]))
        return
    for redir in redirs:  # bash <<'EOF' ... EOF: the script is the here-doc
        if redir.op in ("<<", "<<-") and redir.body is not None and (
                redir.quoted or not any(c in redir.body for c in "$`\\")):
            an.nested(redir.body, st.copy(), name + " <<")
            return
        if redir.op == "<<<" and _static(redir.word) is not None:
            an.nested(_static(redir.word) or "", st.copy(), name + " <<<")
            return
    an.note(PROGRAM, name, "reads its script from standard input")


def _h_eval(an: _Analyzer, name: str, args: list[Word], st: _State,
            redirs: list[Redir]) -> None:
    texts = [_static(w) for w in args]
    if any(t is None for t in texts):
        an.note(VARIABLE, name, _command_text([_lit_word(name), *args]))
        return
    an.nested(" ".join(t or "" for t in texts), st if name == "eval" else st.copy(), name)


def _h_trap(an: _Analyzer, name: str, args: list[Word], st: _State,
            redirs: list[Redir]) -> None:
    if len(args) >= 2 and _static(args[0]) not in ("-p", "-l"):
        _h_eval(an, "trap", args[:1], st.copy(), redirs)


def _h_source(an: _Analyzer, name: str, args: list[Word], st: _State,
              redirs: list[Redir]) -> None:
    text = _static(args[0]) if args else None
    if text is not None and os.path.basename(text) in ("activate", "activate.sh", "env"):
        return  # a virtualenv's activate script only sets variables
    an.note(PROGRAM, name, _command_text([_lit_word(name), *args]))


def _h_set(an: _Analyzer, name: str, args: list[Word], st: _State,
           redirs: list[Redir]) -> None:
    for i, word in enumerate(args):
        text = _static(word) or ""
        if text[:1] in "-+" and not text.startswith("--"):
            if "e" in text[1:]:
                st.errexit = text[0] == "-"
            if text[1:] == "o" and i + 1 < len(args) and _static(args[i + 1]) == "errexit":
                st.errexit = text[0] == "-"


def _h_cd(an: _Analyzer, name: str, args: list[Word], st: _State,
          redirs: list[Redir]) -> None:
    operands = [w for w in args if _static(w) not in ("-L", "-P", "-e", "-@", "--", "-n")]
    if name == "popd":
        if st.stack:
            st.chdir(st.stack.pop())
        else:
            st.chdir(None, "popd")
        return
    before = st.cwd
    if not operands:
        if name == "pushd":
            if st.stack:
                top = st.stack.pop()
                st.stack.append(before)
                st.chdir(top)
            return
        st.chdir(an.home, "cd with no home")
    elif _static(operands[0]) == "-":
        st.chdir(st.oldpwd, "cd -")
    else:
        an.move(st, operands[0], f"{name} {operands[0].raw}")
    if name == "pushd":
        st.stack.append(before)


def _h_python(an: _Analyzer, name: str, args: list[Word], st: _State,
              redirs: list[Redir]) -> None:
    i = 0
    while i < len(args):
        word = args[i]
        text = _prefix(word)
        if not text.startswith("-") or text in ("-", "-c") or text.startswith("-c"):
            break  # a script, stdin or -c: a program
        if text.startswith("-m"):  # python -m MODULE ARGS: MODULE gets the rest
            module_word = _drop(word, 2) if len(text) > 2 else (
                args[i + 1] if i + 1 < len(args) else None)
            rest = args[i + 1:] if len(text) > 2 else args[i + 2:]
            module = _static(module_word) if module_word is not None else None
            if module in _PY_MODULES:
                an.command([_lit_word(module or ""), *rest], st, redirs, unknown=PROGRAM)
                return
            break
        i += 2 if text in ("-W", "-X", "-Q") else 1  # their value is the next word
    else:
        if _only_version(args):
            return
    an.note(PROGRAM, name, _command_text([_lit_word(name), *args]))


_PY_MODULES = frozenset({"black", "isort", "ruff", "mypy", "pip", "json.tool", "pytest",
                         "autopep8", "yapf", "pyflakes", "flake8", "pylint"})


def _h_subcommands(read_only: frozenset[str]) -> Handler:
    """npm, pip, cargo, go, docker...: a few subcommands only read; the rest run code."""

    def handler(an: _Analyzer, name: str, args: list[Word], st: _State,
                redirs: list[Redir]) -> None:
        _opts, operands = _getopt(args, "", frozenset(), permute=False)
        sub = _static(operands[0]) if operands else None
        if sub in read_only or (not operands and _only_version(args)):
            return
        an.note(PROGRAM, name, _command_text([_lit_word(name), *args]))

    return handler


def _h_runner(an: _Analyzer, name: str, args: list[Word], st: _State,
              redirs: list[Redir]) -> None:
    """npx X, uvx X, uv run X, poetry run X: run X (a known tool, else a program)."""
    rest = args
    if name in ("uv", "poetry", "pdm", "pipenv", "hatch", "pnpm", "yarn", "bun"):
        sub = _static(rest[0]) if rest else None
        if sub not in ("run", "exec", "dlx", "x"):
            if _only_version(rest):
                return
            an.note(PROGRAM, name, _command_text([_lit_word(name), *args]))
            return
        rest = rest[1:]
    _opts, operands = _getopt(rest, "p", frozenset({"--package", "--with", "--from",
                                                     "--python", "-p"}), permute=False)
    if operands:
        an.command(operands, st, redirs, unknown=PROGRAM)
    else:
        an.note(PROGRAM, name, _command_text([_lit_word(name), *args]))


def _h_formatter(writes: tuple[str, ...] | None, dry: tuple[str, ...], short_val: str = "",
                 long_val: frozenset[str] = frozenset(), default: str | None = None) -> Handler:
    """black, prettier --write, gofmt -w...: rewrite the files and folders they are given.

    ``writes``: the flags that make it write (None: it writes unless given a ``dry`` flag).
    """

    def handler(an: _Analyzer, name: str, args: list[Word], st: _State,
                redirs: list[Redir]) -> None:
        opts, operands = _getopt(args, short_val, long_val)
        if _has(opts, *dry) or (writes is not None and not _has(opts, *writes)):
            return
        if not operands and default is not None:
            operands = [_lit_word(default)]
        for word in operands:
            if _static(word) != "-":
                an.target(word, st, name, "write")

    return handler


def _h_ruff(an: _Analyzer, name: str, args: list[Word], st: _State,
            redirs: list[Redir]) -> None:
    opts, operands = _getopt(args, "o", _RUFF_LONG_VAL)
    sub = _static(operands[0]) if operands else None
    for out in _values(opts, "-o", "--output-file"):
        an.target(out, st, "ruff", "write")
    paths = operands[1:] or [_lit_word(".")]
    if sub == "format" and not _has(opts, "--check", "--diff"):
        writes = True
    else:
        writes = sub == "check" and _has(opts, "--fix", "--unsafe-fixes") and \
            not _has(opts, "--no-fix", "--diff")
    if writes:
        for word in paths:
            if _static(word) != "-":
                an.target(word, st, "ruff", "write")


_RUFF_LONG_VAL = frozenset({
    "--config", "--target-version", "--line-length", "--select", "--ignore",
    "--extend-select", "--exclude", "--extend-exclude", "--output-format",
    "--stdin-filename", "--per-file-ignores", "--fixable", "--unfixable", "--cache-dir",
    "--output-file", "--range"})


_GIT_READ_ONLY = frozenset({
    "status", "diff", "log", "show", "blame", "annotate", "rev-parse", "rev-list",
    "ls-files", "ls-tree", "ls-remote", "grep", "describe", "shortlog", "reflog",
    "cat-file", "branch", "tag", "remote", "config", "fetch", "push", "add", "commit",
    "merge-base", "name-rev", "show-ref", "for-each-ref", "count-objects", "fsck", "gc",
    "help", "version", "var", "whatchanged", "notes", "range-diff", "check-ignore",
    "check-attr", "hash-object", "update-index", "write-tree", "show-branch", "init",
    "clone", "prune", "repack", "maintenance", "credential", "difftool", "cherry",
    "verify-commit", "log-tree", "instaweb", "request-pull", "archive", "bundle",
    "submodule-status", "lfs"})
_GIT_WORKTREE = frozenset({
    "merge", "rebase", "pull", "cherry-pick", "revert", "am", "bisect", "checkout-index",
    "read-tree", "sparse-checkout", "filter-branch", "stash-pop", "switch"})


def _h_git(an: _Analyzer, name: str, args: list[Word], st: _State,
           redirs: list[Redir]) -> None:
    here = st
    i = 0
    while i < len(args):  # git's own options come before the subcommand
        text = _prefix(args[i])
        if text == "-C" and i + 1 < len(args):
            here = here.copy() if here is st else here
            path = an.resolve(args[i + 1], here)[0]
            here.chdir(path, "git -C " + args[i + 1].raw)
            i += 2
        elif text in ("-c", "--git-dir", "--work-tree", "--namespace", "--exec-path") \
                and "=" not in text:
            if text == "--work-tree":
                an.note(DYNAMIC, "git", "--work-tree")
            i += 2
        elif text.startswith("-"):
            if text.startswith("--work-tree="):
                an.note(DYNAMIC, "git", text)
            i += 1
        else:
            break
    if i >= len(args):
        return
    sub = _static(args[i])
    rest = args[i + 1:]
    handler = _GIT_HANDLERS.get(sub or "")
    if handler is not None:
        handler(an, sub or "", rest, here, redirs)
    elif sub in _GIT_READ_ONLY:
        if sub == "diff":
            for out in _values(_getopt(rest)[0], "--output"):
                an.target(out, here, "git-diff", "write")
        return
    elif sub in _GIT_WORKTREE:
        an.note(GIT_WORKTREE, "git " + (sub or ""), _command_text(args[i:]))
    else:
        an.note(UNKNOWN_COMMAND, "git " + (sub or args[i].raw), _command_text(args[i:]))


def _pathspec_targets(an: _Analyzer, words: list[Word], st: _State, form: str,
                      op: str) -> None:
    for word in words:
        text = _prefix(word)
        if text.startswith(":"):
            an.note(GLOB, form, word.raw)  # pathspec magic
        elif _static(word) is not None and _is_glob(_static(word) or ""):
            an.note(GLOB, form, word.raw)  # quoted: git matches it as a pattern
        else:
            an.target(word, st, form, op)


def _g_checkout(an: _Analyzer, name: str, args: list[Word], st: _State,
                redirs: list[Redir]) -> None:
    dashdash = next((k for k, w in enumerate(args) if _static(w) == "--"), None)
    before = args if dashdash is None else args[:dashdash]
    opts, operands = _getopt(before, "bB", frozenset({"--orphan", "--conflict"}))
    if dashdash is not None:
        _pathspec_targets(an, args[dashdash + 1:], st, "git-checkout", "write")
        return
    if _has(opts, "-p", "--patch"):
        an.note(GIT_WORKTREE, "git-checkout", "--patch")
        return
    if _has(opts, "-b", "-B", "--orphan"):
        if operands:  # a new branch at another commit: the work tree changes
            an.note(GIT_WORKTREE, "git-checkout", _command_text([_lit_word(name), *args]))
        return
    if not operands:
        return
    if len(operands) == 1:
        text = _static(operands[0])
        if text is not None and (text == "." or text.startswith("./")):
            _pathspec_targets(an, operands, st, "git-checkout", "write")
        else:  # a branch (switches the work tree) or a file: git decides
            an.note(GIT_WORKTREE, "git-checkout", operands[0].raw)
        return
    _pathspec_targets(an, operands[1:], st, "git-checkout", "write")  # REV path...


def _g_restore(an: _Analyzer, name: str, args: list[Word], st: _State,
               redirs: list[Redir]) -> None:
    opts, operands = _getopt(args, "s", frozenset({"--source", "--conflict",
                                                   "--pathspec-from-file"}))
    if _values(opts, "--pathspec-from-file"):
        an.note(DYNAMIC, "git-restore", "--pathspec-from-file")
    if _has(opts, "-S", "--staged") and not _has(opts, "-W", "--worktree"):
        return  # only the index
    if _has(opts, "-p", "--patch"):
        an.note(GIT_WORKTREE, "git-restore", "--patch")
    _pathspec_targets(an, operands, st, "git-restore", "write")


def _g_reset(an: _Analyzer, name: str, args: list[Word], st: _State,
             redirs: list[Redir]) -> None:
    opts, _operands = _getopt(args)
    if _has(opts, "--hard", "--merge", "--keep"):
        an.note(GIT_WORKTREE, "git-reset", _command_text([_lit_word(name), *args]))


def _g_stash(an: _Analyzer, name: str, args: list[Word], st: _State,
             redirs: list[Redir]) -> None:
    sub = _static(args[0]) if args else "push"
    if sub in ("list", "show", "drop", "clear", "create", "store"):
        return
    dashdash = next((k for k, w in enumerate(args) if _static(w) == "--"), None)
    if sub == "push" and dashdash is not None:
        _pathspec_targets(an, args[dashdash + 1:], st, "git-stash", "write")
        return
    an.note(GIT_WORKTREE, "git-stash", _command_text([_lit_word(name), *args]))


def _g_clean(an: _Analyzer, name: str, args: list[Word], st: _State,
             redirs: list[Redir]) -> None:
    opts, operands = _getopt(args, "e", frozenset({"--exclude"}))
    if _has(opts, "-n", "--dry-run") or not _has(opts, "-f", "--force"):
        return
    if operands:
        _pathspec_targets(an, operands, st, "git-clean", "delete")
    else:
        an.note(DYNAMIC, "git-clean", "deletes the untracked files it finds")


def _g_rm(an: _Analyzer, name: str, args: list[Word], st: _State,
          redirs: list[Redir]) -> None:
    opts, operands = _getopt(args, "", frozenset({"--pathspec-from-file"}))
    if _has(opts, "--cached", "-n", "--dry-run"):
        return
    _pathspec_targets(an, operands, st, "git-rm", "delete")


def _g_mv(an: _Analyzer, name: str, args: list[Word], st: _State,
          redirs: list[Redir]) -> None:
    _copy_like("git-mv", "", frozenset(), moves=True)(an, name, args, st, redirs)


def _g_apply(an: _Analyzer, name: str, args: list[Word], st: _State,
             redirs: list[Redir]) -> None:
    opts, _operands = _getopt(args, "pC", frozenset({"--directory", "--exclude", "--include",
                                                     "--whitespace", "--build-fake-ancestor"}))
    if _has(opts, "--check", "--stat", "--numstat", "--summary", "--cached"):
        return
    an.note(PATCH, "git-apply", "files named inside the diff")


def _g_worktree(an: _Analyzer, name: str, args: list[Word], st: _State,
                redirs: list[Redir]) -> None:
    sub = _static(args[0]) if args else None
    if sub in ("list", "prune", "lock", "unlock", "repair"):
        return
    an.note(GIT_WORKTREE, "git-worktree", _command_text([_lit_word(name), *args]))


def _g_submodule(an: _Analyzer, name: str, args: list[Word], st: _State,
                 redirs: list[Redir]) -> None:
    sub = _static(args[0]) if args else "status"
    if sub in ("status", "summary", "foreach") and sub != "foreach":
        return
    an.note(GIT_WORKTREE, "git-submodule", _command_text([_lit_word(name), *args]))


_GIT_HANDLERS: dict[str, Handler] = {
    "checkout": _g_checkout,
    "restore": _g_restore,
    "reset": _g_reset,
    "stash": _g_stash,
    "clean": _g_clean,
    "rm": _g_rm,
    "mv": _g_mv,
    "apply": _g_apply,
    "worktree": _g_worktree,
    "submodule": _g_submodule,
    "switch": lambda an, name, args, st, redirs: (
        None if _has(_getopt(args, "cC")[0], "-c", "-C", "--create", "--force-create")
        and len(_getopt(args, "cC")[1]) == 0
        else an.note(GIT_WORKTREE, "git-switch", _command_text([_lit_word(name), *args]))),
}


def _h_tsc(an: _Analyzer, name: str, args: list[Word], st: _State,
           redirs: list[Redir]) -> None:
    if _only_version(args) or any(_static(w) in ("--noEmit", "--showConfig") for w in args):
        return
    an.note(PROGRAM, name, "writes its compiled output")


_HANDLERS: dict[str, Handler] = {
    "rm": _h_operands("rm", "delete"),
    "unlink": _h_operands("unlink", "delete"),
    "rmdir": _h_operands("rmdir", "delete"),
    "shred": _h_operands("shred", "write", "ns", frozenset({"--iterations", "--size"})),
    "touch": _h_operands("touch", "write", "dtr", frozenset({"--date", "--reference",
                                                               "--time"})),
    "truncate": _h_operands("truncate", "write", "sr", frozenset({"--size", "--reference"})),
    "sponge": _h_operands("sponge", "write"),
    "tee": _h_tee,
    "dd": _h_dd,
    "cp": _copy_like("cp", "tS", frozenset({"--target-directory", "--suffix"})),
    "mv": _copy_like("mv", "tS", frozenset({"--target-directory", "--suffix"}), moves=True),
    "install": _copy_like("install", "gmoStM", frozenset({
        "--group", "--mode", "--owner", "--suffix", "--target-directory",
        "--strip-program"})),
    "ln": _copy_like("ln", "tS", frozenset({"--target-directory", "--suffix"})),
    "rsync": _h_rsync,
    "sed": _h_sed,
    "gsed": _h_sed,
    "perl": _h_perl,
    "awk": _h_awk,
    "gawk": _h_awk,
    "mawk": _h_awk,
    "nawk": _h_awk,
    "sort": _h_sort,
    "uniq": _h_uniq,
    "xxd": _h_xxd,
    "patch": _h_patch,
    "tar": _h_tar,
    "curl": _h_curl,
    "wget": _h_wget,
    "find": _h_find,
    "xargs": _h_xargs,
    "git": _h_git,
    "env": _h_env,
    "sudo": _h_sudo,
    "doas": _h_sudo,
    "nohup": _h_wrapper(""),
    "setsid": _h_wrapper(""),
    "chronic": _h_wrapper(""),
    "unbuffer": _h_wrapper(""),
    "builtin": _h_wrapper(""),
    "command": _h_wrapper(""),
    "exec": _h_wrapper("a"),
    "time": _h_wrapper("fo", frozenset({"--format", "--output"})),
    "nice": _h_wrapper("n", frozenset({"--adjustment"})),
    "ionice": _h_wrapper("cnp", frozenset({"--class", "--classdata", "--pid"})),
    "timeout": _h_wrapper("sk", frozenset({"--signal", "--kill-after"}), skip=1),
    "stdbuf": _h_wrapper("ioe", frozenset({"--input", "--output", "--error"})),
    "eval": _h_eval,
    "trap": _h_trap,
    "source": _h_source,
    ".": _h_source,
    "cd": _h_cd,
    "set": _h_set,
    "pushd": _h_cd,
    "popd": _h_cd,
    "python": _h_python,
    "pypy3": _h_python,
    "npx": _h_runner,
    "bunx": _h_runner,
    "uvx": _h_runner,
    "pipx": _h_runner,
    "uv": _h_runner,
    "poetry": _h_runner,
    "pdm": _h_runner,
    "pipenv": _h_runner,
    "hatch": _h_runner,
    "pnpm": _h_runner,
    "yarn": _h_runner,
    "bun": _h_runner,
    "npm": _h_subcommands(frozenset({"ls", "list", "view", "info", "outdated", "root", "bin",
                                     "help", "whoami", "search", "config", "explain",
                                     "why", "doctor", "ping", "prefix"})),
    "pip": _h_subcommands(frozenset({"list", "show", "freeze", "check", "help", "index",
                                     "inspect", "search", "config", "debug", "cache"})),
    "pip3": _h_subcommands(frozenset({"list", "show", "freeze", "check", "help", "inspect"})),
    "cargo": _h_subcommands(frozenset({"metadata", "tree", "search", "help", "version",
                                       "locate-project", "pkgid", "verify-project"})),
    "go": _h_subcommands(frozenset({"vet", "version", "env", "list", "doc", "help"})),
    "docker": _h_subcommands(frozenset({"ps", "images", "logs", "inspect", "version",
                                        "info", "stats", "top", "port", "diff", "history"})),
    "tsc": _h_tsc,
    "black": _h_formatter(None, ("--check", "--diff", "-c", "--code"), "ltWS", frozenset({
        "--line-length", "--target-version", "--include", "--exclude", "--extend-exclude",
        "--force-exclude", "--config", "--required-version", "--stdin-filename",
        "--workers", "--python-cell-magics"})),
    "isort": _h_formatter(None, ("--check-only", "-c", "--check", "--diff", "--stdout", "-d"),
                          "lp", frozenset({"--settings-path", "--sp", "--profile",
                                           "--line-length", "--skip", "--src"})),
    "autopep8": _h_formatter(("-i", "--in-place"), ("--diff", "-d")),
    "yapf": _h_formatter(("-i", "--in-place"), ("--diff", "-d"), "", frozenset({"--style"})),
    "prettier": _h_formatter(("--write", "-w"), ("--check", "-c"), "", frozenset({
        "--config", "--parser", "--plugin", "--ignore-path", "--stdin-filepath",
        "--print-width", "--tab-width", "--trailing-comma", "--end-of-line",
        "--log-level", "--cache-location"})),
    "eslint": _h_formatter(("--fix",), ("--fix-dry-run",), "cf", frozenset({
        "--config", "--format", "--ext", "--ignore-path", "--rule", "--plugin",
        "--output-file", "--max-warnings", "--resolve-plugins-relative-to",
        "--parser", "--cache-location"})),
    "gofmt": _h_formatter(("-w",), ("-l", "-d")),
    "goimports": _h_formatter(("-w",), ("-l", "-d")),
    "shfmt": _h_formatter(("-w", "--write"), ("-l", "-d", "--list", "--diff"), "i",
                          frozenset({"--indent"})),
    "clang-format": _h_formatter(("-i",), ("--dry-run", "-n")),
    "rustfmt": _h_formatter(None, ("--check",), "", frozenset({"--edition", "--config",
                                                               "--emit"})),
    "ruff": _h_ruff,
}
for _shell in _SHELLS:
    _HANDLERS[_shell] = _h_shell

def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Commands that write no file by themselves (their redirections are still checked).
# mkdir/chmod/chown create folders or change modes: they clobber no file content.
_READ_ONLY = _words("""
ls ll la dir vdir cat bat batcat head tail less more grep egrep fgrep rg ag ack wc echo
printf pwd which whereis type stat file du df diff cmp comm cut tr paste join column nl
fold fmt rev tac od hexdump md5sum sha1sum sha224sum sha256sum sha384sum sha512sum
shasum cksum b2sum base64 base32 true false test [ sleep date printenv whoami id groups
hostname uname uptime ps pgrep pidof free nproc lscpu lsof jq tree realpath readlink
dirname basename seq yes expr bc dc cal locale getconf export unset local declare
typeset readonly read mapfile readarray alias unalias exit return shift wait ulimit umask
hash history jobs fg bg kill pkill killall disown shopt mkdir chmod chown chgrp mktemp
sync clear tput stty : break continue let times help getopts logger strings nm objdump
readelf ldd top htop vmstat iostat netstat ss ip ifconfig ping host dig nslookup
man info apropos whatis tldr iconv numfmt factor shuf tsort expand unexpand envsubst
coord mypy pyright pyflakes flake8 pylint shellcheck hadolint yamllint markdownlint
codespell gitleaks cloc tokei scc fd fdfind fzf pstree lsblk findmnt blkid pkg-config
""")

# Interpreters, build tools, test runners: they run code whose writes are not parsed.
_PROGRAMS = _words("""
node deno ruby php lua luajit Rscript julia java javac kotlin scala dotnet swift rustc gcc
g++ cc c++ clang clang++ make gmake cmake ninja meson bazel gradle gradlew mvn ant sbt
pytest py.test tox nox jest vitest mocha ava karma playwright cypress webpack vite
rollup esbuild parcel turbo nx lerna gulp grunt ts-node tsx jupyter ipython coverage
hypothesis behave robot nosetests trial manage.py django-admin flask uvicorn gunicorn
celery alembic pre-commit terraform ansible ansible-playbook kubectl helm podman
docker-compose vagrant claude code vim vi nvim nano emacs ed ex sqlite3 psql mysql
redis-cli mongo mongosh ssh scp sftp rclone aws gcloud az firebase vercel netlify
heroku crontab at systemctl service launchctl brew apt apt-get dpkg yum
dnf pacman snap flatpak gem bundle bundler rake composer mix elixir erl iex cabal
stack ghc dune opam zig nim crystal dart flutter gh hub glab tmux screen watch
""")


def analyze(command: str, cwd: str, home: str | None = None, *,
            is_dir: Callable[[str], bool] | None = None) -> Analysis:
    """The files ``command`` would write when run by bash in ``cwd``.

    ``home`` expands ``~`` and ``$HOME`` (None: they are unresolved). ``is_dir(path)``,
    if given, tells whether a two-operand ``cp``/``mv``/``ln``/``install`` destination is
    a folder (then the target is ``dest/basename(src)``); without it such a destination
    is reported as written itself, which covers a folder's content too. Never raises.

    For the PreToolUse hook: map each ``target.path`` to a lock key with
    ``globs.canonical_key(target.path, cwd, project_root, literal=True)`` (as for an
    Edit's ``file_path``; a folder key covers what is inside it) and deny when one is
    held by another live session, whatever ``judged`` says; when ``judged`` is False, let
    the rest run and say once that such writes are not checked (``str(unresolved[i])``
    reads ``python -c ... (program)``, ``sed-i "$f" (variable)``).
    """
    analyzer = _Analyzer(home if isinstance(home, str) else None, is_dir)
    try:
        if not isinstance(command, str):
            analyzer.note(PARSE, "shell", "the command is not a string")
        elif len(command) > MAX_CHARS:
            analyzer.note(LIMIT, "shell", f"command longer than {MAX_CHARS} characters")
        else:
            ok = isinstance(cwd, str) and cwd.startswith("/")
            st = _State(_normalize(cwd) if ok else None, "" if ok else "no absolute cwd")
            analyzer.start = st.cwd or "\0"
            analyzer.script(command, st, 0)
    except _Limit as exc:
        analyzer.note(LIMIT, "shell", str(exc))
    except (_ParseError, RecursionError) as exc:  # pragma: no cover - parse_program catches
        analyzer.note(PARSE, "shell", str(exc))
    except Exception as exc:  # a bug here must not block or crash a Bash command
        analyzer.note(INTERNAL, "shell", f"{type(exc).__name__}: {exc}")
    return analyzer.result()
