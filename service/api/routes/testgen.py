"""POST /v1/testgen (generate unit tests for reference implementations and wait) and
POST /v1/testgen/jobs (queue them; poll GET /v1/jobs/{job_id}). The workers run the
references in their sandbox pools (:mod:`service.queue.testgen`); nothing of an item runs
in the API process."""

from __future__ import annotations

import time

import anyio.to_thread
from fastapi import APIRouter, Depends, Request, Response

from client.models import JobCreated, TestgenItem, TestgenJobStatus, TestgenRequest, TestgenResponse, TestgenResult
from client.models import TestgenStatus as St
from service.api.deps import IdempotencyHeader, QueueDep, TenantDep, require_api_key
from service.api.responses import REFUSALS, json_response
from service.errors import BatchTooLarge, InvalidField
from service.queue.idempotency import idempotent
from service.queue.producer import ChunkQueue
from service.queue.testgen import TestgenPlan, enqueue_testgen, new_batch_id, read_state, wait_for
from service.settings import Settings

__all__ = ["check_testgen", "job_status", "router"]

router = APIRouter(prefix="/v1", tags=["testgen"], dependencies=[Depends(require_api_key)])


@router.post("/testgen", response_model=TestgenResponse, responses=REFUSALS)
async def generate(request: TestgenRequest, queue: QueueDep, tenant: TenantDep) -> Response:
    """Generate a wire ``tests`` object per item, or reject it naming the filter; wait up
    to ``wait_s``. Items not finished by then come back ``pending`` (never resubmit them:
    poll ``job_id`` at GET /v1/jobs/{job_id})."""
    started = time.monotonic()
    settings = queue.settings
    wait_s = min(request.wait_s or settings.wait_s, settings.max_wait_s)
    plan = await _submit(queue, request.items, tenant)
    results = await wait_for(queue.aio, queue.keys, plan, started + wait_s)
    detail = f"still running when wait_s={wait_s:g} ran out: poll GET /v1/jobs/{plan.batch_id}, do not resubmit"
    answer = [r if r is not None else TestgenResult(id=plan.ids[i], status=St.PENDING, detail=detail)
              for i, r in enumerate(results)]
    return json_response(TestgenResponse(results=answer, job_id=plan.batch_id))


@router.post("/testgen/jobs", status_code=202, response_model=JobCreated, responses=REFUSALS)
async def create_job(
    request: TestgenRequest,
    queue: QueueDep,
    tenant: TenantDep,
    http: Request,
    idempotency_header: IdempotencyHeader = None,
) -> Response:
    """Queue test generation and return at once (``wait_s`` ignored); GET
    /v1/jobs/{job_id} then answers a :class:`~client.models.TestgenJobStatus`, DELETE
    cancels what has not started. A retry with the same ``Idempotency-Key`` header
    answers the same job id and queues nothing; the same key with another body is a 422
    (as ``POST /v1/jobs``; the two endpoints' keys are apart)."""

    async def submit(batch_id: str) -> str:
        return (await _submit(queue, request.items, tenant, batch_id)).batch_id

    job_id = await idempotent(queue, tenant, idempotency_header, await http.body(), submit,
                              new_id=new_batch_id, space="testgen:")  # fmt: skip
    return json_response(JobCreated(job_id=job_id), status_code=202)


async def _submit(queue: ChunkQueue, items: list[TestgenItem], tenant: str,
                  batch_id: str | None = None) -> TestgenPlan:
    check_testgen(items, queue.settings)
    probe = await queue.probe(tenant)
    queue.admit(probe, len(items))
    return await anyio.to_thread.run_sync(lambda: enqueue_testgen(queue, items, tenant=tenant, batch_id=batch_id))


def check_testgen(items: list[TestgenItem], settings: Settings) -> None:
    """Refuse a request this server will not run.

    Raises:
        BatchTooLarge: more than ``testgen_max_items`` items (413).
        InvalidField: an item's code over ``testgen_max_code_bytes`` (422, naming it).
    """
    if len(items) > settings.testgen_max_items:
        raise BatchTooLarge(len(items), settings.testgen_max_items)
    for index, item in enumerate(items):
        size = len(item.code.encode("utf-8", "surrogatepass"))
        if size > settings.testgen_max_code_bytes:
            raise InvalidField(f"items[{index}].code",
                               f"{size} bytes; at most testgen_max_code_bytes={settings.testgen_max_code_bytes}")


async def job_status(queue: ChunkQueue, job_id: str) -> Response:
    """GET /v1/jobs/{job_id} of a test-generation job.

    Raises:
        JobNotFound: unknown or expired id.
    """
    state = await read_state(queue.aio, queue.keys, job_id)
    done = sum(r is not None for r in state.results)
    body = TestgenJobStatus(job_id=job_id, status=state.status, done=done, total=len(state.results),
                            results=state.results)
    return json_response(body)
