"""PreToolUse for Bash: a command that would write a file another session holds is denied
before it runs, like an Edit; the files it writes are then locked for this session.

1. A plainly read-only command (`plainly_read_only`: ``git status``, ``ls``, ``cat f``,
   ``grep -rn x src``...) is let through at once: no store, no parser. It writes nothing
   whoever holds what, so there is nothing to check (the benchmark's Bash row).
2. Anything else is parsed (`bashwrites.analyze`, imported here, lazily: ~2.5 ms) and
   its targets become lock keys exactly as an Edit's ``file_path`` does. All of them are
   checked, and the files among them locked, in ONE store transaction
   (`Coordinator.try_acquire_keys`): a target held by another session (or by a sibling
   subagent) denies the whole command, listing every held target; a folder target
   (``rm -r dir``, ``git checkout -- .``) is denied by any lock inside it but is not
   locked itself (that would keep everyone out of the whole folder).
3. Deletes and moves lock like writes: ``rm f`` or ``mv f g`` takes (or keeps) this
   session's lock on ``f``, so nobody recreates a file in the middle of its refactor;
   nothing is released by a command (``coord unlock``, the lease or the session's end
   does that), and nobody else's lock ever is.
4. What the parser cannot judge (scripts, ``python -c``, ``make``, variables, globs,
   ``$(...)``) runs: the hook fails open. Its resolved targets are still checked; the
   session is told once (`UNJUDGED_NOTICE`) that writes through such commands are not
   checked, and ``logs/performance.log`` counts them for ``coord status``.

Standard library only (hook hot path).
"""

from __future__ import annotations

import os

from coord_hooks.hook import TAG, HookRun, hook_output, payload_mapping, payload_text
from coord_hooks.hook.render import CONTEXT_LIMIT

TYPE_CHECKING = False  # typing is not imported at run time: it is on the hot path
if TYPE_CHECKING:
    from typing import Any

    from coord_hooks.context import Context
    from coord_hooks.coordination import AcquireResult, Want
    from coord_hooks.hook.bashwrites import Analysis

# Commands that write no file whatever their arguments, but for the options below: a
# subset of bashwrites' READ_ONLY and handlers (plus ``cd``, which only moves), kept
# small on purpose; tests check that the parser judges each of them write-free too.
READ_ONLY_COMMANDS = frozenset({
    "ls", "cat", "head", "tail", "wc", "grep", "egrep", "fgrep", "rg", "pwd", "echo",
    "printf", "which", "type", "stat", "diff", "cmp", "realpath", "readlink", "dirname",
    "basename", "whoami", "uname", "true", "false", "test", "[", "jq", "coord", "cd"})
# git subcommands that write no work-tree file (a subset of bashwrites' _GIT_READ_ONLY)
# but through `_WRITING_LONG` (``--output``) or grep's ``-O``.
READ_ONLY_GIT = frozenset({
    "status", "diff", "log", "show", "blame", "rev-parse", "ls-files", "ls-tree", "grep",
    "describe", "shortlog", "reflog", "branch", "remote"})
# coord subcommands that touch no project file (diagnose -o, bench, install... do).
READ_ONLY_COORD = frozenset({
    "status", "sessions", "locks", "inbox", "messages", "whoami", "config", "send",
    "broadcast", "lock", "unlock", "wait", "name"})
# Long options of the commands above that write a file or run a command: a word that is
# one of them or a prefix of one (git takes unique abbreviations: ``--op=CMD`` is
# ``--open-files-in-pager``) goes to the parser. ``--output-indicator-new`` is not.
_WRITING_LONG = ("--output", "--open-files-in-pager", "--pre", "--pre-glob",
                 "--hostname-bin")
