"""P's event loop: the worker's stream, the zygote, and whichever channel a run waits on.

Everything P waits for goes through :meth:`Hub.wait`, which also keeps reading the
worker's requests into memory (so the worker never blocks writing while P writes a
reply), files the zygote's answers and exit reports, and sends a heartbeat to the worker
at least every ``HEARTBEAT_S`` while P works, so a stuck agent is noticed in about a
second rather than after a program's whole budget.

Replies of a batch share writes: a reply waits up to ``REPLY_DELAY_S`` for the next ones
(Docker relays each write of the stream at ~0.09 ms of the engine's CPU, eight lines in
one write at ~0.02 ms a line); the last one of a batch, a heartbeat and any reply outside
a batch go at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import time
from collections import deque
from typing import Any

from agent.frames import Channel, ChannelError, unix_socket

__all__ = ["HEARTBEAT_S", "Hub", "ZygoteGone"]

HEARTBEAT_S = 0.5
REPLY_DELAY_S = 0.02  # the longest a judged program's reply waits to share a write (UTRS_REPLY_DELAY_S)
_OUT_MAX = 1 << 16  # buffered reply bytes that are written at once
BLANKS = 8  # blanks the zygote forks at a time
_POKE_S = 0.02  # how often P asks the zygote to reap while it waits for a child's end
_FORK_TRIES = 100  # x _POKE_S: how long P waits for the zygote to be able to fork again
_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=True).encode


class ZygoteGone(Exception):
    """The zygote died: nothing more can be spawned (the worker replaces the container)."""


class Hub:
    def __init__(self, zchan: Channel, zpid: int, infd: int, outfd: int, reply_delay_s: float = REPLY_DELAY_S) -> None:
        self.zchan = zchan
        self.reply_delay_s = reply_delay_s
        self.zpid = zpid
        self.infd = infd
        self.outfd = outfd
        self.inbuf = bytearray()
        self.requests: deque[bytes] = deque()
        self.stdin_open = True
        self.replies: dict[int, dict[str, Any]] = {}
        self.exits: dict[int, dict[str, Any]] = {}  # pid -> {"status", "cpu_s"} once reaped
        self.unreaped: set[int] = set()  # children of the zygote not reaped yet
        self.abandoned: set[int] = set()  # of those, the ones whose report nobody reads
        self.blanks: deque[tuple[int, Channel]] = deque()
        self.next_id = 0
        self.busy = False
        self.last_beat = time.monotonic()
        self.outbuf = bytearray()  # replies not written yet
        self.out_since: float | None = None  # when the oldest of them was judged

    # ------------------------------------------------------------- the worker
    def reply(self, message: dict[str, Any]) -> None:
        """Send one line to the worker: now, or within ``REPLY_DELAY_S`` inside a batch."""
        self.outbuf += (_dumps(message) + "\n").encode("ascii")
        if self.out_since is None:
            self.out_since = time.monotonic()
        if not self.busy or len(self.outbuf) >= _OUT_MAX:
            self.flush()

    def flush(self) -> None:
        """Write every buffered reply (before P exits, and wherever it must not wait)."""
        view = memoryview(self.outbuf)
        while view:
            written = os.write(self.outfd, view)
            view = view[written:]
        view.release()
        self.outbuf.clear()
        self.out_since = None
        self.last_beat = time.monotonic()

    def beat(self) -> None:
        """A heartbeat now if one is due (for long work inside P)."""
        self._beat(time.monotonic())

    def _beat(self, now: float) -> None:
        if self.out_since is not None and now - self.out_since >= self.reply_delay_s:
            self.flush()
        if self.busy and now - self.last_beat >= HEARTBEAT_S:
            self.reply({"hb": round(now, 3)})
            self.flush()

    def _read_requests(self) -> None:
        chunk = os.read(self.infd, 1 << 20)
        if not chunk:
            self.stdin_open = False
            return
        self.inbuf += chunk
        while (nl := self.inbuf.find(b"\n")) >= 0:
            line = bytes(self.inbuf[:nl]).strip()
            del self.inbuf[: nl + 1]
            if line:
                self.requests.append(line)

    def next_request(self) -> bytes | None:
        """Block until the worker sends a request; None when its stream closes."""
        while not self.requests:
            if not self.stdin_open:
                return None
            self.wait([], None)
        return self.requests.popleft()

    # ------------------------------------------------------------ the zygote
    def ask(self, message: dict[str, Any], fds: list[int] | tuple[int, ...] = (), blob: bytes = b"") -> dict[str, Any]:
        """Send a request to the zygote and wait for its answer.

        Raises:
            ZygoteGone: the zygote is dead.
        """
        self.next_id += 1
        ident = self.next_id
        try:
            self.zchan.send({**message, "id": ident, "nfds": len(fds)}, fds, blob)
        except ChannelError as exc:
            raise ZygoteGone(str(exc)) from None
        while ident not in self.replies:
            self.wait([], time.monotonic() + 30.0)
            if not self._zygote_alive():
                raise ZygoteGone("the zygote died")
        reply = self.replies.pop(ident)
        if isinstance(reply.get("pid"), int):
            self.unreaped.add(reply["pid"])
        return reply

    def blank(self) -> tuple[int, Channel]:
        """A blank child of the zygote, ready to become a program's process (asked for
        ``BLANKS`` at a time).

        Raises:
            ZygoteGone: the zygote is dead.
        """
        for _ in range(_FORK_TRIES):
            if self.blanks:
                return self.blanks.popleft()
            reply = self.ask({"op": "blanks", "n": BLANKS})
            pids = reply.get("pids") or []
            fds = self.zchan.take_fds(len(pids))
            for pid, fd in zip(pids, fds, strict=True):
                self.unreaped.add(int(pid))
                self.blanks.append((int(pid), Channel(unix_socket(fd), fds=False)))
            if not pids:  # no fork was possible (pids limit): let the clean-up catch up
                self.wait([], time.monotonic() + _POKE_S)
        raise ZygoteGone("the zygote cannot fork")

    def forget(self, pid: int) -> dict[str, Any] | None:
        """Drop what is known of a child's end (its report, if it came)."""
        return self.exits.pop(pid, None)

    def _zygote_alive(self) -> bool:
        return not self.zchan.eof

    def await_exit(self, pid: int, deadline: float) -> dict[str, Any] | None:
        """The exit report of ``pid`` (asking the zygote to reap now), or None if it did
        not come by ``deadline``."""
        while pid not in self.exits:
            if time.monotonic() >= deadline or self.zchan.eof:
                return None
            try:
                self.zchan.send({"op": "reap"})
            except ChannelError:
                return None
            self.wait([], min(deadline, time.monotonic() + _POKE_S))
        return self.exits.pop(pid)

    def kill(self, pid: int) -> None:
        """SIGKILL a child of the zygote that was not reaped yet (so its pid is still
        its own)."""
        if pid in self.unreaped:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def abandon(self, pid: int) -> None:
        """Nobody will read ``pid``'s exit report: do not keep it."""
        if self.exits.pop(pid, None) is None and pid in self.unreaped:
            self.abandoned.add(pid)

    def _zygote_messages(self) -> None:
        try:
            alive = self.zchan.pump()
            while (message := self.zchan.pop()) is not None:
                for pid, status, cpu in message.pop("exits", ()):
                    self.unreaped.discard(int(pid))
                    if int(pid) in self.abandoned:
                        self.abandoned.discard(int(pid))
                    else:
                        self.exits[int(pid)] = {"status": int(status), "cpu_s": float(cpu)}
                if "id" in message:
                    self.replies[int(message["id"])] = message
        except ChannelError:
            alive = False
        if not alive:
            self.zchan.eof = True

    # ------------------------------------------------------------- waiting
    def wait(self, chans: list[Channel], deadline: float | None, fds: tuple[int, ...] = ()) -> Channel | None:
        """A channel of ``chans`` with a whole frame buffered (or at its end), or None
        once ``deadline`` passes or one of ``fds`` is readable; with no ``chans``, None
        after one round of events (the caller then checks what it waits for). Serves the
        worker's stream and the zygote meanwhile."""
        while True:
            for chan in chans:
                if chan.has_frame() or chan.eof:
                    return chan
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return None
            self._beat(now)
            timeout = HEARTBEAT_S if deadline is None else min(HEARTBEAT_S, deadline - now)
            if self.out_since is not None:
                timeout = min(timeout, max(0.0, self.out_since + self.reply_delay_s - now))
            watched = [c.fileno() for c in chans] + list(fds)
            if not self.zchan.eof:
                watched.append(self.zchan.fileno())
            if self.stdin_open:
                watched.append(self.infd)
            ready, _, _ = select.select(watched, [], [], timeout)
            self._dispatch(ready, chans)
            if not chans or any(fd in ready for fd in fds):
                return None

    def _dispatch(self, ready: list[int], chans: list[Channel]) -> None:
        for fd in ready:
            if fd == self.infd:
                self._read_requests()
            elif fd == self.zchan.fileno():
                self._zygote_messages()
            else:
                for chan in chans:
                    if chan.fileno() == fd:
                        _pump(chan)


def _pump(chan: Channel) -> None:
    try:
        chan.pump()
    except ChannelError:
        chan.eof = True
