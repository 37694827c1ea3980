"""`analyze()`: the walk over the syntax tree, with the shell state that moves paths."""

from __future__ import annotations

import os

from coord_hooks.hook.bashwrites.commands import (
    HANDLERS,
    PROGRAMS,
    READ_ONLY,
    sets_runner,
)
from coord_hooks.hook.bashwrites.facts import (
    COMMAND_SUBSTITUTION,
    CWD,
    DYNAMIC,
    GLOB,
    INTERNAL,
    LIMIT,
    PARSE,
    PROGRAM,
    TILDE,
    UNKNOWN_COMMAND,
    VARIABLE,
    Analysis,
    Target,
    Unresolved,
)
from coord_hooks.hook.bashwrites.syntax import (
    ARITH,
    CMDSUB,
    DYN,
    LIT,
    PROCSUB,
    QUOTED,
    VAR,
    Budget,
    Node,
    ParseError,
    Parser,
    Redir,
    TooComplex,
    Word,
    static_text,
)
from coord_hooks.hook.bashwrites.words import (
    command_text,
    expand_braces,
    is_glob,
    normalize,
    only_version,
    shown,
)

TYPE_CHECKING = False  # typing is not imported at run time: this is on the hook path
if TYPE_CHECKING:
    from collections.abc import Callable

MAX_CHARS = 1_000_000  # longer commands are not judged (agents' here-docs stay below)
MAX_SHELL_NESTING = 3  # bash -c 'bash -c "..."' levels parsed
# Paths that are never project files: writing to them clobbers nothing.
NOT_FILES = frozenset({"/dev/null", "/dev/zero", "/dev/stdout", "/dev/stderr", "/dev/stdin",
                        "/dev/tty", "/dev/full", "/dev/random", "/dev/urandom"})
NOT_FILE_DIRS = ("/dev/fd/", "/proc/self/fd/", "/dev/pts/")


class State:
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

    def copy(self) -> State:
        st = State(self.cwd, self.why)
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


class _Paths:
    """What was found (targets, unresolved) and how words become absolute paths."""

    def __init__(self, home: str | None, is_dir: Callable[[str], bool] | None) -> None:
        self.home = normalize(home) if home and home.startswith("/") else None
        self.is_dir = is_dir
        self.budget = Budget()
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
        item = Unresolved(kind, form, shown(detail))
        if item not in self._seen:
            self._seen.add(item)
            self.unresolved.append(item)

    # -- paths -------------------------------------------------------------------------

    def resolve(self, word: Word, st: State) -> tuple[str | None, tuple[str, str] | None]:
        """(absolute path, None), (None, (kind, detail)) or (None, None) for no file."""
        out = []
        for kind, text, _node in word.segs:
            if kind in (LIT, QUOTED):
                out.append(text)
            elif kind == VAR:
                name = text[2:-1] if text.startswith("${") else text[1:]
                if name == "HOME" and self.home is not None:
                    out.append(self.home)
                elif name == "PWD" and st.cwd is not None:
                    out.append(st.cwd)
                else:
                    return None, (VARIABLE, word.raw)
            elif kind == ARITH:
                return None, (VARIABLE, word.raw)
            elif kind == CMDSUB:
                return None, (COMMAND_SUBSTITUTION, word.raw)
            elif kind == DYN:
                return None, (DYNAMIC, text)
            else:  # process substitution: a pipe, not a file
                return None, None
        if any(kind == LIT and is_glob(text) for kind, text, _n in word.segs):
            return None, (GLOB, word.raw)
        text = "".join(out)
        first = word.segs[0] if word.segs else None
        if first is not None and first[0] == LIT and first[1].startswith("~"):
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

    def absolute(self, text: str, st: State,
                 raw: str) -> tuple[str | None, tuple[str, str] | None]:
        self.alt_paths = []
        if not text.startswith("/"):
            if st.cwd is None:
                return None, (CWD, f"{raw} after {st.why}" if st.why else raw)
            self.alt_paths = [normalize(a + "/" + text) for a in st.alt]
            text = st.cwd + "/" + text
        return normalize(text), None

    def target(self, word: Word, st: State, form: str, op: str) -> str | None:
        self.alt_paths = []
        path, problem = self.resolve(word, st)
        if problem is not None:
            self.note(problem[0], form, problem[1])
            return None
        for other in self.alt_paths:  # where it lands if a cd before it failed
            if other not in NOT_FILES and not other.startswith(NOT_FILE_DIRS):
                self.add(other, form, op)
                self.through_links(other, form, op)
        if path is None or path in NOT_FILES or path.startswith(NOT_FILE_DIRS):
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

    def into(self, folder: Word, src: Word, st: State, form: str, op: str) -> str | None:
        """``folder/basename(src)``: what cp/mv/ln/install write into a folder."""
        base = static_text(src)
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
        joined = Word([*folder.segs, (QUOTED, "/" + name, None)], folder.raw)
        return self.target(joined, st, form, op)

    def link(self, link: str, src: Word, st: State, symbolic: bool) -> None:
        """Remember a link the command makes: a later write through it writes ``src``."""
        text = static_text(src)
        if text is None:
            return
        if symbolic and not text.startswith("/"):  # relative to the link's folder
            text = os.path.dirname(link) + "/" + text
        resolved = self.absolute(text, st, src.raw)[0]
        if resolved is not None and resolved != link:
            self.links[link] = resolved

    def in_place(self, files: list[Word], st: State, form: str, suffix: str) -> None:
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
            self.add(normalize(backup), form, "write")

    def dest_is_folder(self, dest: Word, st: State) -> bool:
        text = static_text(dest)
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

    def folders_exist(self, paths: list[str | None]) -> bool:
        """Do they all exist? The payload's cwd and its parents do, as far as we know."""
        try:
            return all(p is not None and (
                p == self.start or self.start.startswith(p.rstrip("/") + "/")
                or (self.is_dir is not None and self.is_dir(p))) for p in paths)
        except Exception:
            return False

    # Defined by Analyzer; declared here for resolve() and the links it follows.
    def command(self, argv: list[Word], st: State, redirs: list[Redir],
                unknown: str = UNKNOWN_COMMAND) -> None:
        raise NotImplementedError


