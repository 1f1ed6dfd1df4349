"""The RQ job entry points: run one chunk of a batch with this worker's sandbox pool, and
answer a chunk that failed for good; and run one chunk of a test-generation job
(:func:`run_testgen`, :mod:`service.queue.testgen`).

Both are reached by import string (:data:`service.queue.envelope.RUN_CHUNK` and
:data:`~service.queue.envelope.ON_CHUNK_FAILURE`); their arguments are a
:class:`~service.queue.envelope.ChunkJob` as JSON. The pool comes from the worker's
:mod:`~service.worker.context`.

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
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from rq import get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Job

from client.models import Result
from service.errors import SandboxUnavailable
from service.metrics import PROGRAMS_PREFIX, TESTGEN_PREFIX, WorkerCounter
from service.queue.cache import ResultCache
from service.queue.claims import Settlement, settle
from service.queue.envelope import ChunkDone, ChunkJob, failed_chunk
from service.queue.keys import RedisKeys, chunk_job_id
from service.queue.lines import result_line, served_line
from service.queue.plan import infra_error
from service.queue.producer import count_inflight
from service.queue.redis import Pipeline, SyncRedis, translate_redis_errors, while_full, worker_client
from service.queue.results import publish_chunk
from service.queue.testgen import TestgenJob
from service.sandbox.executor import evaluate_items
from service.settings import get_settings
from service.testgen import OraclePools, testgen
from service.testgen.options import options_of
from service.testgen.pools import OnDemandPool, reseeded
from service.worker import context

__all__ = ["on_chunk_failure", "run_chunk", "run_testgen"]

log = logging.getLogger(__name__)


def run_chunk(**kwargs: Any) -> dict[str, Any]:
    """Evaluate one chunk and publish its results (and cache entries) in one transaction.

    Args:
        kwargs: a :class:`~service.queue.envelope.ChunkJob` as JSON.

    Returns:
        A :class:`~service.queue.envelope.ChunkDone` (not stored: the results are in
        the batch's keys; :mod:`service.worker.bookkeeping`).

    Raises:
        SandboxUnavailable: the job runs outside a worker with a pool.
        BackendUnavailable: publishing failed (RQ retries the chunk).
    """
    job = ChunkJob.model_validate(kwargs)
    job_id, worker, connection = _running(job.batch_id, job.chunk)
    pool = worker.require_pool()
    settings = worker.settings
    keys = RedisKeys(settings.key_prefix)
    if _needless(connection, keys, job):
        log.info("job %s: skipped (its batch was cancelled, or it was published already)", job_id)
        return ChunkDone(programs=0, seconds=0.0, image=worker.image_version).model_dump()
    started = time.perf_counter()
    data = evaluate_items(pool, job.items)
    lines = [served_line(result) for result in data]
    elapsed = time.perf_counter() - started
    # A worker on another image version must not fill the API's keys with its results.
    version = worker.image_version
    cache = ResultCache(
        prefix=settings.key_prefix,
        ttl_s=settings.cache_ttl_s,
        enabled=settings.cache_enabled and version == job.image,
    )
    restarts = worker.take_restarts()

    def publish() -> tuple[int, Settlement, list[Any]]:
        # One MULTI/EXEC: Redis refuses all of it or none (at maxmemory it refuses the
        # transaction before running any of it), so trying again counts nothing twice.
        with translate_redis_errors("publishing a chunk"), connection.pipeline() as pipe:
            cached = cache.store(pipe, job.cache_keys, data, lines)
            publish_chunk(pipe, job.reply, job.field, lines)
            settled = settle(pipe, keys, job.batch_id, job.cache_keys, lines)
            count_inflight(pipe, keys, job.tenant, -len(lines))
            _count(pipe, keys.stats, data, elapsed, restarts)
            return cached, settled, pipe.execute()

    for attempt in while_full():
        with attempt:
            cached, settled, replies = publish()
    for attempt in while_full():  # the copies to followers: a script of its own, idempotent
        with attempt, translate_redis_errors("copying results to followers"):
            settled.finish(connection, replies)
    log.info("job %s: %d programs in %.3f s (%d cached for later)", job_id, len(data), elapsed, cached)
    return ChunkDone(programs=len(data), seconds=round(elapsed, 4), image=version).model_dump()


def run_testgen(**kwargs: Any) -> dict[str, Any]:
    """Generate tests for one chunk of a test-generation job and publish its results.

    The worker's pool runs the references under the service's hash seed; a second pool
    of ``testgen_pool_size`` containers under ``testgen_reseed``, started when the job
    first needs it and removed after the job, runs them again (an output that differs
    is nondeterministic). One more container per worker, only while a testgen job runs.

    Args:
        kwargs: a :class:`~service.queue.testgen.TestgenJob` as JSON.

    Returns:
        A :class:`~service.queue.envelope.ChunkDone` (the results are in the job's keys).

    Raises:
        SandboxUnavailable, ContainerStartError: no pool here, or the second one would
            not start (RQ retries the chunk; after the last attempt its items are
            ``infra_error``).
        BackendUnavailable: publishing failed.
    """
    job = TestgenJob.model_validate(kwargs)
    job_id, worker, connection = _running(job.batch_id, job.chunk)
    pool = worker.require_pool()
    settings = worker.settings
    keys = RedisKeys(settings.key_prefix)
    started = time.perf_counter()
    with OnDemandPool(reseeded(pool.settings, settings.testgen_reseed), size=settings.testgen_pool_size) as second:
        results = testgen(job.items, OraclePools(pool, second), pool.settings, options_of(settings))
    lines = [result.model_dump_json().encode() for result in results]
    elapsed = time.perf_counter() - started
    outcomes = Counter((r.status.value, r.reason.value if r.reason else "") for r in results)
    for attempt in while_full():  # one MULTI/EXEC: refused whole at maxmemory, so safe to send again
        with attempt, translate_redis_errors("publishing a testgen chunk"), connection.pipeline() as pipe:
            publish_chunk(pipe, job.reply, job.field, lines)
            count_inflight(pipe, keys, job.tenant, -len(lines))
            pipe.hincrby(keys.stats, WorkerCounter.CHUNKS, 1)
            pipe.hincrby(keys.stats, WorkerCounter.TESTGEN_CHUNKS, 1)
            pipe.hincrbyfloat(keys.stats, WorkerCounter.TESTGEN_SECONDS, elapsed)
            for (status, reason), count in outcomes.items():
                pipe.hincrby(keys.stats, f"{TESTGEN_PREFIX}{status}:{reason}", count)
            pipe.execute()
    statuses = Counter(result.status.value for result in results)
    log.info("job %s: tests for %d references in %.1f s (%s)", job_id, len(results), elapsed, dict(statuses))
    return ChunkDone(programs=len(results), seconds=round(elapsed, 4), image=worker.image_version).model_dump()


def _running(batch_id: str, chunk: int) -> tuple[str, context.WorkerContext, SyncRedis]:
    """A chunk job's RQ id, this worker's context and the job's Redis connection (outside
    RQ, as tests call the entry points: the chunk's id and a client of the settings)."""
    rq_job = get_current_job()
    worker = context.current()
    if rq_job is None:
        return chunk_job_id(batch_id, chunk), worker, worker_client(worker.settings)
    return rq_job.id, worker, rq_job.connection


def _needless(connection: SyncRedis, keys: RedisKeys, job: ChunkJob) -> bool:
    """Whether the chunk's batch was cancelled (its programs then leave the in-flight
    counts), or the chunk already published (a chunk queued twice, or run again while a
    worker thought dead finished it)."""
    with translate_redis_errors("checking the chunk"), connection.pipeline(transaction=False) as pipe:
        pipe.exists(keys.cancelled(job.batch_id))
        pipe.hexists(job.reply.results, job.field)
        cancelled, published = pipe.execute()
    if cancelled and not published:
        line = result_line(infra_error("the identical item it waited for was cancelled; resubmit it"))
        with translate_redis_errors("skipping a cancelled chunk"), connection.pipeline() as pipe:
            count_inflight(pipe, keys, job.tenant, -len(job.items))
            settled = settle(pipe, keys, job.batch_id, job.cache_keys, [line] * len(job.items))
            settled.finish(connection, pipe.execute())
    return bool(cancelled) or bool(published)


def _count(pipe: Pipeline, key: str, data: Sequence[Result], elapsed: float, restarts: int) -> None:
    """Cluster-wide counters for /metrics: programs by status, chunk time, restarts."""
    pipe.hincrby(key, WorkerCounter.CHUNKS, 1)
    pipe.hincrbyfloat(key, WorkerCounter.CHUNK_SECONDS, elapsed)
    if data:  # the pace that sizes bulk chunks: wall ms per program of a chunk, smoothed
        pipe.hset(key, WorkerCounter.PROGRAM_MS, round(context.current().pace(1000.0 * elapsed / len(data)), 3))
    for status, count in Counter(result.status.value for result in data).items():
        pipe.hincrby(key, f"{PROGRAMS_PREFIX}{status}", count)
    if restarts:
        pipe.hincrby(key, WorkerCounter.CONTAINER_RESTARTS, restarts)


def on_chunk_failure(
    job: Job,
    connection: SyncRedis,
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    """RQ failure callback: after the last attempt, answer every item with ``infra_error``.

    RQ calls it on every failure (also for abandoned jobs of dead workers, from the
    registry sweep of another worker); while retries are left the chunk will run again,
    so nothing is published then.

    Raises:
        BackendUnavailable: Redis failed while publishing.
    """
    if job.retries_left:
        name = exc_type.__name__ if exc_type else "?"
        log.warning("job %s: attempt failed (%s); %s retries left", job.id, name, job.retries_left)
        return
    reply, field, n_items = failed_chunk(job.kwargs)
    reason = f"{exc_type.__name__}: {exc_value}" if exc_type else "unknown failure"
    if exc_type is not None and issubclass(exc_type, AbandonedJobError):
        reason = "the worker running it died (AbandonedJobError)"
    detail = f"chunk could not be judged after {reply.attempts} attempts: {reason}"
    data = [infra_error(detail) for _ in range(n_items)]
    log.error("job %s: giving up: %s", job.id, detail)
    keys = RedisKeys(_key_prefix())
    lines = [result_line(result) for result in data]
    cache_keys = list(job.kwargs.get("cache_keys") or [None] * n_items)
    with translate_redis_errors("publishing a failed chunk"), connection.pipeline() as pipe:
        publish_chunk(pipe, reply, field, lines)
        settled = settle(pipe, keys, str(job.kwargs.get("batch_id", "")), cache_keys, lines)
        count_inflight(pipe, keys, str(job.kwargs.get("tenant", "anon")), -n_items)
        pipe.hincrby(keys.stats, WorkerCounter.CHUNKS_FAILED, 1)
        settled.finish(connection, pipe.execute())


def _key_prefix() -> str:
    """The stats hash's prefix: the worker's; RQ may also call the failure callback outside
    a worker's working life (a registry sweep by other code), then the environment's."""
    try:
        return context.current().settings.key_prefix
    except SandboxUnavailable:
        return get_settings().key_prefix
