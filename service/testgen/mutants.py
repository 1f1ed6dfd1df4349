"""Mutants of a reference: one small syntactic change inside the function under test.

Four families (the usual mutation operators): ``operator`` (``+`` and ``-``, ``*`` and
``+``, ``and`` and ``or``, ``==`` and ``!=``, ``in`` and ``not in``, a dropped ``not``
or unary minus), ``boundary`` (``<`` and ``<=``, ``>`` and ``>=``), ``constant`` (an
int off by one, a bool flipped, a string emptied or filled) and ``statement``
(a statement deleted: replaced by ``pass``). Built with :mod:`ast` on the host; the
mutants, like the reference, only ever run in the sandbox. Mutants are split in two
halves by a hash of their text (:func:`half`): test generation chooses tests with one
half, so the other half measures the tests without having shaped them.
"""

from __future__ import annotations

import ast
import copy
import functools
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from service.testgen.extract import function_node

__all__ = ["Mutant", "half", "mutants_of"]

_BINOPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.Div: ast.Mult, ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd,
    ast.BitXor: ast.BitAnd, ast.LShift: ast.RShift, ast.RShift: ast.LShift,
}
_BOUNDARY: dict[type[ast.cmpop], type[ast.cmpop]] = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE,
                                                     ast.GtE: ast.Gt}
_COMPARE: dict[type[ast.cmpop], type[ast.cmpop]] = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn,
                                                    ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_DELETABLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return, ast.If, ast.For, ast.While,
              ast.Break, ast.Continue)


@dataclass(frozen=True)
class Mutant:
    kind: str  # operator | boundary | constant | statement
    line: int
    source: str  # the whole module, mutated


def half(mutant: Mutant) -> int:
    """0 or 1, from the mutant's text: which half of the mutants it belongs to."""
    return zlib.crc32(mutant.source.encode("utf-8", "surrogatepass")) & 1


def mutants_of(code: str, fn_name: str, class_name: str | None = None) -> list[Mutant]:
    """Every single-change mutant of ``fn_name`` in ``code`` (distinct texts, none equal to
    the reference's own)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    if function_node(tree, fn_name, class_name) is None:
        return []
    original = ast.unparse(tree)
    out: list[Mutant] = []
    seen = {original}
    index = 0
    while True:
        copied = copy.deepcopy(tree)
        fn = function_node(copied, fn_name, class_name)
        assert fn is not None
        mutator = _Mutator(index)
        fn.body = [mutator.visit(statement) for statement in fn.body]
        if mutator.applied is None:
            return out
        index += 1
        text = ast.unparse(ast.fix_missing_locations(copied))
        if text not in seen:
            seen.add(text)
            out.append(Mutant(mutator.applied[0], mutator.applied[1], text))


class _Mutator(ast.NodeTransformer):
    """Applies the ``target``-th mutation point it meets (in a fixed walk order)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.applied: tuple[str, int] | None = None

    def _point(self, kind: str, node: ast.AST, change: Callable[[], ast.AST]) -> ast.AST:
        hit = self.count == self.target and self.applied is None
        self.count += 1
        if not hit:
            return node
        self.applied = (kind, getattr(node, "lineno", 0))
        return change()

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            return node  # nested definitions: their own functions
        return super().generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        alt = _BINOPS.get(type(node.op))
        if alt is None:
            return node
        return self._point("operator", node, lambda: ast.copy_location(ast.BinOp(node.left, alt(), node.right), node))

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        alt = _BINOPS.get(type(node.op))
        result: ast.AST = node
        if alt is not None:
            result = self._point("operator", node,
                                 lambda: ast.copy_location(ast.AugAssign(node.target, alt(), node.value), node))
        return self._delete(result) if result is node else result

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        alt = ast.Or if isinstance(node.op, ast.And) else ast.And
        return self._point("operator", node, lambda: ast.copy_location(ast.BoolOp(alt(), node.values), node))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, (ast.Not, ast.USub)):
            return self._point("operator", node, lambda: node.operand)
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        result: ast.AST = node
        for position, op in enumerate(node.ops):
            for kind, table in (("boundary", _BOUNDARY), ("operator", _COMPARE)):
                alt = table.get(type(op))
                if alt is not None and result is node:
                    result = self._point(kind, node, functools.partial(_replace_op, node, position, alt()))
        return result

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            return self._point("constant", node, lambda: ast.copy_location(ast.Constant(not value), node))
        if isinstance(value, int):
            bumped = value + 1
            return self._point("constant", node, lambda: ast.copy_location(ast.Constant(bumped), node))
        if isinstance(value, str) and len(value) < 80:
            return self._point("constant", node, lambda: ast.copy_location(ast.Constant("" if value else "x"), node))
        return node

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return node  # a docstring
        self.generic_visit(node)
        return self._delete(node)

    def visit_stmt(self, node: ast.stmt) -> ast.AST:
        self.generic_visit(node)
        return self._delete(node) if isinstance(node, _DELETABLE) else node

    visit_Assign = visit_AnnAssign = visit_Return = visit_If = visit_For = visit_While = visit_stmt
    visit_Break = visit_Continue = visit_stmt

    def _delete(self, node: ast.AST) -> ast.AST:
        return self._point("statement", node, lambda: ast.copy_location(ast.Pass(), node))


def _replace_op(node: ast.Compare, position: int, op: ast.cmpop) -> ast.AST:
    ops = list(node.ops)
    ops[position] = op
    return ast.copy_location(ast.Compare(node.left, ops, node.comparators), node)
