"""PreToolUse for Bash through the REAL shim: writes to held files are denied, the rest run,
written files are locked for the writer, unjudged commands are said once."""

from __future__ import annotations

import os
import re
from pathlib import Path

import payloads as pl
import pytest
from bash_corpus import CORPUS
from hookrun import HookResult, Project, Sess
from hypothesis import given, settings
from hypothesis import strategies as st

from coord_hooks.hook import bash as guard
from coord_hooks.hook.bashwrites import analyze
from coord_hooks.hook.bashwrites.commands import _GIT_READ_ONLY, READ_ONLY
from coord_hooks.model import peer_words

HELD = "src/app.py"


def _register(project: Project, name: str) -> Sess:
    sess = project.session(name)
    project.run("session-start", pl.session_start(sess.session_id, project.cwd), sess)
    return sess


def _bash(project: Project, sess: Sess, command: str, cwd: str | None = None,
          agent_id: str | None = None, env: dict[str, str] | None = None) -> HookResult:
    payload = pl.pre_tool_use(sess.session_id, cwd or project.cwd, "Bash",
                              {"command": command, "description": "run it"},
                              agent_id=agent_id)
    return project.run("pre-tool-use", payload, sess, extra_env=env)


def _decision(result: HookResult) -> str:
    out = result.output
    if out is None:
        return "allow"
    return str(out["hookSpecificOutput"].get("permissionDecision", "allow"))


def _reason(result: HookResult) -> str:
    out = result.output
    assert out is not None
    return str(out["hookSpecificOutput"]["permissionDecisionReason"])


@pytest.fixture
def held(project: Project) -> tuple[Sess, Sess]:
    """Session a holds src/app.py (by an Edit) and ~/held.txt; b is another live session."""
    a, b = _register(project, "a"), _register(project, "b")
    project.coordinator().set_identity(a.session_id, name="alice", task="the parser")
    (project.root / "other.py").write_text("other\n")
    (project.root / "src" / "sub").mkdir()
    home = Path(project.env["HOME"])
    for path in (project.root / HELD, home / "held.txt"):
        assert project.run("pre-tool-use", pl.edit(a.session_id, project.cwd, str(path)),
                           a).stdout == ""
    return a, b


