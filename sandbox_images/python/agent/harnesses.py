"""P's harness processes: one per *group* in use, each under a uid of its own.

A group is what the worker says belongs together: the programs of one chunk of one API
request, so of one tenant. Its harness runs the test code of every suite of the group, a
fresh namespace per session; groups never share a harness, so one tenant's test code
cannot reach another's verdicts. (Test code is the user's, not the model's: the suites of
one request may see what each other's code left in the harness's modules.) The least
recently used harness goes when a new group needs a slot.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.frames import Channel, ChannelError
from agent.hub import ZygoteGone

if TYPE_CHECKING:
    from agent.cleanup import Janitor
    from agent.hub import Hub

__all__ = ["Harness", "Harnesses"]

HARNESS_MEMORY = 4 << 30
_FORK_TRIES = 40
_REAP_S = 2.0


@dataclass
class Harness:
    group: str
    uid: int
    pid: int
    chan: Channel
    suites: set[str] = field(default_factory=set)


class Harnesses:
    def __init__(self, hub: Hub, janitor: Janitor, uids: list[int], *, keep: int = 4) -> None:
        self.hub = hub
        self.janitor = janitor
        self.free = list(uids)
        self.keep = keep
        self.live: OrderedDict[str, Harness] = OrderedDict()

    def __len__(self) -> int:
        return len(self.live)

    def get(self, group: str, suite: dict[str, Any]) -> Harness:
        """The harness of ``group``, holding ``suite`` (started, and given the suite, if
        need be).

        Raises:
            ZygoteGone: no harness can be started.
            ChannelError: the harness died.
        """
        harness = self.live.get(group)
        if harness is not None and harness.chan.eof:
            self.drop(group)
            harness = None
        if harness is None:
            harness = self._start(group)
        else:
            self.live.move_to_end(group)
        sid = str(suite["sid"])
        if sid not in harness.suites:
            harness.chan.send({**suite, "op": "suite"})
            harness.suites.add(sid)
        return harness

    def _start(self, group: str) -> Harness:
        while self.live and (not self.free or len(self.live) >= self.keep):
            self.drop(next(iter(self.live)))
        uid = self.free.pop()
        for _ in range(_FORK_TRIES):
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                reply = self.hub.ask({"op": "h", "uid": uid, "oom_score": 500,
                                      "limits": {"as_bytes": HARNESS_MEMORY}}, [theirs.fileno()])
            finally:
                theirs.close()
            if isinstance(reply.get("pid"), int):
                break
            mine.close()  # no fork was possible (pids limit): let the clean-up catch up
            self.hub.wait([], time.monotonic() + 0.05)
        else:
            self.free.append(uid)
            raise ZygoteGone("the zygote cannot fork a harness")
        harness = Harness(group=group, uid=uid, pid=int(reply["pid"]), chan=Channel(mine))
        self.live[group] = harness
        return harness

    def drop(self, group: str) -> None:
        """Stop a harness (it misbehaved, hung, or its slot is needed); clean its uid if it
        left anything behind."""
        harness = self.live.pop(group, None)
        if harness is None:
            return
        self.hub.kill(harness.pid)
        with contextlib.suppress(OSError, ChannelError):
            harness.chan.close()
        self.hub.await_exit(harness.pid, time.monotonic() + _REAP_S)
        if self.janitor.dirty_besides(len(self.hub.unreaped)):
            self.janitor.clean(harness.uid, home=False)
        self.free.append(harness.uid)

    def close(self) -> None:
        for group in list(self.live):
            self.drop(group)
