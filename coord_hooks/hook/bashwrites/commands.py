"""What each command writes: one handler per command family, and the tables of commands
that write nothing (`READ_ONLY`) or run code whose writes are not parsed (`PROGRAMS`)."""

from __future__ import annotations

import os
import re

from coord_hooks.hook.bashwrites.facts import (
    DYNAMIC,
    GIT_WORKTREE,
    GLOB,
    PATCH,
    PROGRAM,
    UNKNOWN_COMMAND,
    VARIABLE,
)
from coord_hooks.hook.bashwrites.syntax import (
    ASSIGNMENT,
    Redir,
    Word,
    drop_chars,
    dynamic_word,
    literal_prefix,
    literal_word,
    static_text,
)
from coord_hooks.hook.bashwrites.words import (
    command_text,
    getopt,
    has_option,
    is_glob,
    only_version,
    option_values,
)

TYPE_CHECKING = False  # typing is not imported at run time: this is on the hook path
if TYPE_CHECKING:
    from collections.abc import Callable

    from coord_hooks.hook.bashwrites.analysis import Analyzer, State

    Handler = Callable[[Analyzer, str, list[Word], State, list[Redir]], None]

# -- handlers: one per command family --------------------------------------------------


def _h_operands(form: str, op: str, short_val: str = "",
                long_val: frozenset[str] = frozenset()) -> Handler:
    """rm, unlink, touch, truncate...: every operand is written (or deleted)."""

    def handler(an: Analyzer, name: str, args: list[Word], st: State,
                redirs: list[Redir]) -> None:
        _opts, operands = getopt(args, short_val, long_val)
        for word in operands:
            an.target(word, st, form, op)

    return handler


def _h_tee(an: Analyzer, name: str, args: list[Word], st: State,
           redirs: list[Redir]) -> None:
    _opts, operands = getopt(args)
    for word in operands:  # "-" too: GNU tee writes a file of that name (POSIX says so)
        an.target(word, st, "tee", "write")


def _h_dd(an: Analyzer, name: str, args: list[Word], st: State,
          redirs: list[Redir]) -> None:
    for word in args:
        if literal_prefix(word).startswith("of="):
            # of=~/x: bash expands ~ after `name=` in an argument, as resolve() does
            an.target(drop_chars(word, 3), st, "dd", "write")


def _copy_like(form: str, short_val: str, long_val: frozenset[str],
               moves: bool = False) -> Handler:
    """cp, mv, install, ln: the destination (and for mv the sources)."""

    def handler(an: Analyzer, name: str, args: list[Word], st: State,
                redirs: list[Redir]) -> None:
        opts, operands = getopt(args, short_val, long_val)
        if form == "install" and has_option(opts, "-d", "--directory"):
            return  # creates folders
        folders = option_values(opts, "-t", "--target-directory")
        if form == "ln" and not folders and len(operands) == 1:  # ln -s /x/tool: ./tool
            made = an.into(literal_word(st.cwd) if st.cwd else literal_word("."), operands[0], st,
                           form, "write")
            if made is not None:
                an.link(made, operands[0], st, has_option(opts, "-s", "--symbolic"))
            return
        if folders:
            sources, dest = operands, folders[-1]
            into = True
        elif len(operands) >= 2:
            sources, dest = operands[:-1], operands[-1]
            exact = has_option(opts, "-T", "--no-target-directory")
            into = not exact and (len(sources) > 1 or an.dest_is_folder(dest, st))
        else:
            return
        op = "move-dst" if moves else "write"
        for src in sources:
            if moves:
                an.target(src, st, form, "move-src")
            made = an.into(dest, src, st, form, op) if into else an.target(dest, st, form, op)
            if form == "ln" and made is not None:
                an.link(made, src, st, has_option(opts, "-s", "--symbolic"))

    return handler


def _h_rsync(an: Analyzer, name: str, args: list[Word], st: State,
             redirs: list[Redir]) -> None:
    opts, operands = getopt(args, "efBTM", _RSYNC_LONG_VAL)
    for log in option_values(opts, "--log-file", "--write-batch", "--only-write-batch"):
        an.target(log, st, "rsync", "write")
    if has_option(opts, "-n", "--dry-run", "--list-only") or len(operands) < 2:
        return
    dest = operands[-1]
    text = literal_prefix(dest)
    if text.startswith("rsync://") or ":" in text.split("/", 1)[0]:
        return  # remote destination
    an.target(dest, st, "rsync", "write")
    if has_option(opts, "--remove-source-files"):
        for src in operands[:-1]:
            if ":" not in literal_prefix(src).split("/", 1)[0]:
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


