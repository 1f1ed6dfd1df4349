"""Test-generation jobs in a real Redis: a chunk whose worker died is answered (each item
``infra_error``, read back as a test-generation result), never re-run as an evaluate
chunk; the job then reads ``done`` with every item accounted for."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio as aioredis
from rq import Queue
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from client.models import JobState, Lane, TestgenItem, TestgenStatus
from service.queue.dispatch import lane_queue
from service.queue.keys import RedisKeys
from service.queue.producer import ChunkQueue
from service.queue.testgen import TestgenState, enqueue_testgen, is_testgen_job, read_state
from service.settings import Settings
from service.worker.recovery import reap


@pytest.fixture()
def qsettings(redis_server: str) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(redis_url=redis_server, queue_name=f"tg-{tag}", key_prefix=f"tg-{tag}", testgen_chunk_items=2)


@pytest.fixture()
def conn(redis_server: str) -> Iterator[redis.Redis[bytes]]:
    client = redis.Redis.from_url(redis_server)
    yield client
    client.close()


def _state(settings: Settings, batch_id: str) -> TestgenState:
    async def read() -> TestgenState:
        aio = aioredis.Redis.from_url(settings.redis_url)
        try:
            return await read_state(aio, RedisKeys(settings.key_prefix), batch_id)
        finally:
            await aio.aclose()

    return asyncio.run(read())


def test_a_chunk_whose_worker_died_is_answered_infra_error_for_each_item(
    qsettings: Settings, conn: redis.Redis[bytes]
) -> None:
    items = [TestgenItem(id=f"i{n}", code="def f(x):\n    return x\n", fn_name="f") for n in range(3)]
    queue = ChunkQueue(qsettings, conn, aioredis.Redis.from_url(qsettings.redis_url))
    plan = enqueue_testgen(queue, items, tenant="anon")
    assert is_testgen_job(plan.batch_id) and plan.chunks == [2, 1]
    assert _state(qsettings, plan.batch_id).status is JobState.QUEUED
    keys = RedisKeys(qsettings.key_prefix)
    assert int(conn.get(keys.inflight) or 0) == 3
    lane = Queue(lane_queue(qsettings.queue_name, Lane.BULK), connection=conn, serializer=JSONSerializer)
    first = lane.job_ids[0]
    conn.lrem(lane.key, 0, first)
    Job.fetch(first, connection=conn, serializer=JSONSerializer).set_status(JobStatus.STARTED)
    conn.hset(keys.running, "dead", first)
    conn.zadd(keys.workers, {"dead": time.time() - 60})
    assert reap(conn, qsettings, keys) == [first]
    state = _state(qsettings, plan.batch_id)
    assert [r.status if r else None for r in state.results] == [TestgenStatus.INFRA_ERROR] * 2 + [None]
    assert [r.id for r in state.results if r] == ["i0", "i1"] and all(r and r.detail for r in state.results[:2])
    assert state.status is JobState.RUNNING and int(conn.get(keys.inflight) or 0) == 1
    assert lane.job_ids == [f"{plan.batch_id}-1"]  # nothing re-queued as an evaluate chunk
