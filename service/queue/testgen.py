"""Test-generation jobs in Redis (``POST /v1/testgen``, ``POST /v1/testgen/jobs``): the
plan, one RQ job per chunk of items, and the results read back.

Keys (under the prefix ``P``, beside an evaluate batch's; :mod:`service.queue.keys`)::

    P:batch:<id>:testgen   the job's TestgenPlan (JSON): item ids, chunk sizes, tenant
    P:batch:<id>:results   hash chunk index -> array of that chunk's TestgenResult lines
    P:batch:<id>:done      list of finished chunk indexes (the sync waiter pops it)
    P:batch:<id>:cancelled set by DELETE /v1/jobs/<id> (the evaluate batches' cancel)
    P:idem:<t>:<sha256>    the job made by tenant <t> for an Idempotency-Key ("testgen:" + key;
                           service/queue/idempotency.py)

A test-generation job's id starts with :data:`TESTGEN_ID_PREFIX`, so ``GET
/v1/jobs/{id}`` tells it from an evaluate batch without a lookup. Its chunks wait in the
bulk lane's backlogs (:mod:`service.queue.dispatch`: fair with evaluate jobs) and count
their items in flight. A chunk runs :data:`RUN_TESTGEN` on a worker; its failure
callback is the evaluate chunks' (:data:`~service.queue.envelope.ON_CHUNK_FAILURE`), and
a chunk whose worker died is answered by the recovery (its envelope is not a
``ChunkJob``): both publish ``infra_error`` evaluate results, which read back here as
``infra_error`` test-generation results. Nothing is lost: every item gets a result.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from rq import Callback, Queue, Retry
from rq.queue import EnqueueData
from rq.serializers import JSONSerializer

from client.models import JobCancelled, JobState, Lane, TestgenItem, TestgenResult, TestgenStatus
from service.budgets import JOB_MARGIN_S, RQ_RESULT_TTL_S
from service.errors import JobNotFound
from service.queue.dispatch import add_to_backlog, feed, lane_queue
from service.queue.envelope import ON_CHUNK_FAILURE, ReplyTo, parse_field
from service.queue.keys import RedisKeys, chunk_job_id, rq_job_key
from service.queue.lines import Line, unpack
from service.queue.plan import BatchPlan
from service.queue.producer import ChunkQueue, count_inflight, save_job
from service.queue.redis import AsyncRedis, translate_redis_errors
from service.settings import Settings

__all__ = ["RUN_TESTGEN", "TESTGEN_ID_PREFIX", "TestgenJob", "TestgenPlan", "TestgenState", "cancel_testgen",
           "enqueue_testgen", "is_testgen_job", "new_batch_id", "read_state", "wait_for"]

#: Import string of the worker's job function (:func:`service.worker.jobs.run_testgen`).
RUN_TESTGEN = "service.worker.jobs.run_testgen"
TESTGEN_ID_PREFIX = "tg-"
_LOST = frozenset({"failed", "stopped", "canceled"})


class TestgenPlan(BaseModel):
    """What ``GET /v1/jobs/{id}`` needs to put a test-generation job's results in order."""

    __test__ = False
    model_config = ConfigDict(frozen=True)

    batch_id: str
    ids: list[str]
    chunks: list[int]
    tenant: str = "anon"
    created: float = Field(default_factory=time.time)

    def starts(self) -> list[int]:
        out, at = [], 0
        for size in self.chunks:
            out.append(at)
            at += size
        return out

    def as_batch_plan(self) -> BatchPlan:
        """The job as the evaluate batches' plan (its chunks in the bulk lane), for what
        both share: :meth:`~service.queue.producer.ChunkQueue.cancel`."""
        n = len(self.ids)
        return BatchPlan(batch_id=self.batch_id, ids=list(self.ids), slots=list(range(n)), repeats=[False] * n,
                         hits=[], chunks=list(self.chunks), created=self.created, lane=Lane.BULK.value,
                         tenant=self.tenant)


