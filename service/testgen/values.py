"""Values as test generation handles them: decoded from the agent's exact-type wire form,
written back as Python source, compared exactly.

The agent's probe records a reference's return value in the wire form of its codec
(``sandbox_images/python/agent/codec.py``: tuples stay tuples, sets stay sets, ``2`` and
``2.0`` and ``True`` stay apart). :func:`decode` reads the part of that form a unit test
can state as a literal (builtin scalars and containers, ``Counter``, ``OrderedDict``,
``deque``, ``Fraction``, ``Decimal``); anything else (a handle, a numpy array, a function)
is :class:`Unrepresentable` and the input is not kept. The input is treated as hostile:
types checked, nesting bounded, nothing resolved by name, nothing executed.

:func:`same` is the comparison the generated assert tests make (its source,
:data:`SAME_SOURCE`, is their setup): the agent's call-test rule (``bool`` apart from
``int``, ``int`` and ``float`` by value, floats within 1e-6) with exact container types.
"""

from __future__ import annotations

import ast
import base64
import collections
import decimal
import fractions
import inspect
import math
import textwrap
from typing import Any

__all__ = ["SAME_SOURCE", "Unrepresentable", "decode", "imports_of", "is_json_exact", "key", "same", "to_source"]

MAX_DEPTH = 60


class Unrepresentable(ValueError):
    """A recorded value no literal can state (or a malformed wire value)."""


def decode(node: Any, depth: int = 0) -> Any:
    """A wire-form value as a Python value.

    Raises:
        Unrepresentable: a tag a test literal cannot state, a shared reference, or
            malformed input.
    """
    if depth > MAX_DEPTH:
        raise Unrepresentable("nested too deeply")
    if node is None or type(node) in (bool, int, float, str):
        return node
    if type(node) is list:
        return [decode(x, depth + 1) for x in node]
    if type(node) is not dict or type(node.get("t")) is not str:
        raise Unrepresentable(f"not a wire value: {type(node).__name__}")
    tag, value = node["t"], node.get("v")
    handler = _TAGS.get(tag)
    if handler is None:
        raise Unrepresentable(f"a value of kind {tag!r} cannot be written as a literal")
    return handler(value, depth + 1)


def _items(value: Any, depth: int) -> list[Any]:
    if type(value) is not list:
        raise Unrepresentable("malformed container")
    return [decode(x, depth) for x in value]


def _pairs(value: Any, depth: int) -> list[tuple[Any, Any]]:
    flat = _items(value, depth)
    if len(flat) % 2:
        raise Unrepresentable("malformed mapping")
    pairs = list(zip(flat[::2], flat[1::2], strict=True))
    for k, _ in pairs:
        _hashable(k)
    return pairs


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        raise Unrepresentable("unhashable key or element") from None
    return value


def _set(value: Any, depth: int) -> set[Any]:
    return {_hashable(x) for x in _items(value, depth)}


def _int(value: Any, depth: int) -> int:
    if type(value) is not str or len(value) > 4000:
        raise Unrepresentable("malformed big int")
    return int(value, 16)


def _bytes(value: Any, depth: int) -> bytes:
    if type(value) is not str:
        raise Unrepresentable("malformed bytes")
    return base64.b64decode(value.encode("ascii"), validate=True)


def _complex(value: Any, depth: int) -> complex:
    re_, im = _items(value, depth)
    return complex(float(re_), float(im))


def _fraction(value: Any, depth: int) -> fractions.Fraction:
    num, den = (_int(v, depth) for v in value)
    return fractions.Fraction(num, den)


def _decimal(value: Any, depth: int) -> decimal.Decimal:
    if type(value) is not str or len(value) > 4000:
        raise Unrepresentable("malformed decimal")
    return decimal.Decimal(value)


_TAGS: dict[str, Any] = {
    "u": lambda v, d: tuple(_items(v, d)),
    "s": _set,
    "f": lambda v, d: frozenset(_set(v, d)),
    "d": lambda v, d: dict(_pairs(v, d)),
    "od": lambda v, d: collections.OrderedDict(_pairs(v, d)),
    "ct": lambda v, d: collections.Counter(dict(_pairs(v, d))),
    "dq": lambda v, d: collections.deque(_items(v, d)),
    "i": _int,
    "y": _bytes,
    "Y": lambda v, d: bytearray(_bytes(v, d)),
    "c": _complex,
    "fr": _fraction,
    "de": _decimal,
}


