"""Values that cross between the harness (H) and the program's process (X), exactly.

A value crosses as JSON: ``null``, booleans, floats (NaN and infinities included), strings
and small ints as themselves, lists as arrays, everything else as a tagged object
``{"t": TAG, "v": ...}``. Builtin types keep their exact type (a tuple stays a tuple, a set
a set, ``2`` and ``2.0`` and ``True`` stay apart); stdlib value types and containers
(``Counter``, ``OrderedDict``, ``defaultdict``, ``deque``, ``Fraction``, ``Decimal``,
dates, ranges), builtin functions and types (by name) and numpy arrays and scalars cross
as themselves. Anything else crosses as an opaque *handle* ("h": an object that stays in
X) or, from H to X, as a *callback* ("cb": a callable that stays in H).

The encoder looks at a value's exact type and reads it through its base type's own
methods, never through methods the value's class could override; the decoder builds
genuine builtin objects. So a value that lies about itself (``__eq__`` that always says
True, an ``int`` subclass) cannot reach the other side as anything but what it is.

Mutable containers (lists, dicts, sets, bytearrays, deques) are numbered in the order a
depth-first walk meets them, on both sides, so a message can refer back to one
(``{"t": "r", "v": n}``): shared references and cycles survive, and a reply can carry the
new contents of the arguments a call mutated (see :mod:`agent.proxy`).

Pure and stdlib only; the decoder treats its input as hostile (types checked, nesting
and sizes bounded, only known names resolved).
"""

from __future__ import annotations

import base64
import builtins
import collections
import datetime
import decimal
import fractions
import importlib
import sys
import types
from collections.abc import Callable
from typing import Any

__all__ = ["CONTAINER_TAGS", "MAX_DEPTH", "CodecError", "Encoder", "Opaque", "builtin_exception", "global_name",
           "resolve_global"]

MAX_DEPTH = 400  # nesting a value may have (json itself refuses deeper input)
_BIG_INT_BITS = 12_000  # larger ints cross as hex: decimal conversion has a digit limit
_SCALARS = (type(None), bool, int, float, str)
_CONTAINER_TYPES = (list, dict, set, bytearray, collections.deque, collections.OrderedDict,
                    collections.defaultdict, collections.Counter)
CONTAINER_TAGS = frozenset({"d", "s", "Y", "dq", "od", "ct", "dd"})


class CodecError(ValueError):
    """A message that does not decode (malformed, too deep, an unknown name)."""


class Opaque(Exception):
    """Raised by a ``to_handle`` hook that refuses to make a handle of ``value``."""

    def __init__(self, value: object) -> None:
        super().__init__(f"a {_qualname(type(value))} value cannot cross")
        self.value = value


def _qualname(cls: type) -> str:
    module = str(getattr(cls, "__module__", "") or "")
    name = str(getattr(cls, "__qualname__", None) or getattr(cls, "__name__", "?"))
    return name if module == "builtins" else f"{module}.{name}"


# Modules whose functions and types may cross by name: value-like things only (a test
# holding ``os.system`` or ``builtins.exec`` because the program returned it is no use).
_NAMED_MODULES = frozenset({
    "builtins", "math", "cmath", "operator", "functools", "itertools", "collections", "string", "re", "heapq",
    "bisect", "fractions", "decimal", "datetime", "statistics", "random", "typing", "copy", "enum", "array",
    "numbers", "numpy", "scipy", "sortedcontainers", "networkx", "json", "textwrap", "unicodedata",
})
_UNNAMED_BUILTINS = frozenset({
    "eval", "exec", "compile", "open", "__import__", "breakpoint", "input", "exit", "quit", "globals",
    "locals", "vars", "setattr", "delattr", "help", "memoryview",
})


def _module_allowed(name: str) -> bool:
    return name.partition(".")[0] in _NAMED_MODULES


