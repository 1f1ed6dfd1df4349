"""Entering a child's jail: file descriptors, resource limits and the privilege drop.

Runs in a process the zygote just forked, still as root with the agent's few
capabilities, before anything untrusted runs. After :func:`enter` the process has only
the descriptors it was given, its own session, resource limits, an out-of-memory score
that makes it the first to go, and a uid of its own with no capabilities left (the
kernel clears them when every uid becomes non-zero; no-new-privileges keeps them from
coming back through a setuid binary). The uid change also leaves it non-dumpable, so no
other process can ptrace it or open its /proc memory, fds or environment.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import resource
import signal
from typing import Any

__all__ = ["CHAN_FD", "child_signals", "enter", "no_dump", "preload"]

CHAN_FD = 1000  # the child's end of its channel, out of the way of the program's fds
_PR_SET_DUMPABLE = 4
_libc: Any = None


def preload() -> None:
    """Load libc's handle now (in the zygote), not in every child."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, value: int) -> None:
    preload()
    if _libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl failed")


def no_dump() -> None:
    """Make this process non-dumpable: no ptrace, no /proc/<pid>/mem, fd or environ for
    anyone without CAP_SYS_PTRACE (which nobody in the container has)."""
    _prctl(_PR_SET_DUMPABLE, 0)


def _layout(fds: list[int]) -> None:
    """fds[0..2] become 0, 1, 2; fds[3] (if any, >= 0) becomes CHAN_FD; the rest close."""
    if len(fds) > 3 and fds[3] >= 0:
        os.dup2(fds[3], CHAN_FD)
    for target, fd in enumerate(fds[:3]):
        os.dup2(fd, target)
    top = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    keep_chan = len(fds) > 3 and fds[3] >= 0
    os.closerange(3, CHAN_FD if keep_chan else top)
    if keep_chan:
        os.closerange(CHAN_FD + 1, top)
        os.set_inheritable(CHAN_FD, False)


def _limits(limits: dict[str, Any]) -> None:
    pairs = []
    if limits.get("cpu_s"):
        cpu = max(1, math.ceil(float(limits["cpu_s"])))
        pairs.append((resource.RLIMIT_CPU, (cpu, cpu + 2)))
    if limits.get("as_bytes"):
        pairs.append((resource.RLIMIT_AS, (int(limits["as_bytes"]),) * 2))
    if limits.get("fsize"):
        pairs.append((resource.RLIMIT_FSIZE, (int(limits["fsize"]),) * 2))
    if limits.get("nproc"):
        pairs.append((resource.RLIMIT_NPROC, (int(limits["nproc"]),) * 2))
    pairs.append((resource.RLIMIT_CORE, (0, 0)))
    for which, value in pairs:
        resource.setrlimit(which, value)


def _oom_score(score: int) -> None:
    fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
    try:
        os.write(fd, str(score).encode())
    finally:
        os.close(fd)


def child_signals() -> None:
    """In the zygote, once: the signal dispositions every child of it starts with (a
    disposition survives fork): SIGPIPE and SIGXFSZ ignored (a write past a closed pipe
    or the file size limit fails with an error instead of killing the writer), SIGCHLD
    the default."""
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)


def enter(spec: dict[str, Any], fds: list[int]) -> None:
    """Jail this freshly forked process as ``spec`` says (uid, limits, cwd, oom score).
    Its signal dispositions are the zygote's (:func:`child_signals`).

    Raises:
        OSError: a step failed (the caller exits at once: nothing untrusted ran).
    """
    os.setsid()
    _layout(fds)
    _oom_score(int(spec.get("oom_score", 1000)))
    _limits(spec.get("limits") or {})
    uid = int(spec["uid"])
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError("the uid did not change")
    workdir = spec.get("workdir")
    if workdir:
        fd = _own_directory(str(workdir), uid)
        os.fchdir(fd)  # HOME and TMPDIR are "." (set in the zygote): this directory
        os.close(fd)
    else:
        os.chdir("/")


def _own_directory(path: str, uid: int) -> int:
    """A descriptor of the work directory, a real directory of ``uid``'s (made, or made
    again in place of a link or file an earlier run of the uid left, as that uid: no
    other run can enter it)."""
    for _ in range(3):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except FileNotFoundError:
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o700)
            continue
        except OSError:  # a link or a file in its place
            os.unlink(path)
            continue
        st = os.fstat(fd)
        if st.st_uid == uid:
            return fd
        os.close(fd)
        raise OSError(f"{path} is not the run's own directory")
    raise OSError(f"{path} cannot be made")
