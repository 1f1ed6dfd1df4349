"""Samples scored one at a time, sent together: frameworks call reward functions per
sample (verl's reward loop, OpenRLHF's rollout executors), and one ``/v1/evaluate`` per
sample would cap throughput at the request rate. Items submitted within ``linger_s`` of
each other on one event loop go out as one request (at most ``max_items``).

Sync callers (threads of a framework's executor) share one background event loop per
process, so their items are grouped too.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from client.adapters._clients import Connection
from client.models import Item, Result

__all__ = ["Grouping", "evaluate_grouped", "evaluate_grouped_sync"]


@dataclass(frozen=True)
class Grouping:
    """How long the first item waits for company, and the largest group."""

    linger_s: float = 0.05
    max_items: int = 512


class _Group:
    """The items waiting on one event loop for one connection."""

    def __init__(self, connection: Connection, grouping: Grouping) -> None:
        self._connection = connection
        self._grouping = grouping
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def evaluate(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._waiting.append((item, future))
        if len(self._waiting) >= self._grouping.max_items:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._grouping.linger_s, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._send(batch))
            self._sending.add(task)  # keep a reference until it is done
            task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._connection.async_client().evaluate([item for item, _ in batch])
        except BaseException as exc:  # every waiter gets the error, whatever it is
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)


_groups: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Connection, Grouping], _Group]] = (
    weakref.WeakKeyDictionary()
)


async def evaluate_grouped(
    connection: Connection, items: Sequence[Item], grouping: Grouping = Grouping()
) -> list[Result]:
    """Judge ``items``, sent together with whatever else this loop is judging right now."""
    per_loop = _groups.setdefault(asyncio.get_running_loop(), {})
    group = per_loop.setdefault((connection, grouping), _Group(connection, grouping))
    return list(await asyncio.gather(*(group.evaluate(item) for item in items)))


_loop_lock = threading.Lock()
_loops: dict[int, asyncio.AbstractEventLoop] = {}


def _background_loop() -> asyncio.AbstractEventLoop:
    """This process's event loop thread for sync callers (started on first use)."""
    with _loop_lock:
        loop = _loops.get(os.getpid())
        if loop is None:
            loop = _loops[os.getpid()] = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="utrs-group", daemon=True).start()
        return loop


def evaluate_grouped_sync(
    connection: Connection, items: Sequence[Item], grouping: Grouping = Grouping()
) -> list[Result]:
    """:func:`evaluate_grouped` for threads: blocks until the items are judged."""
    coroutine = evaluate_grouped(connection, list(items), grouping)
    return asyncio.run_coroutine_threadsafe(coroutine, _background_loop()).result()