class Analyzer(_Paths):
    """Walks the syntax tree in order, keeping the shell state (where cd left it)."""

    # -- scripts and nodes -------------------------------------------------------------

    def script(self, text: str, st: State, depth: int) -> None:
        parser = Parser(text, depth, self.budget)
        seq, err = parser.parse_program()
        self.run(seq, st)
        if err is not None:
            self.note(PARSE, "shell", err)

    def nested(self, text: str, st: State, form: str) -> None:
        """A script given as a string (``bash -c``, ``eval``), parsed one level down."""
        if self.shell_nesting >= MAX_SHELL_NESTING:
            self.note(LIMIT, form, "nested shells")
            return
        self.shell_nesting += 1
        try:
            self.script(text, st, self.shell_nesting * 4)
        finally:
            self.shell_nesting -= 1

    def run(self, node: Node | None, st: State) -> None:
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

    def compound(self, node: Node, st: State) -> None:
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
            ends: list[State] = []
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

    def may_end_in(self, st: State, ends: list[str | None]) -> None:
        """Add the folders an and-or list may have stopped in to where the shell is."""
        now = [st.cwd, *st.alt]
        cwds = list(dict.fromkeys([*now, *ends]))
        if cwds == now:
            return
        if None in cwds or len(cwds) > 5:
            st.chdir(None, st.why or "a cd that may fail")
        else:
            st.alt = [c for c in cwds[1:] if c is not None]

    def cannot_fail(self, part: Node | None, st: State) -> bool:
        """``true``, ``:``, or a ``cd`` into folders that exist (it cannot leave us
        behind); anything else may fail as far as this analysis knows."""
        if part is None or len(part.parts) != 1 or part.parts[0] is None:
            return False
        command = part.parts[0]
        if command.kind != "simple" or not command.words or command.redirs:
            return False
        name = static_text(command.words[0])
        if name in ("true", ":"):
            return True
        if name != "cd" or len(command.words) != 2:
            return False
        if static_text(command.words[1]) == "-":
            return self.folders_exist([st.oldpwd])
        probe = st.copy()
        self.move(probe, command.words[1], "cd")
        return self.folders_exist([probe.cwd, *probe.alt])

    def move(self, st: State, word: Word, why: str) -> None:
        """``cd WORD`` from every folder the shell may be in."""
        news = []
        for cwd in [st.cwd, *st.alt]:
            probe = State(cwd, st.why)
            probe.oldpwd = st.oldpwd
            news.append(self.resolve(word, probe)[0])
        if None in news:
            st.chdir(None, why)
        else:
            st.chdir(news[0], why, [n for n in news[1:] if n is not None])

    @staticmethod
    def join(st: State, ends: list[State], why: str) -> None:
        # where each branch may leave the shell: all of them are possible afterwards
        cwds = list(dict.fromkeys(c for end in ends for c in [end.cwd, *end.alt]))
        if None in cwds or len(cwds) > 5:
            st.chdir(None, why)
        elif cwds != [st.cwd, *st.alt]:
            st.chdir(cwds[0], why, [c for c in cwds[1:] if c is not None])
        for end in ends:
            st.funcs |= end.funcs

    def substitutions(self, word: Word, st: State) -> None:
        for kind, _text, node in word.segs:
            if node is not None and kind in (CMDSUB, PROCSUB):
                self.run(node, st.copy())

    def simple(self, node: Node, st: State) -> None:
        for word in node.assigns:
            self.substitutions(word, st)
        sets_runner(self, node.assigns, "assignment")
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
            expanded = expand_braces(word)
            if expanded is None:
                argv.append(Word([(DYN, "brace expansion too large", None)], word.raw))
            else:
                argv.extend(expanded)
        self.budget.spend(len(argv))
        self.command(argv, st, node.redirs)

    def redirect(self, redir: Redir, st: State) -> None:
        op = redir.op
        if op in ("<", "<<", "<<-", "<<<", "<&"):
            return
        if op == ">&":
            text = static_text(redir.word)
            if text is not None and (text == "-" or text.rstrip("-").isdigit()):
                return  # 2>&1, >&2, >&-: duplicates a descriptor
        self.target(redir.word, st, "redirect", "write")

    # -- commands ----------------------------------------------------------------------

    def command(self, argv: list[Word], st: State, redirs: list[Redir],
                unknown: str = UNKNOWN_COMMAND) -> None:
        self.budget.spend()
        first = argv[0]
        name = static_text(first)
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
        handler = HANDLERS.get(base)
        if handler is None and base.startswith("python"):
            handler = HANDLERS["python"]
        args = argv[1:]
        if handler is not None:
            handler(self, base, args, st, redirs)
        elif base in READ_ONLY:
            return
        elif base in PROGRAMS:
            if not only_version(args):
                self.note(PROGRAM, base, command_text(argv))
        elif not only_version(args):
            self.note(unknown, base, command_text(argv))


