"""The cleaner: a process of a run's uid that leaves nothing of that uid behind.

Run by the zygote when P found a run may have left something (:mod:`agent.cleanup`).
It kills every process of its uid (``kill(-1)`` as that uid reaches exactly them, and a
fork cannot slip past it), removes what P found the uid left in the shared directories,
and replaces the uid's work directory with a new, empty one (so nothing of the old one,
its attributes and timestamps included, survives). Removal is iterative and works on
directory descriptors, so no depth of nesting, no path length and no mode the uid set on
its own directories stops it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import stat

__all__ = ["clean", "remove_tree"]

_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def clean(paths: list[str], home: str | None) -> None:
    for _ in range(3):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            break
    for path in paths:
        remove_tree(path)
    if home:
        remove_tree(home)
        os.mkdir(home, 0o700)


def remove_tree(path: str) -> None:
    """Remove ``path`` (a file, a link or a whole directory tree of this uid's)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        with contextlib.suppress(OSError):
            os.unlink(path)
        return
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)
    top = os.open(path, _FLAGS)
    try:
        _empty(top)
    finally:
        os.close(top)
    os.rmdir(path)


def _empty(top: int) -> None:
    """Empty the directory ``top``: files go at once; each subdirectory's entries are
    moved up into ``top`` before it goes, so nesting never deepens the work."""
    names = itertools.count()
    while True:
        with os.scandir(top) as it:
            entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
        if not entries:
            return
        for name, is_dir in entries:
            if not is_dir:
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=top)
                continue
            with contextlib.suppress(OSError):
                os.chmod(name, 0o700, dir_fd=top)
            child = os.open(name, _FLAGS, dir_fd=top)
            try:
                with os.scandir(child) as it:
                    inner = [e.name for e in it]
                for entry in inner:
                    os.rename(entry, f".up{next(names)}", src_dir_fd=child, dst_dir_fd=top)
            finally:
                os.close(child)
            os.rmdir(name, dir_fd=top)