# Every write form of issue 10 on the held file (or on a folder holding it).
WRITE_FORMS = [
    ("redirect >", "echo x > src/app.py"),
    ("redirect >>", "echo x >> src/app.py"),
    ("redirect >|", "echo x >| src/app.py"),
    ("redirect &>", "make &> src/app.py"),
    ("redirect 1>", "ls 1> src/app.py"),
    ("redirect 2>", "python3 -m pytest 2> src/app.py"),
    ("here-doc into a file", "cat > src/app.py <<'EOF'\nprint('hi')\nEOF"),
    ("tee", "echo x | tee src/app.py"),
    ("tee -a", "echo x | tee -a src/app.py >/dev/null"),
    ("sed -i", "sed -i 's/hi/ho/' src/app.py"),
    ("sed -iSUFFIX", "sed -i.bak -e 's/hi/ho/' src/app.py"),
    ("perl -i", "perl -i -pe 's/hi/ho/' src/app.py"),
    ("perl -pi", "perl -pi -e 's/hi/ho/' src/app.py"),
    ("mv (source)", "mv src/app.py src/old.py"),
    ("mv (destination)", "mv other.py src/app.py"),
    ("cp", "cp other.py src/app.py"),
    ("install", "install -m 644 other.py src/app.py"),
    ("rsync", "rsync -a other.py src/app.py"),
    ("rm", "rm -f src/app.py"),
    ("rm -r of a folder holding it", "rm -rf src"),
    ("unlink", "unlink src/app.py"),
    ("truncate", "truncate -s 0 src/app.py"),
    ("dd of=", "dd if=/dev/zero of=src/app.py bs=1 count=1"),
    ("touch", "touch src/app.py"),
    ("ln -sf", "ln -sf ../other.py src/app.py"),
    ("git checkout --", "git checkout -- src/app.py"),
    ("git checkout -- .", "git checkout -- ."),
    ("git restore", "git restore --source=HEAD src/app.py"),
    ("patch (named target)", "patch src/app.py < fix.patch"),
    ("xxd -r", "xxd -r dump.hex src/app.py"),
    ("git diff --output", "git diff --output=src/app.py"),
    ("git diff --outpu\"\"t (quotes split the option)", 'git diff --outpu""t=src/app.py'),
    ("git diff --out''put", "git diff --out''put=src/app.py"),
    ("git log --output", "git log -1 --output=src/app.py"),
    ("git shortlog --output", "git shortlog --output=src/app.py HEAD"),
    ("git archive -o", "git archive -o src/app.py HEAD"),
    ("git config -f", "git config -f src/app.py core.x y"),
    ("git config --file=", "git config --file=src/app.py --unset core.x"),
    ("git config --fil= --rem (abbreviations)", "git config --fil=src/app.py --rem old"),
    ("git bundle create", "git bundle create src/app.py HEAD"),
    ("history -w", "history -w src/app.py"),
    ("history -a", "history -a src/app.py"),
    ("info -o", "info -o src/app.py coreutils"),
    ("coord diagnose -o", "coord diagnose -o src/app.py"),
    ("coord diagnose --output", "coord diagnose --output src/app.py"),
    ("coord diagnose --output=", "coord diagnose --json --output=src/app.py"),
    ("tree -o", "tree -o src/app.py src"),
    ("iconv -o", "iconv -f utf-8 -t ascii -o src/app.py other.py"),
    ("shuf -o", "shuf -o src/app.py other.py"),
    ("cd DIR && ...", "cd src && sed -i 's/hi/ho/' app.py"),
    ("cd sub/.. and ..", "cd src/sub && echo x > ../app.py"),
    ("; list", "ls; echo x > src/app.py"),
    ("|| list", "false || echo x > src/app.py"),
    ("pipe", "cat other.py | tee src/app.py > /dev/null"),
    ("subshell", "(cd src && echo x > app.py)"),
    ("group", "{ echo a; echo b; } > src/app.py"),
    ("bash -c", "bash -c 'echo x > src/app.py'"),
    ("sh -c", "sh -c \"sed -i 's/a/b/' src/app.py\""),
    ("quoted path", "echo x > 'src/app.py'"),
    ("escaped path", "echo x > src/ap\\p.py"),
    ("./x", "echo x > ./src/app.py"),
    ("//", "echo x > src//app.py"),
    ("absolute path", "echo x > {root}/src/app.py"),
    ("~", "echo x >> ~/held.txt"),
    ("next to something unjudged", "python3 gen.py > src/app.py && make"),
]


@pytest.mark.parametrize(("form", "command"), WRITE_FORMS, ids=[f for f, _ in WRITE_FORMS])
def test_every_write_form_on_a_held_file_is_denied(project: Project, held: tuple[Sess, Sess],
                                                  form: str, command: str) -> None:
    a, b = held
    result = _bash(project, b, command.replace("{root}", str(project.root)))
    assert _decision(result) == "deny", form
    reason = _reason(result)
    target = "held.txt" if "~" in command else HELD
    assert reason.startswith("[coord-hooks] ")
    assert re.search(rf"{re.escape(target)}( \(inside [^)]+\))? is locked by session "
                     rf'{a.handle} \(alice\); working on \(in its own words\): "the parser";',
                     reason), reason
    assert f"Ask it with: coord send {a.handle} 'Could you release" in reason
    assert reason.endswith("The Bash command was not run: it would write a file another "
                           "session holds. Work on something else meanwhile, or ask and "
                           "retry later (`coord locks` lists every lock).")
    # the holder keeps its lock, and the denied command locked nothing
    assert {v.lock.owner for v in project.coordinator().locks()} == {a.session_id}
    assert (project.root / HELD).read_text() == "hi\n"


