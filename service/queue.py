"""Redis + RQ plumbing: the key layout, enqueueing chunks, publishing and collecting results.

One RQ job runs one chunk of a batch (:func:`service.jobs.run_chunk`, enqueued by import
string with RQ's JSON serializer). The job writes its chunk's results as one JSON array
into the batch's results hash and pushes the chunk index onto the batch's ``done`` list,
in one transaction; the API waits with ``BLPOP`` on that list and reads the chunk with
one ``HMGET``, so collecting a batch costs O(1) Redis round trips per chunk.

Keys (``P`` = ``settings.key_prefix``)::

    P:batch:<id>:plan      the BatchPlan (JSON), for GET /v1/jobs and late readers
    P:batch:<id>:results   hash chunk index -> JSON array of results
    P:batch:<id>:done      list of finished chunk indexes (the sync waiter pops it)
    P:cache:<sha256>       cached result (service.cache)
    P:workers              zset worker name -> time of its last heartbeat
    P:image                the sandbox image version the workers run
    P:stats                hash of cluster counters written by workers (metrics)

This is the one module that translates Redis' exceptions (:func:`translate_redis_errors`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.client import Pipeline
from rq import Callback, Queue, Retry
from rq.job import Job
from rq.serializers import JSONSerializer

from client.models import Item
from service.batch import BatchPlan
from service.budgets import REDIS_RECONNECT_PAUSE_S, RQ_RESULT_TTL_S, job_timeout_s
from service.errors import BackendUnavailable, JobNotFound, NoWorkers, QueueFull
from service.settings import Settings

__all__ = [
    "ChunkQueue",
    "JobState",
    "Probe",
    "RedisKeys",
    "chunk_job_id",
    "publish_chunk",
    "translate_redis_errors",
]

log = logging.getLogger(__name__)

RUN_CHUNK = "service.jobs.run_chunk"
ON_CHUNK_FAILURE = "service.jobs.on_chunk_failure"
_LOST_STATES = {"failed", "stopped", "canceled"}


@dataclass(frozen=True)
class RedisKeys:
    """The service's Redis key layout under one prefix."""

    prefix: str

    def plan(self, batch_id: str) -> str:
        return f"{self.prefix}:batch:{batch_id}:plan"

    def results(self, batch_id: str) -> str:
        return f"{self.prefix}:batch:{batch_id}:results"

    def done(self, batch_id: str) -> str:
        return f"{self.prefix}:batch:{batch_id}:done"

    @property
    def workers(self) -> str:
        return f"{self.prefix}:workers"

    @property
    def image(self) -> str:
        return f"{self.prefix}:image"

    @property
    def stats(self) -> str:
        return f"{self.prefix}:stats"


def chunk_job_id(batch_id: str, chunk: int) -> str:
    """The RQ job id of a batch's chunk (deterministic, so status is one lookup)."""
    return f"{batch_id}-{chunk}"


def rq_queue_key(name: str) -> str:
    return Queue.redis_queue_namespace_prefix + name


@contextmanager
def translate_redis_errors(what: str) -> Iterator[None]:
    """Turn Redis' errors into :class:`BackendUnavailable` (the only place that does)."""
    try:
        yield
    except redis.RedisError as exc:
        raise BackendUnavailable(f"redis failed while {what}: {exc}") from exc


def publish_chunk(
    pipe: Pipeline, reply: Mapping[str, Any], chunk: int, results: Sequence[dict[str, Any]]
) -> None:
    """Queue the writes that publish one chunk's results (worker side).

    ``reply`` comes from the job's arguments (``results``/``done`` keys and ``ttl``), so a
    worker writes where the API that made the job reads, whatever its own settings.
    """
    ttl = int(reply["ttl"])
    pipe.hset(reply["results"], str(chunk), json.dumps(results, separators=(",", ":")))
    pipe.expire(reply["results"], ttl)
    pipe.rpush(reply["done"], chunk)
    pipe.expire(reply["done"], ttl)


