"""Mutants of a reference: one small syntactic change inside the function under test.

Four families (the usual mutation operators): ``operator`` (``+`` and ``-``, ``*`` and
``+``, ``and`` and ``or``, ``==`` and ``!=``, ``in`` and ``not in``, a dropped ``not``
or unary minus), ``boundary`` (``<`` and ``<=``, ``>`` and ``>=``), ``constant`` (an
int off by one, a bool flipped, a string emptied or filled) and ``statement``
(a statement deleted: replaced by ``pass``). Built with :mod:`ast` on the host; the
mutants, like the reference, only ever run in the sandbox.

Mutants are split in two halves by a hash of their text (:func:`half`). Test generation
chooses tests with half 0 of the mutants above and with a second operator set,
``SELECTION``, that makes other changes at the same points:
``+`` → ``*``, ``-`` → ``*``, an ``and``/``or`` reduced to one operand, a condition
negated (``if c`` → ``if not c``, not where that is an inverted ``==``/``in``/``is``),
``<`` ↔ ``>`` and ``<=`` ↔ ``>=``, ``==`` → ``<``, ``in`` → ``==``, an int one lower
(two where a comparison reads it), a string one character shorter or longer, a
statement done twice (one whose second run changes something). Half 1 of the first set
(``EVALUATION``) is what measures a suite (``bench/testgen_humaneval.py``): no mutant
test generation runs has the text of one of them (the bench counts: 0), and none is
built to be one of them under another text (:attr:`Mutant.compared`, the negations and
the two-lower constants above), so the tests are measured on programs that did not
choose them.
"""

from __future__ import annotations

import ast
import copy
import functools
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from service.testgen.edits import Twice, bool_of, flatten, negation_twin, repeatable, replace_op
from service.testgen.extract import function_node

__all__ = ["EVALUATION", "SELECTION", "Mutant", "half", "mutants_of"]

EVALUATION = "evaluation"
SELECTION = "selection"

_BINOPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.Div: ast.Mult, ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd,
    ast.BitXor: ast.BitAnd, ast.LShift: ast.RShift, ast.RShift: ast.LShift,
}
_BOUNDARY: dict[type[ast.cmpop], type[ast.cmpop]] = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE,
                                                     ast.GtE: ast.Gt}
_COMPARE: dict[type[ast.cmpop], type[ast.cmpop]] = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn,
                                                    ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_BINOPS_SELECTION: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Mult, ast.Sub: ast.Mult, ast.Mult: ast.Sub, ast.Div: ast.Sub, ast.FloorDiv: ast.Sub,
    ast.Mod: ast.Sub, ast.Pow: ast.Add, ast.BitAnd: ast.BitXor, ast.BitOr: ast.BitXor, ast.BitXor: ast.BitOr,
    ast.LShift: ast.Add, ast.RShift: ast.Sub,
}
_BOUNDARY_SELECTION: dict[type[ast.cmpop], type[ast.cmpop]] = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE,
                                                               ast.GtE: ast.LtE}
_COMPARE_SELECTION: dict[type[ast.cmpop], type[ast.cmpop]] = {ast.Eq: ast.Lt, ast.NotEq: ast.Gt, ast.In: ast.Eq,
                                                              ast.NotIn: ast.NotEq}
_DELETABLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return, ast.If, ast.For, ast.While,
              ast.Break, ast.Continue)


@dataclass(frozen=True)
class Mutant:
    kind: str  # operator | boundary | constant | statement
    line: int
    source: str  # the whole module, mutated
    # A constant mutant of an int a comparison reads, or a boundary mutant of such a
    # comparison: for ints the two can be one program (x < 5 → x < 6 is x <= 5), so a
    # mutant of the one half may be a held-out mutant of the other under another text.
    # Test generation never runs these from the seen half.
    compared: bool = False


def half(mutant: Mutant) -> int:
    """0 or 1, from the mutant's text: which half of the mutants it belongs to."""
    return zlib.crc32(mutant.source.encode("utf-8", "surrogatepass")) & 1


def mutants_of(code: str, fn_name: str, class_name: str | None = None, *,
               family: str = EVALUATION) -> list[Mutant]:
    """Every single-change mutant of ``fn_name`` in ``code`` of one operator set
    (:data:`EVALUATION` or :data:`SELECTION`; distinct texts, none equal to the
    reference's own)."""
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
        mutator = _Mutator(index) if family == EVALUATION else _SelectionMutator(index)
        fn.body = flatten([mutator.visit(statement) for statement in fn.body])
        if mutator.applied is None:
            return out
        index += 1
        text = ast.unparse(ast.fix_missing_locations(copied))
        if text not in seen:
            seen.add(text)
            out.append(Mutant(*mutator.applied, text, compared=mutator.compared_hit))