HARMLESS = [
    ("cat", "cat src/app.py", "read-only"),
    ("grep", "grep -rn hi src", "read-only"),
    ("git diff", "git diff -- src/app.py", "read-only"),
    ("git status && git log", "git status && git log --oneline -5", "read-only"),
    ("ls | head", "ls -la src | head -5", "read-only"),
    ("sed -n", "sed -n '1,20p' src/app.py", "no-writes"),
    ("cp held /tmp/x", "cp src/app.py {tmp}/copy.py", "locked"),
    ('echo "a > b"', 'echo "a > b"', "no-writes"),
    ("redirect to /dev/null", "grep -c hi src/app.py > /dev/null 2>&1", "no-writes"),
    ("find", "find src -name '*.py' | xargs wc -l", "no-writes"),
    ("here-doc to stdout", "cat <<'EOF'\nsrc/app.py > x\nEOF", "no-writes"),
    ("quoted redirection", "grep 'a > src/app.py' other.py", "no-writes"),
    ("commit message", "git add -A && git commit -m 'edit src/app.py > b'", "no-writes"),
]


@pytest.mark.parametrize(("form", "command", "outcome"), HARMLESS,
                         ids=[f for f, _, _ in HARMLESS])
def test_harmless_commands_are_allowed(project: Project, held: tuple[Sess, Sess],
                                       tmp_path: Path, form: str, command: str,
                                       outcome: str) -> None:
    a, b = held
    result = _bash(project, b, command.replace("{tmp}", str(tmp_path)))
    assert result.stdout == "", form  # allow prints nothing (no permission decision)
    [line] = [r for r in project.perf_log() if r.get("tool") == "Bash"]
    assert line["outcome"] == outcome and line["hook"] == "PreToolUse"
    held_by_a = [v.lock.key for v in project.coordinator().locks()
                 if v.lock.owner == a.session_id]
    assert HELD in held_by_a


def test_a_deny_lists_every_held_target_of_every_holder(project: Project,
                                                        held: tuple[Sess, Sess]) -> None:
    a, b = held
    c = _register(project, "c")
    project.run("pre-tool-use", pl.write(c.session_id, project.cwd,
                                         f"{project.cwd}/docs/guide.md"), c)
    command = "sed -i 's/x/y/' src/app.py docs/guide.md free.txt && echo ok > notes.txt"
    reason = _reason(_bash(project, b, command))
    assert f"src/app.py is locked by session {a.handle} (alice)" in reason
    assert f"docs/guide.md is locked by session {c.handle};" in reason
    assert reason.count("Ask it with:") == 2
    assert "it would write 2 files another session holds" in reason
    assert "free.txt" not in reason and "notes.txt" not in reason
    # all or nothing: the free targets were not locked either
    assert not [v for v in project.coordinator().locks() if v.lock.owner == b.session_id]


def test_bash_writes_are_locked_for_the_writer_and_deny_the_next_session(
        project: Project, held: tuple[Sess, Sess]) -> None:
    a, b = held
    (project.root / "notes.txt").write_text("n\n")
    assert _bash(project, b, "sed -i 's/n/m/' notes.txt && echo x > new.txt").stdout == ""
    mine = sorted(v.lock.key for v in project.coordinator().locks()
                  if v.lock.owner == b.session_id)
    assert mine == ["new.txt", "notes.txt"]
    # the next session is denied in turn, by an Edit as by a Bash write
    denied = project.run("pre-tool-use", pl.edit(a.session_id, project.cwd,
                                                 f"{project.cwd}/notes.txt"), a).output
    assert denied is not None
    assert denied["hookSpecificOutput"]["permissionDecisionReason"].startswith(
        f"[coord-hooks] notes.txt is locked by session {b.handle};")
    assert _decision(_bash(project, a, "echo y >> new.txt")) == "deny"
    # renewing its own lock is silent
    assert _bash(project, b, "echo z >> new.txt").stdout == ""


