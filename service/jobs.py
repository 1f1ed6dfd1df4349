"""The RQ job: run one chunk of a batch with this worker's sandbox pool.

RQ calls job functions by import string, so the pool cannot be an argument: the worker
entry (:mod:`service.worker`) opens the pool once and installs it here with
:func:`install_pool` for the life of the process. Arguments and results are JSON only.

Failure model: :func:`run_chunk` never turns an infrastructure failure into a verdict.
If it raises (Redis went away, the pool is broken, RQ's job timeout fired) or its
worker dies (SIGKILL; noticed by another worker's registry sweep), RQ re-queues the
chunk while retries are left; after the last attempt :func:`on_chunk_failure` publishes
``infra_error`` results with a detail, so every item still gets an answer.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import redis
from rq import get_current_job
from rq.job import Job

from client.models import Item
from service.batch import infra_error
from service.cache import ResultCache
from service.queue import RedisKeys, publish_chunk
from service.sandbox.executor import evaluate_items
from service.settings import get_settings

if TYPE_CHECKING:
    from service.sandbox.pool import SandboxPool

__all__ = ["current_pool", "install_pool", "on_chunk_failure", "run_chunk"]

log = logging.getLogger(__name__)


class _PoolHolder:
    """The worker process's pool (one per process, set by the worker entry)."""

    pool: SandboxPool | None = None
    restarts_seen = 0


def install_pool(pool: SandboxPool | None) -> None:
    """Make ``pool`` the one :func:`run_chunk` uses (``None`` uninstalls it)."""
    _PoolHolder.pool = pool
    _PoolHolder.restarts_seen = pool.restarts if pool is not None else 0


def current_pool() -> SandboxPool:
    """The installed pool.

    Raises:
        RuntimeError: no pool installed (the job runs outside ``utrs-worker``).
    """
    if _PoolHolder.pool is None:
        raise RuntimeError("no sandbox pool installed; run jobs with the utrs-worker entry")
    return _PoolHolder.pool


def image_version(pool: SandboxPool) -> str:
    """The version string of the pool's sandbox image (part of every cache key)."""
    return pool.image_version or get_settings().sandbox_image


def run_chunk(
    *,
    batch_id: str,
    chunk: int,
    items: Sequence[Mapping[str, Any]],
    cache_keys: Sequence[str | None],
    image: str,
    reply: Mapping[str, Any],
) -> dict[str, Any]:
    """Evaluate one chunk and publish its results (and cache entries) in one transaction.

    Returns:
        A small summary (RQ keeps it briefly; the results are in the batch's keys).
    """
    job = get_current_job()
    job_id = job.id if job else f"{batch_id}-{chunk}"
    pool = current_pool()
    started = time.perf_counter()
    results = evaluate_items(pool, [Item.model_validate(data) for data in items])
    data = [result.model_dump(mode="json") for result in results]
    elapsed = time.perf_counter() - started
    settings = get_settings()
    connection = job.connection if job else redis.Redis.from_url(settings.redis_url)
    # A worker on another image version must not fill the API's keys with its results.
    version = image_version(pool)
    cache = ResultCache(
        prefix=settings.key_prefix,
        ttl_s=settings.cache_ttl_s,
        enabled=settings.cache_enabled and version == image,
    )
    with connection.pipeline() as pipe:
        cached = cache.store(pipe, cache_keys, data)
        publish_chunk(pipe, reply, chunk, data)
        _count(pipe, RedisKeys(settings.key_prefix).stats, pool, data, elapsed)
        pipe.execute()
    log.info("job %s: %d programs in %.3f s (%d cached for later)", job_id, len(data), elapsed, cached)
    return {"programs": len(data), "seconds": round(elapsed, 4), "image": version}


def _count(pipe: Any, key: str, pool: SandboxPool, data: Sequence[Mapping[str, Any]], elapsed: float) -> None:
    """Cluster-wide counters for /metrics: programs by status, chunk time, restarts."""
    pipe.hincrby(key, "chunks", 1)
    pipe.hincrbyfloat(key, "chunk_seconds", elapsed)
    for status, count in Counter(str(result.get("status")) for result in data).items():
        pipe.hincrby(key, f"programs:{status}", count)
    restarts = pool.restarts - _PoolHolder.restarts_seen
    _PoolHolder.restarts_seen = pool.restarts
    if restarts:
        pipe.hincrby(key, "container_restarts", restarts)


def on_chunk_failure(
    job: Job,
    connection: redis.Redis,
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    """RQ failure callback: after the last attempt, answer every item with ``infra_error``.

    RQ calls it on every failure (also for abandoned jobs of dead workers, from the
    registry sweep of another worker); while retries are left the chunk will run again,
    so nothing is published then.
    """
    if job.retries_left:
        name = exc_type.__name__ if exc_type else "?"
        log.warning("job %s: attempt failed (%s); %s retries left", job.id, name, job.retries_left)
        return
    kwargs = job.kwargs
    reason = f"{exc_type.__name__}: {exc_value}" if exc_type else "unknown failure"
    if exc_type is not None and exc_type.__name__ == "AbandonedJobError":
        reason = "the worker running it died (AbandonedJobError)"
    attempts = kwargs["reply"].get("attempts", "all")
    detail = f"chunk could not be judged after {attempts} attempts: {reason}"
    data = [infra_error(detail) for _ in kwargs["items"]]
    log.error("job %s: giving up: %s", job.id, detail)
    with connection.pipeline() as pipe:
        publish_chunk(pipe, kwargs["reply"], int(kwargs["chunk"]), data)
        pipe.hincrby(RedisKeys(get_settings().key_prefix).stats, "chunks_failed", 1)
        pipe.execute()
