"""The attached stream to one container's agent: JSON lines out, Docker-multiplexed JSON
lines back, with a deadline on every read.

While it works the agent sends a heartbeat line at least every half second; a reply
read skips them but gives up after ``idle_s`` without any line, so a stuck agent is
noticed in seconds rather than after the program's whole budget.

Docker frames an attached stream as ``[type, 0, 0, 0, size (4 bytes)] + payload``; only
stdout frames carry replies. A closed or broken stream is :class:`AgentDied`, no reply in
time :class:`AgentTimeout`, anything unreadable :class:`AgentProtocolError`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Mapping
from typing import Any, cast

from service.errors import AgentDied, AgentProtocolError, AgentTimeout
from service.sandbox.protocol import Op, Reply

__all__ = ["AgentConn"]

_STDOUT = 1
_HEADER = 8
_MAX_LINE = 256 * 1024 * 1024
_READ = 1 << 16  # one read's buffer, reused: a fresh 1 MiB bytes per recv cost ~5x the read itself


class AgentConn:
    """One sandbox container and the attached stream to its agent; ``runs`` counts the
    requests it answered (the pool recycles it after ``container_max_runs``)."""

    def __init__(self, container_id: str, sock: socket.socket, *, keep: object = None) -> None:
        self.id = container_id
        self.sock = sock
        self._keep = keep  # what closes ``sock`` when collected (docker-py's attach answer)
        self.runs = 0
        self._raw = bytearray()
        self._lines = bytearray()
        self._view = memoryview(bytearray(_READ))

    def send(self, message: Mapping[str, Any]) -> None:
        """Write one request line.

        Raises:
            AgentDied: the stream is closed.
        """
        data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise AgentDied(f"cannot write to agent: {exc}", container=self.id) from exc

    def recv(self, timeout_s: float, idle_s: float | None = None) -> Reply:
        """The next reply line (heartbeats skipped).

        Raises:
            AgentDied, AgentTimeout, AgentProtocolError: see the module docstring.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            message = self._line(deadline, idle_s)
            if "hb" not in message:
                return message

    def _line(self, deadline: float, idle_s: float | None) -> Reply:
        idle_deadline = time.monotonic() + idle_s if idle_s is not None else deadline
        while (nl := self._lines.find(b"\n")) < 0:
            self._fill(min(deadline, idle_deadline), idle=idle_deadline < deadline)
        line = bytes(self._lines[:nl])
        del self._lines[: nl + 1]
        try:
            message = json.loads(line)
        except ValueError as exc:
            raise AgentProtocolError(f"unreadable agent output: {line[:200]!r}", container=self.id) from exc
        if not isinstance(message, dict):
            raise AgentProtocolError(f"agent sent {type(message).__name__}", container=self.id)
        return cast(Reply, message)  # a JSON object; its fields are read defensively

    def _fill(self, deadline: float, *, idle: bool = False) -> None:
        remaining = deadline - time.monotonic()
        why = "agent sent no heartbeat in time (stuck)" if idle else "agent did not answer in time"
        if remaining <= 0:
            raise AgentTimeout(why, container=self.id)
        self.sock.settimeout(remaining)
        try:
            size = self.sock.recv_into(self._view)
        except TimeoutError as exc:
            raise AgentTimeout(why, container=self.id) from exc
        except OSError as exc:
            raise AgentDied(f"agent stream broke: {exc}", container=self.id) from exc
        if not size:
            raise AgentDied("agent stream closed", container=self.id)
        self._raw += self._view[:size]
        self._demux()

    def _demux(self) -> None:
        while len(self._raw) >= _HEADER:
            size = int.from_bytes(self._raw[4:_HEADER], "big")
            if len(self._raw) < _HEADER + size:
                return
            if self._raw[0] == _STDOUT:
                self._lines += self._raw[_HEADER : _HEADER + size]
            del self._raw[: _HEADER + size]
            if len(self._lines) > _MAX_LINE:
                raise AgentProtocolError("agent response too large", container=self.id)

    def ping(self, timeout_s: float) -> Reply:
        """Ask the agent for a pong.

        Raises:
            AgentError: no valid pong within ``timeout_s``.
        """
        self.send({"op": Op.PING.value})
        reply = self.recv(timeout_s)
        if reply.get("op") != Op.PONG:
            raise AgentProtocolError(f"bad ping reply {reply!r:.200}", container=self.id)
        return reply

    def close(self) -> None:
        """Close the stream (the container is removed by the pool)."""
        with contextlib.suppress(OSError):
            self.sock.close()
