"""The zygote (Z): forks every other process of a run, and reaps them.

Z is forked by P at start-up, before any request arrived, so its memory holds nothing
of any test. It has imported the code its children need and frozen its objects out of
the garbage collector's reach, so a child starts with a small, shared memory image: P's
own pages (the requests, the expected answers) are never copied into anyone.

Requests from P (one frame each, descriptors attached):

    {"op": "blanks", "id", "n"}  -> {"id", "pids": [...]} + a channel to each blank (the
        blank, handed {"op": "x", ...} and X's descriptors by P, becomes X: below)
    {"op": "x", "id", "uid", "mode", "src", "workdir", "limits", ...} + [0, 1, 2, chan]
        + the marshalled code               -> {"id", "pid"}
    {"op": "h", "id", "uid", "limits"} + [chan]        -> {"id", "pid"}
    {"op": "clean", "id", "uid", "paths": [...]}        -> {"id", "pid"}

and, in ``"exits"`` of its next message (at most 50 ms later), ``[pid, wstatus, cpu_s]``
of every child that ended (``wait4``: the child's own CPU time and that of the
descendants it waited for).
Z runs no code of a program or a test, and does as little as it can between forks:
every page it touches after a fork costs it a fault. P compiles programs (in a warm
process compiling costs a tenth of what it costs in a fresh fork) and sends the code
marshalled, with the request.
"""

from __future__ import annotations

import gc
import importlib
import marshal
import os
import select
import socket
from typing import Any

from agent import harness, program, proxy, xserver  # noqa: F401  (imported for the children)
from agent.clean import clean
from agent.frames import Channel, ChannelError, unix_socket
from agent.rlimits import CHAN_FD, child_signals, enter, preload

__all__ = ["Zygote", "start"]



#: Standard modules programs often import that the agent itself does not: imported once
#: here, a program finds them loaded (``import string`` in a fresh process compiles a
#: regular expression: 2.5 ms; ``heapq`` 1.3 ms, ``bisect`` 1 ms, ``cmath`` 0.5 ms),
#: for ~180 KiB more of the zygote's memory (45 more pages copied at each fork). Not
#: ``random`` (it reseeds in every forked child, used or not) nor ``hashlib`` (560 KiB).
PRELOADED = ("bisect", "cmath", "heapq", "string")
_REAP_EVERY_S = 0.05  # while children are unreaped and no request comes
_DEVNULL: list[int] = []  # the zygote's /dev/null, opened once: a child's missing standard fds


class Zygote:
    def __init__(self, chan: Channel) -> None:
        self.chan = chan
        self.children = 0  # forked, not yet reaped
        self.exits: list[list[Any]] = []  # reaped, not yet reported: [pid, status, cpu_s]

    def serve(self) -> None:
        """Requests as they come; children are reaped then (and every 50 ms while some are
        left), so a busy zygote wakes once per request, not once per child too."""
        fd = self.chan.fileno()
        while True:
            ready, _, _ = select.select([fd], [], [], _REAP_EVERY_S if self.children else None)
            self._reap()
            if ready:
                self._requests()
            elif self.exits:
                self._send({})  # exit reports alone

    def _requests(self) -> None:
        try:
            if not self.chan.pump():
                os._exit(0)  # P is gone
            while (message := self.chan.pop()) is not None:
                self._handle(message)
        except ChannelError:
            os._exit(0)

    def _send(self, message: dict[str, Any]) -> None:
        if self.exits:
            message["exits"] = self.exits
            self.exits = []
        try:
            self.chan.send(message)
        except ChannelError:
            os._exit(0)

    def _handle(self, message: dict[str, Any]) -> None:
        fds = self.chan.take_fds(int(message.get("nfds", 0)))
        try:
            op = message.get("op")
            if op == "blanks":
                self._blanks(message)
            elif op == "x":
                self._program(message, fds)
            elif op == "h":
                self._fork(message, fds, _harness_main)
            elif op == "reap":
                self._send({})  # what _reap (before every request) found
            elif op == "clean":
                paths = [str(p) for p in message.get("paths") or []]
                home = message.get("home")
                self._fork(message, [], lambda: clean(paths, str(home) if home else None))
        finally:
            for fd in fds:
                os.close(fd)

    # ----------------------------------------------------------------- children
    def _blanks(self, spec: dict[str, Any]) -> None:
        """Fork ``n`` blanks in a row: children that wait, still in the zygote's image,
        for P to give each a program (and its descriptors) over a channel of its own.
        Forking them together, with nothing in between, is what keeps the zygote's
        cost per program near a bare fork's."""
        n = max(1, min(int(spec.get("n", 1)), 16))
        pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(n)]
        ends = [(mine.detach(), other.detach()) for mine, other in pairs]  # raw from here on
        row = (self.chan.fileno(), *(fd for pair in ends for fd in pair))
        pids: list[int] = []
        for mine, _ in ends:  # nothing between two forks but the fork
            try:
                pid = os.fork()
            except OSError:  # the container's pids limit (a fork bomb being cleaned up): fewer
                break
            if pid == 0:
                _blank_main(mine, row)
            pids.append(pid)
        self.children += len(pids)
        try:
            self._send_fds({"id": spec["id"], "pids": pids}, [other for _, other in ends[: len(pids)]])
        finally:
            for pair in ends:
                for fd in pair:
                    os.close(fd)

    def _send_fds(self, message: dict[str, Any], fds: list[int]) -> None:
        if self.exits:
            message["exits"] = self.exits
            self.exits = []
        try:
            self.chan.send(message, fds)
        except ChannelError:
            os._exit(0)

    def _program(self, spec: dict[str, Any], fds: list[int]) -> None:
        source = str(spec.get("src") or "")
        blob = self.chan.blob  # the code P compiled, marshalled (empty: X compiles)

        def main() -> None:
            code = marshal.loads(blob) if blob else None
            program.main(spec, code, source, Channel(unix_socket(CHAN_FD), chunk=program.CHUNK))

        self._fork(spec, fds, main)

    def _fork(self, spec: dict[str, Any], fds: list[int], body: Any) -> None:
        try:
            pid = os.fork()
        except OSError as exc:
            self._send({"id": spec["id"], "error": f"fork failed: {exc}"})
            return
        if pid == 0:
            _child(spec, fds, body)
        self.children += 1
        self._send({"id": spec["id"], "pid": pid})

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                self.children = 0
                return
            if pid == 0:
                return
            self.children -= 1
            self.exits.append([pid, status, usage.ru_utime + usage.ru_stime])


