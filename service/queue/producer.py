"""The API side of the queue: admission against live workers and queue depth, and
enqueueing a batch as one RQ job per chunk.

One RQ job runs one chunk (:data:`~service.queue.envelope.RUN_CHUNK`, enqueued by import
string with RQ's JSON serializer and explicit job timeout, result and failure TTLs). The
plan and every job go out in one pipeline, so admitting a batch costs O(1) Redis round
trips whatever its size.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from rq import Callback, Queue, Retry
from rq.job import JobStatus
from rq.queue import EnqueueData
from rq.serializers import JSONSerializer

from client.models import Item
from service.budgets import RQ_RESULT_TTL_S, job_timeout_s
from service.errors import NoWorkers, QueueFull
from service.queue.envelope import ON_CHUNK_FAILURE, RUN_CHUNK, ChunkJob, ReplyTo
from service.queue.keys import RedisKeys, chunk_job_id, rq_job_key, rq_queue_key
from service.queue.plan import BatchPlan
from service.queue.redis import AsyncRedis, SyncRedis, translate_redis_errors
from service.settings import Settings

__all__ = ["ChunkQueue", "Probe", "chunk_job"]


@dataclass(frozen=True)
class Probe:
    """The queue as admission sees it: ``queued`` counts programs (chunks x chunk_size)."""

    workers: int
    queued_jobs: int
    queued: int
    image: str | None


class ChunkQueue:
    """Admission and enqueueing; one per API process."""

    def __init__(self, settings: Settings, sync: SyncRedis, aio: AsyncRedis) -> None:
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

    def enqueue(self, plan: BatchPlan, items: Sequence[Item], keys: Sequence[str], image: str) -> None:
        """Store the plan and enqueue one RQ job per chunk, in one round trip (blocking).

        Raises:
            BackendUnavailable: Redis failed.
        """
        settings = self.settings
        reply = ReplyTo(
            results=self.keys.results(plan.batch_id),
            done=self.keys.done(plan.batch_id),
            ttl=settings.job_ttl_s,
            attempts=settings.job_retries + 1,
        )
        jobs = []
        for chunk, (start, size) in enumerate(zip(plan.chunk_starts(), plan.chunks, strict=True)):
            stop = start + size
            envelope = ChunkJob(
                batch_id=plan.batch_id,
                chunk=chunk,
                items=list(items[start:stop]),
                cache_keys=list(keys[start:stop]),
                image=image,
                reply=reply,
            )
            jobs.append(self._job(envelope))
        with translate_redis_errors("enqueueing a batch"), self.sync.pipeline() as pipe:
            pipe.set(self.keys.plan(plan.batch_id), plan.to_json(), ex=settings.job_ttl_s)
            if jobs:
                self.rq.enqueue_many(jobs, pipeline=pipe)
            pipe.execute()

    async def cancel(self, plan: BatchPlan, done: set[int]) -> tuple[int, int]:
        """Cancel what of a batch has not started: its queued chunk jobs leave their queue
        and the batch is marked cancelled, so that no worker runs any chunk of it it has
        not begun (re-queued and split ones included). Returns (items cancelled, items
        started and still finishing).

        Raises:
            BackendUnavailable: Redis failed.
        """
        ttl = self.settings.job_ttl_s
        pending = [c for c in range(plan.n_chunks) if c not in done]
        ids = [chunk_job_id(plan.batch_id, c) for c in pending]
        with translate_redis_errors("cancelling a job"):
            async with self.aio.pipeline(transaction=False) as pipe:
                pipe.set(self.keys.cancelled(plan.batch_id), 1, ex=ttl)
                for job_id in ids:
                    pipe.hget(rq_job_key(job_id), "origin")
                origins = (await pipe.execute())[1:]
            async with self.aio.pipeline(transaction=False) as pipe:
                for job_id, origin in zip(ids, origins, strict=True):
                    pipe.lrem(rq_queue_key(origin.decode() if origin else self.settings.queue_name), 1, job_id)
                removed = await pipe.execute()
            async with self.aio.pipeline(transaction=False) as pipe:
                for job_id, gone in zip(ids, removed, strict=True):
                    if gone:
                        pipe.hset(rq_job_key(job_id), "status", JobStatus.CANCELED.value)
                await pipe.execute()
        sizes = plan.chunk_sizes()
        cancelled = sum(sizes[c] for c, gone in zip(pending, removed, strict=True) if gone)
        return cancelled, sum(sizes[c] for c in pending) - cancelled

    def _job(self, envelope: ChunkJob) -> EnqueueData:
        return chunk_job(envelope, self.settings, job_id=chunk_job_id(envelope.batch_id, envelope.chunk))


def chunk_job(envelope: ChunkJob, settings: Settings, *, job_id: str, at_front: bool = False) -> EnqueueData:
    """One chunk's RQ job: by import string, with its own timeout and explicit TTLs (also
    what the worker's recovery re-queues, :mod:`service.worker.recovery`)."""
    return Queue.prepare_data(
        RUN_CHUNK,
        kwargs=envelope.job_kwargs(),
        timeout=job_timeout_s(envelope.items, settings),
        result_ttl=RQ_RESULT_TTL_S,
        failure_ttl=settings.failure_ttl_s,
        job_id=job_id,
        at_front=at_front,
        retry=Retry(max=settings.job_retries) if settings.job_retries else None,
        on_failure=Callback(ON_CHUNK_FAILURE),
        description=f"utrs chunk {envelope.field} of batch {envelope.batch_id}",
    )
