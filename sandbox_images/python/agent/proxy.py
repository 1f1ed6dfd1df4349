"""The harness's side of the proxy: test code in H calls the program's functions in X.

A :class:`Remote` is H's connection to one X. Names the tests take from the program are
bound to :class:`Handle` objects; calling one sends the arguments to X (see
:mod:`agent.codec`), X runs the program's function and answers with the return value,
the new contents of any argument it mutated (applied here, in place, to the test's own
objects) or the exception it raised. While X runs, it may call back a function the test
passed to it (a ``lambda``); H runs that and answers. What handles may do is in
:mod:`agent.handle`.
"""

from __future__ import annotations

import contextlib
import select
from typing import Any

from agent.codec import CodecError, Encoder, Opaque, builtin_exception
from agent.decode import Decoder
from agent.frames import Channel, ChannelError
from agent.handle import Handle, no_plain
from agent.watch import ENDED, READY, Watch

__all__ = ["LoadFailed", "ProgramError", "ProgramGone", "Remote", "remote_info"]

_REMOTE = "__utrs_remote__"


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


class ProgramError(Exception):
    """An exception of a class the program defined, raised in X."""


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
        if op == "call" and not values[1] and all(map(_bare, values[0])):
            # the common case: scalar arguments, no keywords (X numbers the empty keywords dict)
            self._send({"op": op, "a": [{"t": "u", "v": list(values[0])}, {"t": "d", "v": []}], **fields})
            return self._await([{}])
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
                state = self.watch.wait(chan.fileno()) if self.watch is not None else READY
                if state == READY or _readable(chan.fileno()):
                    chan.pump()  # what X wrote before it ended is still read
                elif state == ENDED:
                    self._lose("the program's process ended")
                else:
                    self._lose("ran out of time")
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
        value = reply.get("ok", reply)
        if type(value) in _BARE and len(reply) == 1:
            return value  # a scalar, nothing mutated: nothing to decode
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
                raise no_plain(reply["np"])
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


_BARE = (str, bool, float, int, type(None))


def _bare(value: Any) -> bool:
    return type(value) in _BARE and (type(value) is not int or -(1 << 60) < value < (1 << 60))


def _readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])
