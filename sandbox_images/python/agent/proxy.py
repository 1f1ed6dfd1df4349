"""The harness's side of the proxy: test code in H calls the program's functions in X.

A :class:`Remote` is H's connection to one X. Names the tests take from the program are
bound to :class:`Handle` objects; calling one sends the arguments to X (see
:mod:`agent.codec`), X runs the program's function and answers with the return value,
the new contents of any argument it mutated (applied here, in place, to the test's own
objects) or the exception it raised. While X runs, it may call back a function the test
passed to it (a ``lambda``); H runs that and answers.

A handle can be called, passed back, have its attributes read and set and its items and
iteration used (each answer crossing as a value), but comparing, hashing, truth-testing,
``in``, ``len`` and arithmetic first convert it to plain data by its builtin base type (an
``int`` subclass becomes that ``int``; a custom object refuses with a ``TypeError``): no
``__eq__``, ``__hash__`` or ``__bool__`` of the program ever decides anything here.
"""

from __future__ import annotations

import builtins
import contextlib
import operator
import select
import time
from collections.abc import Callable, Iterator
from typing import Any

from agent.codec import CodecError, Decoder, Encoder, Opaque, builtin_exception
from agent.frames import Channel, ChannelError

__all__ = ["Handle", "LoadFailed", "NoPlain", "ProgramError", "ProgramGone", "Remote", "Watch", "plain_of_handle",
           "remote_info"]

_REMOTE = "__utrs_remote__"
_FORWARDED_DUNDERS = frozenset({"__name__", "__qualname__", "__doc__", "__module__"})