# Every character the fast path reads as bash does: letters, digits, blanks, the
# separators it splits on and punctuation bash takes literally. Anything else (quotes,
# ``\``, ``$``, backquotes, ``<`` ``>``, non-ASCII, control characters) sends the command to
# the parser: quoting can hide an option (``--outpu""t=F``) from a lexical check.
_PLAIN_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    " \t\n-_./=:,@%+~^#!;&|(){}[]*?")
_GLOB_CHARS = frozenset("*?[")
# Where one simple command ends: split with str.translate, not a regex (`re` costs a
# hook ~4 ms to import, and this is the path of every harmless command).
_SEGMENT_ENDS = dict.fromkeys(map(ord, ";&|()"), "\n")
MAX_REASON = CONTEXT_LIMIT  # a deny reason over 10,000 characters is spilled to a file
NOTICE_DIR = "notices"
UNJUDGED_NOTICE = (
    "{tag} Not checked: coord-hooks cannot tell which files `{what}` writes, so it runs "
    "without a lock check. Writes through scripts, interpreters, build tools, or paths "
    "made of variables, globs or $(...) are not guarded against other sessions' locks; "
    "plain shell writes (>, tee, sed -i, mv, cp, rm, ...) and Edit/Write are. (Said once "
    "per session.)")


def plainly_read_only(command: str) -> bool:
    """True when the command certainly writes nothing: every simple command in it is a
    read-only one, in plain words the check reads exactly as bash does.

    A lexical check, deliberately narrow (anything unusual goes to the parser), and
    sound by construction: it accepts only characters bash takes literally (no quote,
    escape, expansion or redirection), a command word hidden by a variable or a wrapper
    (``env``, ``xargs``, ``sh -c``) is not in the list, and the options of listed
    commands that write a file or run one (``--output``, ``git grep -O``, ``rg --pre``,
    ``coord diagnose -o``) are refused, as is a glob or brace that could expand to one.
    """
    if not _PLAIN_CHARS.issuperset(command):
        return False
    groups = 0  # { ...; } opened and not closed yet (bash's reserved words)
    for segment in command.translate(_SEGMENT_ENDS).split("\n"):
        words = segment.split()
        while words and words[0] in ("{", "}"):
            groups += 1 if words[0] == "{" else -1
            if groups < 0:
                return False
            words = words[1:]
        if not words:
            continue
        name = words[0]
        if name == "git":
            if len(words) < 2 or words[1] not in READ_ONLY_GIT:
                return False
        elif name == "coord":
            if len(words) < 2 or words[1] not in READ_ONLY_COORD:
                return False
        elif name not in READ_ONLY_COMMANDS:
            return False
        for word in words[1:]:
            if not _plain_argument(word, name == "git" and words[1] == "grep"):
                return False
    return groups == 0


def _plain_argument(word: str, git_grep: bool) -> bool:
    if "{" in word or "}" in word:  # brace expansion: -{O,}x is -Ox
        return word in ("{", "}")
    if word[0] in _GLOB_CHARS or (word[0] == "-" and not _GLOB_CHARS.isdisjoint(word)):
        return word in ("[", "]")  # `*` may expand to a file named --output=x
    if word.startswith("--"):
        name = word.partition("=")[0]
        return len(name) == 2 or not any(o.startswith(name) for o in _WRITING_LONG)
    # git grep -O[CMD] (in a cluster too: -nOCMD) opens the matches with CMD
    return not (git_grep and word.startswith("-") and "O" in word)