def test_rm_and_mv_keep_the_lock_and_release_nothing(project: Project,
                                                     held: tuple[Sess, Sess]) -> None:
    a, b = held
    assert _bash(project, a, "rm src/app.py && mv other.py moved.py").stdout == ""
    keys = {v.lock.key: v.lock.owner for v in project.coordinator().locks()}
    # a's own lock on the removed file stays a's; the move's two ends are a's too
    assert keys[HELD] == a.session_id
    assert keys["other.py"] == a.session_id and keys["moved.py"] == a.session_id
    # b removing a file it never held takes it and frees nobody else's
    (project.root / "scratch.txt").write_text("s\n")
    assert _bash(project, b, "rm scratch.txt").stdout == ""
    after = {v.lock.key: v.lock.owner for v in project.coordinator().locks()}
    assert after["scratch.txt"] == b.session_id and after[HELD] == a.session_id


def test_a_folder_target_is_checked_but_never_locked_whole(project: Project,
                                                           held: tuple[Sess, Sess]) -> None:
    a, b = held
    (project.root / "build").mkdir()
    (project.root / "build" / "out.js").write_text("x\n")
    assert _bash(project, b, "rm -rf build").stdout == ""
    assert not [v for v in project.coordinator().locks() if v.lock.owner == b.session_id]
    reason = _reason(_bash(project, b, "rm -rf src"))
    assert reason.startswith(f"[coord-hooks] src/app.py (inside src) is locked by session "
                             f"{a.handle}")


def test_an_unjudged_command_runs_and_the_session_is_told_once(
        project: Project, held: tuple[Sess, Sess]) -> None:
    _, b = held
    first = _bash(project, b, "python3 -c 'open(\"src/app.py\", \"w\")'")
    out = first.output
    assert out is not None and set(out["hookSpecificOutput"]) == {"hookEventName",
                                                                  "additionalContext"}
    text = out["hookSpecificOutput"]["additionalContext"]
    assert text.startswith("[coord-hooks] Not checked: coord-hooks cannot tell which files "
                           "`python3 -c")
    assert "(Said once per session.)" in text and len(text) < 600
    for command in ("make build", "./scripts/gen.sh", "echo x > $OUT"):
        assert _bash(project, b, command).stdout == ""  # once: not again
    lines = [r for r in project.perf_log() if r.get("tool") == "Bash"]
    assert [r["unjudged"] for r in lines] == [["program"], ["program"], ["program"],
                                             ["variable"]]
    # another session is told on its own first one
    c = _register(project, "c")
    assert "Not checked" in _bash(project, c, "npm run build").context


# "Read-only" commands told to run another command: nothing names the files it writes,
# so they are not judged (the session is told), never passed as read-only.
RUNS_A_COMMAND = [
    ("git grep --open-files-in-pager=CMD", "git grep --open-files-in-pager=rm hi"),
    ("git grep -O'CMD'", "git grep -O'sed -i s/hi/PWNED/' hi"),
    ("git grep -OCMD", "git grep -Orm hi"),
    ("git grep --op=CMD (an abbreviation)", "git grep --op=rm hi"),
    ("git grep -nO CMD (a cluster)", "git grep -nOrm hi"),
    ("rg --pre CMD", "rg --pre rm hi"),
    ("rg --pre=CMD", "rg --pre=rm hi src"),
    ("rg --hostname-bin CMD", "rg --hostname-bin=rm hi"),
    ("git difftool", "git difftool HEAD"),
    ("git -c core.fsmonitor=CMD", "git -c core.fsmonitor='rm -f src/app.py' status"),
    ("git -c alias.x='!CMD'", "git -c alias.st='!rm -f src/app.py' status"),
    ("git --config-env", "git --config-env=core.pager=PAGER log"),
    ("bat --pager CMD", "bat --pager 'rm -f src/app.py' --paging=always README.md"),
    ("man -P CMD", "man -P 'rm -f src/app.py' ls"),
    ("man --pager=CMD", "man --pager=rm ls"),
    ("ag --pager CMD", "ag --pager 'rm x' hi"),
    ("ack --pager=CMD", "ack --pager=rm hi"),
    # after these, a name may run another program than the one it says
    ("PATH=DIR cmd", "PATH=./bin:/usr/bin cat src/app.py"),
    ("export PATH", "export PATH=./bin:/usr/bin; cat src/app.py"),
    ("alias", "alias cat='rm -f'"),
    ("hash -p", "hash -p ./bin/evil cat; cat src/app.py"),
    ("shopt -s expand_aliases", "shopt -s expand_aliases; cat src/app.py"),
]


