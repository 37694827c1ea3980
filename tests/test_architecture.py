"""The folders are the architecture (ARCHITECTURE.md): this checks that they stay so.

Read from the source with `ast`, nothing imported: rooms of a readable size, a short top
level, each room saying what it may import, imports that only point down, no import
cycles, and a hook path that needs nothing outside the standard library.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "coord_hooks"

MAX_CLASS_LINES = 300
MAX_FUNCTION_LINES = 80
MAX_TOP_LEVEL_MODULES = 12  # __init__ and __main__ included

# Which rooms each room may import (its own included). "shared" is the top-level modules
# (errors, settings, paths, logs, model, procs, fsio, health): leaves every room stands
# on. `context` assembles settings, store and coordinator; `main` is __main__.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "shared": frozenset({"shared"}),
    "store": frozenset({"shared", "store"}),
    "coordination": frozenset({"shared", "store", "coordination"}),
    "context": frozenset({"shared", "store", "coordination", "context"}),
    "hook": frozenset({"shared", "store", "coordination", "context", "hook"}),
    "ops": frozenset({"shared", "store", "coordination", "context", "ops"}),
    "cli": frozenset({"shared", "store", "coordination", "context", "hook", "ops", "cli"}),
    "main": frozenset({"shared", "hook", "cli", "main"}),
}
# What a hook runs: standard library only when imported (tests/hook/test_imports.py checks
# one real run of every event; this checks every module of these rooms, every branch).
HOOK_PATH_ROOMS = frozenset({"shared", "store", "coordination", "context", "hook", "main"})
# What `bin/coord` runs with a bare python3 (-I -S; a plugin gets no pip install): the
# standard-library commands, their parser, output, state and views.
STDLIB_ONLY_MODULES = frozenset({
    "coord_hooks.cli", "coord_hooks.cli.fast", "coord_hooks.cli.usage",
    "coord_hooks.cli.output", "coord_hooks.cli.state", "coord_hooks.cli.commands",
    "coord_hooks.cli.views"})
# Third-party imports allowed inside a function of a hook-path room, by design.
LAZY_THIRD_PARTY = frozenset({("coord_hooks.store.jsonfiles", "portalocker"),
                              ("coord_hooks.store.archive", "orjson"),  # large archives
                              ("coord_hooks.cli.output", "rich"),  # tables, when importable
                              ("coord_hooks.cli.output", "orjson")})  # large documents


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (a coord_hooks module, or a top-level name)
    line: int
    when: str  # "module" (runs on import), "function" (lazy) or "typing" (TYPE_CHECKING)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@cache
def tree(name: str) -> ast.Module:
    return ast.parse(modules()[name].read_text(), filename=str(modules()[name]))


def room_of(name: str) -> str:
    parts = name.split(".")
    if len(parts) == 1:
        return "shared"
    if parts[1] == "__main__":
        return "main"
    if parts[1] == "context":
        return "context"
    if len(parts) == 2 and not (PACKAGE / parts[1]).is_dir():
        return "shared"
    return parts[1]


def _resolve(source: str, node: ast.ImportFrom) -> str:
    base = node.module or ""
    if node.level:
        package = source.split(".")
        if modules()[source].name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, base] if base else package)
    return base


def imports_of(source: str) -> list[Import]:
    found: list[Import] = []

    def visit(node: ast.AST, when: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend(Import(source, a.name, child.lineno, when) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(source, child)
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    target = sub if sub in modules() else base
                    found.append(Import(source, target, child.lineno, when))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, "function" if when == "module" else when)
            elif (isinstance(child, ast.If) and isinstance(child.test, ast.Name)
                  and child.test.id == "TYPE_CHECKING"):
                visit(ast.Module(body=child.body, type_ignores=[]), "typing")
                visit(ast.Module(body=child.orelse, type_ignores=[]), when)
            else:
                visit(child, when)

    visit(tree(source), "module")
    return found


def all_imports() -> list[Import]:
    return [imp for name in modules() for imp in imports_of(name)]


def ours(imp: Import) -> bool:
    return imp.target == "coord_hooks" or imp.target.startswith("coord_hooks.")


def test_no_class_or_function_is_a_hall() -> None:
    too_long = []
    for name in modules():
        for node in ast.walk(tree(name)):
            if isinstance(node, ast.ClassDef):
                limit = MAX_CLASS_LINES
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                limit = MAX_FUNCTION_LINES
            else:
                continue
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            if length > limit:
                too_long.append(f"{name}.{node.name}: {length} lines (limit {limit})")
    assert too_long == [], "split these by responsibility:\n" + "\n".join(too_long)


def test_the_top_level_holds_a_dozen_modules_at_most() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_every_room_says_what_it_is_for_and_what_it_may_import() -> None:
    rooms = sorted(p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert {p.name for p in rooms} >= {"hook", "coordination", "store", "cli", "ops"}
    for room in rooms:
        doc = ast.get_docstring(tree(module_name(room / "__init__.py"))) or ""
        assert "may import" in doc.lower(), f"{room.name}/__init__.py must say what it may import"
        assert room.name in MAY_IMPORT, f"{room.name}: add it to MAY_IMPORT (and ARCHITECTURE.md)"


def test_tests_mirror_the_rooms() -> None:
    for room in ("hook", "coordination", "store", "cli", "ops"):
        assert list((ROOT / "tests" / room).glob("test_*.py")), f"tests/{room}/ has no tests"


def test_imports_only_point_down() -> None:
    # Lazy and annotation-only imports count too: a dependency is a dependency.
    wrong = [f"{i.source}:{i.line} ({room_of(i.source)}) imports {i.target} ({room_of(i.target)})"
             for i in all_imports()
             if ours(i) and i.target in modules()
             and room_of(i.target) not in MAY_IMPORT[room_of(i.source)]]
    assert wrong == [], "\n".join(wrong)


def test_imports_name_existing_modules() -> None:
    # What the other checks rely on: every coord_hooks import resolves to a module here.
    unknown = [f"{i.source}:{i.line} imports {i.target}" for i in all_imports()
               if ours(i) and i.target not in modules()]
    assert unknown == [], "\n".join(unknown)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return found


def test_no_import_cycles_at_module_level() -> None:
    edges: dict[str, set[str]] = {}
    for i in all_imports():
        if ours(i) and i.when == "module" and i.target != i.source:
            edges.setdefault(i.source, set()).add(i.target)
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_standard_library_cli_imports_only_its_own_kind() -> None:
    # A stdlib-only module may import only hook-path rooms and the other stdlib-only modules.
    wrong = [f"{i.source}:{i.line} imports {i.target}" for i in all_imports()
             if i.source in STDLIB_ONLY_MODULES and ours(i) and i.when != "typing"
             and i.target not in STDLIB_ONLY_MODULES and room_of(i.target) not in HOOK_PATH_ROOMS]
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("when", ["module", "function"])
def test_the_hook_path_needs_only_the_standard_library(when: str) -> None:
    stdlib = sys.stdlib_module_names | {"__future__"}
    wrong = []
    for i in all_imports():
        stdlib_only = (room_of(i.source) in HOOK_PATH_ROOMS or i.source in STDLIB_ONLY_MODULES)
        if (i.when != when or not stdlib_only or ours(i)
                or i.target.split(".")[0] in stdlib
                or (i.source, i.target.split(".")[0]) in LAZY_THIRD_PARTY):
            continue
        wrong.append(f"{i.source}:{i.line} imports {i.target}")
    assert wrong == [], "\n".join(wrong)


def test_the_checks_see_the_rooms() -> None:
    # Guard the guard: a parser that found nothing would pass every check above.
    assert room_of("coord_hooks.coordination.locks") == "coordination"
    assert room_of("coord_hooks.errors") == "shared"
    assert room_of("coord_hooks.context") == "context"
    assert len(modules()) > 40
    targets = {(i.source, i.target) for i in all_imports()}
    assert ("coord_hooks.context", "coord_hooks.coordination") in targets
    assert any(i.when == "typing" for i in all_imports())
    assert any(i.when == "function" and ours(i) for i in all_imports())
