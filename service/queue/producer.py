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
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.queue import EnqueueData
from rq.serializers import JSONSerializer

from client.models import Item, Lane
from service.budgets import RQ_RESULT_TTL_S, job_timeout_s
from service.errors import NoWorkers, QueueFull, QuotaExceeded, StorageFull
from service.metrics import WorkerCounter
from service.queue.claims import settle
from service.queue.dispatch import LANES, add_to_backlog, feed, lane_queue
from service.queue.envelope import ON_CHUNK_FAILURE, RUN_CHUNK, ChunkJob, ReplyTo
from service.queue.keys import RedisKeys, chunk_job_id, rq_job_key, rq_queue_key
from service.queue.lines import result_line
from service.queue.plan import BatchPlan, infra_error
from service.queue.redis import AsyncRedis, Pipeline, SyncRedis, translate_redis_errors
from service.settings import Settings

__all__ = ["ChunkQueue", "Probe", "chunk_job", "count_inflight", "save_job"]


@dataclass(frozen=True)
class Probe:
    """The queue as admission sees it: ``queued`` counts the programs admitted and not yet
    answered, ``tenant`` those of the asking API key; ``program_ms`` is a worker's recent
    wall time per program of a chunk (None before any chunk ran)."""

    workers: int
    queued_jobs: int
    queued: int
    image: str | None
    tenant: int = 0
    program_ms: float | None = None
    memory_used: int = 0
    memory_max: int = 0  # Redis' maxmemory; 0: none


