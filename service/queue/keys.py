"""The service's whole Redis layout, under one prefix ``P`` (``settings.key_prefix``)::

    P:batch:<id>:plan      the BatchPlan (JSON), for GET /v1/jobs and late readers
    P:batch:<id>:results   hash chunk index -> JSON array of that chunk's results
    P:batch:<id>:done      list of finished chunk indexes (the sync waiter pops it)
    P:batch:<id>:cancelled set when DELETE /v1/jobs/<id> cancelled it (workers skip its chunks)
    P:cache:<sha256>       a cached result (service.queue.cache)
    P:claim:<sha256>       the batch running that program now; ``:f`` its followers (claims)
    P:idem:<t>:<sha256>    the batch made by tenant <t> for an idempotency key (POST /v1/jobs)
    P:workers              zset worker name -> time of its last heartbeat
    P:running              hash worker name -> RQ id of the chunk job it runs (recovery)
    P:probe:<worker>       string, 5 s: a worker's probe of whether Redis takes writes (at maxmemory)
    P:image                the sandbox image version the workers run
    P:lane:<lane>:ring     list of tenants with chunks waiting in that lane (round robin)
    P:lane:<lane>:t:<t>    list of chunk job ids of tenant <t> waiting in that lane
    P:inflight             programs admitted and not yet answered (the high-water mark)
    P:tenant:<t>:inflight  the same for one tenant (API key digest; the per-key quota)
    P:stats                hash of cluster counters written by workers (service.metrics)

and RQ's keys that the service reads: ``rq:queue:<queue_name>.<lane>`` (a lane's queue, a
list, fed from the backlogs: :mod:`service.queue.dispatch`; ``rq:queue:<queue_name>`` holds
jobs of the previous release) and
``rq:job:<batch id>-<chunk>`` (one chunk's job hash). A chunk's RQ job id is
deterministic, so a batch's status is one pipelined lookup.
"""

from __future__ import annotations

from dataclasses import dataclass

from rq import Queue
from rq.job import Job

__all__ = ["RedisKeys", "chunk_job_id", "rq_job_key", "rq_queue_key"]


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

    def cancelled(self, batch_id: str) -> str:
        return f"{self.prefix}:batch:{batch_id}:cancelled"

    def cache(self, digest: str) -> str:
        return f"{self.prefix}:cache:{digest}"

    def idempotency(self, tenant: str, digest: str) -> str:
        return f"{self.prefix}:idem:{tenant}:{digest}"

    def claim(self, cache_key: str) -> str:
        """The claim on a program, from its cache key (``P:cache:<d>`` -> ``P:claim:<d>``)."""
        return f"{self.prefix}:claim:{cache_key.rsplit(':', 1)[-1]}"

    @property
    def workers(self) -> str:
        return f"{self.prefix}:workers"

    def ring(self, lane: str) -> str:
        return f"{self.prefix}:lane:{lane}:ring"

    def backlog(self, lane: str, tenant: str) -> str:
        return f"{self.prefix}:lane:{lane}:t:{tenant}"

    @property
    def inflight(self) -> str:
        return f"{self.prefix}:inflight"

    def tenant_inflight(self, tenant: str) -> str:
        return f"{self.prefix}:tenant:{tenant}:inflight"

    @property
    def running(self) -> str:
        return f"{self.prefix}:running"

    def worker_probe(self, worker: str) -> str:
        """A worker's small expiring write that tells whether Redis takes writes again."""
        return f"{self.prefix}:probe:{worker}"

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
    """RQ's list of queued job ids of queue ``name``."""
    return Queue.redis_queue_namespace_prefix + name


def rq_job_key(job_id: str) -> str:
    """RQ's hash of one job (its ``status`` field says queued/started/finished/...)."""
    return Job.key_for(job_id)
