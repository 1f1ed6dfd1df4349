"""P's harness processes: one per test suite in use, each under a uid of its own.

A suite's harness serves every program of that suite (the samples of one problem), one
after another; suites never share a harness, so one tenant's test code cannot reach
another's verdicts. The least recently used harness goes when a new suite needs a slot.
"""

from __future__ import annotations

import contextlib
import socket
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.frames import Channel, ChannelError

if TYPE_CHECKING:
    from agent.cleanup import Janitor
    from agent.hub import Hub

__all__ = ["Harness", "Harnesses"]

HARNESS_MEMORY = 4 << 30


@dataclass
class Harness:
    sid: str
    uid: int
    pid: int
    chan: Channel
    sessions: int = 0


class Harnesses:
    def __init__(self, hub: Hub, janitor: Janitor, uids: list[int]) -> None:
        self.hub = hub
        self.janitor = janitor
        self.free = list(uids)
        self.live: OrderedDict[str, Harness] = OrderedDict()

    def __len__(self) -> int:
        return len(self.live)

    def get(self, suite: dict[str, Any]) -> Harness:
        """The harness of ``suite`` (started and given the suite if it has none).

        Raises:
            ZygoteGone: no harness can be started.
            ChannelError: the new harness died at once.
        """
        sid = str(suite["sid"])
        found = self.live.get(sid)
        if found is not None and not found.chan.eof:
            self.live.move_to_end(sid)
            return found
        if found is not None:
            self.drop(sid)
        if not self.free:
            self.drop(next(iter(self.live)))
        uid = self.free.pop()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            reply = self.hub.ask({"op": "h", "uid": uid, "oom_score": 500,
                                  "limits": {"as_bytes": HARNESS_MEMORY}}, [theirs.fileno()])
        finally:
            theirs.close()
        harness = Harness(sid=sid, uid=uid, pid=int(reply["pid"]), chan=Channel(mine))
        self.live[sid] = harness
        harness.chan.send({**suite, "op": "suite"})
        return harness

    def drop(self, sid: str) -> None:
        """Stop a harness (it misbehaved, hung, or its slot is needed) and clean its uid."""
        harness = self.live.pop(sid, None)
        if harness is None:
            return
        self.hub.kill(harness.pid)
        with contextlib.suppress(OSError, ChannelError):
            harness.chan.close()
        self.hub.await_exit(harness.pid, _soon())
        self.janitor.clean(harness.uid, home=False)
        self.free.append(harness.uid)

    def close(self) -> None:
        for sid in list(self.live):
            self.drop(sid)


def _soon() -> float:
    import time

    return time.monotonic() + 2.0
