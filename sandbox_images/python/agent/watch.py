"""The harness's clock for what it waits on in X: a wall-clock deadline and the CPU time
of the program's processes as the kernel counts it (``/proc``, readable across uids,
never the program's word)."""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections.abc import Callable

__all__ = ["ENDED", "READY", "CpuClock", "Watch", "process_cpu_ms", "uid_cpu_ms"]


_TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")


def _read(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def _stat_ms(stat: bytes) -> float:
    """The CPU (user + system, own and reaped children's) in a ``/proc/<pid>/stat``, in ms."""
    fields = stat.rsplit(b")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) * _TICK_MS


def process_cpu_ms(pid: int | str) -> float:
    """A process's CPU (user + system) and that of the children it reaped, in ms; 0 if gone."""
    try:
        return _stat_ms(_read(f"/proc/{pid}/stat"))
    except (OSError, IndexError, ValueError):
        return 0.0


def uid_cpu_ms(uid: int, *, besides: int | None = None) -> float:
    """The CPU of every live process of ``uid`` (but ``besides``), counted as above."""
    total = 0.0
    for name in os.listdir("/proc"):
        if not name.isdigit() or (besides is not None and int(name) == besides):
            continue
        try:
            status = _read(f"/proc/{name}/status")
            uids = status.split(b"\nUid:", 1)[1].split(None, 1)[0]
        except (OSError, IndexError):
            continue
        if int(uids) == uid:
            total += process_cpu_ms(name)
    return total


class CpuClock:
    """The CPU time of a program's processes as the kernel accounts it: X's own (with
    the children it reaped), and, once any show up, every other live process of the
    run's uid and what init reaped of its orphans since the clock began. Reading X alone
    costs one ``pread`` on its ``stat``, kept open for the clock's life (H reads it as
    every case begins; the descriptor is X's for good: once X is gone it reads nothing,
    whatever process gets the pid next); the wide count is taken only when the narrow one
    cannot settle it. Counting a child's time in the case it ran across only ever
    charges the program. ``close()`` when done."""

    def __init__(self, pid: int | None, uid: int | None = None) -> None:
        self.pid = pid
        self.uid = uid
        self.wide = False
        self.init0 = process_cpu_ms(1)
        self.last = 0.0
        self.fd = -1
        if pid:
            with contextlib.suppress(OSError):
                self.fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def ms(self) -> float:
        """The count this clock keeps (X alone until other processes were seen)."""
        if self.pid is None:
            return time.process_time() * 1e3  # legacy mode: the process's own word
        return self.deep() if self.wide else self._own()

    def _own(self) -> float:
        own = 0.0
        if self.fd >= 0:
            try:
                own = _stat_ms(os.pread(self.fd, 4096, 0))
            except (OSError, IndexError, ValueError):  # X is gone
                own = 0.0
        self.last = max(self.last, own)
        return self.last

    def deep(self) -> float:
        """Every process of the run, and the orphans init reaped."""
        own = self._own()
        if self.uid is None:
            return own
        others = uid_cpu_ms(self.uid, besides=self.pid) + max(0.0, process_cpu_ms(1) - self.init0)
        if others > 0:
            self.wide = True
        return own + others


READY, ENDED = "ready", "ended"
_KILL_WAIT_S = 2.0  # how long X may take to die once P was asked to kill it


class Watch:
    """The time budget of what H is waiting for in X: a wall-clock deadline and X's CPU.

    ``expire(reason)`` is called once when the budget is spent (H then asks P to kill
    X); X's CPU time is read from the kernel only when it could be over its limit. X's
    end is seen on a pidfd, not on its channel (a child X forked may hold that open)."""

    def __init__(self, cpu_ms: Callable[[], float], expire: Callable[[str], None], pid: int | None = None,
                 deep_ms: Callable[[], float] | None = None) -> None:
        self.cpu_ms = cpu_ms
        self.deep_ms = deep_ms or cpu_ms
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
        return self.deep_ms() - self.cpu0

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
