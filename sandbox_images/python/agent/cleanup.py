"""Between runs: make sure a run left nothing behind, in O(1) system calls when it did not.

After a run's process is reaped, P checks three cheap facts: the container's task count
(the pids cgroup) is what P's own processes account for; the run's work directory is
empty, of mode 0700 (a fresh ``stat``); and neither ``/dev/shm`` nor the directory of work
directories changed (``stat`` of each). Only when one of them says otherwise does it ask
the zygote for a cleaner: a process running as the run's uid that kills every process of
that uid and removes everything it owns there. SysV message queues, semaphores and POSIX
message queues are switched off by the container's sysctls, and SysV shared memory dies
with its last user (``kernel.shm_rmid_forced``), so they need no check.
"""

from __future__ import annotations

import os
import stat
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.hub import Hub

__all__ = ["WORK_ROOT", "Janitor", "workdir"]

WORK_ROOT = "/sandbox/w"
SHM = "/dev/shm"
_PIDS_FILES = ("/sys/fs/cgroup/pids.current", "/sys/fs/cgroup/pids/pids.current")
_CLEANER_S = 10.0
_SETTLE_S = 1.0


def workdir(uid: int) -> str:
    return f"{WORK_ROOT}/{uid}"


def _owned(roots: tuple[str, ...], uid: int, beat: Any) -> list[str]:
    """The entries directly below ``roots`` that ``uid`` owns (``beat()`` now and then:
    a million entries must not cost the agent its heartbeat)."""
    found = []
    for root in roots:
        try:
            with os.scandir(root) as entries:
                for n, entry in enumerate(entries):
                    if n % 1000 == 999:
                        beat()
                    try:
                        if entry.stat(follow_symlinks=False).st_uid == uid:
                            found.append(entry.path)
                    except OSError:
                        continue
        except OSError:
            continue
    return found


def _identity(path: str) -> tuple[int, ...] | None:
    """What a clean work directory looks like: it is this very directory (inode), it is
    unchanged (ctime: entries, mode, owner, attributes, timestamps), empty, of mode 0700."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_ino, st.st_ctime_ns, st.st_mode, st.st_nlink, st.st_size


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


class Janitor:
    """Tracks what a clean container looks like and restores it after a run."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        pids_file = next((p for p in _PIDS_FILES if os.path.exists(p)), None)
        self.pids_fd = os.open(pids_file, os.O_RDONLY | os.O_CLOEXEC) if pids_file else -1  # read with pread
        probe = f"{WORK_ROOT}/.empty-probe"
        os.mkdir(probe, 0o700)
        st = os.stat(probe)
        os.rmdir(probe)
        self.empty = (st.st_nlink, st.st_size)
        self.base_tasks = self._tasks()
        self.marks = (_mtime(SHM), _mtime(WORK_ROOT))
        self.homes: dict[int, tuple[int, ...] | None] = {}  # uid -> its clean work directory
        self.cleanings = 0

    def _tasks(self) -> int:
        if self.pids_fd < 0:
            return -1
        try:
            return int(os.pread(self.pids_fd, 32, 0))  # one system call (open() took nine)
        except (OSError, ValueError):
            return -1

    def dirty_besides(self, live_children: int) -> bool:
        """Whether a process beyond P's own (``live_children`` of them besides the
        zygote) runs, or the shared directories changed."""
        tasks = self._tasks()
        if tasks < 0 or self.base_tasks < 0 or tasks > self.base_tasks + live_children:
            return True
        return (_mtime(SHM), _mtime(WORK_ROOT)) != self.marks

    def dirty(self, uid: int, live_children: int) -> bool:
        """Whether the run of ``uid`` (now reaped) may have left something behind."""
        if self.dirty_besides(live_children):
            return True
        now = _identity(workdir(uid))
        return now is None or now != self.homes.get(uid) or (now[2], now[3], now[4]) != (
            stat.S_IFDIR | 0o700, *self.empty)

    def prepare(self, uids: list[int]) -> None:
        """Make every run uid's work directory (as that uid), then take the marks."""
        for uid in uids:
            self.clean(uid)
        self.cleanings = 0

    def clean(self, uid: int, *, home: bool = True) -> bool:
        """Run a cleaner as ``uid``; whether it finished in time. P finds what the uid
        left in the shared directories (the directory of work directories is not
        readable by the uids themselves)."""
        self.cleanings += 1
        keep = workdir(uid) if home else None
        paths = [p for p in _owned((WORK_ROOT, SHM), uid, self.hub.beat) if p != keep]
        reply = self.hub.ask({"op": "clean", "uid": uid, "paths": paths, "oom_score": 0, "home": keep})
        pid = reply.get("pid")
        if not isinstance(pid, int):
            return False
        done = self.hub.await_exit(pid, time.monotonic() + _CLEANER_S)
        if done is None:
            self.hub.kill(pid)
            self.hub.await_exit(pid, time.monotonic() + 1.0)
        self.marks = (_mtime(SHM), _mtime(WORK_ROOT))
        if keep is not None:
            self.homes[uid] = _identity(keep)
        return done is not None

    def after_run(self, uid: int, live_children: int) -> bool:
        """Check, and clean if needed; False if the uid could not be made clean."""
        if not self.dirty(uid, live_children):
            return True
        if not self.clean(uid):
            return False
        deadline = time.monotonic() + _SETTLE_S  # init reaps the killed orphans a little later
        while self.dirty(uid, len(self.hub.unreaped)):
            if time.monotonic() >= deadline:
                return False
            self.hub.wait([], time.monotonic() + 0.01)
        return True
