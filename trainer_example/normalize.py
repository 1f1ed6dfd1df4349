"""AST normalisation of programs, for de-duplicating the replay buffer (PanguCoder-RL).

Two programs are the same solution when they differ only in comments, formatting or
functions nobody calls. ``normalize`` parses (never runs) the program, drops top-level
functions that are not reachable from the entry points (names the tests use) or from
module-level statements, and unparses; comments disappear with the parse.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from client.models import TestKind, Tests

__all__ = ["entry_points", "normalize"]


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


def entry_points(tests: Tests) -> set[str]:
    """Names the tests refer to (function names for assert and call tests)."""
    if tests.kind is TestKind.CALL:
        return {name for name in (tests.fn_name, tests.class_name) if name}
    names: set[str] = set()
    sources = [case.code or "" for case in tests.cases] + [tests.setup or ""]
    for source in sources:
        try:
            names |= _names(ast.parse(source))
        except SyntaxError:
            continue
    return names


_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _reachable(body: list[ast.stmt], roots: set[str]) -> set[str]:
    funcs = {s.name: s for s in body if isinstance(s, _FUNCS)}
    seen: set[str] = set()
    todo = [name for name in roots if name in funcs]
    for stmt in body:
        if not isinstance(stmt, _FUNCS):
            todo += [name for name in _names(stmt) if name in funcs]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [n for n in _names(funcs[name]) if n in funcs and n not in seen]
    return seen


def normalize(code: str, entries: Iterable[str] = ()) -> str | None:
    """The canonical text of ``code``, or ``None`` when it does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    keep = _reachable(tree.body, set(entries))
    tree.body = [s for s in tree.body if not isinstance(s, _FUNCS) or s.name in keep]
    return ast.unparse(tree)
