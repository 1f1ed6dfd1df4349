"""Messages between the agent's processes: framed JSON over unix stream sockets.

A frame is an 8-byte header (two big-endian lengths), that many bytes of JSON and that
many bytes of an optional binary blob (a marshalled code object, say). File descriptors
can travel with a frame (``SCM_RIGHTS``, attached to its first bytes); a receiver that
does not expect any (the harness reading the program's process) reads with plain
``recv_into``, which makes the kernel close whatever was attached. Lengths are bounded and
JSON errors are :class:`ChannelError`, so a hostile peer can only break its own channel.

Reads go into one buffer per channel, allocated once: a process forked from the zygote
then touches the same few pages for every message instead of fresh ones.
"""

from __future__ import annotations

import array
import contextlib
import json
import json.scanner
import os
import socket
import struct
from collections import deque
from typing import Any

__all__ = ["MAX_FRAME", "Channel", "ChannelError", "unix_socket"]

MAX_FRAME = 256 * 1024 * 1024
_HEADER = struct.Struct("!II")
_CHUNK = 1 << 16
_FDS = 16
_CMSG = socket.CMSG_SPACE(_FDS * array.array("i").itemsize)
_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=True).encode
# json.loads without its wrappers (an encoding sniffed in Python, two whitespace regexes):
# a frame is one JSON value and nothing else, as send() writes it.
_scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # typeshed: a decoder is its context


def unix_socket(fd: int) -> socket.socket:
    """A socket object over ``fd``, a unix stream socket (said, so that Python does not
    ask the kernel three times what it is)."""
    return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, fd)


class ChannelError(Exception):
    """The peer sent something that is not a frame, or the channel broke."""


class Channel:
    """One end of a message channel."""

    def __init__(self, sock: socket.socket, *, limit: int = MAX_FRAME, fds: bool = False,
                 chunk: bytearray | None = None) -> None:
        self.sock = sock
        self.limit = limit
        self.accept_fds = fds
        self.buf = bytearray()
        self.chunk = chunk  # made on the first read: many channels are only written to
        self.view: memoryview | None = memoryview(chunk) if chunk is not None else None
        self.fdq: deque[int] = deque()
        self.eof = False
        self.blob = b""  # the blob of the frame pop() returned last

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        for fd in self.fdq:
            _close(fd)
        self.fdq.clear()
        self.sock.close()

    # ---------------------------------------------------------------- sending
    def send(self, message: Any, fds: tuple[int, ...] | list[int] = (), blob: bytes = b"") -> None:
        """Send one frame (and ``fds`` with it).

        Raises:
            ChannelError: the peer is gone.
        """
        payload = _dumps(message).encode("ascii")
        data = _HEADER.pack(len(payload), len(blob)) + payload + blob
        try:
            if fds:
                sent = socket.send_fds(self.sock, [data[:_CHUNK]], list(fds))
                if sent < len(data):
                    self.sock.sendall(memoryview(data)[sent:])
            else:
                self.sock.sendall(data)
        except OSError as exc:
            raise ChannelError(f"send failed: {exc}") from None

    # -------------------------------------------------------------- receiving
    def pump(self) -> bool:
        """Read what is there (call when the socket is readable); False at end of stream.

        Raises:
            ChannelError: the stream broke.
        """
        if self.view is None:
            self.chunk = bytearray(_CHUNK)
            self.view = memoryview(self.chunk)
        try:
            if self.accept_fds:
                size, ancillary, _, _ = self.sock.recvmsg_into([self.view], _CMSG)
                for level, kind, data in ancillary:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds = array.array("i")
                        fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
                        self.fdq.extend(fds)
            else:
                size = self.sock.recv_into(self.view)
        except OSError as exc:
            raise ChannelError(f"receive failed: {exc}") from None
        if not size:
            self.eof = True
            return False
        self.buf += self.view[:size]
        return True

    def _sizes(self) -> tuple[int, int] | None:
        if len(self.buf) < _HEADER.size:
            return None
        first, second = _HEADER.unpack_from(self.buf)
        return first, second

    def has_frame(self) -> bool:
        """Whether a whole frame is buffered (or a bad length, which pop reports)."""
        sizes = self._sizes()
        if sizes is None:
            return False
        total = sizes[0] + sizes[1]
        return total > self.limit or len(self.buf) >= _HEADER.size + total

    def pop(self) -> Any | None:
        """The next complete frame's message, or None if none is buffered (its blob is
        then in ``self.blob``).

        Raises:
            ChannelError: a frame over the limit or not JSON.
        """
        sizes = self._sizes()
        if sizes is None:
            return None
        size, blob = sizes
        if size + blob > self.limit:
            raise ChannelError(f"frame of {size + blob} bytes is over the limit of {self.limit}")
        end = _HEADER.size + size
        if len(self.buf) < end + blob:
            return None
        raw = self.buf[_HEADER.size : end]
        self.blob = bytes(self.buf[end : end + blob]) if blob else b""
        del self.buf[: end + blob]
        try:
            text = raw.decode("utf-8", "surrogatepass")
            message, stop = _scan(text, 0)
        except StopIteration:
            raise ChannelError("frame is not JSON: no value") from None
        except (ValueError, RecursionError) as exc:
            raise ChannelError(f"frame is not JSON: {exc}") from None
        if stop != len(text):
            raise ChannelError(f"frame is not JSON: extra data at {stop}")
        return message

    def recv(self) -> Any | None:
        """Block until a frame arrives; None at end of stream.

        Raises:
            ChannelError: as :meth:`pop` and :meth:`pump`.
        """
        while True:
            message = self.pop()
            if message is not None:
                return message
            if self.eof or not self.pump():
                return None

    def take_fds(self, n: int) -> list[int]:
        """The next ``n`` descriptors that arrived.

        Raises:
            ChannelError: fewer arrived.
        """
        if len(self.fdq) < n:
            raise ChannelError(f"expected {n} descriptors, got {len(self.fdq)}")
        return [self.fdq.popleft() for _ in range(n)]


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
