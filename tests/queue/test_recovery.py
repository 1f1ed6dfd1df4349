"""Chunks of dead workers, from the service's own heartbeats (service/worker/recovery.py):
taken back whole the first time, split in halves after that, answered with infra_error
when the batch's attempts are spent; the parts publish into their chunk's places and the
batch reads back complete, in order."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from rq import Queue
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from client.models import Lane, Status
from service.queue.dispatch import lane_queue
from service.queue.envelope import ChunkJob
from service.queue.keys import RedisKeys
from service.queue.plan import plan_batch
from service.queue.producer import ChunkQueue
from service.queue.results import Chunks, ResultReader
from service.sandbox.pool import SandboxPool
from service.settings import Settings
from service.worker.main import build_worker
from service.worker.recovery import reap
from tests.support.items import adder


@pytest.fixture()
def qsettings(redis_server: str) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(redis_url=redis_server, queue_name=f"r-{tag}", key_prefix=f"r-{tag}", chunk_size=8, job_retries=3)


@pytest.fixture()
def conn(redis_server: str) -> Iterator[redis.Redis[bytes]]:
    client = redis.Redis.from_url(redis_server)
    yield client
    client.close()


def _enqueue(settings: Settings, conn: redis.Redis[bytes], n: int) -> object:
    items = [adder(i, id=str(i)) for i in range(n)]
    plan, unique, keys = plan_batch(items, [f"k{i}" for i in range(n)], {}, settings=settings)
    ChunkQueue(settings, conn, aioredis.Redis.from_url(settings.redis_url)).enqueue(plan, unique, keys, "v")
    return plan


def _die_running_the_queued_job(settings: Settings, conn: redis.Redis[bytes], name: str) -> list[str]:
    """Pop every queued job as a worker ``name`` would, mark it started, and let ``name``
    die (its last heartbeat long ago); returns the popped ids."""
    keys = RedisKeys(settings.key_prefix)
    queue = Queue(lane_queue(settings.queue_name, Lane.BULK), connection=conn, serializer=JSONSerializer)
    ids = queue.job_ids
    for job_id in ids:
        conn.lrem(queue.key, 0, job_id)
        Job.fetch(job_id, connection=conn, serializer=JSONSerializer).set_status(JobStatus.STARTED)
    conn.hset(keys.running, name, ids[0])
    conn.zadd(keys.workers, {name: time.time() - 60})
    return ids


def _queued(settings: Settings, conn: redis.Redis[bytes]) -> list[ChunkJob]:
    queue = Queue(lane_queue(settings.queue_name, Lane.BULK), connection=conn, serializer=JSONSerializer)
    return [ChunkJob.model_validate(Job.fetch(i, connection=conn, serializer=JSONSerializer).kwargs)
            for i in queue.job_ids]  # fmt: skip


def _run_and_collect(settings: Settings, conn: redis.Redis[bytes], pool: SandboxPool, plan: object) -> list[Any]:
    """Run what is queued with a burst worker, then read the batch back (its results, in order)."""
    build_worker(settings, conn, f"b-{uuid.uuid4().hex[:6]}", pool=pool).work(burst=True, with_scheduler=False)

    async def collect() -> Chunks:
        chunks: Chunks = {}
        aio = aioredis.Redis.from_url(settings.redis_url)
        await ResultReader(settings, aio).wait(plan, time.monotonic() + 10, chunks)  # type: ignore[arg-type]
        await aio.aclose()
        return chunks

    return [json.loads(r) if r else None for r in plan.assemble(asyncio.run(collect()))]  # type: ignore[attr-defined]


def test_first_interruption_requeues_whole_later_ones_split(
    qsettings: Settings, conn: redis.Redis[bytes], pool: SandboxPool
) -> None:
    plan = _enqueue(qsettings, conn, 8)  # one chunk of 8
    keys = RedisKeys(qsettings.key_prefix)
    (first,) = _die_running_the_queued_job(qsettings, conn, "dead-1")
    assert reap(conn, qsettings, keys) == [first]
    assert reap(conn, qsettings, keys) == []  # taken once
    assert Job.fetch(first, connection=conn, serializer=JSONSerializer).get_status() == JobStatus.FINISHED
    (again,) = _queued(qsettings, conn)
    assert again.interrupts == 1 and not again.part and len(again.items) == 8
    _die_running_the_queued_job(qsettings, conn, "dead-2")
    reap(conn, qsettings, keys)
    halves = _queued(qsettings, conn)
    assert [(h.part, h.offset, len(h.items), h.interrupts) for h in halves] == [(True, 0, 4, 1), (True, 4, 4, 1)]
    results = _run_and_collect(qsettings, conn, pool, plan)
    assert [r["id"] for r in results if r] == [str(i) for i in range(8)]
    assert [r["status"] for r in results if r] == [Status.PASS.value] * 8


def test_interrupted_as_often_as_the_batch_allows_is_infra_error(
    qsettings: Settings, conn: redis.Redis[bytes]
) -> None:
    settings = qsettings.model_copy(update={"job_retries": 1})  # two attempts
    plan = _enqueue(settings, conn, 1)
    keys = RedisKeys(settings.key_prefix)
    for n in range(2):
        _die_running_the_queued_job(settings, conn, f"dead-{n}")
        reap(conn, settings, keys)
    assert _queued(settings, conn) == []
    raw = conn.hget(keys.results(plan.batch_id), "0")  # type: ignore[attr-defined]
    assert raw is not None and b"infra_error" in raw and b"died (2 times)" in raw


def test_a_chunk_its_dead_worker_took_but_never_started_runs_again_uncounted(
    qsettings: Settings, conn: redis.Redis[bytes], pool: SandboxPool
) -> None:
    """A worker that dies between RQ's dequeue and the job's start leaves the job off its
    queue with RQ's status still ``queued``: it is queued again, whole, with no
    interruption counted (none of its programs ran), even when the batch has no attempt
    to spare; a queued job still in its queue is left alone; then every item passes."""
    settings = qsettings.model_copy(update={"job_retries": 0})  # one attempt
    plan = _enqueue(settings, conn, 4)
    keys = RedisKeys(settings.key_prefix)
    queue = Queue(lane_queue(settings.queue_name, Lane.BULK), connection=conn, serializer=JSONSerializer)
    (job_id,) = queue.job_ids
    conn.hset(keys.running, "dead-waiting", job_id)
    conn.zadd(keys.workers, {"dead-waiting": time.time() - 60})
    assert reap(conn, settings, keys) == [job_id]
    assert queue.job_ids == [job_id]  # still waiting its turn: not touched
    conn.lrem(queue.key, 0, job_id)  # taken by a worker that then died before starting it
    conn.hset(keys.running, "dead-taken", job_id)
    conn.zadd(keys.workers, {"dead-taken": time.time() - 60})
    assert reap(conn, settings, keys) == [job_id]
    assert Job.fetch(job_id, connection=conn, serializer=JSONSerializer).get_status() == JobStatus.FINISHED
    (again,) = _queued(settings, conn)
    assert again.interrupts == 0 and not again.part and len(again.items) == 4
    results = _run_and_collect(settings, conn, pool, plan)
    assert [r["status"] for r in results if r] == [Status.PASS.value] * 4