class _Mutator(ast.NodeTransformer):
    """Applies the ``target``-th mutation point it meets (in a fixed walk order)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.applied: tuple[str, int] | None = None
        self.compared: set[int] = set()  # ids of the int constants comparisons read
        self.compared_hit = False

    def _point(self, kind: str, node: ast.AST, change: Callable[[], ast.AST], *, compared: bool = False) -> ast.AST:
        hit = self.count == self.target and self.applied is None
        self.count += 1
        if not hit:
            return node
        self.applied = (kind, getattr(node, "lineno", 0))
        self.compared_hit = compared
        return change()

    def _note_compared(self, node: ast.Compare) -> bool:
        """Record the int constants ``node`` compares with; whether there are any."""
        ints = [n for n in (node.left, *node.comparators) if isinstance(n, ast.Constant) and type(n.value) is int]
        self.compared.update(id(n) for n in ints)
        return bool(ints)

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            return node  # nested definitions: their own functions
        return super().generic_visit(node)

    binops = _BINOPS  # each arithmetic operator's replacement in this operator set

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        alt = self.binops.get(type(node.op))
        if alt is None:
            return node
        return self._point("operator", node, lambda: ast.copy_location(ast.BinOp(node.left, alt(), node.right), node))

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        alt = self.binops.get(type(node.op))
        result: ast.AST = node
        if alt is not None:
            result = self._point("operator", node,
                                 lambda: ast.copy_location(ast.AugAssign(node.target, alt(), node.value), node))
        return self._statement(result) if result is node else result

    def _statement(self, node: ast.AST) -> ast.AST:
        """This set's statement change of an ``x op= y`` it did not change otherwise."""
        return self._delete(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        alt = ast.Or if isinstance(node.op, ast.And) else ast.And
        return self._point("operator", node, lambda: ast.copy_location(ast.BoolOp(alt(), node.values), node))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, (ast.Not, ast.USub)):
            return self._point("operator", node, lambda: node.operand)
        return node

    boundary, compare = _BOUNDARY, _COMPARE  # each comparison's replacement, by family
    flags_compared = True  # boundary mutants of comparisons with an int are Mutant.compared

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        with_ints = self._note_compared(node)
        self.generic_visit(node)
        result: ast.AST = node
        for position, op in enumerate(node.ops):
            for kind, table in (("boundary", self.boundary), ("operator", self.compare)):
                alt = table.get(type(op))
                if alt is not None and result is node:
                    result = self._point(kind, node, functools.partial(replace_op, node, position, alt()),
                                         compared=self.flags_compared and with_ints and kind == "boundary")
        return result

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            return self._point("constant", node, lambda: ast.copy_location(ast.Constant(not value), node))
        if isinstance(value, int):
            bumped = value + 1
            return self._point("constant", node, lambda: ast.copy_location(ast.Constant(bumped), node),
                               compared=id(node) in self.compared)
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


class _SelectionMutator(_Mutator):
    """The :data:`SELECTION` operator set: other changes at the same points."""

    binops = _BINOPS_SELECTION
    boundary, compare = _BOUNDARY_SELECTION, _COMPARE_SELECTION
    flags_compared = False

    def _statement(self, node: ast.AST) -> ast.AST:
        return self._repeat(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        result: ast.AST = node
        for position in range(len(node.values)):
            if result is node:
                rest = [v for i, v in enumerate(node.values) if i != position]
                result = self._point("operator", node, functools.partial(bool_of, node, rest))
        return result

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            return node  # flipping it is the evaluation set's change, and the only one
        if isinstance(value, int):
            # two lower where a comparison reads it: one lower is the evaluation set's
            # boundary mutant there (x <= 5 → x <= 4 is x < 5)
            lower = value - 2 if id(node) in self.compared else value - 1
            return self._point("constant", node, lambda: ast.copy_location(ast.Constant(lower), node))
        if isinstance(value, str) and len(value) < 80:
            other = value[:-1] if len(value) > 1 else value + value if value else " "
            return self._point("constant", node, lambda: ast.copy_location(ast.Constant(other), node))
        return node

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return node
        self.generic_visit(node)
        return self._repeat(node)

    def visit_If(self, node: ast.stmt) -> ast.AST:
        assert isinstance(node, ast.If)
        self.generic_visit(node)
        result: ast.AST = node
        if not negation_twin(node.test, _COMPARE):
            result = self._point("operator", node, lambda: ast.copy_location(
                ast.If(ast.UnaryOp(ast.Not(), node.test), node.body, node.orelse), node))
        return result

    def visit_stmt(self, node: ast.stmt) -> ast.AST:
        self.generic_visit(node)
        return self._repeat(node) if repeatable(node) else node

    visit_Assign = visit_For = visit_stmt

    def _unchanged(self, node: ast.stmt) -> ast.AST:
        self.generic_visit(node)
        return node

    visit_AnnAssign = visit_Return = visit_Break = visit_Continue = visit_While = _unchanged

    def _repeat(self, node: ast.AST) -> ast.AST:
        return self._point("statement", node, lambda: Twice([node, copy.deepcopy(node)]))