# ------------------------------------------------------------------ as source
def to_source(value: Any) -> str:
    """A Python expression that evaluates to ``value`` (sets in a stable order; modules the
    expression needs: ``collections``, ``fractions``, ``decimal``, :func:`imports_of`).

    Raises:
        Unrepresentable: a type no literal states.
    """
    cls = type(value)
    if value is None or cls in (bool, int, str, bytes):
        return repr(value)
    if cls is float:
        return repr(value) if math.isfinite(value) else f"float({repr(value)!r})"
    if cls is complex:
        return f"complex({to_source(value.real)}, {to_source(value.imag)})"
    if cls is list:
        return "[" + ", ".join(map(to_source, value)) + "]"
    if cls is tuple:
        inner = ", ".join(map(to_source, value))
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if cls in (set, frozenset):
        inner = ", ".join(sorted(map(to_source, value)))
        body = "{" + inner + "}" if value else ""
        return f"frozenset({body})" if cls is frozenset else (body or "set()")
    if cls is dict:
        return "{" + ", ".join(f"{to_source(k)}: {to_source(v)}" for k, v in value.items()) + "}"
    return _stdlib_source(value)


def _stdlib_source(value: Any) -> str:
    cls = type(value)
    if cls is bytearray:
        return f"bytearray({bytes(value)!r})"
    if cls is collections.OrderedDict:
        return f"collections.OrderedDict({to_source(list(value.items()))})"
    if cls is collections.Counter:
        return f"collections.Counter({to_source(dict(value))})"
    if cls is collections.deque:
        return f"collections.deque({to_source(list(value))})"
    if cls is fractions.Fraction:
        return f"fractions.Fraction({value.numerator}, {value.denominator})"
    if cls is decimal.Decimal:
        return f"decimal.Decimal({str(value)!r})"
    raise Unrepresentable(f"no literal for a {cls.__name__}")


def imports_of(sources: list[str]) -> list[str]:
    """The stdlib modules that the expressions in ``sources`` name."""
    return [m for m in ("collections", "fractions", "decimal") if any(f"{m}." in s for s in sources)]


def is_json_exact(value: Any, depth: int = 0) -> bool:
    """Whether JSON states ``value`` exactly (a call test's args and expected value):
    no tuples, sets, bytes, non-string keys or non-finite floats."""
    cls = type(value)
    if depth > MAX_DEPTH:
        return False
    if value is None or cls in (bool, int, str):
        return True
    if cls is float:
        return math.isfinite(value)
    if cls is list:
        return all(is_json_exact(v, depth + 1) for v in value)
    if cls is dict:
        return all(type(k) is str and is_json_exact(v, depth + 1) for k, v in value.items())
    return False


def key(value: Any) -> str:
    """A canonical text of a value (type-exact), for de-duplication."""
    try:
        return to_source(value)
    except Unrepresentable:
        return repr(value)


# ------------------------------------------------------------------ comparison
def _same(got: Any, want: Any) -> bool:
    """Equal with exact container types; bool apart from int; floats within 1e-6."""
    import math

    if type(want) is bool or type(got) is bool:
        return type(got) is type(want) and got == want
    if type(want) in (int, float) and type(got) in (int, float):
        if type(want) is float or type(got) is float:
            if math.isnan(want) or math.isnan(got):
                return math.isnan(want) and math.isnan(got)
            return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-6)
        return bool(got == want)
    if type(got) is not type(want):
        return False
    if type(want) in (list, tuple) or type(want).__name__ == "deque":
        return len(got) == len(want) and all(_same(a, b) for a, b in zip(got, want, strict=True))
    if isinstance(want, dict):
        return bool(got.keys() == want.keys()) and all(_same(got[k], want[k]) for k in want)
    if type(want) is complex:
        return _same(got.real, want.real) and _same(got.imag, want.imag)
    return bool(got == want)


def _plain_source(fn: Any) -> str:
    """A function's source without annotations (the harness runs setup code as written,
    where ``Any`` is not defined)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            node.returns = None
            for arg in node.args.args:
                arg.annotation = None
    return ast.unparse(tree) + "\n"


#: The setup of the generated assert tests: their comparison, run by the harness.
SAME_SOURCE = _plain_source(_same)


def same(got: Any, want: Any) -> bool:
    """The generated tests' comparison (:data:`SAME_SOURCE`), on the host."""
    return _same(got, want)
