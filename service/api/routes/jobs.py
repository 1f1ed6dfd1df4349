"""POST /v1/jobs (queue a batch, return at once), GET /v1/jobs/{job_id} (poll it) and
DELETE /v1/jobs/{job_id} (cancel what has not started)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from client.models import EvaluateRequest, JobCancelled, JobCreated, JobStatus, TestgenJobStatus
from service.api.deps import BatchesDep, IdempotencyHeader, QueueDep, TenantDep, require_api_key
from service.api.responses import REFUSALS, json_response, raw_json
from service.api.routes.testgen import job_status
from service.queue.testgen import cancel_testgen, is_testgen_job

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["evaluate"], dependencies=[Depends(require_api_key)])


@router.post("/jobs", status_code=202, response_model=JobCreated, responses=REFUSALS)
async def create_job(
    request: EvaluateRequest,
    batches: BatchesDep,
    tenant: TenantDep,
    http: Request,
    idempotency_header: IdempotencyHeader = None,
) -> Response:
    """Queue a batch and return at once (same body as /v1/evaluate; ``wait_s`` is
    ignored; lane ``bulk`` unless the request names one); poll GET /v1/jobs/{job_id}.
    A retry with the same ``idempotency_key`` (body) or ``Idempotency-Key`` header (the
    body's wins when both are sent) answers the same job id; the same key with another
    body is a 422."""
    if request.idempotency_key is None and idempotency_header is not None:
        request = request.model_copy(update={"idempotency_key": idempotency_header})
    job_id = await batches.create(request, tenant=tenant, body=await http.body())
    return json_response(JobCreated(job_id=job_id), status_code=202)


@router.get("/jobs/{job_id}", response_model=JobStatus | TestgenJobStatus, responses={404: {"description": "unknown"}})
async def get_job(job_id: str, batches: BatchesDep, queue: QueueDep) -> Response:
    """Status, progress (``done``/``total``) and the results so far; a test-generation
    job's (id ``tg-...``, ``kind`` ``testgen``) carries test-generation results."""
    if is_testgen_job(job_id):
        return await job_status(queue, job_id)
    return raw_json(await batches.status(job_id))


@router.delete("/jobs/{job_id}", response_model=JobCancelled, responses={404: {"description": "unknown"}})
async def cancel_job(job_id: str, batches: BatchesDep, queue: QueueDep) -> Response:
    """Cancel what of the job has not started; what runs finishes (``started``). A
    test-generation job (``tg-...``) is cancelled the same way."""
    if is_testgen_job(job_id):
        return json_response(await cancel_testgen(queue, job_id))
    return json_response(await batches.cancel(job_id))
