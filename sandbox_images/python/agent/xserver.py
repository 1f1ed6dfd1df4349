"""The program's side of the proxy (runs in X, untrusted territory).

Answers the harness's requests over the channel: which names the program defines, calls
of its functions, attribute reads and writes, iteration, items, and the plain form of
its objects. Nothing here is trusted: the program shares this interpreter and can change
anything in it. What it can gain by that is only to send other values, which are then
its answers; the harness judges them in its own process.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import os
import sys
import types
from typing import Any

from agent.codec import CodecError, Encoder, Opaque
from agent.decode import Decoder
from agent.describe import describe
from agent.frames import Channel, ChannelError

__all__ = ["Server"]

# Builtin base types an object of the program is read through to get its plain form.
_PLAIN_BASES: tuple[tuple[type, Any], ...] = (
    (bool, bool),
    (int, int.__index__),
    (float, float.__float__),
    (complex, lambda v: complex(complex.__getattribute__(v, "real"), complex.__getattribute__(v, "imag"))),
    (str, str.__str__),
    (bytes, bytes.__bytes__),
    (bytearray, lambda v: bytearray(memoryview(v))),
    (tuple, lambda v: tuple(tuple.__iter__(v))),
    (list, lambda v: list(list.__iter__(v))),
    (collections.OrderedDict, lambda v: collections.OrderedDict(dict.items(v))),
    (collections.Counter, lambda v: collections.Counter(dict(dict.items(v)))),
    (dict, lambda v: dict(dict.items(v))),
    (set, lambda v: set(set.__iter__(v))),
    (frozenset, lambda v: frozenset(frozenset.__iter__(v))),
)


def plain_of(obj: Any) -> Any:
    """``obj`` as a value of its builtin base type; raises LookupError if it has none."""
    for base, convert in _PLAIN_BASES:
        if isinstance(obj, base):
            return convert(obj)
    raise LookupError(type(obj))


def _defaults(obj: Any) -> list[Any]:
    cls = type(obj)
    name = getattr(cls, "__qualname__", "object")
    return [
        str(name),
        getattr(cls, "__eq__", None) is object.__eq__,
        getattr(cls, "__bool__", None) is None and getattr(cls, "__len__", None) is None,
        getattr(cls, "__hash__", None) is object.__hash__,
    ]


class CallbackProxy:
    """A function of the tests, living in H; calling it asks H to run it."""

    __slots__ = ("ident", "server")

    def __init__(self, server: Server, ident: int) -> None:
        self.server = server
        self.ident = ident

    def __call__(self, *args: Any) -> Any:
        return self.server.call_back(self.ident, args)


class Server:
    """Serves one harness session over ``chan`` from the program's module namespace."""

    def __init__(self, chan: Channel, namespace: dict[str, Any]) -> None:
        self.chan = chan
        self.namespace = namespace
        self.objects: list[Any] = []
        self.index: dict[int, int] = {}

    # ------------------------------------------------------------ wire forms
    def to_wire(self, value: Any) -> Any:
        if type(value) is CallbackProxy:
            return {"t": "cb", "v": value.ident}
        ident = self.index.get(id(value))
        if ident is None:
            ident = len(self.objects)
            self.objects.append(value)
            self.index[id(value)] = ident
        return {"t": "h", "v": ident}

    def _object(self, ident: int) -> Any:
        if not 0 <= ident < len(self.objects):
            raise CodecError(f"no object {ident}")
        return self.objects[ident]

    def _decoder(self) -> Decoder:
        return Decoder(self._object, lambda n: CallbackProxy(self, n))

    # ------------------------------------------------------------- the loop
    def serve(self, load_failure: dict[str, Any] | None = None) -> None:
        """Answer requests until the harness says goodbye or goes away (the first one
        with ``load_failure``, if the program did not load)."""
        if load_failure is not None:
            try:
                self.chan.recv()
            except ChannelError:
                return
            self._send({"load": load_failure})
            return
        while True:
            try:
                request = self.chan.recv()
            except ChannelError:
                return
            if request is None or type(request) is not dict or request.get("op") == "bye":
                return
            self.answer(request)

    def answer(self, request: dict[str, Any]) -> None:
        op = request.get("op")
        handler = _OPS.get(op) if isinstance(op, str) else None
        decoder = self._decoder()
        snapshot: list[Any] = []
        try:
            if handler is None:
                raise CodecError(f"unknown request {op!r}")
            values = [decoder.decode(node) for node in request.get("a") or []]
            snapshot = [_shallow(c) for c in decoder.registry]
            target = self._object(request["h"]) if "h" in request else None
            reply = handler(self, target, values)
        except CodecError as exc:
            reply = {"err": {"type": "TypeError", "message": f"bad request: {exc}"}}
        except BaseException as exc:  # the program's own exception: its answer
            reply = {"err": self._exception(exc)}
        _flush()
        self._add_states(reply, decoder.registry, snapshot)
        self._send(reply)

    def _send(self, reply: dict[str, Any]) -> None:
        try:
            self.chan.send(reply)
        except ChannelError:
            os._exit(0)

    def _exception(self, exc: BaseException) -> dict[str, Any]:
        info = describe(exc)
        with contextlib.suppress(Exception):
            info["args"] = Encoder(_refuse_handles).encode(tuple(exc.args))
        return info

    def _add_states(self, reply: dict[str, Any], registry: list[Any], snapshot: list[Any]) -> None:
        """New contents of the arguments the program changed, and the reply's values
        encoded with references to the arguments they contain."""
        value = reply.get("value", reply)
        if _bare(value) and not any(_changed(o, s) for o, s in zip(registry, snapshot, strict=True)):
            reply["ok"] = reply.pop("value")  # the common case: a scalar, nothing mutated
            return
        memo = {id(obj): k for k, obj in enumerate(registry)}
        encoder = Encoder(self.to_wire, memo=memo, start=len(registry))
        states = []
        try:
            for k, obj in enumerate(registry):
                if _changed(obj, snapshot[k]):
                    states.append([k, encoder.contents(obj, 0)])
            if "value" in reply:
                reply["ok"] = encoder.encode(reply.pop("value"))
        except (CodecError, RecursionError) as exc:
            reply.pop("value", None)
            reply.pop("ok", None)
            reply["err"] = {"type": "TypeError", "message": f"value cannot cross: {exc}",
                            "mro": ["TypeError", "Exception"]}
            states = []
        if states:
            reply["st"] = states

    # ----------------------------------------------------------- callbacks
    def call_back(self, ident: int, args: tuple[Any, ...]) -> Any:
        try:
            node = Encoder(self.to_wire).encode(tuple(args))
        except CodecError as exc:
            raise TypeError(str(exc)) from None
        self._send({"cb": ident, "a": node})
        while True:
            try:
                message = self.chan.recv()
            except ChannelError:
                os._exit(0)
            if message is None or type(message) is not dict:
                os._exit(0)
            if "op" in message:
                self.answer(message)  # the callback called the program again
                continue
            if "err" in message:
                err = message["err"]
                raise TypeError(f"{err.get('type')}: {err.get('message')}")
            return self._decoder().decode(message.get("ok"))