@pytest.mark.parametrize(("form", "command"), RUNS_A_COMMAND,
                         ids=[f for f, _ in RUNS_A_COMMAND])
def test_a_read_only_command_that_runs_another_is_not_judged_read_only(
        project: Project, held: tuple[Sess, Sess], form: str, command: str) -> None:
    _, b = held
    result = _bash(project, b, command)
    assert "Not checked" in result.context, form
    [line] = [r for r in project.perf_log() if r.get("tool") == "Bash"]
    assert line["outcome"] == "no-writes" and line["unjudged"] == ["program"], form


# Commands that rewrite files nobody can name from the command line: not judged either.
REWRITES_UNNAMED = [
    ("git lfs pull", "git lfs pull", "git-worktree"),
    ("git lfs checkout", "git lfs checkout", "git-worktree"),
    ("git lfs fetch --checkout", "git lfs fetch --checkout", "git-worktree"),
    ("history -w ($HISTFILE)", "history -w", "dynamic"),
]


@pytest.mark.parametrize(("form", "command", "kind"), REWRITES_UNNAMED,
                         ids=[f for f, _, _ in REWRITES_UNNAMED])
def test_a_command_that_rewrites_unnamed_files_is_not_judged(
        project: Project, held: tuple[Sess, Sess], form: str, command: str, kind: str) -> None:
    _, b = held
    result = _bash(project, b, command)
    assert "Not checked" in result.context, form
    [line] = [r for r in project.perf_log() if r.get("tool") == "Bash"]
    assert line["outcome"] == "no-writes" and line["unjudged"] == [kind], form


def test_not_a_string_command_and_no_session_do_nothing(project: Project) -> None:
    a = _register(project, "a")
    payload = pl.pre_tool_use(a.session_id, project.cwd, "Bash", {"command": ["rm", "x"]})
    assert project.run("pre-tool-use", payload, a).stdout == ""
    payload = pl.pre_tool_use("", project.cwd, "Bash", {"command": "rm x"})
    assert project.run("pre-tool-use", payload, a).stdout == ""
    assert [r["outcome"] for r in project.perf_log() if r.get("tool") == "Bash"] == [
        "no-command", "no-session"]
    assert project.coordinator().locks() == []


# --- subagents, through Bash and the file tools ------------------------------------------
SUB_1, SUB_2 = "a16c0a5686fa4c219", "b27d1b6797ab5d32a"


def test_sibling_subagents_deny_each_other_and_the_deny_names_the_agent(
        project: Project) -> None:
    a = _register(project, "a")
    path = f"{project.cwd}/{HELD}"
    assert project.run("pre-tool-use", pl.write(a.session_id, project.cwd, path,
                                                agent_id=SUB_1), a).stdout == ""
    reason = _reason(_bash(project, a, f"sed -i 's/a/b/' {HELD}", agent_id=SUB_2))
    assert reason.startswith(f"[coord-hooks] src/app.py is held by subagent {SUB_1} "
                             "(general-purpose), another subagent of this session working "
                             "in parallel;")
    assert "it would write a file another subagent of this session holds." in reason
    out = project.run("pre-tool-use", pl.write(a.session_id, project.cwd, path,
                                               agent_id=SUB_2), a).output
    assert out is not None and out["hookSpecificOutput"]["permissionDecision"] == "deny"
    # the main conversation itself is never kept out by its own subagent
    assert _bash(project, a, f"echo x >> {HELD}").stdout == ""