class TestgenJob(BaseModel):
    """The keyword arguments of :data:`RUN_TESTGEN` for one chunk (no ``cache_keys``: the
    recovery's ``ChunkJob`` check fails on it, so an interrupted chunk is answered, never
    re-run as an evaluate chunk)."""

    __test__ = False
    model_config = ConfigDict(extra="ignore", frozen=True)

    batch_id: str
    chunk: int = Field(ge=0)
    items: list[TestgenItem]
    reply: ReplyTo
    tenant: str = "anon"

    @property
    def field(self) -> str:
        return str(self.chunk)


def is_testgen_job(job_id: str) -> bool:
    return job_id.startswith(TESTGEN_ID_PREFIX)


def plan_key(keys: RedisKeys, batch_id: str) -> str:
    return f"{keys.prefix}:batch:{batch_id}:testgen"


def new_batch_id() -> str:
    return TESTGEN_ID_PREFIX + uuid.uuid4().hex


def enqueue_testgen(queue: ChunkQueue, items: Sequence[TestgenItem], *, tenant: str,
                    batch_id: str | None = None) -> TestgenPlan:
    """Store the plan, one RQ job per ``testgen_chunk_items`` items in the tenant's bulk
    backlog, count the items in flight, feed the lanes: one transaction (blocking).

    Raises:
        BackendUnavailable: Redis failed.
    """
    settings = queue.settings
    size = settings.testgen_chunk_items
    batch_id = batch_id or new_batch_id()
    chunks = [list(items[i: i + size]) for i in range(0, len(items), size)]
    plan = TestgenPlan(batch_id=batch_id, ids=[i.id for i in items], chunks=[len(c) for c in chunks], tenant=tenant)
    reply = queue.reply_to(batch_id)
    jobs = [_job(TestgenJob(batch_id=batch_id, chunk=n, items=c, reply=reply, tenant=tenant), settings)
            for n, c in enumerate(chunks)]
    bulk = Queue(lane_queue(settings.queue_name, Lane.BULK), connection=queue.sync, serializer=JSONSerializer)
    with translate_redis_errors("enqueueing a testgen job"), queue.sync.pipeline() as pipe:
        pipe.set(plan_key(queue.keys, batch_id), plan.model_dump_json(), ex=settings.job_ttl_s)
        for data in jobs:
            save_job(bulk, data, pipe)
        add_to_backlog(pipe, queue.keys, Lane.BULK, tenant, [d.job_id for d in jobs if d.job_id])
        count_inflight(pipe, queue.keys, tenant, len(items), ttl_s=settings.job_ttl_s)
        pipe.execute()
        feed(queue.sync, queue.keys, settings.queue_name)
    return plan


def _job(envelope: TestgenJob, settings: Settings) -> EnqueueData:
    return Queue.prepare_data(
        RUN_TESTGEN,
        kwargs=envelope.model_dump(mode="json", exclude_defaults=True),
        timeout=int(len(envelope.items) * settings.testgen_item_s) + JOB_MARGIN_S,
        result_ttl=RQ_RESULT_TTL_S,
        failure_ttl=settings.failure_ttl_s,
        job_id=chunk_job_id(envelope.batch_id, envelope.chunk),
        retry=Retry(max=settings.job_retries) if settings.job_retries else None,
        on_failure=Callback(ON_CHUNK_FAILURE),
        description=f"utrs testgen chunk {envelope.chunk} of {envelope.batch_id}",
    )


class TestgenState(BaseModel):
    """A test-generation job as read back: results in request order (None: not yet)."""

    __test__ = False

    plan: TestgenPlan
    results: list[TestgenResult | None]
    status: JobState
    published: list[int] = Field(default_factory=list)  # the chunks whose results are in


def _results(plan: TestgenPlan, chunks: dict[int, list[Line]]) -> list[TestgenResult | None]:
    out: list[TestgenResult | None] = [None] * len(plan.ids)
    for chunk, lines in chunks.items():
        start = plan.starts()[chunk]
        for offset, line in enumerate(lines[: plan.chunks[chunk]]):
            out[start + offset] = _result(plan.ids[start + offset], line)
    return out


def _result(item_id: str, line: Line) -> TestgenResult:
    """A published line as the item's result; an evaluate ``infra_error`` line (a chunk
    that failed for good, or whose worker died) as a test-generation ``infra_error``."""
    data = json.loads(line)
    if "stats" not in data:
        return TestgenResult(id=item_id, status=TestgenStatus.INFRA_ERROR, detail=data.get("detail"))
    return TestgenResult.model_validate({**data, "id": item_id})


