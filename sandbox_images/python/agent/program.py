"""The program's process (X): everything here runs after the privilege drop, beside the
program, and is untrusted territory from the first line of the program on.

Modes:

* ``serve``: load the program as module ``solution`` and answer the harness's requests
  (:mod:`agent.xserver`) over the channel until it says goodbye;
* ``stdio``: run the program as ``__main__`` with the case's input on stdin; on an
  uncaught exception, describe it on the channel and exit with status 1;
* ``legacy`` (``trust: "in_process"``): load the program and the setup in one namespace
  and run the cases here, reporting each outcome on the channel (forgeable by design).
"""

from __future__ import annotations

import builtins
import contextlib
import io
import linecache
import os
import sys
import types
from typing import Any

from agent.describe import PROGRAM_FILE, describe, exit_code
from agent.frames import Channel, ChannelError

__all__ = ["main", "prepare"]


CHUNK = bytearray(1 << 16)  # the read buffer of X's channel, shared with the zygote until written


def prepare() -> None:
    """In the zygote, once for all its children: sys.stdin/stdout/stderr over fds 0/1/2
    (which each child points at its own files before anything runs), as a new
    interpreter has them; HOME and TMPDIR are the child's working directory. Made here,
    a child finds them in place instead of writing to pages it shares with the zygote."""
    stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
    stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
    stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8",
                              errors="backslashreplace", line_buffering=True)
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = stdin, stdout, stderr  # type: ignore[misc]
    os.environ["HOME"] = os.environ["TMPDIR"] = "."


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()


def _module(name: str, source: str, workdir: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = PROGRAM_FILE
    module.__builtins__ = builtins  # type: ignore[attr-defined]
    sys.modules[name] = module
    sys.argv = [PROGRAM_FILE]
    sys.path[0] = workdir
    linecache.cache[PROGRAM_FILE] = (len(source), None, source.splitlines(True), PROGRAM_FILE)
    return module


def _join_threads() -> None:
    """Like interpreter shutdown: wait for the program's non-daemon threads."""
    threading = sys.modules.get("threading")
    if threading is None:
        return
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()


def _send(chan: Channel, message: dict[str, Any]) -> None:
    try:
        chan.send(message)
    except ChannelError:
        os._exit(0)


def main(spec: dict[str, Any], code: types.CodeType | None, source: str, chan: Channel) -> None:
    """Run the program in the mode ``spec["mode"]`` says. Never returns."""
    try:
        if code is None:
            code = compile(source, PROGRAM_FILE, "exec", dont_inherit=True)
    except BaseException as exc:
        _flush()
        _send(chan, {"loaded": False, "error": describe(exc)})
        os._exit(1)
    mode = spec.get("mode")
    if mode == "stdio":
        _stdio(code, source, spec, chan)
    elif mode == "legacy":
        _legacy(code, source, spec, chan)
    else:
        _serve(code, source, spec, chan)
    os._exit(0)


def _load(code: types.CodeType, module: types.ModuleType) -> dict[str, Any] | None:
    """Execute the program; None if it loaded, else the report of why not.

    An exit while loading (``sys.exit(0)`` at the top level included) is not a load: the
    tests never ran, so the program cannot pass them."""
    failure: dict[str, Any] | None
    try:
        exec(code, module.__dict__)
    except SystemExit as exc:
        failure = {"loaded": False, "exit": True, "error": describe(exc)}
    except BaseException as exc:
        failure = {"loaded": False, "error": describe(exc)}
    else:
        failure = None
    _flush()
    return failure


def _serve(code: types.CodeType, source: str, spec: dict[str, Any], chan: Channel) -> None:
    from agent.xserver import Server

    module = _module("solution", source, spec["workdir"])
    failure = _load(code, module)
    Server(chan, module.__dict__).serve(failure)
    _flush()
    os._exit(0)


def _stdio(code: types.CodeType, source: str, spec: dict[str, Any], chan: Channel) -> None:
    module = _module("__main__", source, spec["workdir"])
    status = 0
    try:
        exec(code, module.__dict__)
        _join_threads()
    except SystemExit as exc:
        status = exit_code(exc)
        if status:
            _send(chan, {"error": describe(exc)})
        else:
            _join_threads()
    except BaseException as exc:
        status = 1
        _send(chan, {"error": describe(exc)})
    _flush()
    os._exit(status)


def _legacy(code: types.CodeType, source: str, spec: dict[str, Any], chan: Channel) -> None:
    from agent.harness import Session, run_in_process
    from agent.outcomes import load_event
    from agent.suite import Suite

    def report(event: dict[str, Any]) -> None:
        _flush()
        _send(chan, event)

    module = _module("solution", source, spec["workdir"])
    failure = _load(code, module)
    suite = Suite.build(spec["suite"])
    if failure:
        session = Session(suite, spec, None, [1, 2])
        event = load_event(failure)
        session.load_failed(event["status"], event["error"])
        report(session.done)
    else:
        run_in_process(suite, spec, module.__dict__, report)
    _flush()
    os._exit(0)


_WARM_SOURCE = '''
class _Box:
    def __init__(self, v):
        self.v = v
def add(a, b):
    return a + b
def boom(x):
    return {"k": [x, (x,), {x}]}[x]
'''


def warm_up(rounds: int = 64) -> None:
    """In the zygote: run the program process's code paths (load, requests, replies,
    exception reports) until the interpreter has specialised their bytecode, so a child
    does not rewrite those pages, which it shares with the zygote, on its first request."""
    import socket

    from agent.codec import Encoder
    from agent.xserver import Server

    mine, theirs = socket.socketpair()
    try:
        chan = Channel(theirs)
        peer = Channel(mine)
        module = types.ModuleType("_warm")
        exec(compile(_WARM_SOURCE, PROGRAM_FILE, "exec", dont_inherit=True), module.__dict__)
        server = Server(chan, module.__dict__)
        encode = Encoder(lambda v: {"t": "h", "v": 0}).encode
        names = {"op": "names", "a": [encode(["add", "boom", "_Box"])]}
        for _ in range(rounds):
            server.objects.clear()
            server.index.clear()
            server.answer(names)
            for request in ({"op": "call", "h": 0, "a": [encode((1, 2)), {"t": "d", "v": []}]},
                            {"op": "call", "h": 1, "a": [encode((3,)), {"t": "d", "v": []}]},
                            {"op": "call", "h": 2, "a": [encode(([1, 2],)), {"t": "d", "v": []}]}):
                server.answer(request)
            while peer.pump() and peer.has_frame():
                while peer.pop() is not None:
                    pass
                if not len(peer.buf) and not _readable(mine):
                    break
    finally:
        mine.close()
        theirs.close()


def _readable(sock: Any) -> bool:
    import select

    return bool(select.select([sock], [], [], 0)[0])
