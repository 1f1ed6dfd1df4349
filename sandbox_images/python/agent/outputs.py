"""A session's output files (P's, in a directory no program can reach) and the
container's out-of-memory counter."""

from __future__ import annotations

import os

__all__ = ["IODIR", "Outputs", "oom_count", "oom_killed"]

IODIR = "/sandbox/io"
_OOM_FILES = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")


def oom_count() -> int:
    for path in _OOM_FILES:
        try:
            with open(path) as fh:
                for line in fh:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except (OSError, ValueError):
            continue
    return 0


class Outputs:
    """A session's stdout/stderr files (P's, in a directory the program cannot reach),
    and the file sizes at each event, so each phase gets its own slice."""

    def __init__(self) -> None:
        flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC
        self.out = os.open(f"{IODIR}/out", flags, 0o600)
        self.err = os.open(f"{IODIR}/err", flags, 0o600)
        self.marks = [(0, 0)]

    def mark(self) -> None:
        self.marks.append((os.fstat(self.out).st_size, os.fstat(self.err).st_size))

    def last(self, preview: int) -> tuple[str, str, int]:
        """The newest slice's previews and its larger size."""
        return self.slice(len(self.marks) - 1, preview)

    def slice(self, k: int, preview: int) -> tuple[str, str, int]:
        """Previews of what was written between mark ``k - 1`` and mark ``k``, and the
        larger of the two sizes."""
        (o0, e0), (o1, e1) = self.marks[k - 1], self.marks[k]
        return (_read(self.out, o0, min(o1 - o0, preview)), _read(self.err, e0, min(e1 - e0, preview)),
                max(o1 - o0, e1 - e0))

    def text(self, limit: int) -> str:
        return _read(self.out, 0, limit)

    def close(self) -> None:
        os.close(self.out)
        os.close(self.err)


def _read(fd: int, offset: int, size: int) -> str:
    if size <= 0:
        return ""
    return os.pread(fd, size, offset).decode("utf-8", "replace")


_OOM_SEEN = [-1]


def oom_killed() -> bool:
    """Whether the container's OOM killer struck since the last time anyone asked (asked
    only when a process died without saying why, so the count is read rarely)."""
    count = oom_count()
    seen, _OOM_SEEN[0] = _OOM_SEEN[0], count
    return seen >= 0 and count > seen