def resolve_global(module: str, qualname: str) -> Any:
    """The object named ``module.qualname`` if it may cross by name.

    Raises:
        CodecError: the module is not one a value may name, the name has a private
            part, or it is not a function or type that goes by exactly that name.
    """
    if not isinstance(module, str) or not isinstance(qualname, str) or not _module_allowed(module):
        raise CodecError(f"name {module!r}.{qualname!r} cannot be resolved")
    parts = qualname.split(".")
    if any(not p or p.startswith("_") for p in parts) or (module == "builtins" and qualname in _UNNAMED_BUILTINS):
        raise CodecError(f"name {module}.{qualname} cannot cross")
    if "." in module and module not in sys.modules:
        raise CodecError(f"module {module} is not imported here")  # importing it would run its code
    try:
        obj: Any = sys.modules.get(module) or importlib.import_module(module)
        for part in parts:
            obj = getattr(obj, part)
    except Exception as exc:
        raise CodecError(f"name {module}.{qualname} cannot be resolved: {exc}") from None
    named = isinstance(obj, (type, types.BuiltinFunctionType, types.FunctionType))
    if not named or _name_of(obj) != (module, qualname):
        raise CodecError(f"{module}.{qualname} is not a function or type of that name")
    return obj


def _name_of(value: Any) -> tuple[str, str] | None:
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if isinstance(value, types.BuiltinFunctionType):
        owner = getattr(value, "__self__", None)
        if isinstance(owner, types.ModuleType):
            module = owner.__name__
        elif owner is not None:
            return None  # a bound method of some object
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        return None
    return module, qualname


def global_name(value: Any) -> tuple[str, str] | None:
    """(module, qualname) for a builtin function or type that resolves back to itself."""
    if not isinstance(value, (type, types.BuiltinFunctionType, types.FunctionType)):
        return None
    name = _name_of(value)
    if name is None or not _module_allowed(name[0]):
        return None
    try:
        if resolve_global(*name) is not value:
            return None
    except CodecError:
        return None
    return name


def _numpy() -> Any:
    return sys.modules.get("numpy")


class Encoder:
    """Turns values into JSON-ready data, numbering mutable containers as it meets them.

    ``to_handle(value)`` gives the wire form of a value that is not plain data (a handle
    or a callback node), or raises :class:`Opaque`.
    """

    def __init__(self, to_handle: Callable[[Any], Any], memo: dict[int, int] | None = None,
                 start: int = 0) -> None:
        self.to_handle = to_handle
        self.memo: dict[int, int] = memo if memo is not None else {}
        self.count = start
        self.keep: list[Any] = []  # keeps numbered objects alive while ids are in memo

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise CodecError("value nested too deeply")
        cls = type(value)
        if cls is str or cls is bool or value is None or cls is float:
            return value
        if cls is int:
            if -(1 << _BIG_INT_BITS) < value < (1 << _BIG_INT_BITS):
                return value
            return {"t": "i", "v": format(value, "x")}
        if cls in _CONTAINER_TYPES:
            ref = self.memo.get(id(value))
            if ref is not None:
                return {"t": "r", "v": ref}
            self._number(value)
            return self.contents(value, depth)
        method = _ENCODERS.get(cls)
        if method is not None:
            return method(self, value, depth)
        return self._other(value, depth)

    def _number(self, value: Any) -> None:
        self.memo[id(value)] = self.count
        self.count += 1
        self.keep.append(value)

    def contents(self, value: Any, depth: int) -> Any:
        """The node of a numbered container (its number is already taken)."""
        cls = type(value)
        enc = self.encode
        d = depth + 1
        if cls is list:
            return [enc(x, d) for x in list.__iter__(value)]
        if cls is dict:
            return {"t": "d", "v": self._pairs(dict.items(value), d)}
        if cls is set:
            return {"t": "s", "v": [enc(x, d) for x in set.__iter__(value)]}
        if cls is bytearray:
            return {"t": "Y", "v": base64.b64encode(value).decode("ascii")}
        if cls is collections.deque:
            return {"t": "dq", "v": [enc(x, d) for x in value], "m": value.maxlen}
        if cls is collections.OrderedDict:
            return {"t": "od", "v": self._pairs(dict.items(value), d)}
        if cls is collections.Counter:
            return {"t": "ct", "v": self._pairs(dict.items(value), d)}
        factory = value.default_factory
        return {"t": "dd", "v": self._pairs(dict.items(value), d),
                "f": None if factory is None else enc(factory, d)}

    def _pairs(self, items: Any, depth: int) -> list[Any]:
        out: list[Any] = []
        for key, val in items:
            out.append(self.encode(key, depth))
            out.append(self.encode(val, depth))
        return out

    def _seq(self, tag: str, items: Any, depth: int) -> dict[str, Any]:
        return {"t": tag, "v": [self.encode(x, depth + 1) for x in items]}

    def _other(self, value: Any, depth: int) -> Any:
        name = global_name(value)
        if name is not None:
            return {"t": "g", "m": name[0], "n": name[1]}
        np = _numpy()
        if np is not None and type(value).__module__ == "numpy":
            node = _encode_numpy(np, value)
            if node is not None:
                return node
        return self.to_handle(value)