def _h_sed(an: Analyzer, name: str, args: list[Word], st: State,
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
        pre = literal_prefix(word)
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
                given = drop_chars(word, len(opt) + 1) if eq else (
                    args[i] if i < len(args) else None)
                i += 0 if eq else 1
                if given is not None:
                    scripts.append(given if opt == "--expression" else literal_word(""))
            elif opt == "--line-length" and not eq:
                i += 1
        else:
            for k in range(1, len(pre)):
                ch = pre[k]
                if ch == "i":
                    inplace, suffix = True, pre[k + 1:]
                    if pre == "-i" and i < len(args) and static_text(args[i]) == "":
                        i += 1  # BSD/macOS `sed -i '' script file`
                    break
                if ch in "efl":
                    rest = pre[k + 1:]
                    value = drop_chars(word, k + 1) if rest else (args[i] if i < len(args)
                                                             else None)
                    i += 0 if rest else 1
                    if ch == "e" and value is not None:
                        scripts.append(value)
                    elif ch == "f":
                        scripts.append(literal_word(""))
                    break
    if not scripts and operands:
        scripts.append(operands.pop(0))
    for script in scripts:
        text = static_text(script) or ""
        if re.search(_SED_WRITE, text):
            an.note(PROGRAM, "sed", "w command in " + script.raw)
    if inplace:
        an.in_place(operands, st, "sed-i", suffix)


_SED_WRITE = r"(?:^|[;\n}0-9$]|/[gpIiMme0-9]*)\s*[wW]\s+\S"  # compiled on use (re caches)


def _h_perl(an: Analyzer, name: str, args: list[Word], st: State,
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
        pre = literal_prefix(word)
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
        an.note(PROGRAM, "perl", command_text([literal_word(name), *args]))
        return
    an.in_place(operands, st, "perl-i", suffix)


_AWK_WRITES = r"\bprintf?\b[^;{}\n]*?(?:>|\|)|\bsystem\s*\(|\|\s*&"  # compiled on use


def _h_awk(an: Analyzer, name: str, args: list[Word], st: State,
           redirs: list[Redir]) -> None:
    opts, operands = getopt(args, "Fvfie", frozenset({
        "--field-separator", "--assign", "--file", "--include", "--source", "--exec"}))
    if option_values(opts, "-f", "--file", "-E", "--exec"):
        an.note(PROGRAM, name, "program file")
        return
    programs = option_values(opts, "-e", "--source")
    if not programs and operands:
        programs = [operands.pop(0)]
    for program in programs:
        text = static_text(program)
        if text is None or re.search(_AWK_WRITES, text):
            an.note(PROGRAM, name, program.raw)
    if any(static_text(v) == "inplace" for v in option_values(opts, "-i", "--include")):
        for word in operands:
            if not ASSIGNMENT.match(literal_prefix(word)):
                an.target(word, st, "awk-i", "write")


def _h_xxd(an: Analyzer, name: str, args: list[Word], st: State,
           redirs: list[Redir]) -> None:
    operands = []
    i = 0
    while i < len(args):  # xxd's options are single-dash words: -l 64, -len 64, -l64
        text = literal_prefix(args[i])
        i += 1
        if text.startswith("-") and len(text) > 1:
            if text.lstrip("-")[:1] in "cglosn" and not text[2:].isdigit() and \
                    text not in ("-ps", "-postscript", "-plain"):
                i += 1
        else:
            operands.append(args[i - 1])
    if len(operands) >= 2:  # xxd [-r] infile outfile
        an.target(operands[1], st, "xxd", "write")


def _h_sort(an: Analyzer, name: str, args: list[Word], st: State,
            redirs: list[Redir]) -> None:
    opts, _operands = getopt(args, "kotST", frozenset({
        "--key", "--output", "--field-separator", "--buffer-size", "--temporary-directory",
        "--files0-from", "--parallel", "--batch-size", "--compress-program",
        "--random-source"}))
    for out in option_values(opts, "-o", "--output"):
        an.target(out, st, "sort", "write")


def _h_uniq(an: Analyzer, name: str, args: list[Word], st: State,
            redirs: list[Redir]) -> None:
    _opts, operands = getopt(args, "fsw", frozenset({"--skip-fields", "--skip-chars",
                                                      "--check-chars"}))
    if len(operands) >= 2:
        an.target(operands[1], st, "uniq", "write")


def _h_patch(an: Analyzer, name: str, args: list[Word], st: State,
             redirs: list[Redir]) -> None:
    opts, operands = getopt(args, "pioFdrBDVYzgx", frozenset({
        "--strip", "--input", "--output", "--fuzz", "--directory", "--reject-file",
        "--prefix", "--ifdef", "--version-control", "--basename-prefix", "--suffix",
        "--get", "--debug", "--quoting-style"}))
    if has_option(opts, "--dry-run"):
        return
    here = st
    folders = option_values(opts, "-d", "--directory")
    if folders:
        here = st.copy()
        path = an.resolve(folders[-1], st)[0]
        here.chdir(path, "patch -d " + folders[-1].raw)
    outputs = option_values(opts, "-o", "--output")
    for out in outputs:
        if static_text(out) != "-":
            an.target(out, here, "patch", "write")
    if outputs:
        return
    if operands:
        an.target(operands[0], here, "patch", "write")
    else:
        an.note(PATCH, "patch", "files named inside the diff")


def _h_tar(an: Analyzer, name: str, args: list[Word], st: State,
           redirs: list[Redir]) -> None:
    if args and not literal_prefix(args[0]).startswith("-") and static_text(args[0]):
        args = [literal_word("-" + (static_text(args[0]) or "")), *args[1:]]  # tar czf x.tgz
    opts, _operands = getopt(args, "fCbTXLgKNV", frozenset({
        "--file", "--directory", "--files-from", "--exclude-from", "--exclude",
        "--listed-incremental", "--transform", "--owner", "--group", "--mode"}))
    names = {n for n, _v in opts}
    files = option_values(opts, "-f", "--file")
    if names & {"-c", "--create", "-r", "--append", "-u", "--update", "-A", "--concatenate"}:
        for archive in files:
            if static_text(archive) != "-":
                an.target(archive, st, "tar", "write")
    elif names & {"-x", "--extract", "--get"} and not names & {"-O", "--to-stdout"}:
        an.note(DYNAMIC, "tar", "extracts the files named in the archive")


def _h_curl(an: Analyzer, name: str, args: list[Word], st: State,
            redirs: list[Redir]) -> None:
    opts, _operands = getopt(args, "oDcdHXuAebFTwmxKErzCYyQtUP", _CURL_LONG_VAL)
    for out in option_values(opts, "-o", "--output", "-D", "--dump-header", "-c", "--cookie-jar",
                       "--trace", "--trace-ascii", "--stderr", "--etag-save"):
        if static_text(out) != "-":
            an.target(out, st, "curl", "write")
    if has_option(opts, "-O", "--remote-name", "--remote-name-all", "-J"):
        an.note(DYNAMIC, "curl", "-O names the file after the URL")


_CURL_LONG_VAL = frozenset({
    "--output", "--dump-header", "--cookie-jar", "--trace", "--trace-ascii", "--stderr",
    "--etag-save", "--data", "--data-raw", "--data-binary", "--data-urlencode", "--header",
    "--request", "--user", "--user-agent", "--referer", "--cookie", "--form", "--upload-file",
    "--write-out", "--max-time", "--proxy", "--config", "--cert", "--range", "--time-cond",
    "--continue-at", "--speed-limit", "--speed-time", "--quote", "--url", "--retry",
    "--connect-timeout", "--output-dir", "--json", "--resolve", "--cacert", "--key"})


def _h_wget(an: Analyzer, name: str, args: list[Word], st: State,
            redirs: list[Redir]) -> None:
    opts, operands = getopt(args, "OoaPtTUeiBwQlAREdDYX", frozenset({
        "--output-document", "--output-file", "--append-output", "--directory-prefix",
        "--tries", "--timeout", "--user-agent", "--execute", "--input-file", "--header",
        "--wait", "--quota", "--level", "--accept", "--reject", "--user", "--password"}))
    for log in option_values(opts, "-o", "--output-file", "-a", "--append-output"):
        an.target(log, st, "wget", "write")
    docs = option_values(opts, "-O", "--output-document")
    for doc in docs:
        if static_text(doc) != "-":
            an.target(doc, st, "wget", "write")
    if not docs and operands and not has_option(opts, "--spider"):
        an.note(DYNAMIC, "wget", "names the file after the URL")


def _h_find(an: Analyzer, name: str, args: list[Word], st: State,
            redirs: list[Redir]) -> None:
    i = 0
    while i < len(args) and not literal_prefix(args[i]).startswith(("-", "(", "!", ")", ",")):
        i += 1
    while i < len(args):
        text = static_text(args[i])
        i += 1
        if text == "-delete":
            an.note(DYNAMIC, "find", "-delete removes the files it matches")
        elif text in ("-fprint", "-fprint0", "-fls", "-fprintf") and i < len(args):
            an.target(args[i], st, "find", "write")
            i += 1
        elif text in ("-exec", "-execdir", "-ok", "-okdir"):
            argv: list[Word] = []
            while i < len(args) and static_text(args[i]) not in (";", "+"):
                word = args[i]
                argv.append(dynamic_word("find " + text + " {}") if "{}" in word.raw
                            else word)
                i += 1
            i += 1
            if argv:
                here = st.copy()
                if text in ("-execdir", "-okdir"):
                    here.chdir(None, "find " + text)
                an.command(argv, here, [])


def _h_xargs(an: Analyzer, name: str, args: list[Word], st: State,
             redirs: list[Redir]) -> None:
    opts, operands = getopt(args, "IiLnPdEsa", frozenset({
        "--replace", "--max-lines", "--max-args", "--max-procs", "--delimiter", "--eof",
        "--max-chars", "--arg-file", "--process-slot-var"}), permute=False)
    replace = [(static_text(v) or "") for v in option_values(opts, "-I", "--replace", "-i")]
    argv = operands or [literal_word("echo")]
    if replace and replace[0]:
        argv = [dynamic_word("xargs input") if replace[0] in w.raw else w for w in argv]
    else:
        argv = [*argv, dynamic_word("xargs input")]
    an.command(argv, st.copy(), [])


def _h_wrapper(short_val: str, long_val: frozenset[str] = frozenset(),
               skip: int = 0) -> Handler:
    """nohup, nice, timeout, stdbuf...: run the command after their own options."""

    def handler(an: Analyzer, name: str, args: list[Word], st: State,
                redirs: list[Redir]) -> None:
        opts, operands = getopt(args, short_val, long_val, permute=False)
        if name == "command" and has_option(opts, "-v", "-V"):
            return
        if name == "time":
            for out in option_values(opts, "-o", "--output"):
                an.target(out, st, "time", "write")
        rest = operands[skip:]
        if rest:
            an.command(rest, st, redirs)

    return handler


def _h_env(an: Analyzer, name: str, args: list[Word], st: State,
           redirs: list[Redir]) -> None:
    opts, operands = getopt(args, "uCS", frozenset({"--unset", "--chdir", "--split-string"}),
                             permute=False)
    while operands and ASSIGNMENT.match(literal_prefix(operands[0])):
        sets_runner(an, operands[:1], name)
        operands = operands[1:]
    if option_values(opts, "-S", "--split-string"):
        an.note(PROGRAM, "env", "-S splits a command string")
        return
    here = st
    for folder in option_values(opts, "-C", "--chdir"):
        here = st.copy()
        path = an.resolve(folder, st)[0]
        here.chdir(path, "env -C " + folder.raw)
    if operands:
        an.command(operands, here, redirs)


def _h_sudo(an: Analyzer, name: str, args: list[Word], st: State,
            redirs: list[Redir]) -> None:
    opts, operands = getopt(args, "ugCDhprtUTR", frozenset({
        "--user", "--group", "--close-from", "--chdir", "--host", "--prompt", "--role",
        "--type", "--other-user", "--command-timeout", "--chroot"}), permute=False)
    while operands and ASSIGNMENT.match(literal_prefix(operands[0])):
        sets_runner(an, operands[:1], name)
        operands = operands[1:]
    if operands:
        an.command(operands, st, redirs)
    elif has_option(opts, "-i", "-s", "--login", "--shell"):
        an.note(PROGRAM, name, "interactive shell")


_SHELLS = frozenset({"bash", "sh", "dash", "zsh", "ksh", "mksh", "ash"})


def _h_shell(an: Analyzer, name: str, args: list[Word], st: State,
             redirs: list[Redir]) -> None:
    command_mode = False
    operands: list[Word] = []
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        pre = literal_prefix(word)
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
        text = static_text(operands[0])
        if text is None:
            kind = an.resolve(operands[0], st)[1]
            an.note(kind[0] if kind else VARIABLE, name + " -c", operands[0].raw)
            return
        an.nested(text, st.copy(), name + " -c")
        return
    if operands:
        an.note(PROGRAM, name, command_text([literal_word(name), *args]))
        return
    for redir in redirs:  # bash <<'EOF' ... EOF: the script is the here-doc
        if redir.op in ("<<", "<<-") and redir.body is not None and (
                redir.quoted or not any(c in redir.body for c in "$`\\")):
            an.nested(redir.body, st.copy(), name + " <<")
            return
        if redir.op == "<<<" and static_text(redir.word) is not None:
            an.nested(static_text(redir.word) or "", st.copy(), name + " <<<")
            return
    an.note(PROGRAM, name, "reads its script from standard input")


# Variables that change which program a name runs, or make a program run another one:
# after `PATH=./bin cat f` or `export PATH=...`, `cat` may be anything.
_RUNNER_VARS = frozenset({"PATH", "BASH_ENV", "ENV", "LD_PRELOAD", "LD_LIBRARY_PATH",
                          "PAGER", "GIT_PAGER", "MANPAGER", "BAT_PAGER", "LESSOPEN",
                          "GIT_EXTERNAL_DIFF", "GIT_WORK_TREE", "GIT_CONFIG_PARAMETERS",
                          "GIT_CONFIG_COUNT", "SHELLOPTS", "BASHOPTS"})


def sets_runner(an: Analyzer, words: list[Word], form: str) -> None:
    """Assignments (``NAME=value``, a command's prefix, ``export``/``env`` operands) that
    set one of `_RUNNER_VARS`, or a name not known before run time (``export $x``):
    the rest of the command is not judged (names may run other programs)."""
    for word in words:
        pre = literal_prefix(word)
        match = ASSIGNMENT.match(pre)
        if match is None:
            if static_text(word) is None and "=" not in pre:
                an.note(PROGRAM, form, word.raw)  # `export $(cat .env)`: could set PATH
            continue
        var = pre[:match.end()].partition("[")[0].rstrip("+=")
        if var in _RUNNER_VARS:
            an.note(PROGRAM, form, word.raw)


def _h_declare(an: Analyzer, name: str, args: list[Word], st: State,
               redirs: list[Redir]) -> None:
    """export, declare, typeset, local, readonly: set variables (PATH: see sets_runner)."""
    sets_runner(an, [w for w in args if not literal_prefix(w).startswith(("-", "+"))], name)


def _h_alias(an: Analyzer, name: str, args: list[Word], st: State,
             redirs: list[Redir]) -> None:
    """``alias ls='rm -f'``: a name then runs something else (where aliases expand)."""
    for word in args:
        text = static_text(word)
        if text is None or "=" in text:
            an.note(PROGRAM, name, command_text([literal_word(name), *args]))
            return


def _h_hash(an: Analyzer, name: str, args: list[Word], st: State,
            redirs: list[Redir]) -> None:
    """``hash -p ./evil cat``: ``cat`` then runs ./evil."""
    opts, _operands = getopt(args, "p")
    if has_option(opts, "-p"):
        an.note(PROGRAM, name, command_text([literal_word(name), *args]))


def _h_shopt(an: Analyzer, name: str, args: list[Word], st: State,
             redirs: list[Redir]) -> None:
    """``shopt -s expand_aliases``: aliases defined before (in the Bash tool's shell
    snapshot, or here) expand from the next line on."""
    opts, operands = getopt(args)
    if has_option(opts, "-s") and any(static_text(w) in (None, "expand_aliases")
                                      for w in operands):
        an.note(PROGRAM, name, command_text([literal_word(name), *args]))


def _h_history(an: Analyzer, name: str, args: list[Word], st: State,
               redirs: list[Redir]) -> None:
    """``history -w FILE`` / ``-a FILE`` write FILE (without it: $HISTFILE)."""
    opts, operands = getopt(args, "d")
    if not has_option(opts, "-w", "-a"):
        return
    if operands:
        an.target(operands[0], st, "history", "write")
    else:
        an.note(DYNAMIC, "history", "writes $HISTFILE")


def _h_file(an: Analyzer, name: str, args: list[Word], st: State,
            redirs: list[Redir]) -> None:
    """``file -C [-m MAGIC]`` compiles each magic file of the colon-separated list into
    BASENAME.mgc in the current folder (``magic.mgc`` for the default; a name ending in
    .mgc keeps it), as file 5.44 does."""
    opts, _operands = getopt(args, "efFmP", _FILE_LONG_VAL)
    if not any(o == "-C" or _abbreviates(o, "--compile") for o, _v in opts):
        return
    magics = [v for o, v in opts if v is not None and
              (o == "-m" or _abbreviates(o, "--magic-file"))] or [literal_word("magic")]
    for magic in magics:
        text = static_text(magic)
        if text is None:
            an.note(VARIABLE, "file -C", magic.raw)
            continue
        for part in text.split(":"):
            base = part.rpartition("/")[2]
            made = base if base.endswith(".mgc") else base + ".mgc"
            an.target(literal_word(made), st, "file", "write")


def _h_eval(an: Analyzer, name: str, args: list[Word], st: State,
            redirs: list[Redir]) -> None:
    texts = [static_text(w) for w in args]
    if any(t is None for t in texts):
        an.note(VARIABLE, name, command_text([literal_word(name), *args]))
        return
    an.nested(" ".join(t or "" for t in texts), st if name == "eval" else st.copy(), name)


def _h_trap(an: Analyzer, name: str, args: list[Word], st: State,
            redirs: list[Redir]) -> None:
    if len(args) >= 2 and static_text(args[0]) not in ("-p", "-l"):
        _h_eval(an, "trap", args[:1], st.copy(), redirs)


def _h_source(an: Analyzer, name: str, args: list[Word], st: State,
              redirs: list[Redir]) -> None:
    text = static_text(args[0]) if args else None
    if text is not None and os.path.basename(text) in ("activate", "activate.sh", "env"):
        return  # a virtualenv's activate script only sets variables
    an.note(PROGRAM, name, command_text([literal_word(name), *args]))


def _h_set(an: Analyzer, name: str, args: list[Word], st: State,
           redirs: list[Redir]) -> None:
    for i, word in enumerate(args):
        text = static_text(word) or ""
        if text[:1] in "-+" and not text.startswith("--"):
            if "e" in text[1:]:
                st.errexit = text[0] == "-"
            if text[1:] == "o" and i + 1 < len(args) and static_text(args[i + 1]) == "errexit":
                st.errexit = text[0] == "-"


def _h_cd(an: Analyzer, name: str, args: list[Word], st: State,
          redirs: list[Redir]) -> None:
    operands = [w for w in args if static_text(w) not in ("-L", "-P", "-e", "-@", "--", "-n")]
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
    elif static_text(operands[0]) == "-":
        st.chdir(st.oldpwd, "cd -")
    else:
        an.move(st, operands[0], f"{name} {operands[0].raw}")
    if name == "pushd":
        st.stack.append(before)


def _h_python(an: Analyzer, name: str, args: list[Word], st: State,
              redirs: list[Redir]) -> None:
    i = 0
    while i < len(args):
        word = args[i]
        text = literal_prefix(word)
        if not text.startswith("-") or text in ("-", "-c") or text.startswith("-c"):
            break  # a script, stdin or -c: a program
        if text.startswith("-m"):  # python -m MODULE ARGS: MODULE gets the rest
            module_word = drop_chars(word, 2) if len(text) > 2 else (
                args[i + 1] if i + 1 < len(args) else None)
            rest = args[i + 1:] if len(text) > 2 else args[i + 2:]
            module = static_text(module_word) if module_word is not None else None
            if module in _PY_MODULES:
                an.command([literal_word(module or ""), *rest], st, redirs, unknown=PROGRAM)
                return
            break
        i += 2 if text in ("-W", "-X", "-Q") else 1  # their value is the next word
    else:
        if only_version(args):
            return
    an.note(PROGRAM, name, command_text([literal_word(name), *args]))


_PY_MODULES = frozenset({"black", "isort", "ruff", "mypy", "pip", "json.tool", "pytest",
                         "autopep8", "yapf", "pyflakes", "flake8", "pylint"})


def _h_subcommands(read_only: frozenset[str]) -> Handler:
    """npm, pip, cargo, go, docker...: a few subcommands only read; the rest run code."""

    def handler(an: Analyzer, name: str, args: list[Word], st: State,
                redirs: list[Redir]) -> None:
        _opts, operands = getopt(args, "", frozenset(), permute=False)
        sub = static_text(operands[0]) if operands else None
        if sub in read_only or (not operands and only_version(args)):
            return
        an.note(PROGRAM, name, command_text([literal_word(name), *args]))

    return handler


def _h_runner(an: Analyzer, name: str, args: list[Word], st: State,
              redirs: list[Redir]) -> None:
    """npx X, uvx X, uv run X, poetry run X: run X (a known tool, else a program)."""
    rest = args
    if name in ("uv", "poetry", "pdm", "pipenv", "hatch", "pnpm", "yarn", "bun"):
        sub = static_text(rest[0]) if rest else None
        if sub not in ("run", "exec", "dlx", "x"):
            if only_version(rest):
                return
            an.note(PROGRAM, name, command_text([literal_word(name), *args]))
            return
        rest = rest[1:]
    _opts, operands = getopt(rest, "p", frozenset({"--package", "--with", "--from",
                                                     "--python", "-p"}), permute=False)
    if operands:
        an.command(operands, st, redirs, unknown=PROGRAM)
    else:
        an.note(PROGRAM, name, command_text([literal_word(name), *args]))


def _h_formatter(writes: tuple[str, ...] | None, dry: tuple[str, ...], short_val: str = "",
                 long_val: frozenset[str] = frozenset(), default: str | None = None) -> Handler:
    """black, prettier --write, gofmt -w...: rewrite the files and folders they are given.

    ``writes``: the flags that make it write (None: it writes unless given a ``dry`` flag).
    """

    def handler(an: Analyzer, name: str, args: list[Word], st: State,
                redirs: list[Redir]) -> None:
        opts, operands = getopt(args, short_val, long_val)
        if has_option(opts, *dry) or (writes is not None and not has_option(opts, *writes)):
            return
        if not operands and default is not None:
            operands = [literal_word(default)]
        for word in operands:
            if static_text(word) != "-":
                an.target(word, st, name, "write")

    return handler


def _h_ruff(an: Analyzer, name: str, args: list[Word], st: State,
            redirs: list[Redir]) -> None:
    opts, operands = getopt(args, "o", _RUFF_LONG_VAL)
    sub = static_text(operands[0]) if operands else None
    for out in option_values(opts, "-o", "--output-file"):
        an.target(out, st, "ruff", "write")
    paths = operands[1:] or [literal_word(".")]
    if sub == "format" and not has_option(opts, "--check", "--diff"):
        writes = True
    else:
        writes = sub == "check" and has_option(opts, "--fix", "--unsafe-fixes") and \
            not has_option(opts, "--no-fix", "--diff")
    if writes:
        for word in paths:
            if static_text(word) != "-":
                an.target(word, st, "ruff", "write")


_RUFF_LONG_VAL = frozenset({
    "--config", "--target-version", "--line-length", "--select", "--ignore",
    "--extend-select", "--exclude", "--extend-exclude", "--output-format",
    "--stdin-filename", "--per-file-ignores", "--fixable", "--unfixable", "--cache-dir",
    "--output-file", "--range"})


_GIT_READ_ONLY = frozenset({
    "status", "diff", "log", "show", "blame", "annotate", "rev-parse", "rev-list",
    "ls-files", "ls-tree", "ls-remote", "grep", "describe", "shortlog", "reflog",
    "cat-file", "branch", "tag", "remote", "fetch", "push", "add", "commit",
    "merge-base", "name-rev", "show-ref", "for-each-ref", "count-objects", "fsck", "gc",
    "help", "version", "var", "whatchanged", "notes", "range-diff", "check-ignore",
    "check-attr", "hash-object", "update-index", "write-tree", "show-branch", "init",
    "clone", "prune", "repack", "maintenance", "credential", "difftool", "cherry",
    "verify-commit", "log-tree", "instaweb", "request-pull", "archive",
    "submodule-status"})
_GIT_WORKTREE = frozenset({
    "merge", "rebase", "pull", "cherry-pick", "revert", "am", "bisect", "checkout-index",
    "read-tree", "sparse-checkout", "filter-branch", "stash-pop", "switch"})


def _h_git(an: Analyzer, name: str, args: list[Word], st: State,
           redirs: list[Redir]) -> None:
    here = st
    i = 0
    while i < len(args):  # git's own options come before the subcommand
        text = literal_prefix(args[i])
        if text == "-C" and i + 1 < len(args):
            here = here.copy() if here is st else here
            path = an.resolve(args[i + 1], here)[0]
            here.chdir(path, "git -C " + args[i + 1].raw)
            i += 2
        elif text in ("-c", "--git-dir", "--work-tree", "--namespace", "--exec-path",
                      "--config-env") and "=" not in text:
            if text == "--work-tree":
                an.note(DYNAMIC, "git", "--work-tree")
            if text == "-c" and i + 1 < len(args) and not _harmless_git_config(args[i + 1]):
                an.note(PROGRAM, "git -c", command_text(args))
            if text == "--config-env":  # a setting's value from the environment
                an.note(PROGRAM, "git --config-env", command_text(args))
            i += 2
        elif text.startswith("-"):
            if text.startswith("--work-tree="):
                an.note(DYNAMIC, "git", text)
            if text.startswith("--config-env="):
                an.note(PROGRAM, "git --config-env", command_text(args))
            i += 1
        else:
            break
    if i >= len(args):
        return
    sub = static_text(args[i])
    rest = args[i + 1:]
    handler = _GIT_HANDLERS.get(sub or "")
    if handler is not None:
        handler(an, sub or "", rest, here, redirs)
    elif sub in _GIT_READ_ONLY:
        _git_read_only(an, sub or "", rest, here)
        return
    elif sub in _GIT_WORKTREE:
        an.note(GIT_WORKTREE, "git " + (sub or ""), command_text(args[i:]))
    else:
        an.note(UNKNOWN_COMMAND, "git " + (sub or args[i].raw), command_text(args[i:]))


# ``git -c KEY=VALUE`` settings that never name a program to run (core.pager,
# core.fsmonitor, diff.external, alias.x='!cmd', core.sshCommand... all do): any other key
# makes the command unjudged. ``pager.CMD`` is harmless as a boolean only.
_HARMLESS_GIT_CONFIG_PREFIXES = ("color.", "user.", "advice.", "i18n.", "init.", "column.",
                                 "log.", "format.", "status.", "grep.", "blame.")
_HARMLESS_GIT_CONFIG_KEYS = frozenset({"core.quotepath", "core.autocrlf", "core.safecrlf",
                                       "core.abbrev", "core.ignorecase", "safe.directory",
                                       "protocol.version", "diff.renames", "diff.noprefix",
                                       "diff.mnemonicprefix", "merge.conflictstyle"})
_GIT_BOOLEANS = frozenset({"true", "false", "yes", "no", "on", "off", "1", "0", ""})


def _harmless_git_config(word: Word) -> bool:
    setting = static_text(word)
    if setting is None:
        return False  # a value only known at run time
    key, _, value = setting.partition("=")
    key = key.lower()
    if key.startswith("pager.") or key == "core.pager":
        return key != "core.pager" and value.lower() in _GIT_BOOLEANS
    return key in _HARMLESS_GIT_CONFIG_KEYS or key.startswith(_HARMLESS_GIT_CONFIG_PREFIXES)


def _git_read_only(an: Analyzer, sub: str, args: list[Word], st: State) -> None:
    """A git subcommand that leaves the work tree alone but for its options: ``--output``
    (diff, log, show, shortlog, reflog, rev-list, archive... all take it; git takes a
    unique abbreviation such as ``--outp=F``), ``archive -o F``, ``grep -O CMD`` /
    ``--open-files-in-pager=CMD`` (opens the matches with any command) and difftool (runs
    the configured diff tool)."""
    form = f"git-{sub}"
    if sub == "difftool":
        an.note(PROGRAM, form, command_text([literal_word(sub), *args]))
        return
    # grep's -O takes its command attached only (-OCMD, -nOCMD): a flag here
    short_val = {"archive": "o", "grep": "ABCefm"}.get(sub, "")
    opts, _operands = getopt(args, short_val, frozenset({"--output"}))
    for option, value in opts:
        if sub == "grep" and (option == "-O" or _abbreviates(option, "--open-files-in-pager")):
            an.note(PROGRAM, form, command_text([literal_word("git"), literal_word(sub),
                                                 *args]))
        elif value is not None and (_abbreviates(option, "--output") or
                                    (sub == "archive" and option == "-o")):
            an.target(value, st, form, "write")


def _abbreviates(option: str, name: str) -> bool:
    """``--outp`` for ``--output``: git's parse-options takes any unique prefix (two
    letters at least: ``--o`` is ambiguous wherever these options are)."""
    return len(option) >= 4 and name.startswith(option)


def _pathspec_targets(an: Analyzer, words: list[Word], st: State, form: str,
                      op: str) -> None:
    for word in words:
        text = literal_prefix(word)
        if text.startswith(":"):
            an.note(GLOB, form, word.raw)  # pathspec magic
        elif static_text(word) is not None and is_glob(static_text(word) or ""):
            an.note(GLOB, form, word.raw)  # quoted: git matches it as a pattern
        else:
            an.target(word, st, form, op)


def _g_checkout(an: Analyzer, name: str, args: list[Word], st: State,
                redirs: list[Redir]) -> None:
    dashdash = next((k for k, w in enumerate(args) if static_text(w) == "--"), None)
    before = args if dashdash is None else args[:dashdash]
    opts, operands = getopt(before, "bB", frozenset({"--orphan", "--conflict"}))
    if dashdash is not None:
        _pathspec_targets(an, args[dashdash + 1:], st, "git-checkout", "write")
        return
    if has_option(opts, "-p", "--patch"):
        an.note(GIT_WORKTREE, "git-checkout", "--patch")
        return
    if has_option(opts, "-b", "-B", "--orphan"):
        if operands:  # a new branch at another commit: the work tree changes
            an.note(GIT_WORKTREE, "git-checkout", command_text([literal_word(name), *args]))
        return
    if not operands:
        return
    if len(operands) == 1:
        text = static_text(operands[0])
        if text is not None and (text == "." or text.startswith("./")):
            _pathspec_targets(an, operands, st, "git-checkout", "write")
        else:  # a branch (switches the work tree) or a file: git decides
            an.note(GIT_WORKTREE, "git-checkout", operands[0].raw)
        return
    _pathspec_targets(an, operands[1:], st, "git-checkout", "write")  # REV path...


def _g_restore(an: Analyzer, name: str, args: list[Word], st: State,
               redirs: list[Redir]) -> None:
    opts, operands = getopt(args, "s", frozenset({"--source", "--conflict",
                                                   "--pathspec-from-file"}))
    if option_values(opts, "--pathspec-from-file"):
        an.note(DYNAMIC, "git-restore", "--pathspec-from-file")
    if has_option(opts, "-S", "--staged") and not has_option(opts, "-W", "--worktree"):
        return  # only the index
    if has_option(opts, "-p", "--patch"):
        an.note(GIT_WORKTREE, "git-restore", "--patch")
    _pathspec_targets(an, operands, st, "git-restore", "write")


def _g_reset(an: Analyzer, name: str, args: list[Word], st: State,
             redirs: list[Redir]) -> None:
    opts, _operands = getopt(args)
    if has_option(opts, "--hard", "--merge", "--keep"):
        an.note(GIT_WORKTREE, "git-reset", command_text([literal_word(name), *args]))


def _g_stash(an: Analyzer, name: str, args: list[Word], st: State,
             redirs: list[Redir]) -> None:
    sub = static_text(args[0]) if args else "push"
    if sub in ("list", "show", "drop", "clear", "create", "store"):
        return
    dashdash = next((k for k, w in enumerate(args) if static_text(w) == "--"), None)
    if sub == "push" and dashdash is not None:
        _pathspec_targets(an, args[dashdash + 1:], st, "git-stash", "write")
        return
    an.note(GIT_WORKTREE, "git-stash", command_text([literal_word(name), *args]))


def _g_clean(an: Analyzer, name: str, args: list[Word], st: State,
             redirs: list[Redir]) -> None:
    opts, operands = getopt(args, "e", frozenset({"--exclude"}))
    if has_option(opts, "-n", "--dry-run") or not has_option(opts, "-f", "--force"):
        return
    if operands:
        _pathspec_targets(an, operands, st, "git-clean", "delete")
    else:
        an.note(DYNAMIC, "git-clean", "deletes the untracked files it finds")


def _g_rm(an: Analyzer, name: str, args: list[Word], st: State,
          redirs: list[Redir]) -> None:
    opts, operands = getopt(args, "", frozenset({"--pathspec-from-file"}))
    if has_option(opts, "--cached", "-n", "--dry-run"):
        return
    _pathspec_targets(an, operands, st, "git-rm", "delete")


def _g_mv(an: Analyzer, name: str, args: list[Word], st: State,
          redirs: list[Redir]) -> None:
    _copy_like("git-mv", "", frozenset(), moves=True)(an, name, args, st, redirs)


def _g_apply(an: Analyzer, name: str, args: list[Word], st: State,
             redirs: list[Redir]) -> None:
    opts, _operands = getopt(args, "pC", frozenset({"--directory", "--exclude", "--include",
                                                     "--whitespace", "--build-fake-ancestor"}))
    if has_option(opts, "--check", "--stat", "--numstat", "--summary", "--cached"):
        return
    an.note(PATCH, "git-apply", "files named inside the diff")


def _g_worktree(an: Analyzer, name: str, args: list[Word], st: State,
                redirs: list[Redir]) -> None:
    sub = static_text(args[0]) if args else None
    if sub in ("list", "prune", "lock", "unlock", "repair"):
        return
    an.note(GIT_WORKTREE, "git-worktree", command_text([literal_word(name), *args]))


def _g_submodule(an: Analyzer, name: str, args: list[Word], st: State,
                 redirs: list[Redir]) -> None:
    sub = static_text(args[0]) if args else "status"
    if sub in ("status", "summary", "foreach") and sub != "foreach":
        return
    an.note(GIT_WORKTREE, "git-submodule", command_text([literal_word(name), *args]))


# git config: how it reads (exactly these) and how it writes (these or a unique prefix).
_CONFIG_READS = frozenset({"--get", "--get-all", "--get-regexp", "--get-urlmatch",
                           "--get-color", "--get-colorbool", "-l", "--list"})
_CONFIG_WRITES = ("--unset", "--unset-all", "--add", "--replace-all", "--rename-section",
                  "--remove-section", "--edit")


_FILE_LONG_VAL = frozenset({"--exclude", "--exclude-quiet", "--files-from", "--separator",
                            "--parameter", *("--magic-file"[:k] for k in range(4, 13))})


def _g_config(an: Analyzer, name: str, args: list[Word], st: State,
              redirs: list[Redir]) -> None:
    """``git config -f FILE`` writes FILE when it sets or unsets (the default file is in
    .git, or the user's: no project file); ``--edit`` also runs an editor. Reading is
    told apart only when plain: a read option or subcommand, or a single key alone."""
    opts, operands = getopt(args, "f", frozenset({
        "--file", "--fil", "--blob", "--type", "--default", "--comment", "--value"}))
    files = [v for o, v in opts if v is not None and (o == "-f" or _abbreviates(o, "--file"))]
    sub = static_text(operands[0]) if operands else None
    edits = has_option(opts, "-e") or sub == "edit" or any(
        _abbreviates(o, "--edit") for o, _v in opts)
    if edits:
        an.note(PROGRAM, "git-config", "--edit runs an editor")
    writes = edits or sub in ("set", "unset", "rename-section", "remove-section") or any(
        _abbreviates(o, w) for o, _v in opts for w in _CONFIG_WRITES)
    if not writes and (sub in ("get", "list") or has_option(opts, *_CONFIG_READS)):
        return
    if writes or len(operands) >= 2:
        for file in files:
            if static_text(file) != "-":
                an.target(file, st, "git-config", "write")


def _g_bundle(an: Analyzer, name: str, args: list[Word], st: State,
              redirs: list[Redir]) -> None:
    """``git bundle create FILE REVS``: writes FILE (``-``: standard output)."""
    if not args or static_text(args[0]) != "create":
        return  # verify, list-heads, unbundle: read the bundle
    _opts, operands = getopt(args[1:])
    if operands and static_text(operands[0]) != "-":
        an.target(operands[0], st, "git-bundle", "write")


# git lfs subcommands that rewrite no work-tree file (fetch, push, prune: .git/lfs only)
_LFS_READ_ONLY = frozenset({"ls-files", "status", "env", "version", "logs", "locks", "lock",
                            "unlock", "fsck", "fetch", "push", "prune", "pointer", "ext",
                            "help", "track"})


def _g_lfs(an: Analyzer, name: str, args: list[Word], st: State,
           redirs: list[Redir]) -> None:
    """pull, checkout, migrate, dedup... replace work-tree files (pointers by contents):
    which ones is known only at run time; ``track PATTERN`` writes .gitattributes at the
    repository's top."""
    opts, operands = getopt(args, "IX", frozenset({"--include", "--exclude"}))
    sub = static_text(operands[0]) if operands else None
    if (sub in _LFS_READ_ONLY and not has_option(opts, "--checkout") and not (
            sub == "track" and len(operands) > 1)) or (
            sub == "migrate" and len(operands) > 1 and static_text(operands[1]) == "info"):
        return
    if not operands and only_version(args):
        return
    an.note(GIT_WORKTREE, "git-lfs", command_text([literal_word("lfs"), *args]))


_GIT_HANDLERS: dict[str, Handler] = {
    "config": _g_config,
    "bundle": _g_bundle,
    "lfs": _g_lfs,
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
        None if has_option(getopt(args, "cC")[0], "-c", "-C", "--create", "--force-create")
        and len(getopt(args, "cC")[1]) == 0
        else an.note(GIT_WORKTREE, "git-switch", command_text([literal_word(name), *args]))),
}


def _h_tsc(an: Analyzer, name: str, args: list[Word], st: State,
           redirs: list[Redir]) -> None:
    if only_version(args) or any(static_text(w) in ("--noEmit", "--showConfig") for w in args):
        return
    an.note(PROGRAM, name, "writes its compiled output")


def _h_reader(short_val: str = "", long_val: frozenset[str] = frozenset(),
              writes: tuple[str, ...] = (), runs: tuple[str, ...] = (),
              abbreviated: bool = False) -> Handler:
    """tree, iconv, shuf, less, rg, fd...: read only, but for an option that writes the
    file it names (``writes``: ``tree -o F``) or runs a command the analysis does not
    see (``runs``: ``rg --pre CMD``, ``fd -x CMD``): then not judged. ``abbreviated``:
    the command takes a unique prefix of a long option (getopt_long, argp, Perl's
    Getopt::Long: ``man --pag=CMD``)."""
    if abbreviated:
        writes, runs = _with_prefixes(writes), _with_prefixes(runs)
        long_val = long_val | {o for o in (*writes, *runs)
                               if any(v.startswith(o) for v in long_val)}

    def handler(an: Analyzer, name: str, args: list[Word], st: State,
                redirs: list[Redir]) -> None:
        opts, _operands = getopt(args, short_val, long_val)
        for out in option_values(opts, *writes):
            if static_text(out) != "-":
                an.target(out, st, name, "write")
        ran = [option for option, _value in opts if option in runs]
        if ran:
            an.note(PROGRAM, name, f"{ran[0]} runs a command")

    return handler


def _with_prefixes(options: tuple[str, ...]) -> tuple[str, ...]:
    """The options and every prefix of four characters or more of the long ones."""
    return tuple(dict.fromkeys([*options, *(o[:k] for o in options if o.startswith("--")
                                            for k in range(4, len(o)))]))


def _h_coord(an: Analyzer, name: str, args: list[Word], st: State,
             redirs: list[Redir]) -> None:
    """Our own CLI: messages and locks live in the state dir, but ``diagnose -o F`` and
    ``bench --out DIR`` write project files, and install/uninstall/shims/backend/demo/
    doctor write settings or plugin files or run hooks."""
    _opts, operands = getopt(args, "s", frozenset({"--backend", "--state-dir", "--session"}),
                             permute=False)
    sub = static_text(operands[0]) if operands else None
    rest = operands[1:]
    if sub == "diagnose":
        opts, _ = getopt(rest, "o", frozenset({"--output"}))
        for out in option_values(opts, "-o", "--output"):
            an.target(out, st, "coord-diagnose", "write")
    elif sub == "bench":
        opts, _ = getopt(rest, "b", frozenset({"--out", "--workdir", "--backend", "--only",
                                                "--compare"}))
        if has_option(opts, "--help", "-h"):
            return
        for folder in option_values(opts, "--out") or [literal_word("benchmark-results")]:
            for made in ("benchmark.json", "benchmark.svg"):
                an.into(folder, literal_word(made), st, "coord-bench", "write")
        if option_values(opts, "--workdir"):
            an.note(PROGRAM, "coord bench", "--workdir")
    elif sub in ("install", "uninstall", "shims", "backend", "demo", "doctor") and \
            not only_version(rest):
        an.note(PROGRAM, name, command_text([literal_word(name), *args]))


HANDLERS: dict[str, Handler] = {
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
    "coord": _h_coord,
    "tree": _h_reader("LPIHTo", frozenset({"--charset", "--filelimit", "--timefmt"}),
                      writes=("-o",)),
    "iconv": _h_reader("fto", frozenset({"--from-code", "--to-code", "--output"}),
                       writes=("-o", "--output")),
    "shuf": _h_reader("noi", frozenset({"--head-count", "--output", "--input-range",
                                        "--random-source"}), writes=("-o", "--output")),
    "less": _h_reader("bhjkoOpPtTxyz", frozenset({"--log-file", "--LOG-FILE"}),
                      writes=("-o", "-O", "--log-file", "--LOG-FILE")),
    "rg": _h_reader("efgtTABCmMjEdr", frozenset({"--pre", "--pre-glob", "--hostname-bin"}),
                    runs=("--pre", "--hostname-bin")),
    "fd": _h_reader("etdEcjxX", frozenset({"--exec", "--exec-batch"}),
                    runs=("-x", "-X", "--exec", "--exec-batch")),
    "fzf": _h_reader("", frozenset({"--preview", "--bind"}), runs=("--preview", "--bind")),
    "bat": _h_reader("lHmr", frozenset({
        "--pager", "--language", "--highlight-line", "--file-name", "--map-syntax",
        "--theme", "--style", "--tabs", "--wrap", "--terminal-width", "--line-range",
        "--paging", "--color", "--italic-text", "--decorations"}), runs=("--pager",)),
    "man": _h_reader("CMLmPpeRrSsE", frozenset({
        "--pager", "--config-file", "--manpath", "--locale", "--systems", "--preprocessor",
        "--extension", "--recode", "--prompt", "--sections", "--encoding"}),
        runs=("-P", "--pager", "-H", "--html"), abbreviated=True),
    "ag": _h_reader("ABCGgmp", frozenset({
        "--pager", "--after", "--before", "--context", "--file-search-regex", "--max-count",
        "--path-to-ignore", "--ignore", "--ignore-dir", "--depth", "--workers"}),
        runs=("--pager",), abbreviated=True),
    "ack": _h_reader("ABCm", frozenset({
        "--pager", "--after-context", "--before-context", "--context", "--max-count",
        "--output", "--type", "--ignore-dir", "--ignore-file"}),
        runs=("--pager",), abbreviated=True),
    "info": _h_reader("dfno", frozenset({
        "--directory", "--file", "--node", "--output", "--dribble", "--restore",
        "--init-file", "--index-search"}),
        writes=("-o", "--output", "--dribble"), abbreviated=True),
    "history": _h_history,
    "file": _h_file,
    "alias": _h_alias,
    "hash": _h_hash,
    "shopt": _h_shopt,
    "export": _h_declare,
    "declare": _h_declare,
    "typeset": _h_declare,
    "local": _h_declare,
    "readonly": _h_declare,
}
HANDLERS["batcat"] = HANDLERS["bat"]
HANDLERS["fdfind"] = HANDLERS["fd"]
for _shell in _SHELLS:
    HANDLERS[_shell] = _h_shell

def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Commands that write no file by themselves (their redirections are still checked).
# Readers with an option that writes or runs something (rg --pre, tree -o) are handlers.
# mkdir/chmod/chown create folders or change modes: they clobber no file content.
READ_ONLY = _words("""
ls ll la dir vdir cat head tail more grep egrep fgrep wc echo printf
pwd which whereis type stat du df diff cmp comm cut tr paste join column nl fold
fmt rev tac od hexdump md5sum sha1sum sha224sum sha256sum sha384sum sha512sum shasum
cksum b2sum base64 base32 true false test [ sleep date printenv whoami id groups
hostname uname uptime ps pgrep pidof free nproc lscpu lsof jq realpath readlink dirname
basename seq yes expr bc dc cal locale getconf unset
read mapfile readarray unalias exit return shift wait ulimit umask
jobs fg bg kill pkill killall disown mkdir chmod chown chgrp mktemp sync
clear tput stty : break continue let times help getopts logger strings nm objdump
readelf ldd top htop vmstat iostat netstat ss ip ifconfig ping host dig nslookup
apropos whatis tldr numfmt factor tsort expand unexpand envsubst mypy pyright
pyflakes flake8 pylint shellcheck hadolint yamllint markdownlint codespell gitleaks cloc
tokei scc pstree lsblk findmnt blkid pkg-config
""")

# Interpreters, build tools, test runners: they run code whose writes are not parsed.
PROGRAMS = _words("""
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