def pre_tool_use(run: HookRun) -> dict[str, Any] | None:
    """Deny a Bash command that would write a file another session holds; lock the rest."""
    run.perf["tool"] = "Bash"
    command = payload_mapping(run.payload, "tool_input").get("command")
    if not run.session_id or not isinstance(command, str):
        run.outcome = "no-session" if not run.session_id else "no-command"
        return None
    if plainly_read_only(command):
        run.outcome = "read-only"
        return None
    ctx = run.open()
    run.touch(ctx)
    from coord_hooks.hook.bashwrites import analyze  # only commands that may write pay it

    analysis = analyze(command, run.cwd, home=run.environ.get("HOME") or None,
                       is_dir=os.path.isdir)
    run.timer.mark("parse")
    run.perf["targets"] = len(analysis.targets)
    if analysis.unresolved:
        run.perf["unjudged"] = sorted({u.kind for u in analysis.unresolved})
    wants = _wants(ctx, analysis, run.cwd)
    if wants:
        denial = _check_and_lock(run, ctx, wants)
        if denial is not None:
            return denial
    else:
        run.outcome = "no-writes"
    if analysis.unresolved and _first_notice(ctx, run.session_id):
        first = analysis.unresolved[0]
        text = UNJUDGED_NOTICE.format(tag=TAG, what=_short(first.detail or first.form))
        return hook_output("PreToolUse", additionalContext=text)
    return None


def _wants(ctx: Context, analysis: Analysis, cwd: str) -> list[Want]:
    """One lock key per distinct target, mapped exactly as an Edit's ``file_path``."""
    from coord_hooks.coordination.locks import Want
    from coord_hooks.errors import UsageError

    wants: list[Want] = []
    seen: set[str] = set()
    for target in analysis.targets:
        try:
            key, _ = ctx.coordinator.key_for(target.path, cwd, literal=True)
        except UsageError:  # not a path the OS takes (a NUL byte): nothing bash can write
            continue
        if key not in seen:
            seen.add(key)
            # A folder stands for everything inside it: checked, never locked whole.
            wants.append(Want(key, False, take=not os.path.isdir(target.path)))
    return wants


def _check_and_lock(run: HookRun, ctx: Context, wants: list[Want]) -> dict[str, Any] | None:
    from coord_hooks.coordination.locks import Asker

    asker = Asker(run.session_id, payload_text(run.payload, "agent_id")[:100],
                  payload_text(run.payload, "agent_type")[:100])
    results = ctx.coordinator.try_acquire_keys(asker, wants)
    run.timer.mark("acquire")
    held = [r for r in results if r.conflicts]
    if not held:
        run.outcome = "locked"
        return None
    run.outcome = "deny"
    run.notes["keys"] = [r.key for r in held]
    return hook_output("PreToolUse", permissionDecision="deny",
                       permissionDecisionReason=denial_reason(held))


def denial_reason(held: list[AcquireResult]) -> str:
    """Every held target with who holds it (the Edit deny's wording), within the limit."""
    count = len(held)
    noun = "a file" if count == 1 else f"{count} files"
    siblings = all(c.sibling for result in held for c in result.conflicts)
    who = "another subagent of this session holds" if siblings else "another session holds"
    tail = (f" The Bash command was not run: it would write {noun} {who}. Work on something "
            "else meanwhile, or ask and retry later (`coord locks` lists every lock).")
    parts: list[str] = []
    size = len(TAG) + len(tail) + 80
    for shown, result in enumerate(held):
        text = result.denial_reason()
        if size + len(text) > MAX_REASON:
            parts.append(f"… and {count - shown} more held target(s).")
            break
        parts.append(text)
        size += len(text) + 1
    return f"{TAG} {' '.join(parts)}{tail}"


def _first_notice(ctx: Context, session_id: str) -> bool:
    """True the first time this session gets the unjudged notice (a marker file made
    with O_EXCL: once, even when two of its hooks race; no store transaction)."""
    from coord_hooks.errors import StoreError
    from coord_hooks.fsio import open_state_file
    from coord_hooks.model import lock_id_for
    from coord_hooks.paths import ensure_subdir

    name = f"bash-unjudged-{lock_id_for('bash-unjudged', session_id)}"
    try:  # a private real folder, never a link planted in the state dir
        folder = ensure_subdir(ctx.state_dir / NOTICE_DIR)
        fd = open_state_file(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                             ctx.state_dir)
    except (OSError, StoreError):  # FileExistsError: told already; else: say nothing
        return False
    os.close(fd)
    return True


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