_BARE = (str, bool, float, int, type(None))  # cross as bare JSON


def _bare(value: Any) -> bool:
    return type(value) in _BARE and (type(value) is not int or -(1 << 60) < value < (1 << 60))


def _refuse_handles(value: Any) -> Any:
    raise Opaque(value)


def _shallow(obj: Any) -> Any:
    cls = type(obj)
    if cls is bytearray:
        return bytes(obj)
    if isinstance(obj, dict):
        return list(dict.items(obj))
    return list(obj)


def _changed(obj: Any, before: Any) -> bool:
    now = _shallow(obj)
    if type(obj) is bytearray:
        return bool(now != before)
    if len(now) != len(before):
        return True
    if isinstance(obj, dict):
        return any(a[0] is not b[0] or a[1] is not b[1] for a, b in zip(now, before, strict=True))
    return any(a is not b for a, b in zip(now, before, strict=True))


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()


# ------------------------------------------------------------------- the ops
def _names(server: Server, target: Any, values: list[Any]) -> dict[str, Any]:
    wanted = values[0] if values else []
    found: dict[str, Any] = {}
    namespace = server.namespace
    for name in wanted if type(wanted) is list else []:
        if type(name) is not str or name not in namespace:
            continue
        value = namespace[name]
        if isinstance(value, types.ModuleType):
            found[name] = {"mod": getattr(value, "__name__", ""), "h": server.to_wire(value)}
        else:
            found[name] = {"v": _wire_name(server, value)}
    return {"raw": found}


