"""A test suite, compiled once and kept by the harness for every program that uses it.

Besides the code objects, a suite knows which names its code uses and which its setup
defines, so the harness can decide where each name comes from (:mod:`agent.harness`).
Compiling is all that happens here: nothing runs.
"""

from __future__ import annotations

import ast
import builtins
import types
from dataclasses import dataclass, field
from typing import Any

from agent.describe import CASE_PREFIX, PROMPT_FILE, SETUP_FILE, describe

__all__ = ["Suite"]

_BUILTINS = frozenset(vars(builtins))


def _names_used(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_used(const)
    return names


def _bound_at_top(source: str) -> set[str]:
    """Names a module's top level binds (assignments, defs, classes, imports, for, with),
    looking into top-level blocks (if/for/while/with/try) but not into functions."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return set()
    bound: set[str] = set()
    _bind_block(tree.body, bound)
    return bound


def _bind_block(body: list[ast.stmt], bound: set[str]) -> None:
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).partition(".")[0] for a in node.names)
            continue
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                bound.update(n.id for n in ast.walk(child) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
            elif isinstance(child, ast.withitem) and child.optional_vars is not None:
                bound.update(n.id for n in ast.walk(child.optional_vars) if isinstance(n, ast.Name))
            elif isinstance(child, ast.ExceptHandler) and child.name:
                bound.add(child.name)
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list):
                _bind_block(block, bound)
        for handler in getattr(node, "handlers", []) or []:
            _bind_block(handler.body, bound)


def _compile(source: str, filename: str) -> types.CodeType:
    return compile(source, filename, "exec", dont_inherit=True)


@dataclass
class Suite:
    """One item's tests as the harness runs them."""

    sid: str
    kind: str
    cases: list[dict[str, Any]]
    compare: str
    fn_name: str | None
    class_name: str | None
    entry_points: list[str]
    setup: types.CodeType | None = None
    prompt: types.CodeType | None = None
    case_codes: list[types.CodeType] = field(default_factory=list)
    case_names: set[str] = field(default_factory=set)
    all_names: set[str] = field(default_factory=set)
    setup_defines: set[str] = field(default_factory=set)
    error: dict[str, Any] | None = None  # the tests do not compile: every case errors

    @classmethod
    def build(cls, spec: dict[str, Any]) -> Suite:
        kind = str(spec.get("kind") or "assert")
        fn_name = spec.get("fn_name") or None
        class_name = spec.get("class_name") or None
        entry = [str(n) for n in spec.get("entry_points") or []]
        entry += [n for n in (fn_name, class_name) if n and kind in ("call", "probe")]
        suite = cls(
            sid=str(spec.get("sid")),
            kind=kind,
            cases=list(spec.get("cases") or []),
            compare=str(spec.get("compare") or "tokens"),
            fn_name=fn_name,
            class_name=class_name,
            entry_points=list(dict.fromkeys(entry)),
        )
        try:
            suite._compile(str(spec.get("setup") or ""), str(spec.get("prompt") or ""))
        except BaseException as exc:  # a test that does not compile fails every program alike
            suite.error = describe(exc)
        return suite

    def _compile(self, setup: str, prompt: str) -> None:
        if prompt:
            try:
                self.prompt = _compile(prompt, PROMPT_FILE)
            except (SyntaxError, ValueError):
                self.prompt = None  # a prompt that is not a whole module runs only in X
        if setup:
            self.setup = _compile(setup, SETUP_FILE)
            self.setup_defines = _bound_at_top(setup)
            self.all_names |= _names_used(self.setup)
        if self.kind == "assert":
            self.case_codes = [
                _compile(str(c.get("code") or ""), f"{CASE_PREFIX}{i}>") for i, c in enumerate(self.cases)
            ]
            for code in self.case_codes:
                self.case_names |= _names_used(code)
        self.all_names |= self.case_names

    def wanted_names(self, prompt_defines: set[str]) -> tuple[list[str], set[str], set[str]]:
        """The names to ask the program for, the entry points among them, and the
        builtin names the cases use (entry points only when the cases use no other
        name of the program: MBPP tests a function called ``sum``, but a program that
        defines ``abs`` does not change the ``abs`` of ``abs(f(x) - y) < 1e-9``).

        Entry points: the explicit ones, plus the names the cases use that neither the
        builtins nor the setup define (nor the prompt, when entry points are explicit).
        Others: every other name the tests use that nothing on H's side defines.
        """
        explicit = set(self.entry_points)
        inferred = self.case_names - _BUILTINS - self.setup_defines
        shadowing: set[str] = set()
        if explicit:
            inferred -= prompt_defines
        else:
            shadowing = (self.case_names & _BUILTINS) - self.setup_defines - prompt_defines
        entry = explicit | inferred
        others = self.all_names - _BUILTINS - self.setup_defines - prompt_defines - entry
        return sorted(entry | others | shadowing), entry, shadowing
