#!/usr/bin/env python3
"""Compare shell parsers for the Bash PreToolUse hook: import cost, parse cost, coverage.

Candidates: (a) bashlex, (b) tree-sitter + tree-sitter-bash, (c) coord_hooks' own
stdlib parser (coord_hooks/hook/bashwrites/). Every candidate's tree is converted to
bashwrites' syntax tree and judged by the SAME analysis (what sed -i, cp -t, git
restore... write), so the coverage difference is the parsers'. The corpus is
tests/hook/bash_corpus.py.

It installs nothing: a candidate that cannot be imported is skipped. To measure all
three, install the two PyPI parsers into the venv first:

    .venv/bin/python -m pip install bashlex tree-sitter tree-sitter-bash
    .venv/bin/python scripts/bash-parser-compare.py [--runs 21]

Import cost is measured twice: ``-X importtime`` (cumulative µs of the top-level import,
median of the runs) and whole-process wall time, median of interleaved runs of
``python -I [-S] -c 'import X'`` minus ``python -I [-S] -c pass``. The PyPI parsers live
in site-packages, so they cannot run under the hook's ``-S``; bashwrites is timed with
``-I -S`` as the hook runs it, on top of what the hook has imported already.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "hook"))

from bash_corpus import CORPUS, CWD, HOME, IS_DIR  # noqa: E402

from coord_hooks.hook import bashwrites as bw  # noqa: E402
from coord_hooks.hook.bashwrites import analysis  # noqa: E402
from coord_hooks.hook.bashwrites import syntax as sx  # noqa: E402

Converter = Callable[[str], tuple[sx.Node, str | None]]


# -- (c) our own parser ------------------------------------------------------------------

def parse_own(command: str) -> tuple[sx.Node, str | None]:
    return sx.Parser(command, 0, sx.Budget()).parse_program()


# -- (a) bashlex -------------------------------------------------------------------------

def bashlex_converter() -> Converter:
    import bashlex

    def word(node: Any, src: str) -> sx.Word:
        raw = src[node.pos[0]:node.pos[1]]
        text = node.word
        quoted = any(c in raw for c in "'\"\\")
        parts = sorted(getattr(node, "parts", []) or [], key=lambda p: p.pos[0])
        subs: list[sx.Seg] = []
        for part in parts:
            if part.kind == "parameter":
                subs.append((sx.VAR, "$" + part.value, None))
            elif part.kind == "commandsubstitution":
                subs.append((sx.CMDSUB, src[part.pos[0]:part.pos[1]], seq([part.command], src)))
            elif part.kind == "processsubstitution":
                subs.append((sx.PROCSUB, src[part.pos[0]:part.pos[1]],
                             seq([part.command], src)))
        if not subs:
            return sx.Word([(sx.QUOTED if quoted else sx.LIT, text, None)], raw)
        lit = sx.QUOTED if quoted else sx.LIT
        out: list[sx.Seg] = []
        at = 0
        for part, sub in zip(parts, subs, strict=False):
            part_raw = src[part.pos[0]:part.pos[1]]
            found = text.find(part_raw, at)
            if found < 0:
                break
            if found > at:
                out.append((lit, text[at:found], None))
            out.append(sub)
            at = found + len(part_raw)
        if at < len(text):
            out.append((lit, text[at:], None))
        return sx.Word(out, raw)

    def redirect(node: Any, src: str) -> sx.Redir | None:
        kind = node.type
        target = node.output
        target_word = (sx.literal_word(str(target)) if isinstance(target, int)
                       else word(target, src))
        fd = str(node.input) if isinstance(getattr(node, "input", None), int) else None
        redir = sx.Redir(fd, kind, target_word)
        heredoc = getattr(node, "heredoc", None)
        if heredoc is not None:
            redir.body = heredoc.value.rsplit("\n", 1)[0] + "\n"
            redir.quoted = any(c in target_word.raw for c in "'\"\\")
        return redir

    def command(node: Any, src: str) -> sx.Node:
        kind = node.kind
        if kind == "command":
            out = sx.Node("simple")
            for part in node.parts:
                if part.kind == "assignment":
                    out.assigns.append(word(part, src))
                elif part.kind == "word":
                    out.words.append(word(part, src))
                elif part.kind == "redirect":
                    r = redirect(part, src)
                    if r is not None:
                        out.redirs.append(r)
            return out
        if kind == "pipeline":
            out = sx.Node("pipe")
            out.parts = [command(p, src) for p in node.parts if p.kind != "pipe"]
            return out
        if kind == "list":
            return seq([node], src)
        if kind == "compound":
            out = sx.Node("group")
            inner = [p for p in node.list if p.kind not in ("reservedword", "operator")]
            out.parts = [seq(inner, src)]
            if node.list and node.list[0].kind == "reservedword" and \
                    node.list[0].word == "(":
                out.kind = "subshell"
            for r in getattr(node, "redirects", []) or []:
                rr = redirect(r, src)
                if rr is not None:
                    out.redirs.append(rr)
            return out
        if kind in ("if", "for", "while", "until"):
            out = sx.Node("loop")  # bodies that may or may not run: a cd in them blurs cwd
            inner = [p for p in node.parts if p.kind not in ("reservedword", "operator", "word")]
            out.parts = [None, seq(inner, src)]
            return out
        if kind == "function":
            out = sx.Node("func")
            out.name = node.name.word
            out.parts = [command(node.body, src)]
            return out
        return sx.Node("noop")

    def seq(nodes: list[Any], src: str) -> sx.Node:
        out = sx.Node("seq")
        for node in nodes:
            if node.kind == "list":
                for part in node.parts:
                    if part.kind == "operator":
                        if part.op == "&" and out.bg:
                            out.bg[-1] = True
                        continue
                    out.parts.append(command(part, src))
                    out.bg.append(False)
            else:
                out.parts.append(command(node, src))
                out.bg.append(False)
        return out

    def convert(command_text: str) -> tuple[sx.Node, str | None]:
        try:
            return seq(bashlex.parse(command_text), command_text), None
        except Exception as exc:  # bashlex raises its own errors (and NotImplemented ones)
            return sx.Node("seq"), f"bashlex: {type(exc).__name__}"

    return convert


# -- (b) tree-sitter-bash ----------------------------------------------------------------

def tree_sitter_converter() -> Converter:
    import tree_sitter
    import tree_sitter_bash

    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))

    def text(node: Any) -> str:
        return str(node.text.decode("utf-8", "surrogateescape"))

    def segs(node: Any) -> list[sx.Seg]:
        t = node.type
        if t in ("word", "number"):
            raw = text(node)
            out, i = [], 0
            while i < len(raw):
                if raw[i] == "\\" and i + 1 < len(raw):
                    out.append((sx.QUOTED, raw[i + 1], None))
                    i += 2
                else:
                    out.append((sx.LIT, raw[i], None))
                    i += 1
            return out
        if t == "raw_string":
            return [(sx.QUOTED, text(node)[1:-1], None)]
        if t == "ansi_c_string":
            sub = sx.Parser(text(node), 0, sx.Budget())
            return [(sx.QUOTED, sub.ansi_c(), None)]
        if t in ("string", "translated_string"):
            out = []
            for child in node.children:
                if child.type == "string_content":
                    content = text(child)
                    for esc in ('\\"', "\\$", "\\`"):
                        content = content.replace(esc, esc[1])
                    out.append((sx.QUOTED, content.replace("\\\\", "\\"), None))
                elif child.type not in ('"', "$"):
                    out.extend(segs(child))
            return out
        if t == "concatenation":
            return [s for child in node.children for s in segs(child)]
        if t in ("simple_expansion", "expansion", "arithmetic_expansion"):
            return [(sx.VAR, text(node), None)]
        if t == "command_substitution":
            return [(sx.CMDSUB, text(node), seq(node.named_children))]
        if t == "process_substitution":
            return [(sx.PROCSUB, text(node), seq(node.named_children))]
        if t == "brace_expression":
            return [(sx.LIT, text(node), None)]
        return [(sx.LIT, text(node), None)]

    def word(node: Any) -> sx.Word:
        merged: list[sx.Seg] = []
        for kind, value, sub in segs(node):
            if merged and kind in (sx.LIT, sx.QUOTED) and merged[-1][0] == kind:
                merged[-1] = (kind, merged[-1][1] + value, None)
            else:
                merged.append((kind, value, sub))
        return sx.Word(merged, text(node))

    def redirect(node: Any) -> list[sx.Redir]:
        if node.type == "file_redirect":
            fd = None
            op = ">"
            dest = None
            for child in node.children:
                if child.type == "file_descriptor":
                    fd = text(child)
                elif not child.is_named:
                    op = child.type
                elif dest is None:
                    dest = child
            return [sx.Redir(fd, op, word(dest) if dest is not None else sx.literal_word(""))]
        if node.type == "heredoc_redirect":
            out = []
            body = None
            start = None
            for child in node.children:
                if child.type == "heredoc_start":
                    start = child
                elif child.type == "heredoc_body":
                    body = text(child)
                    subs = [c for c in child.named_children
                            if c.type == "command_substitution"]
                elif child.type == "file_redirect":
                    out.extend(redirect(child))
            here = sx.Redir(None, "<<", word(start) if start is not None else sx.literal_word(""))
            here.body = body
            here.quoted = start is not None and any(c in text(start) for c in "'\"\\")
            if body is not None:
                here.body_subs = [seq(c.named_children) for c in subs]
            return [here, *out]
        return []

    def command(node: Any) -> sx.Node:
        t = node.type
        if t == "command":
            out = sx.Node("simple")
            for child in node.named_children:
                if child.type == "variable_assignment":
                    out.assigns.append(word(child))
                elif child.type == "command_name":
                    out.words.append(word(child.named_children[0]))
                elif child.type in ("file_redirect", "heredoc_redirect", "herestring_redirect"):
                    out.redirs.extend(redirect(child))
                elif child.type != "comment":
                    out.words.append(word(child))
            return out
        if t == "redirected_statement":
            body = node.child_by_field_name("body")
            inner = command(body) if body is not None else sx.Node("simple")
            target = inner if inner.kind in ("simple", "subshell", "group") else None
            redirs = [r for child in node.children_by_field_name("redirect")
                      for r in redirect(child)]
            if target is None:
                target = sx.Node("group")
                target.parts = [seq([body])] if body is not None else [sx.Node("seq")]
            target.redirs.extend(redirs)
            return target
        if t == "variable_assignment":
            out = sx.Node("simple")
            out.assigns.append(word(node))
            return out
        if t == "pipeline":
            out = sx.Node("pipe")
            out.parts = [command(c) for c in node.named_children]
            return out
        if t == "list":
            return seq(node.named_children)
        if t == "subshell":
            out = sx.Node("subshell")
            out.parts = [seq(node.named_children)]
            return out
        if t == "negated_command":
            return command(node.named_children[0])
        if t == "function_definition":
            out = sx.Node("func")
            name = node.child_by_field_name("name")
            out.name = text(name) if name is not None else ""
            body = node.child_by_field_name("body")
            out.parts = [command(body) if body is not None else sx.Node("seq")]
            return out
        if t in ("if_statement", "while_statement", "for_statement", "c_style_for_statement",
                 "case_statement"):
            out = sx.Node("loop")  # bodies that may or may not run: a cd in them blurs cwd
            out.parts = [None, seq(node.named_children)]
            return out
        if t in ("compound_statement", "case_item", "do_group", "elif_clause", "else_clause",
                 "declaration_command"):
            out = sx.Node("group")
            out.parts = [seq(node.named_children)]
            return out
        if t in ("test_command", "comment", "variable_name", "word", "string"):
            return sx.Node("noop")
        return sx.Node("noop")

    def seq(nodes: list[Any]) -> sx.Node:
        out = sx.Node("seq")
        for node in nodes:
            if node.type in ("comment", "heredoc_body"):
                continue
            sibling = node.next_sibling
            pending_bg = sibling is not None and sibling.type == "&"
            if node.type == "list":
                for child in node.named_children:
                    out.parts.append(command(child))
                    out.bg.append(False)
            else:
                out.parts.append(command(node))
                out.bg.append(pending_bg)
        return out

    def convert(command_text: str) -> tuple[sx.Node, str | None]:
        tree = parser.parse(command_text.encode("utf-8", "surrogateescape"))
        root = tree.root_node
        err = "tree-sitter: ERROR node" if root.has_error else None
        return seq(root.named_children), err

    return convert


# -- measuring ---------------------------------------------------------------------------

def judge(convert: Converter, command: str) -> bw.Analysis:
    analyzer = analysis.Analyzer(HOME, IS_DIR.__contains__)
    analyzer.start = CWD
    try:
        node, err = convert(command)
        analyzer.run(node, analysis.State(CWD))
        if err is not None:
            analyzer.note(bw.PARSE, "shell", err)
    except sx.TooComplex as exc:
        analyzer.note(bw.LIMIT, "shell", str(exc))
    except Exception as exc:
        analyzer.note(bw.INTERNAL, "shell", f"{type(exc).__name__}: {exc}")
    return analyzer.result()


def correct(analysis: bw.Analysis, targets: list[str], kinds: list[str]) -> bool:
    got = sorted(f"{t.op} {t.form} {t.path}" for t in analysis.targets)
    return got == sorted(targets) and sorted({u.kind for u in analysis.unresolved}) == \
        sorted(set(kinds))


def parse_cost(convert: Converter) -> tuple[float, float]:
    """Mean µs per corpus command: parse only, parse + analysis."""
    commands = [c for c, _t, _k in CORPUS]
    for command in commands:  # warm up
        convert(command)
    best_parse = best_all = float("inf")
    for _ in range(15):  # the best of 15 passes: the machine is shared
        start = time.perf_counter()
        for command in commands:
            convert(command)
        best_parse = min(best_parse, time.perf_counter() - start)
        start = time.perf_counter()
        for command in commands:
            judge(convert, command)
        best_all = min(best_all, time.perf_counter() - start)
    return best_parse / len(commands) * 1e6, best_all / len(commands) * 1e6


def import_cost(module: str, flags: list[str], prelude: str, runs: int) -> tuple[float, float]:
    """(-X importtime cumulative ms, whole-process ms over `pass`), medians."""
    path = "; ".join(filter(None, [f"import sys; sys.path.insert(0, {str(REPO)!r})", prelude]))
    cumulative = []
    wall_import, wall_pass = [], []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, *flags, "-X", "importtime", "-c",
                               f"{path}; import {module}"],
                              capture_output=True, text=True, check=True)
        for line in proc.stderr.splitlines():
            fields = [f.strip() for f in line.split("|")]
            if len(fields) == 3 and fields[2] == module.split(",")[0].strip():
                cumulative.append(int(fields[1]) / 1000)
        for code, sink in ((f"{path}; import {module}", wall_import), (path, wall_pass)):
            start = time.perf_counter()
            subprocess.run([sys.executable, *flags, "-c", code], check=True)
            sink.append((time.perf_counter() - start) * 1000)
    return (statistics.median(cumulative) if cumulative else float("nan"),
            statistics.median(wall_import) - statistics.median(wall_pass))


def coverage_by_form() -> int:
    """Per write form: corpus entries, how many are judged, how many exactly right."""
    rows: dict[str, list[int]] = {}
    unjudged: dict[str, int] = {}
    for command, targets, kinds in CORPUS:
        analysis = bw.analyze(command, CWD, HOME, is_dir=IS_DIR.__contains__)
        ok = correct(analysis, targets, kinds)
        forms = {t.split(" ")[1] for t in targets} or {"(no write)"}
        for form in forms:
            row = rows.setdefault(form, [0, 0, 0])
            row[0] += 1
            row[1] += analysis.judged
            row[2] += ok
        for kind in {u.kind for u in analysis.unresolved}:
            unjudged[kind] = unjudged.get(kind, 0) + 1
    print(f"corpus: {len(CORPUS)} commands, "
          f"{sum(1 for _c, t, _k in CORPUS if t)} with targets")
    print(f"{'form':<14} {'entries':>7} {'judged':>6} {'correct':>7}")
    for form, (n, judged, ok) in sorted(rows.items(), key=lambda kv: (-kv[1][0], kv[0])):
        print(f"{form:<14} {n:>7} {judged:>6} {ok:>7}")
    not_judged = sum(1 for c, _t, _k in CORPUS
                     if not bw.analyze(c, CWD, HOME, is_dir=IS_DIR.__contains__).judged)
    print(f"unjudged commands: {not_judged}; by reason: "
          + ", ".join(f"{k} {n}" for k, n in sorted(unjudged.items(), key=lambda kv: -kv[1])))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=21, help="process runs per import timing")
    ap.add_argument("--forms", action="store_true",
                    help="only the coverage by form of bashwrites on the corpus")
    ap.add_argument("--misses", action="store_true", help="list the commands each gets wrong")
    args = ap.parse_args()
    if args.forms:
        return coverage_by_form()
    hook_prelude = ("import coord_hooks.hook.tools, coord_hooks.context, "
                    "coord_hooks.store.optimized, coord_hooks.coordination.locks")
    candidates: list[tuple[str, str, list[str], str, Callable[[], Converter]]] = [
        ("bashlex", "bashlex", ["-I"], "", bashlex_converter),
        ("tree-sitter-bash", "tree_sitter, tree_sitter_bash", ["-I"], "",
         tree_sitter_converter),
        ("bashwrites (own)", "coord_hooks.hook.bashwrites", ["-I", "-S"], hook_prelude,
         lambda: parse_own),
    ]
    print(f"corpus: {len(CORPUS)} commands; python {sys.version.split()[0]}; "
          f"import timings: median of {args.runs} interleaved runs")
    header = (f"{'parser':<18} {'importtime ms':>13} {'process +ms':>11} {'parse µs':>9} "
              f"{'+analysis µs':>12} {'correct':>9} {'parse errors':>12}")
    print(header)
    for name, module, flags, prelude, factory in candidates:
        try:
            convert = factory()
        except ImportError as exc:
            print(f"{name:<18} skipped: {exc}")
            continue
        cumulative, wall = import_cost(module, flags, prelude, args.runs)
        parse_us, total_us = parse_cost(convert)
        results = [(judge(convert, c), t, k) for c, t, k in CORPUS]
        right = sum(correct(a, t, k) for a, t, k in results)
        errors = sum(any(u.kind == bw.PARSE for u in a.unresolved) and bw.PARSE not in k
                     for a, _t, k in results)
        print(f"{name:<18} {cumulative:>13.1f} {wall:>11.1f} {parse_us:>9.1f} "
              f"{total_us:>12.1f} {right:>4}/{len(CORPUS):<4} {errors:>12}")
        if args.misses:
            for (analysis, targets, kinds), (command, _t, _k) in zip(results, CORPUS,
                                                                      strict=True):
                if not correct(analysis, targets, kinds):
                    got = sorted(f"{t.op} {t.form} {t.path}" for t in analysis.targets)
                    print(f"    miss {command!r}: {got} {[str(u) for u in analysis.unresolved]}")
    print("(process +ms: bashwrites under -I -S on top of the hook's own imports; "
          "the PyPI parsers under -I, as they need site-packages)")
    with_site, without_site = [], []
    for _ in range(args.runs):
        for flags, sink in ((["-I"], with_site), (["-I", "-S"], without_site)):
            start = time.perf_counter()
            subprocess.run([sys.executable, *flags, "-c", "pass"], check=True)
            sink.append((time.perf_counter() - start) * 1000)
    print(f"python -I -S -c pass: {statistics.median(without_site):.1f} ms; "
          f"python -I -c pass (site-packages, what a PyPI parser needs): "
          f"{statistics.median(with_site):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
