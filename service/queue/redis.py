"""Redis clients, and the one place Redis' exceptions are translated.

Every call into redis-py anywhere in the service runs inside
:func:`translate_redis_errors`, which turns a dropped or timed-out connection into
:class:`~service.errors.ConnectionLost` and any other Redis error into
:class:`~service.errors.BackendUnavailable` (``raise ... from`` the original). Nothing
connects at import time; the factories make clients that connect on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
import redis.asyncio as aioredis
import redis.asyncio.retry as aioretry
from redis.backoff import ExponentialBackoff
from redis.client import Pipeline
from redis.retry import Retry
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_delay, stop_never, wait_exponential

from service.budgets import (
    PUBLISH_WHILE_FULL_S,
    REDIS_COMMAND_TIMEOUT_S,
    REDIS_CONNECT_TIMEOUT_S,
    REDIS_HEALTH_CHECK_S,
    REDIS_RETRIES,
    REDIS_RETRY_BASE_S,
    REDIS_RETRY_CAP_S,
)
from service.errors import BackendUnavailable, ConnectionLost, RedisFull
from service.settings import Settings

__all__ = [
    "AsyncRedis", "Pipeline", "SyncRedis", "api_clients", "translate_redis_errors", "while_full", "worker_client",
]

log = logging.getLogger(__name__)

# redis-py's types, for the modules that hold clients or queue commands on a pipeline.
SyncRedis = redis.Redis
AsyncRedis = aioredis.Redis


@contextmanager
def translate_redis_errors(what: str) -> Iterator[None]:
    """Run the block; Redis' errors leave it as the service's (``what`` says doing what).

    Raises:
        ConnectionLost: the connection dropped or timed out.
        RedisFull: Redis refused a write (at its maxmemory).
        BackendUnavailable: Redis answered with an error.
    """
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise ConnectionLost(f"redis failed while {what}: {exc}") from exc
    except redis.exceptions.OutOfMemoryError as exc:
        raise RedisFull(f"redis is out of memory while {what}: {exc}") from exc
    except redis.RedisError as exc:
        raise BackendUnavailable(f"redis failed while {what}: {exc}") from exc


def _resilience() -> dict[str, Any]:
    """What every client gets: a pooled connection idle for ``REDIS_HEALTH_CHECK_S`` is
    pinged before use (after a Redis restart, a stale one is replaced instead of failing a
    request), and a command or pipeline that fails on a dropped or timed-out connection is
    sent again on a fresh one, ``REDIS_RETRIES`` times with exponential backoff. Only
    commands whose repetition is harmless go through these clients: reads, SET/HSET of the
    same value, and appends the readers de-duplicate (a chunk index pushed twice)."""
    return {
        "health_check_interval": REDIS_HEALTH_CHECK_S,
        "retry": Retry(ExponentialBackoff(cap=REDIS_RETRY_CAP_S, base=REDIS_RETRY_BASE_S), REDIS_RETRIES),
        "retry_on_error": [redis.ConnectionError, redis.TimeoutError],
    }


def _async_resilience() -> dict[str, Any]:
    backoff = aioretry.Retry(ExponentialBackoff(cap=REDIS_RETRY_CAP_S, base=REDIS_RETRY_BASE_S), REDIS_RETRIES)
    return {**_resilience(), "retry": backoff}


def api_clients(settings: Settings) -> tuple[SyncRedis, AsyncRedis]:
    """The API's clients: they fail fast when Redis is down (a 503 beats a hang); the
    async one has no socket timeout, since its BLPOP waits block by design."""
    sync = redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
        socket_timeout=REDIS_COMMAND_TIMEOUT_S,
        **_resilience(),
    )
    aio = aioredis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S, socket_timeout=None, **_async_resilience()
    )
    return sync, aio


def worker_client(settings: Settings) -> SyncRedis:
    """A worker's client: RQ blocks on it in BLPOP between jobs, so no socket timeout."""
    return redis.Redis.from_url(settings.redis_url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S, **_resilience())


def while_full(*, forever: bool = False) -> Retrying:
    """Attempts (``for attempt in while_full(): with attempt: ...``) of a write that Redis
    may refuse for a while at its maxmemory (:class:`RedisFull`, from
    :func:`translate_redis_errors` inside the block): tried again with backoff for up to
    ``PUBLISH_WHILE_FULL_S`` (or, ``forever``, until it passes), then the error is raised.
    For writes that are safe to send twice or are refused whole (one MULTI/EXEC)."""
    return Retrying(
        retry=retry_if_exception_type(RedisFull),
        wait=wait_exponential(multiplier=0.1, max=1.0),
        stop=stop_never if forever else stop_after_delay(PUBLISH_WHILE_FULL_S),
        before_sleep=_log_full_forever if forever else _log_full,
        reraise=True,
    )


def _log_full(state: RetryCallState) -> None:
    log.warning("redis is full; writing again (attempt %d)", state.attempt_number)


def _log_full_forever(state: RetryCallState) -> None:
    """An endless wait logs at attempts 1, 2, 4, ..., 32, then every 60th (at the 1 s
    backoff cap, about once a minute), not once a second."""
    n = state.attempt_number
    if (n <= 32 and n & (n - 1) == 0) or n % 60 == 0:
        _log_full(state)