@dataclass(frozen=True)
class Probe:
    """The queue as admission sees it: ``queued`` counts programs (chunks x chunk_size)."""

    workers: int
    queued_jobs: int
    queued: int
    image: str | None


@dataclass
class JobState:
    """What GET /v1/jobs/{id} needs: the plan, the finished chunks, and lost chunks."""

    plan: BatchPlan
    chunks: dict[int, list[dict[str, Any]]]
    started: bool
    lost: list[int]


class ChunkQueue:
    """The API side of the queue: admission, enqueueing, waiting, reading back."""

    def __init__(self, settings: Settings, sync: redis.Redis, aio: aioredis.Redis) -> None:
        self.settings = settings
        self.keys = RedisKeys(settings.key_prefix)
        self.sync = sync
        self.aio = aio
        self.rq = Queue(settings.queue_name, connection=sync, serializer=JSONSerializer)

    async def probe(self) -> Probe:
        """Live workers, queued programs and the workers' image version (one round trip).

        Raises:
            BackendUnavailable: Redis failed.
        """
        alive_since = time.time() - self.settings.worker_dead_after_s
        with translate_redis_errors("checking the queue"):
            async with self.aio.pipeline(transaction=False) as pipe:
                pipe.zcount(self.keys.workers, alive_since, "+inf")
                pipe.llen(rq_queue_key(self.settings.queue_name))
                pipe.get(self.keys.image)
                workers, queued_jobs, image = await pipe.execute()
        return Probe(
            workers=int(workers),
            queued_jobs=int(queued_jobs),
            queued=int(queued_jobs) * self.settings.chunk_size,
            image=image.decode() if image else None,
        )

    def admit(self, probe: Probe, n_new: int) -> str:
        """Whether ``n_new`` more programs may be queued now; returns the image version.

        Raises:
            NoWorkers: no worker sent a heartbeat within ``worker_dead_after_s``.
            QueueFull: the queue would go over ``queue_high_water`` programs.
        """
        if not probe.workers:
            raise NoWorkers()
        high_water = self.settings.queue_high_water
        if probe.queued and probe.queued + n_new > high_water:
            raise QueueFull(
                queued=probe.queued,
                high_water=high_water,
                retry_after_s=self.settings.retry_after_s,
            )
        return probe.image or self.settings.sandbox_image

    async def lookup(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Cached results for those of ``keys`` that have one (one ``MGET``)."""
        if not keys or not self.settings.cache_enabled:
            return {}
        with translate_redis_errors("reading the result cache"):
            values = await self.aio.mget(keys)
        return {key: json.loads(value) for key, value in zip(keys, values, strict=True) if value}

    def enqueue(self, plan: BatchPlan, items: Sequence[Item], keys: Sequence[str], image: str) -> None:
        """Store the plan and enqueue one RQ job per chunk, in one round trip (blocking)."""
        settings = self.settings
        reply = {
            "results": self.keys.results(plan.batch_id),
            "done": self.keys.done(plan.batch_id),
            "ttl": settings.job_ttl_s,
            "attempts": settings.job_retries + 1,
        }
        jobs = []
        for chunk, start in enumerate(range(0, len(items), plan.chunk_size)):
            stop = start + plan.chunk_size
            kwargs = {
                "batch_id": plan.batch_id,
                "chunk": chunk,
                "items": [i.model_dump(mode="json", exclude_defaults=True) for i in items[start:stop]],
                "cache_keys": list(keys[start:stop]),
                "image": image,
                "reply": reply,
            }
            jobs.append(
                Queue.prepare_data(
                    RUN_CHUNK,
                    kwargs=kwargs,
                    timeout=job_timeout_s(items[start:stop], settings),
                    result_ttl=RQ_RESULT_TTL_S,
                    failure_ttl=settings.failure_ttl_s,
                    job_id=chunk_job_id(plan.batch_id, chunk),
                    retry=Retry(max=settings.job_retries) if settings.job_retries else None,
                    on_failure=Callback(ON_CHUNK_FAILURE),
                    description=f"utrs chunk {chunk} of batch {plan.batch_id}",
                )
            )
        with translate_redis_errors("enqueueing a batch"), self.sync.pipeline() as pipe:
            pipe.set(self.keys.plan(plan.batch_id), plan.to_json(), ex=settings.job_ttl_s)
            if jobs:
                self.rq.enqueue_many(jobs, pipeline=pipe)
            pipe.execute()

    async def wait(self, plan: BatchPlan, deadline: float, into: dict[int, list[dict[str, Any]]]) -> None:
        """Collect finished chunks into ``into`` until all are there or ``deadline`` passes.

        A lost connection (Redis restarting) is retried until the deadline; after one, every
        pending chunk is re-read, since a pop whose answer was lost is not popped again.
        """
        pending = set(range(plan.n_chunks)) - set(into)
        resync = False
        while pending and time.monotonic() < deadline:
            try:
                ready = await self._next_done(plan, pending, deadline, resync=resync)
                resync = False
                if ready is None:
                    return
                await self._read_chunks(plan, sorted(ready & pending), into, pending)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("batch %s: lost Redis while waiting (%s); retrying", plan.batch_id, exc)
                resync = True
                await asyncio.sleep(REDIS_RECONNECT_PAUSE_S)
            except redis.RedisError as exc:
                raise BackendUnavailable(f"redis failed while waiting for results: {exc}") from exc

    async def _next_done(self, plan: BatchPlan, pending: set[int], deadline: float, *, resync: bool) -> set[int] | None:
        """Chunk indexes announced as done (all pending ones after a reconnect)."""
        if resync:
            return set(pending)
        done_key = self.keys.done(plan.batch_id)
        remaining = max(deadline - time.monotonic(), 0.01)
        popped = await self.aio.blpop([done_key], timeout=remaining)
        if popped is None:
            return None
        more = await self.aio.lpop(done_key, plan.n_chunks) or []
        return {int(popped[1]), *(int(x) for x in more)}

    async def _read_chunks(
        self,
        plan: BatchPlan,
        order: list[int],
        into: dict[int, list[dict[str, Any]]],
        pending: set[int],
    ) -> None:
        if not order:
            return
        raw = await self.aio.hmget(self.keys.results(plan.batch_id), [str(i) for i in order])
        for index, value in zip(order, raw, strict=True):
            if value is not None:
                into[index] = json.loads(value)
                pending.discard(index)

    async def state(self, batch_id: str) -> JobState:
        """Everything GET /v1/jobs/{id} reports.

        Raises:
            JobNotFound: no plan under that id (never made, or expired).
            BackendUnavailable: Redis failed.
        """
        with translate_redis_errors("reading a job"):
            async with self.aio.pipeline(transaction=False) as pipe:
                pipe.get(self.keys.plan(batch_id))
                pipe.hgetall(self.keys.results(batch_id))
                text, raw = await pipe.execute()
            if text is None:
                raise JobNotFound(batch_id)
            plan = BatchPlan.from_json(text)
            chunks = {int(k): json.loads(v) for k, v in raw.items()}
            pending = [c for c in range(plan.n_chunks) if c not in chunks]
            statuses = await self._rq_statuses(batch_id, pending)
        lost = [c for c, s in zip(pending, statuses, strict=True) if s is None or s in _LOST_STATES]
        started = bool(chunks) or "started" in statuses
        return JobState(plan=plan, chunks=chunks, started=started, lost=lost)

    async def _rq_statuses(self, batch_id: str, chunks: Sequence[int]) -> list[str | None]:
        if not chunks:
            return []
        async with self.aio.pipeline(transaction=False) as pipe:
            for chunk in chunks:
                pipe.hget(Job.key_for(chunk_job_id(batch_id, chunk)), "status")
            values = await pipe.execute()
        return [v.decode() if v is not None else None for v in values]
