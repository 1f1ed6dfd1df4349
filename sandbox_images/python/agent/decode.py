"""Decoding values that crossed from the other side (see :mod:`agent.codec` for the wire
form). The input is hostile: every field's type is checked, nesting is bounded, only the
names :func:`agent.codec.resolve_global` allows are resolved, and what comes out is made
of genuine builtin (and stdlib) objects only."""

from __future__ import annotations

import base64
import collections
import datetime
import decimal
import fractions
import importlib
from collections.abc import Callable
from typing import Any

from agent.codec import CONTAINER_TAGS, MAX_DEPTH, CodecError, resolve_global

__all__ = ["Decoder"]


class Decoder:
    """Builds values from wire data. ``handle(n)`` and ``callback(n)`` make the objects
    that stand for the other side's objects (or raise CodecError where not allowed).

    ``registry`` lists the numbered containers met so far (pre-seeded for replies)."""

    def __init__(self, handle: Callable[[int], Any], callback: Callable[[int], Any],
                 registry: list[Any] | None = None) -> None:
        self.handle = handle
        self.callback = callback
        self.registry: list[Any] = registry if registry is not None else []
        self._skip = False

    def decode(self, node: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise CodecError("value nested too deeply")
        cls = type(node)
        if cls is str or cls is int or cls is float or cls is bool or node is None:
            return node
        if cls is list:
            out: list[Any] = self._numbered([])
            for item in node:
                out.append(self.decode(item, depth + 1))
            return out
        if cls is not dict:
            raise CodecError(f"unexpected {cls.__name__} in a value")
        tag = node.get("t")
        method = _DECODERS.get(tag) if isinstance(tag, str) else None
        if method is None:
            raise CodecError(f"unknown value tag {tag!r}")
        try:
            return method(self, node.get("v"), node, depth + 1)
        except CodecError:
            raise
        except RecursionError:
            raise CodecError("value nested too deeply") from None
        except (TypeError, ValueError, KeyError, OverflowError, AttributeError, IndexError) as exc:
            raise CodecError(f"malformed {tag!r} value: {exc}") from None

    def decode_into(self, target: Any, node: Any) -> None:
        """Replace the contents of ``target``, an already numbered container, with those
        of ``node`` (a container node that does not take a number of its own)."""
        if not (type(node) is list or (type(node) is dict and node.get("t") in CONTAINER_TAGS)):
            raise CodecError("a state must describe a container")
        self._skip = True
        try:
            fresh = self.decode(node)
        finally:
            self._skip = False
        cls = type(target)
        if type(fresh) is not cls:
            raise CodecError(f"a {cls.__name__} cannot become a {type(fresh).__name__}")
        if cls is list or cls is bytearray:
            target[:] = fresh
        elif cls is collections.deque:
            target.clear()
            target.extend(fresh)
        elif cls is set:
            target.clear()
            target.update(fresh)
        elif cls is collections.Counter:
            dict.clear(target)  # Counter.update would add the counts
            dict.update(target, fresh)
        else:
            target.clear()
            target.update(fresh)

    def _list(self, items: Any, depth: int) -> list[Any]:
        if type(items) is not list:
            raise CodecError("expected a list of items")
        return [self.decode(x, depth) for x in items]

    def _pairs(self, items: Any, depth: int) -> list[tuple[Any, Any]]:
        flat = self._list(items, depth)
        if len(flat) % 2:
            raise CodecError("odd number of items in a mapping")
        return list(zip(flat[0::2], flat[1::2], strict=True))

    def _numbered(self, obj: Any) -> Any:
        if self._skip:
            self._skip = False  # the container a state node describes keeps its number
        else:
            self.registry.append(obj)
        return obj


def _b64(text: Any) -> bytes:
    if type(text) is not str:
        raise CodecError("expected base64 text")
    return base64.b64decode(text.encode("ascii"), validate=True)


def _dec_ref(d: Decoder, v: Any, node: Any, depth: int) -> Any:
    if type(v) is not int or not 0 <= v < len(d.registry):
        raise CodecError(f"reference {v!r} to no container")
    return d.registry[v]


def _dec_dict(d: Decoder, v: Any, node: Any, depth: int) -> Any:
    out: dict[Any, Any] = d._numbered({})
    for key, val in d._pairs(v, depth):
        out[key] = val
    return out


def _dec_mapping(cls: Any) -> Callable[[Decoder, Any, Any, int], Any]:
    def dec(d: Decoder, v: Any, node: Any, depth: int) -> Any:
        out = d._numbered(cls())
        for key, val in d._pairs(v, depth):
            out[key] = val  # a genuine OrderedDict/Counter: its own bookkeeping
        return out
    return dec


def _dec_defaultdict(d: Decoder, v: Any, node: Any, depth: int) -> Any:
    out: collections.defaultdict[Any, Any] = d._numbered(collections.defaultdict())
    factory = node.get("f")
    out.default_factory = None if factory is None else d.decode(factory, depth)
    for key, val in d._pairs(v, depth):
        out[key] = val
    return out


def _dec_set(d: Decoder, v: Any, node: Any, depth: int) -> Any:
    out: set[Any] = d._numbered(set())
    out.update(d._list(v, depth))
    return out


def _dec_deque(d: Decoder, v: Any, node: Any, depth: int) -> Any:
    maxlen = node.get("m")
    if maxlen is not None and type(maxlen) is not int:
        raise CodecError("bad deque maxlen")
    out: collections.deque[Any] = d._numbered(collections.deque(maxlen=maxlen))
    out.extend(d._list(v, depth))
    return out


def _dec_bytearray(d: Decoder, v: Any, node: Any, depth: int) -> Any:
    return d._numbered(bytearray(_b64(v)))


def _dec_int(d: Decoder, v: Any, node: Any, depth: int) -> Any:
    if type(v) is not str:
        raise CodecError("bad int")
    return int(v, 16)


def _dec_complex(d: Decoder, v: Any, node: Any, depth: int) -> Any:
    if type(v) is not list or len(v) != 2 or not all(type(x) in (int, float) for x in v):
        raise CodecError("bad complex")
    return complex(v[0], v[1])


def _dec_fraction(d: Decoder, v: Any, node: Any, depth: int) -> Any:
    if type(v) is not list or len(v) != 2 or not all(type(x) is str for x in v):
        raise CodecError("bad Fraction")
    return fractions.Fraction(int(v[0], 16), int(v[1], 16))


def _dec_decimal(d: Decoder, v: Any, node: Any, depth: int) -> Any:
    if type(v) is not str or len(v) > 10_000:
        raise CodecError("bad Decimal")
    return decimal.Decimal(v)


def _dec_range(d: Decoder, v: Any, node: Any, depth: int) -> Any:
    if type(v) is not list or len(v) != 3 or not all(type(x) is int for x in v):
        raise CodecError("bad range")
    return range(*v)


def _dec_slice(d: Decoder, v: Any, node: Any, depth: int) -> Any:
    parts = d._list(v, depth)
    if len(parts) != 3:
        raise CodecError("bad slice")
    return slice(*parts)


def _dec_global(d: Decoder, v: Any, node: Any, depth: int) -> Any:
    return resolve_global(node.get("m"), node.get("n"))


def _dec_handle(d: Decoder, v: Any, node: Any, depth: int) -> Any:
    if type(v) is not int:
        raise CodecError("bad handle")
    return d.handle(v)


def _dec_callback(d: Decoder, v: Any, node: Any, depth: int) -> Any:
    if type(v) is not int:
        raise CodecError("bad callback")
    return d.callback(v)


def _dec_numpy_array(d: Decoder, v: Any, node: Any, depth: int) -> Any:
    np = importlib.import_module("numpy")
    dtype = np.dtype(node.get("d"))
    shape = node.get("s")
    if dtype.hasobject or type(shape) is not list or not all(type(x) is int and x >= 0 for x in shape):
        raise CodecError("bad numpy array")
    return np.frombuffer(_b64(v), dtype=dtype).reshape(shape).copy()


def _dec_numpy_scalar(d: Decoder, v: Any, node: Any, depth: int) -> Any:
    np = importlib.import_module("numpy")
    dtype = np.dtype(node.get("d"))
    if dtype.hasobject:
        raise CodecError("bad numpy scalar")
    return np.frombuffer(_b64(v), dtype=dtype)[0]


def _simple(build: Callable[[Any], Any]) -> Callable[[Decoder, Any, Any, int], Any]:
    def dec(d: Decoder, v: Any, node: Any, depth: int) -> Any:
        return build(v)
    return dec


def _timedelta(v: Any) -> datetime.timedelta:
    if type(v) is not list or len(v) != 3 or not all(type(x) is int for x in v):
        raise CodecError("bad timedelta")
    return datetime.timedelta(days=v[0], seconds=v[1], microseconds=v[2])


def _iso(cls: Any) -> Callable[[Any], Any]:
    def build(v: Any) -> Any:
        if type(v) is not str:
            raise CodecError("bad date/time")
        return cls.fromisoformat(v)
    return build


_DECODERS: dict[str, Callable[[Decoder, Any, Any, int], Any]] = {
    "r": _dec_ref,
    "u": lambda d, v, n, depth: tuple(d._list(v, depth)),
    "f": lambda d, v, n, depth: frozenset(d._list(v, depth)),
    "d": _dec_dict,
    "s": _dec_set,
    "od": _dec_mapping(collections.OrderedDict),
    "ct": _dec_mapping(collections.Counter),
    "dd": _dec_defaultdict,
    "dq": _dec_deque,
    "y": _simple(_b64),
    "Y": _dec_bytearray,
    "i": _dec_int,
    "c": _dec_complex,
    "fr": _dec_fraction,
    "de": _dec_decimal,
    "ra": _dec_range,
    "sl": _dec_slice,
    "el": _simple(lambda v: Ellipsis),
    "da": _simple(_iso(datetime.date)),
    "dt": _simple(_iso(datetime.datetime)),
    "tm": _simple(_iso(datetime.time)),
    "td": _simple(_timedelta),
    "dk": lambda d, v, n, depth: dict.fromkeys(d._list(v, depth)).keys(),
    "di": lambda d, v, n, depth: dict(d._pairs(v, depth)).items(),
    "g": _dec_global,
    "h": _dec_handle,
    "cb": _dec_callback,
    "na": _dec_numpy_array,
    "nn": _dec_numpy_scalar,
}