def _wire_name(server: Server, value: Any) -> Any:
    node = Encoder(server.to_wire).encode(value) if _is_global(value) else server.to_wire(value)
    return node


def _is_global(value: Any) -> bool:
    return isinstance(value, (type, types.BuiltinFunctionType)) and getattr(value, "__module__", None) != "solution"


def _call(server: Server, target: Any, values: list[Any]) -> dict[str, Any]:
    if len(values) != 2:
        raise CodecError("malformed call")
    args, kwargs = values
    if type(args) is not tuple or type(kwargs) is not dict or not all(type(k) is str for k in kwargs):
        raise CodecError("malformed call")
    return {"value": target(*args, **kwargs)}


def _get(server: Server, target: Any, values: list[Any]) -> dict[str, Any]:
    return {"value": getattr(target, _name(values))}


def _set(server: Server, target: Any, values: list[Any]) -> dict[str, Any]:
    if len(values) != 2:
        raise CodecError("malformed setattr")
    setattr(target, _name(values), values[1])
    return {"value": None}


def _del(server: Server, target: Any, values: list[Any]) -> dict[str, Any]:
    delattr(target, _name(values))
    return {"value": None}


def _name(values: list[Any]) -> str:
    if not values or type(values[0]) is not str:
        raise CodecError("an attribute name is required")
    return str(values[0])


def _plain(server: Server, target: Any, values: list[Any]) -> dict[str, Any]:
    try:
        return {"value": plain_of(target)}
    except LookupError:
        return {"np": _defaults(target)}


def _text(fn: Any) -> Any:
    def op(server: Server, target: Any, values: list[Any]) -> dict[str, Any]:
        try:
            base = plain_of(target)
        except LookupError:
            base = target
        return {"value": builtins.str(fn(base))}
    return op


def _iter(server: Server, target: Any, values: list[Any]) -> dict[str, Any]:
    try:
        return {"value": list(plain_of(target))}
    except LookupError:
        return {"value": iter(target)}


def _next(server: Server, target: Any, values: list[Any]) -> dict[str, Any]:
    return {"value": next(target)}


def _len(server: Server, target: Any, values: list[Any]) -> dict[str, Any]:
    try:
        return {"value": len(plain_of(target))}
    except LookupError:
        return {"value": int.__index__(len(target))}


def _item(server: Server, target: Any, values: list[Any]) -> dict[str, Any]:
    if len(values) != 1:
        raise CodecError("malformed item request")
    try:
        base = plain_of(target)
    except LookupError:
        base = target
    return {"value": base[values[0]]}


def _set_item(server: Server, target: Any, values: list[Any]) -> dict[str, Any]:
    if len(values) != 2:
        raise CodecError("malformed item assignment")
    target[values[0]] = values[1]
    return {"value": None}


def _del_item(server: Server, target: Any, values: list[Any]) -> dict[str, Any]:
    if len(values) != 1:
        raise CodecError("malformed item deletion")
    del target[values[0]]
    return {"value": None}


_OPS = {
    "names": _names,
    "call": _call,
    "get": _get,
    "set": _set,
    "del": _del,
    "plain": _plain,
    "repr": _text(repr),
    "str": _text(str),
    "iter": _iter,
    "next": _next,
    "len": _len,
    "getitem": _item,
    "setitem": _set_item,
    "delitem": _del_item,
}
