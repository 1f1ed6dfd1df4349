"""The syntax-tree edits :mod:`.mutants` makes: a comparison with one operator swapped, a
boolean reduced to some operands, a statement done twice (and the blocks flattened
around it), and which statements change something when done twice."""

from __future__ import annotations

import ast
from collections.abc import Collection

__all__ = ["Twice", "bool_of", "flatten", "negation_twin", "repeatable", "replace_op"]

_REPEATABLE = (ast.AugAssign, ast.Expr, ast.For)  # and an Assign that reads its own target (repeatable)


def replace_op(node: ast.Compare, position: int, op: ast.cmpop) -> ast.AST:
    ops = list(node.ops)
    ops[position] = op
    return ast.copy_location(ast.Compare(node.left, ops, node.comparators), node)


class Twice(ast.AST):
    """A statement done twice (flattened into its block by :func:`flatten`)."""

    def __init__(self, body: list[ast.AST]) -> None:
        super().__init__()
        self.body = body


def flatten(statements: list[ast.AST]) -> list[ast.stmt]:
    """``statements`` with every :class:`Twice` (at any depth of blocks) spread out."""
    out: list[ast.stmt] = []
    for statement in statements:
        if isinstance(statement, Twice):
            out += flatten(statement.body)
            continue
        assert isinstance(statement, ast.stmt)
        for name in ("body", "orelse", "finalbody"):
            block = getattr(statement, name, None)
            if isinstance(block, list) and any(isinstance(s, (Twice, ast.stmt)) for s in block):
                setattr(statement, name, flatten(block))
        handlers = getattr(statement, "handlers", None)
        for handler in handlers or []:
            handler.body = flatten(handler.body)
        out.append(statement)
    return out


def repeatable(node: ast.stmt) -> bool:
    """A statement whose second run changes something: ``x += 1``, ``xs.append(x)``, a
    loop, ``x = x * 2`` (an ``if`` whose body returns, or ``x = f(y)``, would not)."""
    if isinstance(node, ast.Assign):
        written = {t.id for t in node.targets if isinstance(t, ast.Name)}
        return bool(written & {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)})
    return isinstance(node, _REPEATABLE)


def bool_of(node: ast.BoolOp, rest: list[ast.expr]) -> ast.AST:
    if len(rest) == 1:
        return rest[0]
    return ast.copy_location(ast.BoolOp(node.op, rest), node)


def negation_twin(test: ast.expr, inverted: Collection[type[ast.cmpop]]) -> bool:
    """Whether ``not test`` is a program of the evaluation set under another text: a
    ``not`` removed (``not c``), or one comparison that set already inverts (``==``,
    ``in``, ``is`` and their opposites: ``inverted``)."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return True
    return isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in inverted
