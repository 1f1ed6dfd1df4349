"""Start-up of the container's first process (``python -m agent``), before P is P.

The zygote is forked here, before P imports the modules only P needs (the serve loop,
the hub, runs, cleanup): every program process is forked from the zygote, and what the
kernel copies at that fork, faults in while the program runs and tears down at its exit
grows with the zygote's memory, so the zygote's image holds nothing P alone uses.
"""

from __future__ import annotations

import os
import signal
import sys

from agent import zygote
from agent.frames import Channel
from agent.rlimits import no_dump

__all__ = ["boot"]


def boot() -> tuple[int, Channel, int, int]:
    """Set this process up as P and fork the zygote: its pid and channel, and P's
    protocol stream (input and output descriptors, which no child inherits)."""
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    no_dump()
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.chdir("/")
    infd, outfd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)  # no child ever inherits the protocol stream
    os.dup2(devnull, 1)
    os.close(devnull)
    os.set_inheritable(infd, False)
    os.set_inheritable(outfd, False)
    zpid, zchan = zygote.start(close=(infd, outfd))
    return zpid, zchan, infd, outfd
