"""Which files would a Bash command write? A static answer for the PreToolUse hook.

``analyze(command, cwd, home)`` reads a Bash tool command the way bash would parse it and
returns an `Analysis`: the files it would write (`Target`: absolute path, the construct
that writes it, and how) and what it could not judge (`Unresolved`: variables, globs,
command substitutions, programs such as ``python -c`` or ``make``...). Nothing is guessed:
a path that cannot be known statically is reported as unresolved, never as a target.
It never raises and never reads or runs anything (``is_dir``, when given, is the only
file-system question it asks: is a ``cp``/``mv`` destination, a ``cd`` target a folder).

Parser choice (issue 10), by measurement: ``scripts/bash-parser-compare.py`` converts each
candidate's tree to this package's and judges it with the same analysis (what ``sed -i``,
``cp -t``, ``git restore``... write), over the 316 commands of tests/hook/bash_corpus.py.
Figures from this machine (2 cores shared with other jobs, load ~2, Python 3.11.7; ranges
over three runs of ``--runs 21``: import medians, parse the best of 15 passes):

    parser            import (-X importtime)  process +ms  parse/cmd  +analysis  correct
    bashlex 0.18           115-116 ms          119-120 ms  240-248 µs 269-280 µs  296/316
    tree-sitter-bash 0.25    3.8-4.1 ms          14-21 ms    31 µs      56 µs     307/316
    this package (stdlib)    2.5-2.7 ms        noise (<6)    18 µs      49-51 µs  316/316
    (python -I -S -c pass: 9-13 ms; python -I -c pass, with site-packages: 26-38 ms)

- ``bashlex`` (pure Python, a port of bash's yacc grammar) costs ten hooks to import and
  fails on what agents type most: a here-doc with a quoted delimiter (so Claude Code's own
  ``git commit -m "$(cat <<'EOF' ... EOF)"``), ``[[ ]]``, ``(( ))``, ``$((...))``,
  ``case``, ``time``, ``$'...'``; it also mis-removes quotes in ``'it'"'"'s'``.
- ``tree-sitter-bash`` (C) is fast and tolerant, but it gives ``cd x && cmd > f`` the
  redirection on the whole list (so ``f`` resolves in the wrong folder), reads
  ``[ a > b ]`` as a comparison (bash writes ``b``), and an error node loses the commands
  before it. Above all, both live in site-packages, which the hook shim skips
  (``python -I -S``): using one means vendoring a compiled wheel per platform or giving up
  ``-S`` (+17-25 ms on every hook, measured above).
- This package: a hand-written recursive-descent lexer and parser for the bash grammar
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
could match (issue 10, point 6); the import then costs ~2.5 ms (six small modules, six
regular expressions) and a typical command 20-80 µs.

Paths are normalized lexically (``os.path.normpath``: ``.``, ``..``, ``//``) against the
payload cwd and every ``cd``/``pushd`` the command makes (a subshell's, a pipeline
element's or a background job's ``cd`` does not leak). Lexical ``..`` is what bash's own
``cd`` does; for a file argument behind a symlinked folder (``link/../f``) the kernel
resolves ``..`` physically, so the two can differ: a known, rare divergence. No realpath
here: the hook maps each target with `canonical_key` (realpath) exactly as it maps an
Edit's ``file_path``.

The package: `facts` (what is found), `syntax` (the parser), `words` (expansions and
options), `analysis` (the walk, `analyze`), `commands` (what each command writes).
Standard library only, no dataclasses/typing at run time: it runs in the PreToolUse
hook before a Bash command.
"""

from __future__ import annotations

from coord_hooks.hook.bashwrites.analysis import MAX_CHARS, MAX_SHELL_NESTING, analyze
from coord_hooks.hook.bashwrites.facts import (
    COMMAND_SUBSTITUTION,
    CWD,
    DYNAMIC,
    GIT_WORKTREE,
    GLOB,
    INTERNAL,
    LIMIT,
    PARSE,
    PATCH,
    PROGRAM,
    TILDE,
    UNKNOWN_COMMAND,
    VARIABLE,
    Analysis,
    Target,
    Unresolved,
)

__all__ = [
    "COMMAND_SUBSTITUTION", "CWD", "DYNAMIC", "GIT_WORKTREE", "GLOB", "INTERNAL", "LIMIT",
    "MAX_CHARS", "MAX_SHELL_NESTING", "PARSE", "PATCH", "PROGRAM", "TILDE", "UNKNOWN_COMMAND",
    "VARIABLE", "Analysis", "Target", "Unresolved", "analyze",
]