def test_the_share_setting_lets_sibling_subagents_share(project: Project) -> None:
    a = _register(project, "a")
    share = {"COORD_SUBAGENTS_SHARE_LOCKS": "1"}
    project.run("pre-tool-use", pl.write(a.session_id, project.cwd, f"{project.cwd}/{HELD}",
                                         agent_id=SUB_1), a, extra_env=share)
    assert _bash(project, a, f"sed -i 's/a/b/' {HELD}", agent_id=SUB_2, env=share).stdout == ""


def test_another_sessions_deny_names_the_subagent(project: Project) -> None:
    a, b = _register(project, "a"), _register(project, "b")
    project.run("pre-tool-use", pl.write(a.session_id, project.cwd, f"{project.cwd}/{HELD}",
                                         agent_id=SUB_1), a)
    reason = _reason(_bash(project, b, f"echo x > {HELD}"))
    assert reason.startswith(f"[coord-hooks] src/app.py is locked by subagent {SUB_1} "
                             f"(general-purpose) of session {a.handle};")


def test_a_stopping_subagents_locks_pass_to_its_session(project: Project) -> None:
    a, b = _register(project, "a"), _register(project, "b")
    assert _bash(project, a, f"echo x > {HELD}", agent_id=SUB_1).stdout == ""
    [view] = project.coordinator().locks()
    assert (view.lock.owner, view.lock.agent_id, view.lock.agent_type) == (
        a.session_id, SUB_1, "general-purpose")
    assert project.run("subagent-stop", pl.subagent_stop(a.session_id, project.cwd, SUB_1),
                       a).stdout == ""
    [view] = project.coordinator().locks()
    assert (view.lock.owner, view.lock.agent_id, view.lock.agent_type) == (
        a.session_id, "", "")
    # still the session's: another session is denied; its next subagent may take it
    assert _decision(_bash(project, b, f"echo x > {HELD}")) == "deny"
    assert _bash(project, a, f"echo y >> {HELD}", agent_id=SUB_2).stdout == ""
    assert [v.lock.agent_id for v in project.coordinator().locks()] == [SUB_2]


def test_at_stop_locks_of_subagents_no_longer_running_pass_to_the_session(
        project: Project) -> None:
    a = _register(project, "a")
    _bash(project, a, "echo 1 > one.txt", agent_id=SUB_1)  # interrupted: no SubagentStop
    _bash(project, a, "echo 2 > two.txt", agent_id=SUB_2)  # still running in the background
    stop = pl.stop(a.session_id, project.cwd)
    stop["background_tasks"] = [{"id": SUB_2, "type": "subagent", "status": "running",
                                 "description": "two", "agent_type": "general-purpose"}]
    assert project.run("stop", stop, a).stdout == ""
    agents = {v.lock.key: v.lock.agent_id for v in project.coordinator().locks()}
    assert agents == {"one.txt": "", "two.txt": SUB_2}


# --- the read-only fast path --------------------------------------------------------------
def test_the_fast_path_vocabulary_is_read_only_for_the_parser_too() -> None:
    # rg and coord have handlers in the parser (rg --pre, coord diagnose -o): the rest
    # are plain readers there too
    assert guard.READ_ONLY_COMMANDS - {"cd", "rg", "coord"} <= READ_ONLY
    assert guard.READ_ONLY_GIT <= _GIT_READ_ONLY
    commands = [*(f"{c} -n x y" for c in guard.READ_ONLY_COMMANDS - {"cd", "coord"}),
                *(f"git {s} -n x" for s in guard.READ_ONLY_GIT),
                *(f"coord {s} x" for s in guard.READ_ONLY_COORD)]
    for command in commands:
        assert guard.plainly_read_only(command), command
        analysis = analyze(command, "/w/p", "/home/u")
        assert analysis.targets == [] and analysis.judged, command