def _encode_numpy(np: Any, value: Any) -> dict[str, Any] | None:
    try:
        if type(value) is np.ndarray and not value.dtype.hasobject:
            data = np.ascontiguousarray(value).tobytes()
            return {"t": "na", "d": value.dtype.str, "s": list(value.shape),
                    "v": base64.b64encode(data).decode("ascii")}
        if isinstance(value, np.generic) and not value.dtype.hasobject:
            return {"t": "nn", "d": value.dtype.str, "v": base64.b64encode(value.tobytes()).decode("ascii")}
    except Exception:
        return None
    return None


def _enc_tuple(e: Encoder, v: Any, depth: int) -> Any:
    return e._seq("u", tuple.__iter__(v), depth)


def _enc_frozenset(e: Encoder, v: Any, depth: int) -> Any:
    return e._seq("f", frozenset.__iter__(v), depth)


def _enc_bytes(e: Encoder, v: Any, depth: int) -> Any:
    return {"t": "y", "v": base64.b64encode(v).decode("ascii")}


def _enc_complex(e: Encoder, v: Any, depth: int) -> Any:
    return {"t": "c", "v": [v.real, v.imag]}


def _enc_fraction(e: Encoder, v: Any, depth: int) -> Any:
    return {"t": "fr", "v": [format(v.numerator, "x"), format(v.denominator, "x")]}


def _enc_decimal(e: Encoder, v: Any, depth: int) -> Any:
    return {"t": "de", "v": str(v)}


def _enc_range(e: Encoder, v: Any, depth: int) -> Any:
    return {"t": "ra", "v": [e.encode(v.start), e.encode(v.stop), e.encode(v.step)]}


def _enc_slice(e: Encoder, v: Any, depth: int) -> Any:
    return {"t": "sl", "v": [e.encode(v.start, depth + 1), e.encode(v.stop, depth + 1), e.encode(v.step, depth + 1)]}


def _enc_ellipsis(e: Encoder, v: Any, depth: int) -> Any:
    return {"t": "el"}


def _enc_date(e: Encoder, v: Any, depth: int) -> Any:
    return {"t": "da", "v": v.isoformat()}


def _enc_datetime(e: Encoder, v: Any, depth: int) -> Any:
    if v.tzinfo is not None and v.tzinfo is not datetime.UTC:
        return e.to_handle(v)
    return {"t": "dt", "v": v.isoformat()}


def _enc_time(e: Encoder, v: Any, depth: int) -> Any:
    if v.tzinfo is not None:
        return e.to_handle(v)
    return {"t": "tm", "v": v.isoformat()}


def _enc_timedelta(e: Encoder, v: Any, depth: int) -> Any:
    return {"t": "td", "v": [v.days, v.seconds, v.microseconds]}


def _enc_dict_keys(e: Encoder, v: Any, depth: int) -> Any:
    return e._seq("dk", v, depth)


def _enc_dict_items(e: Encoder, v: Any, depth: int) -> Any:
    return {"t": "di", "v": e._pairs(v, depth + 1)}


_ENCODERS: dict[type, Callable[[Encoder, Any, int], Any]] = {
    tuple: _enc_tuple,
    frozenset: _enc_frozenset,
    bytes: _enc_bytes,
    complex: _enc_complex,
    fractions.Fraction: _enc_fraction,
    decimal.Decimal: _enc_decimal,
    range: _enc_range,
    slice: _enc_slice,
    type(Ellipsis): _enc_ellipsis,
    datetime.date: _enc_date,
    datetime.datetime: _enc_datetime,
    datetime.time: _enc_time,
    datetime.timedelta: _enc_timedelta,
    type({}.keys()): _enc_dict_keys,
    type({}.items()): _enc_dict_items,
}


def plain_scalar_types() -> tuple[type, ...]:
    """The types that cross as bare JSON."""
    return _SCALARS


def builtin_exception(name: str) -> type[BaseException] | None:
    """The builtin exception class called ``name`` (``"ValueError"``), or None."""
    cls = getattr(builtins, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, BaseException) else None
