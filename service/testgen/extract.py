"""Function-level instances from Python source (PanguCoder-RL §3.3, steps 1 and 2).

Every top-level function and every method of a top-level class that has a docstring
becomes an :class:`Instance`: its description (the docstring and the comment lines just
above the ``def``), its signature, a HumanEval-style prompt (the context it needs,
the signature and the docstring) and a self-contained reference: the module's
statements that the function needs (imports, helpers, constants, transitively) and the
function (or its whole class). Only :mod:`ast` is used: nothing is executed.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Instance", "constructible", "extract", "function_node", "signature_of", "statement_lines"]

_Def = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class Instance:
    """One function to generate tests for."""

    id: str
    fn_name: str
    class_name: str | None
    description: str
    signature: str
    prompt: str
    code: str  # the reference: a module that defines the function and what it needs
    source: str  # where it was found: "path:line"


def extract(source: str, *, origin: str, include_private: bool = False) -> list[Instance]:
    """The instances of one module's source (an unparsable module gives none)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []
    lines = source.splitlines()
    module = _Module(tree)
    found: list[Instance] = []
    for node, owner in _candidates(tree, include_private):
        doc = ast.get_docstring(node, clean=True)
        if not doc:
            continue
        target: ast.stmt = owner if owner is not None else node
        qualname = f"{owner.name}.{node.name}" if owner is not None else node.name
        context = module.closure(target)
        code = "\n\n".join(_segment(lines, s) for s in [*context, target]) + "\n"
        found.append(Instance(
            id=f"{origin}:{qualname}",
            fn_name=node.name,
            class_name=owner.name if owner is not None else None,
            description=_comments_above(lines, node) + doc,
            signature=signature_of(node, owner),
            prompt=_prompt(lines, context, node, owner, doc),
            code=code,
            source=f"{origin}:{node.lineno}",
        ))
    return found


def _candidates(tree: ast.Module, include_private: bool) -> Iterator[tuple[ast.FunctionDef, ast.ClassDef | None]]:
    def public(name: str) -> bool:
        return include_private or not name.startswith("_")

    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and public(node.name):
            yield node, None
        elif isinstance(node, ast.ClassDef) and public(node.name) and constructible(node):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and public(item.name) and not _is_property(item):
                    yield item, node


def constructible(cls: ast.ClassDef) -> bool:
    """``cls()`` takes no arguments as far as its own ``__init__`` says (bases unknown)."""
    init = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    if init is None:
        return True
    args = init.args
    required = len(args.posonlyargs) + len(args.args) - len(args.defaults) - 1
    return required <= 0 and all(d is not None for d in args.kw_defaults)


def _is_property(fn: ast.FunctionDef) -> bool:
    names = {d.id if isinstance(d, ast.Name) else getattr(d, "attr", "") for d in fn.decorator_list}
    return bool(names & {"property", "setter", "getter", "deleter", "cached_property"})


def function_node(tree: ast.Module, fn_name: str, class_name: str | None) -> ast.FunctionDef | None:
    """The top-level function ``fn_name`` (or method of the top-level class ``class_name``)."""
    body: list[ast.stmt] = tree.body
    if class_name is not None:
        owner = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name), None)
        if owner is None:
            return None
        body = owner.body
    found = None
    for node in body:  # the last definition wins, as when the module runs
        if isinstance(node, ast.FunctionDef) and node.name == fn_name:
            found = node
    return found


def signature_of(node: _Def, owner: ast.ClassDef | None = None) -> str:
    """``def f(x: int, y=2) -> int:`` (with the ``class C:`` line for a method)."""
    head = copy.copy(node)
    head.body, head.decorator_list = [ast.Pass()], []
    text = ast.unparse(head).rsplit("\n", 1)[0]
    if owner is None:
        return text
    return f"class {owner.name}:\n    {text}"


def _prompt(lines: list[str], context: list[ast.stmt], node: _Def, owner: ast.ClassDef | None, doc: str) -> str:
    parts = [_segment(lines, s) for s in context]
    indent = "        " if owner is not None else "    "
    body = "\n".join((indent + line).rstrip() for line in doc.splitlines())
    quoted = f'{indent}"""{body.lstrip()}\n{indent}"""\n' if '"""' not in doc else f"{indent}'''{body.lstrip()}'''\n"
    parts.append(signature_of(node, owner) + "\n" + quoted)
    return "\n\n".join(parts)


def _segment(lines: list[str], node: ast.stmt) -> str:
    """A top-level statement's source lines, its decorators included (whole lines: a
    top-level statement starts at column 0)."""
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return "\n".join(lines[first - 1: node.end_lineno or node.lineno])


def _comments_above(lines: list[str], node: ast.stmt) -> str:
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    out: list[str] = []
    index = first - 2
    while index >= 0 and lines[index].strip().startswith("#"):
        out.insert(0, lines[index].strip().lstrip("#").strip())
        index -= 1
    return "\n".join(out) + "\n" if out else ""


class _Module:
    """The module's top-level statements and the names each binds."""

    def __init__(self, tree: ast.Module) -> None:
        self.statements = [s for s in tree.body if not _is_docstring(s)]
        self.binds = [_bound(s) for s in self.statements]
        self.uses = [_used(s) for s in self.statements]  # computed once: closures ask for them often

    def closure(self, target: ast.stmt) -> list[ast.stmt]:
        """The statements ``target`` needs, transitively, in module order (``target``
        itself left out; ``from __future__`` imports always in)."""
        need = set(_used(target))
        chosen: set[int] = set()
        changed = True
        while changed:
            changed = False
            for index, statement in enumerate(self.statements):
                if index in chosen or statement is target or not (self.binds[index] & need or _future(statement)):
                    continue
                chosen.add(index)
                need |= self.uses[index]
                changed = True
        return [s for i, s in enumerate(self.statements) if i in chosen]


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _future(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


def _used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _bound(node: ast.stmt) -> set[str]:
    """Names a top-level statement binds (looking into top-level blocks, not functions)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).partition(".")[0] for a in node.names}
    bound: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            bound.add(child.id)
        elif isinstance(child, (ast.FunctionDef, ast.ClassDef)):
            bound.add(child.name)
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).partition(".")[0] for a in child.names}
    return bound


def statement_lines(fn: ast.FunctionDef) -> frozenset[int]:
    """The lines of the statements of a function's body (its docstring left out)."""
    body = fn.body[1:] if ast.get_docstring(fn) is not None else fn.body
    return frozenset(n.lineno for s in body for n in ast.walk(s) if isinstance(n, ast.stmt))
