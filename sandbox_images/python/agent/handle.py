"""Handles: the test's stand-ins for objects of the program, which stay in X.

A handle can be called, passed back, have its attributes read and set and its items and
iteration used (each answer crossing as a value), but comparing, hashing, truth-testing,
``in`` and arithmetic first convert it to plain data by its builtin base type (an ``int``
subclass becomes that ``int``; a custom object refuses with a ``TypeError``, or keeps
``object``'s identity semantics where its class never overrode them): no ``__eq__``,
``__hash__`` or ``__bool__`` of the program ever decides anything in the harness.
"""

from __future__ import annotations

import builtins
import operator
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from agent.codec import CodecError

if TYPE_CHECKING:
    from agent.proxy import Remote

__all__ = ["Handle", "NoPlain", "no_plain", "plain_of_handle"]

_FORWARDED_DUNDERS = frozenset({"__name__", "__qualname__", "__doc__", "__module__"})


class NoPlain(Exception):
    """The object has no plain form (it is not of a builtin base type).

    ``default_eq``/``default_bool``/``default_hash``: its class keeps ``object``'s
    equality (identity), truth (always true) and hash, which H can then apply itself."""

    def __init__(self, cls: str, default_eq: bool, default_bool: bool, default_hash: bool) -> None:
        super().__init__(cls)
        self.cls = cls
        self.default_eq = default_eq
        self.default_bool = default_bool
        self.default_hash = default_hash


def no_plain(node: Any) -> NoPlain:
    if type(node) is not list or len(node) != 4 or type(node[0]) is not str:
        raise CodecError("malformed no-plain answer")
    return NoPlain(node[0][:200], node[1] is True, node[2] is True, node[3] is True)


def plain_of_handle(handle: Handle) -> Any:
    """The handle's object as plain data, by its builtin base type.

    Raises:
        NoPlain: it has none.
    """
    remote, ident = object.__getattribute__(handle, "_remote"), object.__getattribute__(handle, "_id")
    return remote.request("plain", h=ident)


def _refuse(handle: Handle, what: str, exc: NoPlain) -> TypeError:
    return TypeError(f"cannot {what} a {exc.cls} object of the program: only values of builtin types "
                     f"are compared, tested and hashed in the tests")


def _forward(op: str) -> Callable[..., Any]:
    def method(self: Handle, *args: Any) -> Any:
        remote = object.__getattribute__(self, "_remote")
        return remote.request(op, *args, h=object.__getattribute__(self, "_id"))
    method.__name__ = op
    return method


def _via_plain(fn: Callable[..., Any], what: str = "use") -> Callable[..., Any]:
    def method(self: Handle, *args: Any) -> Any:
        try:
            value = plain_of_handle(self)
        except NoPlain as exc:
            raise _refuse(self, what, exc) from None
        return fn(value, *args)
    return method


def _via_plain_reflected(fn: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    def method(self: Handle, other: Any) -> Any:
        try:
            value = plain_of_handle(self)
        except NoPlain as exc:
            raise _refuse(self, "use", exc) from None
        return fn(other, value)
    return method


def _compare(fn: Callable[[Any, Any], Any], identity: Callable[[bool], Any]) -> Callable[..., Any]:
    """== and != : by plain value; objects with object's own equality by identity."""
    def method(self: Handle, other: Any) -> Any:
        try:
            value = plain_of_handle(self)
        except NoPlain as exc:
            if exc.default_eq:
                return identity(self is other)
            raise _refuse(self, "compare", exc) from None
        return fn(value, other)
    return method


class Handle:
    """An object of the program, living in X."""

    __slots__ = ("_id", "_name", "_remote")

    def __init__(self, remote: Remote, ident: int, name: str = "") -> None:
        object.__setattr__(self, "_remote", remote)
        object.__setattr__(self, "_id", ident)
        object.__setattr__(self, "_name", name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") and name not in _FORWARDED_DUNDERS:
            raise AttributeError(name)
        return _forward("get")(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        _forward("set")(self, name, value)

    def __delattr__(self, name: str) -> None:
        _forward("del")(self, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        remote = object.__getattribute__(self, "_remote")
        return remote.request("call", args, kwargs, h=object.__getattribute__(self, "_id"))

    def __iter__(self) -> Iterator[Any]:
        return _forward("iter")(self)  # type: ignore[no-any-return]

    def __next__(self) -> Any:
        return _forward("next")(self)

    __getitem__ = _forward("getitem")
    __setitem__ = _forward("setitem")
    __delitem__ = _forward("delitem")

    def __repr__(self) -> str:
        text = _forward("repr")(self)
        return text if type(text) is str else "<program object>"

    def __str__(self) -> str:
        text = _forward("str")(self)
        return text if type(text) is str else "<program object>"

    def __format__(self, spec: str) -> str:
        return format(_plain_or_str(self), spec)

    def __len__(self) -> int:
        value = _forward("len")(self)
        if type(value) is not int:
            raise TypeError("len() of a program object must be an int")
        return value

    def __contains__(self, item: Any) -> bool:
        try:
            return item in plain_of_handle(self)
        except NoPlain as exc:
            raise _refuse(self, "search", exc) from None

    def __bool__(self) -> bool:
        try:
            return bool(plain_of_handle(self))
        except NoPlain as exc:
            if exc.default_bool:
                return True
            raise _refuse(self, "truth-test", exc) from None

    def __hash__(self) -> int:
        try:
            return hash(plain_of_handle(self))
        except NoPlain as exc:
            if exc.default_hash:
                return object.__hash__(self)
            raise _refuse(self, "hash", exc) from None

    __eq__ = _compare(operator.eq, lambda same: same)
    __ne__ = _compare(operator.ne, lambda same: not same)
    __lt__ = _via_plain(operator.lt, "order")
    __le__ = _via_plain(operator.le, "order")
    __gt__ = _via_plain(operator.gt, "order")
    __ge__ = _via_plain(operator.ge, "order")
    __add__ = _via_plain(operator.add)
    __sub__ = _via_plain(operator.sub)
    __mul__ = _via_plain(operator.mul)
    __truediv__ = _via_plain(operator.truediv)
    __floordiv__ = _via_plain(operator.floordiv)
    __mod__ = _via_plain(operator.mod)
    __pow__ = _via_plain(operator.pow)
    __and__ = _via_plain(operator.and_)
    __or__ = _via_plain(operator.or_)
    __xor__ = _via_plain(operator.xor)
    __radd__ = _via_plain_reflected(operator.add)
    __rsub__ = _via_plain_reflected(operator.sub)
    __rmul__ = _via_plain_reflected(operator.mul)
    __rtruediv__ = _via_plain_reflected(operator.truediv)
    __rfloordiv__ = _via_plain_reflected(operator.floordiv)
    __rmod__ = _via_plain_reflected(operator.mod)
    __neg__ = _via_plain(operator.neg)
    __pos__ = _via_plain(operator.pos)
    __abs__ = _via_plain(builtins.abs)
    __invert__ = _via_plain(operator.invert)
    __index__ = _via_plain(operator.index)
    __int__ = _via_plain(builtins.int)
    __float__ = _via_plain(builtins.float)
    __round__ = _via_plain(builtins.round)


def _plain_or_str(handle: Handle) -> Any:
    try:
        return plain_of_handle(handle)
    except NoPlain:
        return str(handle)