@pytest.mark.parametrize(("command", "plain"), [
    ("git status", True), ("ls -la && cat README.md | grep x", True), ("cd src; ls", True),
    ("git diff --output=x", False), ("cat f > g", False), ("cat $(ls)", False),
    ("cat `ls`", False), ("ls | xargs rm", False), ("env rm x", False), ("'rm' x", False),
    ("sed -n 1p f", False), ("git -C x status", False), ("git stash", False),
    ("FOO=1 ls", False), ("ls\nrm x", False), ("cat <<EOF\nx\nEOF", False),
    ("echo ${HOME}", False), ("", True),
    # quotes, escapes and expansions: the fast path does not read them, the parser does
    ('git diff --outpu""t=src/app.py', False), ("git diff --out''put=x", False),
    ("grep 'a b' f", False), ('grep "x" f', False), ("cat a\\ b", False),
    ("git log --oneline -5", True), ("git diff --stat HEAD~1", True),
    ("git log --output-indicator-new=+ -1", True),
    # options that write a file or run a command (git takes unique abbreviations)
    ("git diff --output x", False), ("git log --outp=x", False), ("git show --o=x", False),
    ("git grep --open-files-in-pager=rm hi", False), ("git grep --op=rm hi", False),
    ("git grep -Orm hi", False), ("git grep -nOrm hi", False), ("git grep -n hi", True),
    ("rg --pre rm hi", False), ("rg --pre=rm hi", False), ("rg --pre-glob '*' hi", False),
    ("rg --hostname-bin=rm hi", False), ("rg -n hi src", True),
    ("coord diagnose -o src/app.py", False), ("coord diagnose --output x", False),
    ("coord bench", False), ("coord install --scope project", False),
    ("coord status", True), ("coord locks --json", True), ("coord inbox", True),
    # globs that may expand to an option (a file named --output=x), braces, odd bytes
    ("git diff *", False), ("ls -*", False), ("grep x ?", False), ("rg x [a-]*", False),
    ("ls src/*.py", True), ("[ -f x ]", True), ("git diff -{O,}x", False),
    ("git grep x{,}", False), ("{ ls; }", True), ("} ls", False),
    ("{ ls", False), ("{ { ls; }; }", True), ("ls\u00a0-l", False), ("ls\r", False),
    ("cat -- ~/x", True),
])
def test_plainly_read_only(command: str, plain: bool) -> None:
    assert guard.plainly_read_only(command) is plain


def test_the_fast_path_never_skips_a_write_of_the_corpus() -> None:
    skipped = [c for c, targets, kinds in CORPUS if guard.plainly_read_only(c)]
    # it does take the common reads off the parser (a quoted word goes to the parser)
    assert len(skipped) >= 15
    for command in skipped:
        analysis = analyze(command, "/w/p", "/home/u", is_dir=os.path.isdir)
        # judged, or not even shell (bash runs nothing past a syntax error either)
        assert analysis.targets == [], command
        assert {u.kind for u in analysis.unresolved} <= {"parse"}, command


