"""The layering of service/: every import of every module, read with ``ast`` (nothing is
imported), against the tables of docs/interfaces.md; no runtime import cycle; modules of
a readable size; and the API process never loads the Docker SDK."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from tests.support.paths import ROOT

DOC = ROOT / "docs" / "interfaces.md"
SERVICE = ROOT / "service"
MAX_LINES = 300
_NAME = re.compile(r"`([\w.]+)`( \(type only\))?")


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    type_only: bool  # under ``if TYPE_CHECKING:``
    top_level: bool  # at module level (runs when the module is imported)


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[str]
    type_only: frozenset[str]


def _table(header: str) -> list[tuple[str, str]]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index(header) + 2  # skip the |---| line
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        first, second = (cell.strip() for cell in line.strip().strip("|").split("|"))
        rows.append((first, second))
    return rows


@cache
def rules() -> dict[str, Rule]:
    table: dict[str, Rule] = {}
    for module_cell, imports_cell in _table("| module (and below) | may import |"):
        names = _NAME.findall(imports_cell)
        rule = Rule(frozenset(n for n, t in names if not t), frozenset(n for n, t in names if t))
        for module, _ in _NAME.findall(module_cell):
            table[module] = rule
    return table


@cache
def third_party() -> dict[str, frozenset[str]]:
    table: dict[str, frozenset[str]] = {}
    for package_cell, where_cell in _table("| third-party package | only in |"):
        where = frozenset(n for n, _ in _NAME.findall(where_cell))
        for package, _ in _NAME.findall(package_cell):
            table[package] = where
    return table


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _row(module: str) -> Rule:
    keys = [key for key in rules() if _under(module, key)]
    assert keys, f"{module}: no row in docs/interfaces.md covers it"
    return rules()[max(keys, key=len)]


@cache
def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(SERVICE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _target(node: ast.ImportFrom, alias: ast.alias) -> str:
    assert node.module is not None and node.level == 0, "relative imports are not used"
    child = f"{node.module}.{alias.name}"
    return child if child in modules() else node.module


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(source: str, tree: ast.AST) -> Iterator[Import]:
    """Every import in ``tree``, with where it sits (type-only, module level)."""

    def walk(node: ast.AST, *, type_only: bool, top: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(source, alias.name, child.lineno, type_only, top)
            elif isinstance(child, ast.ImportFrom) and child.module != "__future__":
                for alias in child.names:
                    yield Import(source, _target(child, alias), child.lineno, type_only, top)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                yield from walk(child, type_only=True, top=top)
            else:
                nested = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                yield from walk(child, type_only=type_only, top=top and not nested)

    yield from walk(tree, type_only=False, top=True)


@cache
def all_imports() -> list[Import]:
    found = []
    for name, path in modules().items():
        found.extend(imports_of(name, ast.parse(path.read_text(encoding="utf-8"), str(path))))
    return found


def violation(imp: Import) -> str | None:
    """Why ``imp`` breaks the tables, or None."""
    where = f"{imp.source}:{imp.line} imports {imp.target}"
    if _under(imp.target, "service"):
        if imp.target.split(".")[:2] == imp.source.split(".")[:2]:
            return None  # within one stage (or one core module)
        rule = _row(imp.source)
        if any(_under(imp.target, a) for a in rule.allowed):
            return None
        if any(_under(imp.target, a) for a in rule.type_only):
            return None if imp.type_only else f"{where} at run time (allowed for types only)"
        return f"{where}: not in its row of docs/interfaces.md"
    allowed_in = third_party().get(imp.target.split(".")[0])
    if allowed_in is not None and not any(_under(imp.source, m) for m in allowed_in):
        return f"{where}: only {', '.join(sorted(allowed_in))} may"
    return None


def test_the_tables_are_read_from_the_document() -> None:
    assert {"service.api", "service.worker", "service.sandbox", "service.feedback"} <= set(rules())
    assert rules()["service.budgets"].type_only == {"service.settings"}
    assert third_party()["docker"] == {"service.sandbox.docker"}


def test_every_import_follows_the_table() -> None:
    assert modules() and all_imports()
    problems = [v for v in map(violation, all_imports()) if v]
    assert problems == []


@pytest.mark.parametrize(
    ("source", "target", "type_only", "broken"),
    [
        ("service.feedback.taxonomy", "service.sandbox.pool", False, True),  # upstream
        ("service.sandbox.pool", "service.feedback.annotation", False, True),  # only the executor may
        ("service.sandbox.executor", "service.feedback.annotation", False, False),
        ("service.queue.plan", "service.api.batches", False, True),  # nothing imports api
        ("service.sandbox.pool", "service.worker.context", False, True),  # nothing imports worker
        ("service.budgets", "service.settings", True, False),
        ("service.budgets", "service.settings", False, True),
        ("service.api.app", "docker", False, True),
        ("service.worker.jobs", "redis.client", False, True),
        ("service.queue.redis", "redis.client", False, False),
        ("service.testgen.pipeline", "service.sandbox.pool", False, False),
        ("service.testgen.pipeline", "service.queue.plan", False, True),  # testgen stays off the queue
        ("service.sandbox.pool", "service.testgen.pipeline", False, True),  # nothing upstream imports testgen
        ("service.testgen.language", "lingua", False, False),
        ("service.testgen.pipeline", "lingua", False, True),
    ],
)
def test_the_check_catches_what_the_table_forbids(source: str, target: str, type_only: bool, broken: bool) -> None:
    assert (violation(Import(source, target, 1, type_only, True)) is not None) is broken


def test_runtime_imports_have_no_cycle() -> None:
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    for imp in all_imports():
        if imp.top_level and not imp.type_only and imp.target in graph:
            graph[imp.source].add(imp.target)
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            assert state.get(nxt) != 1, "import cycle: " + " -> ".join([*path, node, nxt])
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [])


def test_no_module_is_over_300_lines() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_the_api_process_never_loads_the_docker_sdk() -> None:
    code = "import sys, service.api.app; print(sorted(m for m in sys.modules if m.split('.')[0] == 'docker'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
