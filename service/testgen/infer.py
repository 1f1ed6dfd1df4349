"""Parameter types of untyped Python, from what the source and the description say.

For each parameter, in order of trust: its annotation (``list[int]``, ``Optional[str]``,
``typing.Dict[str, int]`` ...), the values the seed inputs give it, the docstring
(Google ``x (int): ...``, Sphinx ``:type x: int``, NumPy ``x : int``, prose such as
"list of integers"), its default, and last its name (``n`` is an int, ``s`` a string,
``nums`` a list of ints). What is still unknown inside a type (``list`` without an
element type) is filled in from the seeds. Only :mod:`ast` and text: nothing runs.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Kind", "Param", "T", "params_of", "type_of"]


class Kind(StrEnum):
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    STR = "str"
    BYTES = "bytes"
    NONE = "none"
    LIST = "list"  # args: (element,)
    TUPLE = "tuple"  # args: the elements' types (fixed length)
    VTUPLE = "vtuple"  # tuple[X, ...]; args: (element,)
    SET = "set"
    FROZENSET = "frozenset"
    DICT = "dict"  # args: (key, value)
    UNION = "union"  # args: the alternatives
    ANY = "any"


@dataclass(frozen=True)
class T:
    kind: Kind
    args: tuple[T, ...] = ()

    def known(self) -> bool:
        """Whether a value of this type can be generated (no ``any`` anywhere)."""
        return self.kind is not Kind.ANY and all(a.known() for a in self.args)


ANY = T(Kind.ANY)
_SCALARS = {"int": Kind.INT, "float": Kind.FLOAT, "bool": Kind.BOOL, "str": Kind.STR, "bytes": Kind.BYTES,
            "None": Kind.NONE, "NoneType": Kind.NONE, "complex": Kind.FLOAT, "Number": Kind.FLOAT,
            "integer": Kind.INT, "string": Kind.STR, "number": Kind.FLOAT, "boolean": Kind.BOOL}
_GENERIC = {"list": Kind.LIST, "List": Kind.LIST, "Sequence": Kind.LIST, "Iterable": Kind.LIST,
            "MutableSequence": Kind.LIST, "Collection": Kind.LIST, "Iterator": Kind.LIST, "array": Kind.LIST,
            "set": Kind.SET, "Set": Kind.SET, "AbstractSet": Kind.SET, "MutableSet": Kind.SET,
            "frozenset": Kind.FROZENSET, "FrozenSet": Kind.FROZENSET, "dict": Kind.DICT, "Dict": Kind.DICT,
            "Mapping": Kind.DICT, "MutableMapping": Kind.DICT, "tuple": Kind.VTUPLE, "Tuple": Kind.VTUPLE}
_NAME_HINTS = (
    (re.compile(r"^(n|m|k|i|j|x|y|a|b|num|count|size|index|idx|start|end|stop|step|base|width|depth|level|"
                r"n\d|k\d|.*_?(count|num|len|length|size|index|idx|n))$"), T(Kind.INT)),
    (re.compile(r"^(s|t|c|ch|char|text|string|word|name|line|prefix|suffix|sep|pat|pattern|st|str\d?|tok|token|path|"
                r"filename|msg|message|key|.*_?(str|"
                r"text|name|string|word))$"), T(Kind.STR)),
    (re.compile(r"^(nums|numbers|arr|array|lst|l|xs|values|items|seq|data|ints|.*_?(list|nums|arr))$"),
     T(Kind.LIST, (T(Kind.INT),))),
    (re.compile(r"^(words|strings|names|lines|strs)$"), T(Kind.LIST, (T(Kind.STR),))),
    (re.compile(r"^(flag|is_.*|has_.*|strict|reverse)$"), T(Kind.BOOL)),
)


@dataclass(frozen=True)
class Param:
    name: str
    type: T
    required: bool
    source: str  # annotation | seeds | docstring | default | name | unknown


def params_of(fn: ast.FunctionDef, doc: str, seeds: list[tuple[Any, ...]], *, method: bool) -> list[Param]:
    """The positional parameters a call passes (``self``/``cls`` of a method left out)."""
    args = [*fn.args.posonlyargs, *fn.args.args]
    if method and args and not _is_static(fn):
        args = args[1:]
    defaults = [None] * (len(args) - len(fn.args.defaults)) + list(fn.args.defaults)
    documented = _doc_types(doc)
    prose = _prose_list(doc)
    out = []
    for index, (arg, default) in enumerate(zip(args, defaults, strict=True)):
        seen = [s[index] for s in seeds if len(s) > index]
        found = [
            ("annotation", _from_annotation(arg.annotation) if arg.annotation is not None else None),
            ("seeds", _merge([type_of(v) for v in seen]) if seen else None),
            ("docstring", documented.get(arg.arg)),
            ("default", _default_type(default)),
            ("name", _from_name(arg.arg)),
        ]
        source, chosen = next(((s, t) for s, t in found if t is not None and t.kind is not Kind.ANY),
                              ("unknown", ANY))
        if prose is not None and source in ("name", "unknown") and chosen.kind in (Kind.LIST, Kind.ANY) \
                and (len(args) == 1 or source == "name"):
            source, chosen = "docstring", prose
        if seen:
            chosen = _refine(chosen, _merge([type_of(v) for v in seen]))
        out.append(Param(arg.arg, chosen, default is None, source))
    return out


def _is_static(fn: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)


def type_of(value: Any) -> T:
    """The type of a literal value (containers by their elements)."""
    cls = type(value)
    scalar = {int: Kind.INT, float: Kind.FLOAT, bool: Kind.BOOL, str: Kind.STR, bytes: Kind.BYTES}.get(cls)
    if scalar is not None:
        return T(scalar)
    if value is None:
        return T(Kind.NONE)
    if cls is list:
        return T(Kind.LIST, (_merge([type_of(v) for v in value]),))
    if cls is tuple:
        return T(Kind.TUPLE, tuple(type_of(v) for v in value))
    if cls in (set, frozenset):
        return T(Kind.SET if cls is set else Kind.FROZENSET, (_merge([type_of(v) for v in value]),))
    if cls is dict:
        return T(Kind.DICT, (_merge([type_of(k) for k in value]), _merge([type_of(v) for v in value.values()])))
    return ANY


def _merge(types: list[T]) -> T:
    """One type for values of these types (ints and floats together are floats)."""
    distinct = list(dict.fromkeys(t for t in types if t.kind is not Kind.ANY))
    if not distinct:
        return ANY
    if len(distinct) == 1:
        return distinct[0]
    kinds = {t.kind for t in distinct}
    if kinds <= {Kind.INT, Kind.FLOAT}:
        return T(Kind.FLOAT)
    if len(kinds) == 1 and distinct[0].kind in (Kind.LIST, Kind.SET, Kind.FROZENSET, Kind.VTUPLE):
        return T(distinct[0].kind, (_merge([t.args[0] for t in distinct]),))
    if kinds == {Kind.TUPLE} and len({len(t.args) for t in distinct}) == 1:
        return T(Kind.TUPLE, tuple(_merge(list(col)) for col in zip(*(t.args for t in distinct), strict=True)))
    if kinds == {Kind.TUPLE}:
        return T(Kind.VTUPLE, (_merge([a for t in distinct for a in t.args]),))
    if kinds == {Kind.DICT}:
        return T(Kind.DICT, (_merge([t.args[0] for t in distinct]), _merge([t.args[1] for t in distinct])))
    return T(Kind.UNION, tuple(distinct[:4]))


def _refine(chosen: T, seen: T) -> T:
    """Fill the unknown parts of ``chosen`` with what the seeds say."""
    if chosen.kind is Kind.ANY:
        return seen
    if chosen.kind is Kind.VTUPLE and seen.kind is Kind.TUPLE and seen.args and not chosen.args[0].known():
        return T(Kind.VTUPLE, (_merge(list(seen.args)),))
    if chosen.kind == seen.kind and len(chosen.args) == len(seen.args):
        return T(chosen.kind, tuple(_refine(a, b) for a, b in zip(chosen.args, seen.args, strict=True)))
    return chosen


def _default_type(node: ast.expr | None) -> T | None:
    if node is None:
        return None
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return None if value is None else type_of(value)


def _from_name(name: str) -> T | None:
    lowered = name.lower()
    return next((t for pattern, t in _NAME_HINTS if pattern.match(lowered)), None)


def _from_annotation(node: ast.expr) -> T:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return _from_annotation(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return ANY
    if isinstance(node, ast.Constant) and node.value is None:
        return T(Kind.NONE)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union([_from_annotation(node.left), _from_annotation(node.right)])
    if not isinstance(node, ast.Subscript):
        return _bare(_dotted(node))
    return _subscript(node)


def _bare(name: str) -> T:
    """``int``, ``list`` (of unknown elements), ``Dict``..."""
    if name in _SCALARS:
        return T(_SCALARS[name])
    kind = _GENERIC.get(name)
    if kind is Kind.DICT:
        return T(kind, (ANY, ANY))
    return T(kind, (ANY,)) if kind is not None else ANY


def _subscript(node: ast.Subscript) -> T:
    """``list[int]``, ``Optional[str]``, ``Tuple[int, ...]``..."""
    name = _dotted(node.value)
    items = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
    args = [_from_annotation(i) for i in items if not (isinstance(i, ast.Constant) and i.value is Ellipsis)]
    if name == "Optional":
        return _union([*args, T(Kind.NONE)])
    if name == "Union":
        return _union(args)
    kind = _GENERIC.get(name)
    if kind is Kind.VTUPLE and len(args) != len(items):
        return T(Kind.VTUPLE, tuple(args[:1]) or (ANY,))
    if kind is Kind.VTUPLE:
        return T(Kind.TUPLE, tuple(args))
    if kind is Kind.DICT and len(args) == 2:
        return T(kind, tuple(args))
    if kind is not None and kind is not Kind.DICT and len(args) == 1:
        return T(kind, tuple(args))
    return ANY


def _union(options: list[T]) -> T:
    flat: list[T] = []
    for t in options:
        flat.extend(t.args if t.kind is Kind.UNION else [t])
    flat = list(dict.fromkeys(flat))
    return flat[0] if len(flat) == 1 else T(Kind.UNION, tuple(flat))


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


# ------------------------------------------------------------------ docstrings
_GOOGLE = re.compile(r"^\s*\*{0,2}(\w+)\*{0,2}\s*\(([^)]*)\)\s*:", re.MULTILINE)
_SPHINX_TYPE = re.compile(r":type\s+(\w+)\s*:\s*(.+)$", re.MULTILINE)
_SPHINX_PARAM = re.compile(r":param\s+([\w\[\], ]+?)\s+(\w+)\s*:", re.MULTILINE)
_NUMPY = re.compile(r"^\s*(\w+)\s+:\s+([\w\[\], .]+)$", re.MULTILINE)


def _doc_types(doc: str) -> dict[str, T]:
    found: dict[str, T] = {}
    for pattern, name_group in ((_GOOGLE, 1), (_SPHINX_TYPE, 1), (_NUMPY, 1)):
        for match in pattern.finditer(doc):
            parsed = _from_text(match.group(2))
            if parsed is not None:
                found.setdefault(match.group(name_group), parsed)
    for match in _SPHINX_PARAM.finditer(doc):
        parsed = _from_text(match.group(1))
        if parsed is not None:
            found.setdefault(match.group(2), parsed)
    return found


_PROSE_LIST = re.compile(r"\b(?:list|array|sequence)s? of (?:(?:non-negative|positive|negative|the|some|all)\s+)?"
                         r"(strings|words|integers|ints|numbers|floats|booleans|characters|letters|"
                         r"lists of integers)\b",
                         re.IGNORECASE)
_PROSE_ELEMENTS = {"strings": T(Kind.STR), "words": T(Kind.STR), "characters": T(Kind.STR), "letters": T(Kind.STR),
                   "integers": T(Kind.INT), "ints": T(Kind.INT), "numbers": T(Kind.FLOAT), "floats": T(Kind.FLOAT),
                   "booleans": T(Kind.BOOL), "lists of integers": T(Kind.LIST, (T(Kind.INT),))}


def _prose_list(doc: str) -> T | None:
    """``a list of strings`` (the first such phrase) in a description's prose."""
    match = _PROSE_LIST.search(doc)
    return T(Kind.LIST, (_PROSE_ELEMENTS[match.group(1).lower()],)) if match else None


def _from_text(text: str) -> T | None:
    """A type written in prose or as an annotation: ``int``, ``list of str``, ``List[int]``."""
    text = text.strip().rstrip(".").replace("optional", "").strip(" ,")
    prose = re.match(r"^(list|set|tuple|sequence|iterable|array)s?\s+of\s+(\w+?)s?$", text, re.IGNORECASE)
    if prose:
        element = _from_text(prose.group(2))
        container = {"set": Kind.SET, "tuple": Kind.VTUPLE}.get(prose.group(1).lower(), Kind.LIST)
        return T(container, (element or ANY,))
    try:
        parsed = _from_annotation(ast.parse(text, mode="eval").body)
    except (SyntaxError, ValueError, RecursionError):
        return None
    return parsed if parsed.kind is not Kind.ANY else None