def _child(spec: dict[str, Any], fds: list[int], body: Any) -> None:
    """In the forked child: jail, then the child's body. Never returns."""
    try:
        devnull = _DEVNULL[0]
        given = list(fds)
        layout = given[:3] + [devnull] * (3 - len(given[:3])) + given[3:4]
        if spec.get("op") == "h" and given:
            layout = [devnull, devnull, devnull, given[0]]
        enter(spec, layout)
    except BaseException:
        os._exit(70)
    try:
        body()
    except BaseException:
        os._exit(71)
    os._exit(0)


def _blank_main(sock_fd: int, row: tuple[int, ...]) -> None:
    """A blank: wait for P's program, then become its process X. Never returns.

    ``sock_fd`` is its end of its channel to P; the other descriptors of ``row`` (the
    zygote's channel, both ends of the other blanks' channels forked in the same row) are
    none of its business: it closes them, so that P sees another blank's end of stream.
    The assignment is ``{"op": "x", ...}`` as the zygote's, with X's descriptors and the
    marshalled code; a closed channel (P gave the blank back) ends it. The channel reads
    into the buffer X's channel uses later (shared with the zygote until written): a
    fresh 64 KiB buffer would cost a page fault for each of its pages."""
    try:
        for fd in row:
            if fd != sock_fd:
                os.close(fd)
        chan = Channel(unix_socket(sock_fd), fds=True, chunk=program.CHUNK)
        spec = chan.recv()
        if type(spec) is not dict:
            os._exit(0)
        fds = chan.take_fds(int(spec.get("nfds", 0)))
        blob = chan.blob
    except BaseException:
        os._exit(72)
    source = str(spec.get("src") or "")

    def main() -> None:
        code = marshal.loads(blob) if blob else None
        program.main(spec, code, source, Channel(unix_socket(CHAN_FD), chunk=program.CHUNK))

    _child(spec, fds, main)


def _harness_main() -> None:
    harness.Harness(Channel(unix_socket(CHAN_FD), fds=True)).serve()


def start(close: tuple[int, ...] = ()) -> tuple[int, Channel]:
    """Fork the zygote (closing ``close`` in it: P's descriptors); its pid and P's end
    of its channel."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        mine.close()
        for fd in close:
            os.close(fd)
        preload()
        for name in PRELOADED:
            importlib.import_module(name)
        child_signals()
        program.prepare()
        program.warm_up()
        _DEVNULL.append(os.open(os.devnull, os.O_RDWR))
        gc.collect()
        gc.freeze()
        try:
            Zygote(Channel(theirs, fds=True)).serve()
        finally:
            os._exit(0)
    theirs.close()
    return pid, Channel(mine, fds=True)