class ProgramGone(BaseException):
    """X went away (exited, was killed, or broke the protocol) during a request;
    ``timeout`` is "wall" or "cpu" when H had it killed for running out of time.

    A BaseException so that no ``except Exception`` in test code swallows it."""

    def __init__(self, why: str, timeout: str | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.timeout = timeout


class LoadFailed(Exception):
    """The program did not load (X answered the first request with why)."""

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__("the program did not load")
        self.report = report


class Watch:
    """The time budget of what H is waiting for: a wall-clock deadline and X's CPU.

    ``expire(reason)`` is called once when the budget is spent (H then asks P to kill
    X); X's CPU time is read from the kernel only when it could be over its limit."""

    def __init__(self, cpu_ms: Callable[[], float], expire: Callable[[str], None]) -> None:
        self.cpu_ms = cpu_ms
        self.expire = expire
        self.deadline = float("inf")
        self.limit_ms = float("inf")
        self.cpu0 = 0.0
        self.checked = (0.0, 0.0)  # (monotonic time, CPU used then)
        self.expired: str | None = None

    def begin(self, wall_s: float, cpu_s: float, *, cpu0: float | None = None) -> None:
        now = time.monotonic()
        self.deadline = now + wall_s
        self.limit_ms = cpu_s * 1e3
        self.cpu0 = self.cpu_ms() if cpu0 is None else cpu0
        self.checked = (now, 0.0)
        self.expired = None

    def used_ms(self) -> float:
        return self.cpu_ms() - self.cpu0

    def wait(self, fd: int) -> None:
        """Until ``fd`` is readable or the budget is spent (then ``expire`` was called)."""
        while self.expired is None:
            now = time.monotonic()
            if now >= self.deadline:
                return self._expire("wall")
            at, used = self.checked
            # X runs on at most 2 CPUs: it cannot have used more than this by now.
            bound = used + 2e3 * (now - at)
            if bound > self.limit_ms:
                used = self.used_ms()
                self.checked = (now, used)
                if used > self.limit_ms:
                    return self._expire("cpu")
            step = min(self.deadline - now, max(0.005, (self.limit_ms - used) / 2e3))
            if select.select([fd], [], [], step)[0]:
                return None
        return None

    def _expire(self, reason: str) -> None:
        self.expired = reason
        self.expire(reason)


class ProgramError(Exception):
    """An exception of a class the program defined, raised in X."""


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


def remote_info(exc: BaseException) -> dict[str, Any] | None:
    """X's report of ``exc`` if ``exc`` stands for an exception raised in the program."""
    info = getattr(exc, _REMOTE, None)
    return info if isinstance(info, dict) else None


def _exception_from(info: dict[str, Any], args: Any) -> BaseException:
    name = info.get("type")
    message = str(info.get("message") or "")
    cls = builtin_exception(name) if isinstance(name, str) and "." not in name else None
    exc: BaseException
    if cls is None:
        exc = ProgramError(f"{name}: {message}" if message else str(name))
    else:
        try:
            exc = cls(*args) if isinstance(args, tuple) else cls(message)
        except Exception:
            exc = cls.__new__(cls)
            exc.args = (message,)
    with contextlib.suppress(AttributeError):
        setattr(exc, _REMOTE, info)
    return exc


class Remote:
    """H's end of the channel to one X, and the handles that stand for X's objects."""

    def __init__(self, chan: Channel, watch: Watch | None = None) -> None:
        self.chan = chan
        self.watch = watch
        self.handles: dict[int, Handle] = {}
        self.callbacks: list[Any] = []
        self.gone: str | None = None
        self.waiting = False  # in a request: a harness timer must not interrupt it

    # ------------------------------------------------------------ handles
    def handle(self, ident: int, name: str = "") -> Handle:
        found = self.handles.get(ident)
        if found is None:
            found = Handle(self, ident, name)
            self.handles[ident] = found
        return found

    def _callback(self, ident: int) -> Any:
        if not 0 <= ident < len(self.callbacks):
            raise CodecError(f"callback {ident} does not exist")
        return self.callbacks[ident]

    def _to_wire(self, value: Any) -> Any:
        if type(value) is Handle:
            return {"t": "h", "v": object.__getattribute__(value, "_id")}
        if callable(value):
            self.callbacks.append(value)
            return {"t": "cb", "v": len(self.callbacks) - 1}
        raise Opaque(value)

    # ----------------------------------------------------------- requests
    def request(self, op: str, *values: Any, **fields: Any) -> Any:
        """Send ``op`` with ``values`` (crossing as values) and return X's answer.

        Raises:
            ProgramGone: X is gone or broke the protocol.
            TypeError: a value the test passes cannot cross.
            BaseException: the exception the program raised, rebuilt here.
        """
        if self.gone is not None:
            raise ProgramGone(self.gone)
        encoder = Encoder(self._to_wire)
        try:
            nodes = [encoder.encode(v) for v in values]
        except Opaque as exc:
            raise TypeError(f"{exc}: only plain data and the program's own objects can be passed") from None
        except CodecError as exc:
            raise TypeError(str(exc)) from None
        self._send({"op": op, "a": nodes, **fields})
        return self._await(encoder.keep)

    def _send(self, message: dict[str, Any]) -> None:
        try:
            self.chan.send(message)
        except ChannelError as exc:
            self._lose(f"the program's process stopped listening ({exc})")

    def _lose(self, why: str) -> None:
        timeout = self.watch.expired if self.watch is not None else None
        if timeout is not None:
            why = f"ran out of time ({timeout})"
        self.gone = why
        raise ProgramGone(why, timeout)

    def _recv(self) -> Any:
        """X's next message, waiting under the watch (None at the end of the stream)."""
        chan = self.chan
        self.waiting = True
        try:
            while not chan.has_frame() and not chan.eof:
                if self.watch is not None and self.watch.expired is None:
                    self.watch.wait(chan.fileno())
                chan.pump()
            return chan.pop()
        finally:
            self.waiting = False

    def _await(self, sent: list[Any]) -> Any:
        while True:
            try:
                reply = self._recv()
            except ChannelError as exc:
                self._lose(f"the program's process broke the protocol: {exc}")
            if reply is None:
                self._lose("the program's process ended")
            if type(reply) is not dict:
                self._lose("the program's process sent a malformed reply")
            if "load" in reply:
                report = reply["load"]
                raise LoadFailed(report if type(report) is dict else {})
            if "cb" in reply:
                self._serve_callback(reply)
                continue
            return self._answer(reply, sent)

    def decode(self, node: Any) -> Any:
        """A value node of X's (outside a request), e.g. from the names answer.

        Raises:
            ProgramGone: it does not decode.
        """
        try:
            return self._decoder().decode(node)
        except CodecError as exc:
            self._lose(f"the program's process sent a value that does not decode: {exc}")

    def _decoder(self, registry: list[Any] | None = None) -> Decoder:
        return Decoder(self.handle, self._callback, registry)

    def _answer(self, reply: dict[str, Any], sent: list[Any]) -> Any:
        decoder = self._decoder(list(sent))
        try:
            self._apply_states(decoder, reply.get("st"), len(sent))
            if "err" in reply:
                info = reply["err"]
                if type(info) is not dict:
                    raise CodecError("malformed exception report")
                args = decoder.decode(info.get("args")) if "args" in info else None
                raise _exception_from(info, args if isinstance(args, tuple) else None)
            if "np" in reply:
                raise _no_plain(reply["np"])
            if "raw" in reply:
                return reply["raw"]  # wire nodes the caller decodes (names)
            if "ok" not in reply:
                raise CodecError("reply without a value")
            return decoder.decode(reply["ok"])
        except CodecError as exc:
            self._lose(f"the program's process sent a value that does not decode: {exc}")

    @staticmethod
    def _apply_states(decoder: Decoder, states: Any, n_sent: int) -> None:
        if states is None:
            return
        if type(states) is not list:
            raise CodecError("malformed argument states")
        for entry in states:
            if type(entry) is not list or len(entry) != 2 or type(entry[0]) is not int:
                raise CodecError("malformed argument state")
            index, node = entry
            if not 0 <= index < n_sent:
                raise CodecError(f"state for argument container {index} that was not sent")
            decoder.decode_into(decoder.registry[index], node)

    def _serve_callback(self, request: dict[str, Any]) -> None:
        """X called a function the test gave it: run it here and answer."""
        try:
            fn = self._callback(request["cb"])
            decoded = self._decoder().decode(request.get("a"))
            args = decoded if isinstance(decoded, tuple) else ()
        except (CodecError, KeyError, TypeError) as exc:
            self._lose(f"the program's process sent a malformed callback: {exc}")
        encoder = Encoder(self._to_wire)
        try:
            node = {"ok": encoder.encode(fn(*args))}
        except (Opaque, CodecError) as exc:
            node = {"err": {"type": "TypeError", "message": str(exc)}}
        except Exception as exc:  # the test's own function raised: X sees a TypeError-like error
            node = {"err": {"type": type(exc).__name__, "message": str(exc)}}
        self._send(node)


def _no_plain(node: Any) -> NoPlain:
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
