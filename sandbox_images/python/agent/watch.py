"""The harness's clock for what it waits on in X: a wall-clock deadline and X's CPU time
as the kernel counts it (``/proc/<pid>/stat``, readable across uids, never X's word)."""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections.abc import Callable

__all__ = ["ENDED", "READY", "CpuClock", "Watch"]


class CpuClock:
    """X's CPU time (user + system, whole process) as the kernel accounts it."""

    def __init__(self, pid: int | None) -> None:
        self.path = f"/proc/{pid}/stat" if pid else None
        self.tick_ms = 1000.0 / os.sysconf("SC_CLK_TCK")
        self.last = 0.0

    def ms(self) -> float:
        if self.path is None:
            return time.process_time() * 1e3  # legacy mode: the process's own word
        try:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                raw = os.read(fd, 4096)
            finally:
                os.close(fd)
            fields = raw.rsplit(b")", 1)[1].split()
            self.last = (int(fields[11]) + int(fields[12])) * self.tick_ms
        except (OSError, IndexError, ValueError):
            pass  # gone: the last reading stands
        return self.last


READY, ENDED = "ready", "ended"
_KILL_WAIT_S = 2.0  # how long X may take to die once P was asked to kill it


class Watch:
    """The time budget of what H is waiting for in X: a wall-clock deadline and X's CPU.

    ``expire(reason)`` is called once when the budget is spent (H then asks P to kill
    X); X's CPU time is read from the kernel only when it could be over its limit. X's
    end is seen on a pidfd, not on its channel (a child X forked may hold that open)."""

    def __init__(self, cpu_ms: Callable[[], float], expire: Callable[[str], None], pid: int | None = None) -> None:
        self.cpu_ms = cpu_ms
        self.expire = expire
        self.deadline = float("inf")
        self.limit_ms = float("inf")
        self.cpu0 = 0.0
        self.checked = (0.0, 0.0)  # (monotonic time, CPU used then)
        self.expired: str | None = None
        self.pidfd = -1
        if pid:
            with contextlib.suppress(OSError):
                self.pidfd = os.pidfd_open(pid)

    def close(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1

    def begin(self, wall_s: float, cpu_s: float, *, cpu0: float | None = None) -> None:
        now = time.monotonic()
        self.deadline = now + wall_s
        self.limit_ms = cpu_s * 1e3
        self.cpu0 = self.cpu_ms() if cpu0 is None else cpu0
        self.checked = (now, 0.0)
        self.expired = None

    def used_ms(self) -> float:
        return self.cpu_ms() - self.cpu0

    def wait(self, fd: int) -> str:
        """Until ``fd`` is readable (READY), X ended (ENDED), or the budget is spent
        ("wall"/"cpu": ``expire`` was called and X has ended or had its time to)."""
        watched = [fd, self.pidfd] if self.pidfd >= 0 else [fd]
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
            ready = select.select(watched, [], [], step)[0]
            if fd in ready:
                return READY
            if ready:
                return ENDED
        return self.expired

    def _expire(self, reason: str) -> str:
        self.expired = reason
        self.expire(reason)
        if self.pidfd >= 0:
            select.select([self.pidfd], [], [], _KILL_WAIT_S)
        return reason