def _chunks(raw: Mapping[Any, Any], n_chunks: int) -> dict[int, list[Line]]:
    out = {}
    for name, value in raw.items():
        chunk, offset = parse_field(name)
        if offset is None and chunk < n_chunks:
            out[chunk] = unpack(value if isinstance(value, bytes) else str(value).encode())
    return out


async def read_state(aio: AsyncRedis, keys: RedisKeys, batch_id: str) -> TestgenState:
    """The job's plan, results so far, and status (``failed``: a chunk's RQ job is gone
    or failed without publishing; its items read ``infra_error``).

    Raises:
        JobNotFound: no such test-generation job (never made, or expired).
        BackendUnavailable: Redis failed.
    """
    with translate_redis_errors("reading a testgen job"):
        async with aio.pipeline(transaction=False) as pipe:
            pipe.get(plan_key(keys, batch_id))
            pipe.hgetall(keys.results(batch_id))
            pipe.exists(keys.cancelled(batch_id))
            text, raw, cancelled = await pipe.execute()
        if text is None:
            raise JobNotFound(batch_id)
        plan = TestgenPlan.model_validate_json(text)
        chunks = _chunks(raw, len(plan.chunks))
        pending = [c for c in range(len(plan.chunks)) if c not in chunks]
        async with aio.pipeline(transaction=False) as pipe:
            for chunk in pending:
                pipe.hget(rq_job_key(chunk_job_id(batch_id, chunk)), "status")
            statuses = [s.decode() if s is not None else None for s in await pipe.execute()] if pending else []
    # A cancelled job's chunks that never ran stay null (as an evaluate batch's items do).
    lost = [] if cancelled else [c for c, s in zip(pending, statuses, strict=True) if s is None or s in _LOST]
    results = _results(plan, chunks)
    for chunk in lost:
        start = plan.starts()[chunk]
        for index in range(start, start + plan.chunks[chunk]):
            results[index] = TestgenResult(id=plan.ids[index], status=TestgenStatus.INFRA_ERROR,
                                           detail="its chunk was lost (worker and queue state gone); resubmit it")
    if not pending:
        status = JobState.DONE
    elif cancelled:
        status = JobState.CANCELLED
    elif lost:
        status = JobState.FAILED
    else:
        status = JobState.RUNNING if chunks or "started" in statuses else JobState.QUEUED
    return TestgenState(plan=plan, results=results, status=status, published=sorted(chunks))


async def cancel_testgen(queue: ChunkQueue, batch_id: str) -> JobCancelled:
    """DELETE /v1/jobs/tg-...: the chunks that have not started never run (the evaluate
    batches' cancel, :meth:`ChunkQueue.cancel`: out of the backlog and the lane's queue,
    the job marked cancelled, its items out of the in-flight counts); what runs finishes.

    Raises:
        JobNotFound: unknown or expired id.
        BackendUnavailable: Redis failed.
    """
    state = await read_state(queue.aio, queue.keys, batch_id)
    cancelled, started, _ = await queue.cancel(state.plan.as_batch_plan(), set(state.published))
    return JobCancelled(job_id=batch_id, cancelled=cancelled, started=started)


async def wait_for(aio: AsyncRedis, keys: RedisKeys, plan: TestgenPlan, deadline: float) -> list[TestgenResult | None]:
    """The job's results once every chunk published, or at ``deadline`` what is there
    (None where not yet).

    Raises:
        BackendUnavailable: Redis failed.
    """
    remaining = set(range(len(plan.chunks)))
    done_key = keys.done(plan.batch_id)
    with translate_redis_errors("waiting for testgen results"):
        while remaining and time.monotonic() < deadline:
            popped = await aio.blpop([done_key], timeout=max(deadline - time.monotonic(), 0.01))
            if popped is None:
                break
            more = await aio.lpop(done_key, len(plan.chunks)) or []
            remaining -= {parse_field(x)[0] for x in (popped[1], *more)}
        raw = await aio.hgetall(keys.results(plan.batch_id))
    return _results(plan, _chunks(raw, len(plan.chunks)))
