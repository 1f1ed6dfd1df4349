"""The queue layer against a real Redis: plans, cache keys, enqueue -> burst worker ->
collect, and infra_error after the last retry. Workers run in-process in burst mode
with the real sandbox pool (RQ's own testing habit)."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
import redis.asyncio as aioredis
from rq import Queue
from rq.job import JobStatus
from rq.serializers import JSONSerializer
from rq.suspension import resume, suspend

from client.models import Status
from service.budgets import RQ_HEARTBEAT_EVERY_S, RQ_SUSPENSION_CHECK_S
from service.errors import NoWorkers, QueueFull, QuotaExceeded
from service.queue.cache import ResultCache
from service.queue.claims import claim
from service.queue.envelope import ReplyTo, part_field
from service.queue.keys import RedisKeys
from service.queue.plan import BatchPlan, plan_batch
from service.queue.producer import ChunkQueue
from service.queue.results import Chunks, ResultReader, publish_chunk
from service.sandbox.pool import SandboxPool
from service.settings import Settings
from service.worker.main import build_worker
from tests.support.items import adder as _item


@pytest.fixture()
def qsettings(redis_server: str) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(
        redis_url=redis_server,
        queue_name=f"q-{tag}",
        key_prefix=f"p-{tag}",
        chunk_size=3,
        job_retries=1,
        max_batch=16,
        queue_high_water=16,
    )


@pytest.fixture()
def sync_redis(redis_server: str) -> Iterator[redis.Redis[bytes]]:
    conn = redis.Redis.from_url(redis_server)
    yield conn
    conn.close()


def _run(settings: Settings, coro_factory: object) -> object:
    """Run ``coro_factory(queue)`` with a fresh async client (one event loop per call)."""

    async def go() -> object:
        aio = aioredis.Redis.from_url(settings.redis_url)
        sync = redis.Redis.from_url(settings.redis_url)
        try:
            assert callable(coro_factory)
            return await coro_factory(ChunkQueue(settings, sync, aio))
        finally:
            await aio.aclose()  # type: ignore[attr-defined]
            sync.close()

    return asyncio.run(go())


def _burst(settings: Settings, conn: redis.Redis[bytes], pool: SandboxPool | None = None) -> None:
    worker = build_worker(settings, conn, f"burst-{uuid.uuid4().hex[:6]}", pool=pool)
    worker.work(burst=True, with_scheduler=False)




def test_admission_needs_a_live_worker_and_room(qsettings: Settings, sync_redis: redis.Redis[bytes]) -> None:
    keys = RedisKeys(qsettings.key_prefix)

    async def check(queue: ChunkQueue) -> None:
        with pytest.raises(NoWorkers):
            queue.admit(await queue.probe(), 1)
        sync_redis.zadd(keys.workers, {"someone": time.time()})
        sync_redis.set(keys.inflight, 12)  # 12 programs in flight, 10 of them tenant t's
        sync_redis.set(keys.tenant_inflight("t"), 10)
        probe = await queue.probe("t")
        assert (probe.queued, probe.tenant) == (12, 10)
        assert queue.admit(probe, 4) == qsettings.sandbox_image
        with pytest.raises(QueueFull) as refused:
            queue.admit(probe, 5)
        assert refused.value.retry_after_s == qsettings.retry_after_s
        tight = ChunkQueue(qsettings.model_copy(update={"tenant_max_inflight": 12, "max_batch": 8}),
                           queue.sync, queue.aio)  # fmt: skip
        with pytest.raises(QuotaExceeded, match="UTRS_TENANT_MAX_INFLIGHT"):
            tight.admit(probe, 3)
        assert (await queue.probe("other")).tenant == 0

    _run(qsettings, check)


def test_enqueue_burst_worker_collect(qsettings: Settings, sync_redis: redis.Redis[bytes], pool: SandboxPool) -> None:
    items = [_item(n, id=f"i{n}") for n in range(7)] + [_item(0, id="dup")]
    cache = ResultCache(prefix=qsettings.key_prefix, ttl_s=60)
    keys = [cache.key(item, pool.image_version) for item in items]
    plan, unique, unique_keys = plan_batch(items, keys, {}, settings=qsettings)
    assert plan.n_unique == 7 and plan.n_chunks == 3

    async def enqueue(queue: ChunkQueue) -> None:
        queue.enqueue(plan, unique, unique_keys, pool.image_version)

    _run(qsettings, enqueue)
    _burst(qsettings, sync_redis, pool)

    async def collect(queue: ChunkQueue) -> object:
        chunks: dict[int, list[dict[str, object]]] = {}
        reader = ResultReader(qsettings, queue.aio)
        await reader.wait(plan, time.monotonic() + 10, chunks)
        state = await reader.state(plan.batch_id)
        return chunks, state, await cache.lookup(queue.aio, keys)

    chunks, state, hits = _run(qsettings, collect)  # type: ignore[misc]
    results = [json.loads(r) if r else None for r in plan.assemble(chunks)]
    assert [r["status"] for r in results if r] == ["pass"] * 8
    assert [r["id"] for r in results if r] == [item.id for item in items]
    assert results[-1] is not None and results[-1]["cached"] is True
    assert state.lost == [] and set(state.chunks) == {0, 1, 2}
    assert set(hits) == set(keys)  # the worker filled the cache
    assert all(0 < sync_redis.ttl(key) <= qsettings.cache_ttl_s for key in keys)  # each entry expires


async def _counted_wait(
    qsettings: Settings, queue: ChunkQueue, plan: BatchPlan, timeout_s: float
) -> tuple[Chunks, list[str]]:
    """The API's wait for ``plan``'s chunks, and the Redis commands it sent, in order."""
    sent: list[str] = []
    execute = queue.aio.execute_command

    async def counted(*args: object, **options: object) -> object:
        sent.append(str(args[0]))
        return await execute(*args, **options)

    queue.aio.execute_command = counted  # type: ignore[method-assign]
    chunks: Chunks = {}
    await ResultReader(qsettings, queue.aio).wait(plan, time.monotonic() + timeout_s, chunks)
    return chunks, sent


def test_waiting_reads_what_was_published_in_two_round_trips_a_wake_up(
    qsettings: Settings, sync_redis: redis.Redis[bytes]
) -> None:
    """Chunks published before the API waits (whole, and a split chunk's two parts) are all
    read on one wake-up: ``BLPOP``, then one script that pops the rest of the done list and
    reads their results (a ``LPOP`` and an ``HMGET`` of their own before)."""
    items = [_item(n, id=f"w{n}") for n in range(7)]
    plan, _, _ = plan_batch(items, [f"k{n}" for n in range(7)], {}, settings=qsettings)
    assert plan.n_chunks == 3
    reply = ChunkQueue(qsettings, sync_redis, None).reply_to(plan.batch_id)  # type: ignore[arg-type]
    line = b'{"status":"pass"}'
    sizes = plan.chunk_sizes()
    with sync_redis.pipeline() as pipe:
        publish_chunk(pipe, reply, "0", [line] * sizes[0])
        publish_chunk(pipe, reply, "2", [line] * sizes[2])
        publish_chunk(pipe, reply, part_field(1, 0), [line])  # chunk 1 split: its two parts
        publish_chunk(pipe, reply, part_field(1, 1), [line] * (sizes[1] - 1))
        pipe.execute()

    async def wait(queue: ChunkQueue) -> tuple[Chunks, list[str]]:
        return await _counted_wait(qsettings, queue, plan, 10)

    chunks, sent = _run(qsettings, wait)  # type: ignore[misc]
    assert {c: len(lines) for c, lines in chunks.items()} == dict(enumerate(sizes))
    assert all(None not in lines for lines in chunks.values())
    # One wake-up: BLPOP and the script, and the split chunk's hash read whole (parts are rare).
    assert sent == ["BLPOP", "EVAL", "HGETALL"], sent


def test_waiting_for_many_chunks_reads_several_a_wake_up(qsettings: Settings, sync_redis: redis.Redis[bytes]) -> None:
    """While more chunks are left than can run at once the waiter sleeps between wake-ups
    (``lull``), so chunks finishing one by one are read a few at a time; with the
    concurrency unknown (0) it wakes for each. Chunks are published 40 ms apart, as one
    worker would."""
    items = [_item(n, id=f"m{n}") for n in range(24)]

    def blpops(concurrency: int) -> tuple[int, int]:
        plan, _, _ = plan_batch(items, [f"k{n}" for n in range(24)], {}, settings=qsettings)
        plan.concurrency = concurrency
        reply = ChunkQueue(qsettings, sync_redis, None).reply_to(plan.batch_id)  # type: ignore[arg-type]

        def publish() -> None:
            for c, size in enumerate(plan.chunk_sizes()):
                time.sleep(0.04)
                with sync_redis.pipeline() as pipe:
                    publish_chunk(pipe, reply, str(c), [b'{"status":"pass"}'] * size)
                    pipe.execute()

        async def wait(queue: ChunkQueue) -> int:
            chunks, sent = await _counted_wait(qsettings, queue, plan, 20)
            assert sorted(chunks) == list(range(plan.n_chunks))
            return sent.count("BLPOP")

        thread = threading.Thread(target=publish)
        thread.start()
        try:
            return int(_run(qsettings, wait)), plan.n_chunks  # type: ignore[call-overload]
        finally:
            thread.join()

    lulled, n_chunks = blpops(concurrency=1)
    eager, _ = blpops(concurrency=0)
    assert n_chunks == 8
    assert lulled <= n_chunks - 2 and lulled < eager, (lulled, eager)  # here: 5 against 8


def test_rq_worker_heartbeat_on_its_own_is_sent_at_most_every_interval(
    qsettings: Settings, sync_redis: redis.Redis[bytes]
) -> None:
    """RQ sends its worker heartbeat (three round trips) twice per dequeue and after every
    job; on its own it goes at most every RQ_HEARTBEAT_EVERY_S, on RQ's pipelines always,
    and the key it keeps alive outlives that interval many times over."""
    worker = build_worker(qsettings, sync_redis, f"hb-{uuid.uuid4().hex[:6]}")
    worker.register_birth()
    try:
        worker.heartbeat()
        assert sync_redis.hget(worker.key, "last_heartbeat")
        sync_redis.hdel(worker.key, "last_heartbeat")
        worker.heartbeat()  # within the interval: nothing sent
        assert sync_redis.hget(worker.key, "last_heartbeat") is None
        with sync_redis.pipeline() as pipe:  # RQ's own bookkeeping as a job starts: sent
            worker.heartbeat(pipeline=pipe)
            pipe.execute()
        assert sync_redis.hget(worker.key, "last_heartbeat")
        sync_redis.hdel(worker.key, "last_heartbeat")
        worker.beaten_at -= RQ_HEARTBEAT_EVERY_S  # the interval has passed
        worker.heartbeat()
        assert sync_redis.hget(worker.key, "last_heartbeat")
        assert sync_redis.ttl(worker.key) > 10 * RQ_HEARTBEAT_EVERY_S
    finally:
        worker.register_death()


def _monitored(url: str, run: Callable[[], None]) -> list[tuple[str, ...]]:
    """The commands Redis received while ``run()`` ran (MONITOR on a connection of its own)."""
    seen: list[tuple[str, ...]] = []
    ready = threading.Event()

    def listen() -> None:
        with redis.Redis.from_url(url).monitor() as monitor:
            ready.set()
            for entry in monitor.listen():
                seen.append(tuple(str(entry["command"]).split(" ")))
                if "utrs-monitor-stop" in entry["command"]:
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(5)
    time.sleep(0.1)  # MONITOR is acknowledged before the thread sets ready
    run()
    redis.Redis.from_url(url).get("utrs-monitor-stop")
    thread.join(5)
    return seen


def test_a_success_is_recorded_in_one_transaction_without_resaving_the_job(
    qsettings: Settings, sync_redis: redis.Redis[bytes]
) -> None:
    """A finished job ends ``finished`` with its end time and RQ's expiry, its execution out
    of the started registry, the worker out of ``P:running`` and ``idle`` (what the API's
    progress and the recovery read), all from one MULTI/EXEC after the job ran (and one as
    it started); the job's payload is never written again (RQ's own handling saves the
    whole job once more), and no RQ results stream is written (nothing reads it)."""
    worker = build_worker(qsettings, sync_redis, f"ok-{uuid.uuid4().hex[:6]}")
    queue = Queue(worker.queue_names()[0], connection=sync_redis, serializer=JSONSerializer)
    jobs = [queue.enqueue("builtins.len", args=[["x" * 1000]], result_ttl=77) for _ in range(3)]
    seen = _monitored(qsettings.redis_url, lambda: worker.work(burst=True, with_scheduler=False))
    running = RedisKeys(qsettings.key_prefix).running
    for job in jobs:
        job.refresh()
        assert job.get_status() == JobStatus.FINISHED and job.ended_at is not None
        assert 0 < sync_redis.ttl(job.key) <= 77
        assert not sync_redis.exists(f"rq:results:{job.id}")
        writes = [c for c in seen if c[0] in ("HSET", "HMSET") and c[1] == job.key]
        assert not any("data" in c for c in writes), writes  # the payload went once, at enqueue
        assert any("ended_at" in c for c in writes), writes
    assert not sync_redis.zcard(queue.started_job_registry.key)
    assert not sync_redis.hexists(running, worker.name)
    assert sync_redis.hget(worker.key, "state") == b"idle"
    # The P:running entry was written as each job was taken, and cleared in its success's
    # transaction: one HSET and one HDEL a job, no more.
    entries = [c[0] for c in seen if c[1:3] == (running, worker.name)]
    assert entries == ["HSET", "HDEL"] * len(jobs), entries
    # Each job: one transaction as it starts and one as it ends (RQ: two and two, and a WATCH).
    first = next(i for i, c in enumerate(seen) if c[0] == "LPOP")
    last = max(i for i, c in enumerate(seen) if c[:2] == ("HDEL", running))
    assert sum(c[0] == "MULTI" for c in seen[first:last]) == 2 * len(jobs)
    assert not any(c[0] == "WATCH" for c in seen[first:last])


def test_rq_bookkeeping_between_chunks_skips_what_nobody_reads(
    qsettings: Settings, sync_redis: redis.Redis[bytes]
) -> None:
    """Between two chunk jobs a worker writes its ``idle`` state once (RQ sets it twice),
    sends no job heartbeat after a success (RQ does, for success callbacks chunk jobs do not
    have) and looks for ``rq suspend`` at most every RQ_SUSPENSION_CHECK_S (RQ: before every
    dequeue); every job still ends finished with its end time, the worker still reports
    ``busy`` while it runs one, and a suspension still stops it."""
    worker = build_worker(qsettings, sync_redis, f"bk-{uuid.uuid4().hex[:6]}")
    queue = Queue(worker.queue_names()[0], connection=sync_redis, serializer=JSONSerializer)
    jobs = [queue.enqueue("builtins.len", args=[[n]], result_ttl=60) for n in range(6)]
    seen = _monitored(qsettings.redis_url, lambda: worker.work(burst=True, with_scheduler=False))
    states = [c[-1] for c in seen if c[:2] == ("HSET", worker.key) and c[2:3] == ("state",)]
    assert states.count("busy") == len(jobs)  # each job's start, in RQ's transaction
    assert "idle" in states and not any(a == b == "idle" for a, b in itertools.pairwise(states)), states
    job_beats = [c for c in seen if c[0] == "HSET" and c[1].startswith("rq:job:") and c[2:3] == ("last_heartbeat",)]
    assert len(job_beats) <= 2 * len(jobs)  # RQ's two as each starts; none as each ends
    assert sum(c[:2] == ("EXISTS", "rq:suspended") for c in seen) < len(jobs)
    for job in jobs:
        job.refresh()
        assert job.get_status() == JobStatus.FINISHED and job.ended_at is not None
    suspend(sync_redis)
    try:
        later = queue.enqueue("builtins.len", args=[[1]])
        worker.suspension_checked_at -= RQ_SUSPENSION_CHECK_S
        worker.work(burst=True, with_scheduler=False)  # suspended in burst mode: exits at once
        assert later.get_status() == JobStatus.QUEUED
    finally:
        resume(sync_redis)


def test_a_claim_answers_which_programs_follow_another_batch(
    qsettings: Settings, sync_redis: redis.Redis[bytes]
) -> None:
    """Batch "a" runs k1 and k2; batch "b" then claims k0, k2, k3: only k2 follows (position
    1), and its follower entry says where b's result goes (field f1, b's keys, b's TTL)."""
    keys = RedisKeys(qsettings.key_prefix)

    async def go(queue: ChunkQueue) -> tuple[list[bool], list[bool], ReplyTo]:
        first = await claim(queue.aio, keys, "a", queue.reply_to("a"), ["k1", "k2"])
        second = await claim(queue.aio, keys, "b", queue.reply_to("b"), ["k0", "k2", "k3"])
        return first, second, queue.reply_to("b")

    first, second, reply = _run(qsettings, go)  # type: ignore[misc]
    assert first == [False, False] and second == [False, True, False]
    assert sync_redis.lrange(keys.claim("k2") + ":f", 0, -1) == [
        f"{reply.results}\t{reply.done}\tf1\t{reply.ttl}".encode()
    ]
    assert sync_redis.get(keys.claim("k0")) == b"b" and sync_redis.get(keys.claim("k2")) == b"a"
    assert not sync_redis.exists(keys.claim("k0") + ":f")


def test_chunk_gets_infra_error_after_its_last_retry(qsettings: Settings, sync_redis: redis.Redis[bytes]) -> None:
    """No pool installed: every attempt raises; after the retry, infra_error + detail."""
    items = [_item(n) for n in range(2)]
    plan, unique, unique_keys = plan_batch(items, ["a", "b"], {}, settings=qsettings)

    async def enqueue(queue: ChunkQueue) -> None:
        queue.enqueue(plan, unique, unique_keys, "v")

    _run(qsettings, enqueue)
    _burst(qsettings, sync_redis)  # no pool: attempt 1 fails, RQ re-queues, attempt 2 fails

    async def collect(queue: ChunkQueue) -> object:
        chunks: dict[int, list[dict[str, object]]] = {}
        await ResultReader(qsettings, queue.aio).wait(plan, time.monotonic() + 5, chunks)
        return chunks

    chunks = _run(qsettings, collect)
    results = [json.loads(r) if r else None for r in plan.assemble(chunks)]  # type: ignore[arg-type]
    assert [r["status"] for r in results if r] == [Status.INFRA_ERROR.value] * 2
    detail = str(results[0]["detail"] if results[0] else "")
    assert "after 2 attempts" in detail and "no sandbox pool installed" in detail