# Words the fast path must read right: the commands it allows, the options of theirs
# that write or run something, and the shell's quoting, globs, braces and odd spaces.
_FAST_WORDS = st.sampled_from([
    *sorted(guard.READ_ONLY_COMMANDS), *(f"git {s}" for s in sorted(guard.READ_ONLY_GIT)),
    "git", "coord diagnose", "coord bench", "coord install", "coord status", "coord send",
    "--output=src/app.py", "--output", "--outp=x", "--o", "--out''put=x", '--outpu""t=x',
    "-o", "-O", "-Orm", "-nO", "-O'rm'", "--open-files-in-pager=rm", "--op=rm", "--pre",
    "--pre=rm", "--pre-glob=*", "--hostname-bin=rm", "--scope", "project", "--out", "x",
    "src/app.py", "hi", "-n", "--stat", "--oneline", "--", "-", "*", "-*", "?", "[a-]*",
    "src/*.py", "{O,}", "-{O,}rm", "x{,}", "{", "}", "'", '"', "\\", "$x", "`ls`", "~", "#",
    "=", "a=b", "!", "\u00a0", "\r", "\t", "rm", "sort", "env", "xargs", "time",
    "find", "-fprint", "-delete", "-exec", "sed", "-i", "awk", "tee", "less", "vim",
])
_FAST_SEPARATORS = st.sampled_from([" ", " ", " ", "", ";", " && ", " | ", "\n", "(", ")"])


@given(parts=st.lists(st.tuples(_FAST_WORDS, _FAST_SEPARATORS), max_size=8))
@settings(max_examples=3000, deadline=None)
def test_what_the_fast_path_passes_the_parser_finds_write_free(
        parts: list[tuple[str, str]]) -> None:
    """Soundness of the shortcut: whatever it calls read-only, the full parser judges
    and finds no write in (or cannot parse, and then bash runs nothing either)."""
    command = "".join(word + sep for word, sep in parts)
    if guard.plainly_read_only(command):
        analysis = analyze(command, "/w/p", "/home/u", is_dir=os.path.isdir)
        assert analysis.targets == [], command
        assert {u.kind for u in analysis.unresolved} <= {"parse"}, (command,
                                                                    analysis.unresolved)


# --- the corpus through the hook ---------------------------------------------------------
def _in_project(text: str, root: Path, home: str) -> str:
    return (text.replace("/w/p", str(root)).replace("/home/u", home)
            .replace("/w/", f"{root.parent}/"))


def test_the_corpus_through_the_hook(project: Project, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    """Every corpus command that writes is denied when another session holds its
    targets; every other one runs. Prints the figures by form (pytest -s)."""
    from coord_hooks.coordination import Asker, Want

    a, b = _register(project, "a"), _register(project, "b")
    home = project.env["HOME"]
    for folder in ("docs", "build", "dist", "archive"):
        (project.root / folder).mkdir(exist_ok=True)
    coordinator = project.coordinator()
    paths = {_in_project(t.split(" ", 2)[2], project.root, home)
             for _, targets, _ in CORPUS for t in targets}
    keys = sorted({coordinator.key_for(p, project.cwd, literal=True)[0] for p in paths})
    results = coordinator.try_acquire_keys(Asker(a.session_id), [Want(k, False) for k in keys])
    assert all(r.granted for r in results)
    tally: dict[str, list[int]] = {}
    for command, targets, _ in CORPUS:
        result = _bash(project, b, _in_project(command, project.root, home))
        decision = _decision(result)
        forms = sorted({t.split(" ")[1] for t in targets}) or ["(no write)"]
        for form in forms:
            tally.setdefault(form, [0, 0])[decision != "deny"] += 1
        assert decision == ("deny" if targets else "allow"), command
        if targets:
            reason = _reason(result)
            for target in targets:
                path = _in_project(target.split(" ", 2)[2], project.root, home)
                key = coordinator.key_for(path, project.cwd, literal=True)[0]
                assert peer_words(key, 300) in reason  # names are shown on one line
    with capsys.disabled():
        print(f"\ncorpus through the hook: {len(CORPUS)} commands")
        for form, (denied, allowed) in sorted(tally.items()):
            print(f"  {form:14} denied {denied:3}  let through {allowed:3}")


def test_a_planted_notices_link_is_never_followed(project: Project, tmp_path: Path) -> None:
    a = _register(project, "a")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (project.state_dir / "notices").symlink_to(elsewhere)
    result = _bash(project, a, "make build")
    assert result.stdout == ""  # no notice rather than a write through the link
    assert list(elsewhere.iterdir()) == []
