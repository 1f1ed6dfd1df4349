"""Where adapters reach the service: a picklable :class:`Connection`, and the clients made
from it lazily, one per process (and per event loop for the async one).

Frameworks import reward functions by path, send them to Ray actors, spawned children
(TRL's AsyncGRPO) or process pools (verl's ``prime``), and call them from threads. So an
adapter holds only this small value; the HTTP client behind it is created on first use
in the process (and loop) that uses it, never pickled, never shared across a fork. The
URL and key are resolved there too, from ``UTRS_URL`` / ``UTRS_API_KEY`` when not given.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from dataclasses import dataclass, replace

from client import _env
from client.async_client import AsyncRewardClient
from client.client import RewardClient

__all__ = ["Connection"]

_lock = threading.Lock()
_sync: dict[tuple[int, Connection], RewardClient] = {}
_async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[int, Connection], AsyncRewardClient]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True)
class Connection:
    """The service an adapter talks to (picklable: it holds no client).

    ``concurrency`` is high because frameworks call per sample from many threads or
    tasks at once; the client's connection pool follows it. ``timeout_s`` is the HTTP
    timeout per request (the server is asked to answer within a little less).
    """

    url: str | None = None
    api_key: str | None = None
    timeout_s: float = 300.0
    concurrency: int = 32

    def resolved(self) -> Connection:
        """This connection with the environment's URL and key filled in."""
        return replace(self, url=_env.service_url(self.url), api_key=_env.api_key(self.api_key))

    def client(self) -> RewardClient:
        """This process's ``RewardClient`` for the connection (made on first use)."""
        key = (os.getpid(), self.resolved())
        with _lock:
            found = _sync.get(key)
            if found is None:
                found = _sync[key] = _make_sync(key[1])
            return found

    def async_client(self) -> AsyncRewardClient:
        """The running event loop's ``AsyncRewardClient`` for the connection.

        Raises:
            RuntimeError: called outside a running event loop.
        """
        loop = asyncio.get_running_loop()
        key = (os.getpid(), self.resolved())
        with _lock:
            clients = _async.setdefault(loop, {})
            found = clients.get(key)
            if found is None:
                found = clients[key] = _make_async(key[1])
            return found


def _make_sync(connection: Connection) -> RewardClient:
    return RewardClient(
        connection.url, api_key=connection.api_key, timeout_s=connection.timeout_s,
        concurrency=connection.concurrency,
    )


def _make_async(connection: Connection) -> AsyncRewardClient:
    return AsyncRewardClient(
        connection.url, api_key=connection.api_key, timeout_s=connection.timeout_s,
        concurrency=connection.concurrency,
    )