def _exits_on_failure(node: Node) -> bool:
    """``cd x || exit 1``: the list ends the script when its cd fails."""
    for op, part in zip(node.ops, node.parts[1:], strict=False):
        if op == "||" and part is not None and len(part.parts) == 1:
            command = part.parts[0]
            if command is not None and command.kind == "simple" and command.words and \
                    static_text(command.words[0]) in ("exit", "return"):
                return True
    return False


def analyze(command: str, cwd: str, home: str | None = None, *,
            is_dir: Callable[[str], bool] | None = None) -> Analysis:
    """The files ``command`` would write when run by bash in ``cwd``.

    ``home`` expands ``~`` and ``$HOME`` (None: they are unresolved). ``is_dir(path)``
    (the hook passes ``os.path.isdir``) answers two questions: is a two-operand
    ``cp``/``mv``/``ln``/``install`` destination a folder (then the target is
    ``dest/basename(src)``; without it the destination itself is reported, which covers
    a folder's content too), and does a ``cd`` lead into an existing folder (a ``cd`` into
    a missing one fails and leaves the shell where it was, so ``cd x; rm f`` may remove
    ``./f`` as well; without it, every ``cd`` but one back to ``cwd`` or its parents is
    taken as possibly failing). Never raises.

    For the PreToolUse hook: map each ``target.path`` to a lock key with
    ``coordination.globs.canonical_key(target.path, cwd, root, literal=True)`` (as for an
    Edit's ``file_path``; a folder key covers what is inside it) and deny when one is
    held by another live session, whatever ``judged`` says; when ``judged`` is False, let
    the rest run and say once that such writes are not checked (``str(unresolved[i])``
    reads ``python -c ... (program)``, ``sed-i "$f" (variable)``).
    """
    analyzer = Analyzer(home if isinstance(home, str) else None, is_dir)
    try:
        if not isinstance(command, str):
            analyzer.note(PARSE, "shell", "the command is not a string")
        elif len(command) > MAX_CHARS:
            analyzer.note(LIMIT, "shell", f"command longer than {MAX_CHARS} characters")
        else:
            ok = isinstance(cwd, str) and cwd.startswith("/")
            st = State(normalize(cwd) if ok else None, "" if ok else "no absolute cwd")
            analyzer.start = st.cwd or "\0"
            analyzer.script(command, st, 0)
    except TooComplex as exc:
        analyzer.note(LIMIT, "shell", str(exc))
    except (ParseError, RecursionError) as exc:  # pragma: no cover - parse_program catches
        analyzer.note(PARSE, "shell", str(exc))
    except Exception as exc:  # a bug here must not block or crash a Bash command
        analyzer.note(INTERNAL, "shell", f"{type(exc).__name__}: {exc}")
    return analyzer.result()
