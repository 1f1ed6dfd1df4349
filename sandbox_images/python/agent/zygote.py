"""The zygote (Z): forks every other process of a run, and reaps them.

Z is forked by P at start-up, before any request arrived, so its memory holds nothing
of any test. It has imported the code its children need and frozen its objects out of
the garbage collector's reach, so a child starts with a small, shared memory image: P's
own pages (the requests, the expected answers) are never copied into anyone.

Requests from P (one frame each, descriptors attached):

    {"op": "x", "id", "uid", "mode", "src", "workdir", "limits", ...} + [0, 1, 2, chan]
        + the marshalled code               -> {"id", "pid"}
    {"op": "h", "id", "uid", "limits"} + [chan]        -> {"id", "pid"}
    {"op": "clean", "id", "uid", "paths": [...]}        -> {"id", "pid"}

and for every child, when it ends: ``{"exit": pid, "status": wstatus, "cpu_s": user+sys}``
(``wait4``: the child's own CPU time and that of the descendants it waited for).
Z runs no code of a program or a test, and does as little as it can between forks:
every page it touches after a fork costs it a fault. P compiles programs (in a warm
process compiling costs a tenth of what it costs in a fresh fork) and sends the code
marshalled, with the request.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import os
import select
import signal
import socket
import stat
from typing import Any

from agent import harness, program, proxy, xserver  # noqa: F401  (imported for the children)
from agent.frames import Channel, ChannelError
from agent.rlimits import CHAN_FD, enter, preload

__all__ = ["Zygote", "start"]



class Zygote:
    def __init__(self, chan: Channel) -> None:
        self.chan = chan
        self.children: dict[int, int] = {}  # pidfd -> pid

    def serve(self) -> None:
        while True:
            ready, _, _ = select.select([self.chan.fileno(), *self.children], [], [])
            for fd in ready:
                if fd == self.chan.fileno():
                    self._requests()
                else:
                    self._reap(fd)

    def _requests(self) -> None:
        try:
            if not self.chan.pump():
                os._exit(0)  # P is gone
            while (message := self.chan.pop()) is not None:
                self._handle(message)
        except ChannelError:
            os._exit(0)

    def _send(self, message: dict[str, Any]) -> None:
        try:
            self.chan.send(message)
        except ChannelError:
            os._exit(0)

    def _handle(self, message: dict[str, Any]) -> None:
        fds = self.chan.take_fds(int(message.get("nfds", 0)))
        try:
            op = message.get("op")
            if op == "x":
                self._program(message, fds)
            elif op == "h":
                self._fork(message, fds, _harness_main)
            elif op == "clean":
                paths = [str(p) for p in message.get("paths") or []]
                home = message.get("home")
                self._fork(message, [], lambda: _cleaner_main(paths, str(home) if home else None))
        finally:
            for fd in fds:
                os.close(fd)

    # ----------------------------------------------------------------- children
    def _program(self, spec: dict[str, Any], fds: list[int]) -> None:
        source = str(spec.get("src") or "")
        blob = self.chan.blob  # the code P compiled, marshalled (empty: X compiles)

        def main() -> None:
            code = marshal.loads(blob) if blob else None
            program.main(spec, code, source, Channel(socket.socket(fileno=CHAN_FD), chunk=program.CHUNK))

        self._fork(spec, fds, main)

    def _fork(self, spec: dict[str, Any], fds: list[int], body: Any) -> None:
        pid = os.fork()
        if pid == 0:
            _child(spec, fds, body)
        pidfd = os.pidfd_open(pid)
        self.children[pidfd] = pid
        self._send({"id": spec["id"], "pid": pid})

    def _reap(self, pidfd: int) -> None:
        pid = self.children.pop(pidfd)
        os.close(pidfd)
        try:
            _, status, usage = os.wait4(pid, 0)
        except ChildProcessError:
            status, cpu = -1, 0.0
        else:
            cpu = usage.ru_utime + usage.ru_stime
        self._send({"exit": pid, "status": status, "cpu_s": cpu})


def _child(spec: dict[str, Any], fds: list[int], body: Any) -> None:
    """In the forked child: jail, then the child's body. Never returns."""
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
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


def _harness_main() -> None:
    harness.Harness(Channel(socket.socket(fileno=CHAN_FD), fds=True)).serve()


def _cleaner_main(paths: list[str], home: str | None) -> None:
    """Runs as the uid to clean: end all its processes (``kill(-1)`` reaches exactly the
    processes of this uid, and a fork cannot slip past it), remove ``paths`` (what P found
    it left in the shared directories), and empty and reset its work directory ``home``."""
    for _ in range(3):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            break
    uid = os.getuid()
    for path in paths:
        if os.path.isdir(path) and not os.path.islink(path):
            _remove_tree(path)
        else:
            _unlink(path)
    if home:
        try:
            os.mkdir(home, 0o700)
        except FileExistsError:
            os.chmod(home, 0o700)
        _remove_owned(home, uid, keep=None)


def _remove_owned(path: str, uid: int, keep: str | None) -> None:
    """Remove every entry directly below ``path`` that ``uid`` owns, with its contents."""
    try:
        entries = list(os.scandir(path))
    except OSError:
        return
    for entry in entries:
        try:
            est = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if est.st_uid != uid or entry.path == keep:
            continue
        if stat.S_ISDIR(est.st_mode):
            _remove_tree(entry.path)
        else:
            _unlink(entry.path)


def _remove_tree(path: str) -> None:
    try:
        os.chmod(path, 0o700)
        entries = list(os.scandir(path))
    except OSError:
        entries = []
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            _remove_tree(entry.path)
        else:
            _unlink(entry.path)
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def start() -> tuple[int, Channel]:
    """Fork the zygote; its pid and P's end of its channel."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        mine.close()
        preload()
        program.prepare()
        program.warm_up()
        gc.collect()
        gc.freeze()
        try:
            Zygote(Channel(theirs, fds=True)).serve()
        finally:
            os._exit(0)
    theirs.close()
    return pid, Channel(mine)