class ChunkQueue:
    """Admission and enqueueing; one per API process."""

    def __init__(self, settings: Settings, sync: SyncRedis, aio: AsyncRedis) -> None:
        self.settings = settings
        self.keys = RedisKeys(settings.key_prefix)
        self.sync = sync
        self.aio = aio
        self._lanes = {
            lane: Queue(lane_queue(settings.queue_name, lane), connection=sync, serializer=JSONSerializer)
            for lane in LANES
        }

    async def probe(self, tenant: str = "anon") -> Probe:
        """Live workers, programs in flight (all, and ``tenant``'s), queued chunks, the
        workers' image version and time per program (one round trip).

        Raises:
            BackendUnavailable: Redis failed.
        """
        alive_since = time.time() - self.settings.worker_dead_after_s
        with translate_redis_errors("checking the queue"):
            async with self.aio.pipeline(transaction=False) as pipe:
                pipe.zcount(self.keys.workers, alive_since, "+inf")
                for name in self.queue_names:
                    pipe.llen(rq_queue_key(name))
                pipe.get(self.keys.image)
                pipe.get(self.keys.inflight)
                pipe.get(self.keys.tenant_inflight(tenant))
                pipe.hget(self.keys.stats, WorkerCounter.PROGRAM_MS)
                pipe.info("memory")
                workers, *lens, image, inflight, mine, pace, memory = await pipe.execute()
        return Probe(
            workers=int(workers),
            queued_jobs=sum(int(n) for n in lens),
            queued=max(0, int(inflight or 0)),
            image=image.decode() if image else None,
            tenant=max(0, int(mine or 0)),
            program_ms=float(pace) if pace else None,
            memory_used=int(memory.get("used_memory", 0)),
            memory_max=int(memory.get("maxmemory", 0)),
        )

    @property
    def queue_names(self) -> list[str]:
        """The RQ queues workers listen on, in order: the lanes, then the previous
        release's queue."""
        return [*(lane_queue(self.settings.queue_name, lane) for lane in LANES), self.settings.queue_name]

    def admit(self, probe: Probe, n_new: int) -> str:
        """Whether ``n_new`` more programs may be queued now; returns the image version.

        Raises:
            NoWorkers: no worker sent a heartbeat within ``worker_dead_after_s``.
            QueueFull: the queue would go over ``queue_high_water`` programs.
            QuotaExceeded: the API key's programs would go over ``tenant_max_inflight``.
            StorageFull: Redis uses more than ``redis_memory_high_water`` of its maxmemory.
        """
        if not probe.workers:
            raise NoWorkers()
        settings = self.settings
        if probe.memory_max and probe.memory_used > settings.redis_memory_high_water * probe.memory_max:
            raise StorageFull(queued=round(100 * probe.memory_used / probe.memory_max),
                              high_water=round(100 * settings.redis_memory_high_water),
                              retry_after_s=settings.retry_after_s)  # fmt: skip
        if probe.queued and probe.queued + n_new > settings.queue_high_water:
            raise QueueFull(queued=probe.queued, high_water=settings.queue_high_water,
                            retry_after_s=settings.retry_after_s)  # fmt: skip
        if probe.tenant and probe.tenant + n_new > settings.tenant_max_inflight:
            raise QuotaExceeded(queued=probe.tenant, high_water=settings.tenant_max_inflight,
                                retry_after_s=settings.retry_after_s)  # fmt: skip
        return probe.image or settings.sandbox_image

    def enqueue(self, plan: BatchPlan, items: Sequence[Item], keys: Sequence[str], image: str) -> None:
        """Store the plan, one RQ job per chunk and the chunks' place in the tenant's
        backlog of the plan's lane, count them in flight, and feed the lanes' RQ queues:
        one transaction (blocking). See :mod:`service.queue.dispatch`.

        Raises:
            BackendUnavailable: Redis failed.
        """
        settings = self.settings
        reply = self.reply_to(plan.batch_id)
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
                tenant=plan.tenant,
            )
            jobs.append(self._job(envelope))
        lane = Lane(plan.lane)
        queue = self._lanes[lane]
        with translate_redis_errors("enqueueing a batch"), self.sync.pipeline() as pipe:
            pipe.set(self.keys.plan(plan.batch_id), plan.to_json(), ex=settings.job_ttl_s)
            for data in jobs:
                save_job(queue, data, pipe)
            add_to_backlog(pipe, self.keys, lane, plan.tenant, [d.job_id for d in jobs if d.job_id])
            count_inflight(pipe, self.keys, plan.tenant, plan.n_unique, ttl_s=settings.job_ttl_s)
            pipe.execute()
            feed(self.sync, self.keys, settings.queue_name)

    def reply_to(self, batch_id: str) -> ReplyTo:
        """Where a batch's chunks publish, for how long, and its attempts per chunk."""
        return ReplyTo(
            results=self.keys.results(batch_id),
            done=self.keys.done(batch_id),
            ttl=self.settings.job_ttl_s,
            attempts=self.settings.job_retries + 1,
        )

    def release(self, batch_id: str, job_ids: Sequence[str], detail: str) -> None:
        """Answer the followers of cancelled chunks' programs (service.queue.claims) with
        ``infra_error`` and drop the claims, so that those programs run again elsewhere
        (blocking).

        Raises:
            BackendUnavailable: Redis failed.
        """
        line = result_line(infra_error(detail))
        with translate_redis_errors("releasing a cancelled job's claims"):
            for job_id in job_ids:
                try:
                    keys = list(Job.fetch(job_id, connection=self.sync, serializer=JSONSerializer).kwargs["cache_keys"])
                except (NoSuchJobError, KeyError, TypeError):
                    continue
                with self.sync.pipeline() as pipe:
                    settled = settle(pipe, self.keys, batch_id, keys, [line] * len(keys))
                    settled.finish(self.sync, pipe.execute())

    def unclaim(self, batch_id: str, cache_keys: Sequence[str], detail: str) -> None:
        """Drop the claims of a batch that was refused after it claimed its programs (so a
        retry of it does not follow a run that never comes); a follower that came in
        between gets ``infra_error`` with ``detail`` (blocking).

        Raises:
            BackendUnavailable: Redis failed.
        """
        if not cache_keys:
            return
        line = result_line(infra_error(detail))
        with translate_redis_errors("releasing a refused batch's claims"), self.sync.pipeline() as pipe:
            settled = settle(pipe, self.keys, batch_id, list(cache_keys), [line] * len(cache_keys))
            settled.finish(self.sync, pipe.execute())

    async def cancel(self, plan: BatchPlan, done: set[int]) -> tuple[int, int, list[str]]:
        """Cancel what of a batch has not started: its queued chunk jobs leave their queue
        and the batch is marked cancelled, so that no worker runs any chunk of it it has
        not begun (re-queued and split ones included). Returns (items cancelled, items
        started and still finishing, the cancelled chunk job ids).

        Raises:
            BackendUnavailable: Redis failed.
        """
        ttl = self.settings.job_ttl_s
        pending = [c for c in range(plan.n_chunks) if c not in done]
        ids = [chunk_job_id(plan.batch_id, c) for c in pending]
        lane = Lane(plan.lane)
        backlog = self.keys.backlog(lane.value, plan.tenant)
        queue = rq_queue_key(lane_queue(self.settings.queue_name, lane))
        with translate_redis_errors("cancelling a job"):
            async with self.aio.pipeline(transaction=False) as pipe:
                pipe.set(self.keys.cancelled(plan.batch_id), 1, ex=ttl)
                for job_id in ids:
                    pipe.lrem(backlog, 1, job_id)
                    pipe.lrem(queue, 1, job_id)
                removed = (await pipe.execute())[1:]
            gone = [bool(a or b) for a, b in zip(removed[::2], removed[1::2], strict=True)]
            sizes = plan.chunk_sizes()
            cancelled = sum(sizes[c] for c, g in zip(pending, gone, strict=True) if g)
            async with self.aio.pipeline(transaction=False) as pipe:
                for job_id, g in zip(ids, gone, strict=True):
                    if g:
                        pipe.hset(rq_job_key(job_id), "status", JobStatus.CANCELED.value)
                count_inflight(pipe, self.keys, plan.tenant, -cancelled)  # type: ignore[arg-type]  # an async pipeline
                await pipe.execute()
        removed_ids = [job_id for job_id, g in zip(ids, gone, strict=True) if g]
        return cancelled, sum(sizes[c] for c in pending) - cancelled, removed_ids

    def _job(self, envelope: ChunkJob) -> EnqueueData:
        return chunk_job(envelope, self.settings, job_id=chunk_job_id(envelope.batch_id, envelope.chunk))


def save_job(queue: Queue, data: EnqueueData, pipe: Pipeline) -> None:
    """Save a chunk's RQ job as queued on ``queue`` (its lane) without pushing it onto the
    queue's list: the dispatch does that, in turn (RQ 3.0's own steps of enqueueing)."""
    job = queue.create_job(
        data.func, kwargs=data.kwargs, timeout=data.timeout, result_ttl=data.result_ttl,
        failure_ttl=data.failure_ttl, description=data.description, job_id=data.job_id,
        retry=data.retry, on_failure=data.on_failure,
    )  # fmt: skip
    queue._prepare_for_queue(job)
    queue._persist_job(job, pipe)


def count_inflight(pipe: Pipeline, keys: RedisKeys, tenant: str, n: int, *, ttl_s: int | None = None) -> None:
    """Count ``n`` programs in (or, negative, out of) flight, for all and for ``tenant``.
    The counters expire a job TTL after their last increase, so a lost decrement heals."""
    if not n:
        return
    for key in (keys.inflight, keys.tenant_inflight(tenant)):
        pipe.incrby(key, n)
        if ttl_s is not None:
            pipe.expire(key, ttl_s)


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
