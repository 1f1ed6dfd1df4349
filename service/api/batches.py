"""The API's use cases: submit a batch, wait for it, report on it.

submit: admission checks -> live workers and queue depth (one pipeline) -> cache keys ->
cached results (one MGET) -> plan (in-batch duplicates run once) -> high-water mark ->
plan + one RQ job per chunk (one pipeline). Results are kept as JSON data end to end:
the API never re-validates what workers wrote, it only puts it in the request's order.
"""

from __future__ import annotations

import time
import uuid

import anyio.to_thread

from client.models import EvaluateRequest, JobCancelled, JobState, Lane
from service.api.admission import check_batch
from service.api.items import clean_items
from service.api.responses import Answer, job_body
from service.budgets import bulk_chunk_size
from service.metrics import Metrics
from service.queue.cache import ResultCache
from service.queue.claims import claim, follow_field
from service.queue.idempotency import idempotent
from service.queue.lines import Line, result_line
from service.queue.plan import BatchPlan, infra_error, pending, plan_batch
from service.queue.producer import ChunkQueue
from service.queue.redis import translate_redis_errors
from service.queue.results import Chunks, ResultReader
from service.settings import Settings

__all__ = ["BatchService"]


class BatchService:
    """Submit, wait for and read back batches; one per app."""

    def __init__(self, settings: Settings, queue: ChunkQueue, metrics: Metrics) -> None:
        self.settings = settings
        self.queue = queue
        self.metrics = metrics
        self.cache = ResultCache(prefix=settings.key_prefix, ttl_s=settings.cache_ttl_s, enabled=settings.cache_enabled)
        self.results = ResultReader(settings, queue.aio)

    async def create(self, request: EvaluateRequest, *, tenant: str, body: bytes = b"") -> str:
        """POST /v1/jobs: submit in the bulk lane (unless the request names one); the
        job id. With an ``idempotency_key`` this key's tenant used within the job TTL for
        the same ``body`` (the request's bytes), the id of the batch it made then, and
        nothing is queued again.

        Raises:
            InvalidField: the key was used for another body (422).
            as :meth:`submit`.
        """

        async def submit(batch_id: str) -> str:
            return (await self.submit(request, tenant=tenant, lane=Lane.BULK, batch_id=batch_id)).batch_id

        return await idempotent(self.queue, tenant, request.idempotency_key, body, submit,
                                new_id=lambda: uuid.uuid4().hex, field="idempotency_key")  # fmt: skip

    async def submit(
        self, request: EvaluateRequest, *, tenant: str = "anon", lane: Lane = Lane.BULK, batch_id: str | None = None
    ) -> BatchPlan:
        """Admit and enqueue a batch in ``request.lane`` (else ``lane``) for ``tenant``.

        Raises:
            BatchTooLarge, InvalidField: the request is refused (413, 422).
            NoWorkers, QueueFull, QuotaExceeded, BackendUnavailable: the service cannot
                take it now.
        """
        clean = clean_items(request.items)
        items = clean.items
        check_batch(items, self.settings)
        probe = await self.queue.probe(tenant)
        image = self.queue.admit(probe, 0)
        keys = clean.keys(self.cache, image)
        hits = await self.cache.lookup(self.queue.aio, list(dict.fromkeys(keys)))
        lane = request.lane or lane
        limit = bulk_chunk_size(probe.program_ms, self.settings) if lane is Lane.BULK else None
        batch_id = batch_id or uuid.uuid4().hex
        candidates = [k for k in dict.fromkeys(keys) if k not in hits]
        follows = await self._follows(batch_id, candidates)
        try:
            plan, unique, unique_keys = plan_batch(
                items, keys, hits, settings=self.settings, chunk_limit=limit, follows=follows, batch_id=batch_id
            )
            plan.repaired, plan.lane, plan.tenant = clean.repaired, lane.value, tenant
            plan.concurrency = probe.workers
            self.queue.admit(probe, plan.n_unique)
            await anyio.to_thread.run_sync(self.queue.enqueue, plan, unique, unique_keys, image)
        except BaseException:
            # Refused (429/503) or failed after claiming: a retry must not follow runs that
            # never come.
            claimed = [k for k in candidates if k not in follows]
            detail = "the identical item it waited for was refused; resubmit it"
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.queue.unclaim, batch_id, claimed, detail)
            raise
        self.metrics.observe_batch(items=plan.total, reused=plan.n_reused())
        return plan

    async def _follows(self, batch_id: str, candidates: list[str]) -> dict[str, str]:
        """Claim the programs about to run; those another batch runs now are followed
        (``cache key -> field``), not run again (:mod:`service.queue.claims`)."""
        with translate_redis_errors("claiming the batch's programs"):
            flags = await claim(self.queue.aio, self.queue.keys, batch_id, self.queue.reply_to(batch_id), candidates)
        return {key: follow_field(i) for i, (key, follows) in enumerate(zip(candidates, flags, strict=True)) if follows}

    async def evaluate(self, request: EvaluateRequest, *, tenant: str = "anon") -> Answer:
        """Submit a batch and wait for it (up to ``wait_s``); the answer (its lines).

        Items whose chunk did not finish in time are answered ``pending`` (never scored;
        the batch keeps running: the client polls its ``job_id``, GET /v1/jobs/{id}).
        """
        started = time.monotonic()
        wait_s = min(request.wait_s or self.settings.wait_s, self.settings.max_wait_s)
        plan = await self.submit(request, tenant=tenant, lane=Lane.INTERACTIVE)
        chunks: Chunks = {}
        follows: dict[str, Line] = {}
        await self.results.wait(plan, started + wait_s, chunks, follows)
        detail = f"still running when wait_s={wait_s:g} ran out: poll GET /v1/jobs/{plan.batch_id}, do not resubmit"
        assembled = plan.assemble(chunks, follows)
        results = [r if r is not None else pending(detail, item_id=plan.ids[i]) for i, r in enumerate(assembled)]
        self.metrics.observe_results(results, cached=[plan.reused(i) for i in range(plan.total)])
        return Answer(results, plan.stats((time.monotonic() - started) * 1000.0), plan.batch_id)

    async def cancel(self, job_id: str) -> JobCancelled:
        """DELETE /v1/jobs/{id}: what has not started never runs.

        Raises:
            JobNotFound: unknown or expired id.
        """
        state = await self.results.state(job_id)
        done = {c for c, results in state.chunks.items() if None not in results}
        cancelled, started, removed = await self.queue.cancel(state.plan, done)
        if removed:
            detail = f"the identical item it waited for was cancelled (DELETE /v1/jobs/{job_id}); resubmit it"
            await anyio.to_thread.run_sync(self.queue.release, job_id, removed, detail)
        return JobCancelled(job_id=job_id, cancelled=cancelled, started=started)

    async def status(self, job_id: str) -> bytes:
        """GET /v1/jobs/{id}: status, progress and the results so far (``null`` = pending).

        Raises:
            JobNotFound: unknown or expired id.
        """
        state = await self.results.state(job_id)
        plan = state.plan
        lost_detail = "its chunk was lost (worker and queue state gone); resubmit the item"
        chunks = dict(state.chunks)
        for chunk in [] if state.cancelled else state.lost:
            size = plan.chunk_sizes()[chunk]
            chunks[chunk] = [result_line(infra_error(lost_detail))] * size
        results = plan.assemble(chunks, state.follows)
        done = sum(r is not None for r in results)
        if done == plan.total:
            status = JobState.DONE
        elif state.cancelled:
            status = JobState.CANCELLED
        elif state.lost:
            status = JobState.FAILED
        else:
            status = JobState.RUNNING if state.started else JobState.QUEUED
        stats = plan.stats((time.time() - plan.created) * 1000.0)
        return job_body(job_id, status, done=done, total=plan.total, results=results, stats=stats)
