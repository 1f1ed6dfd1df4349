"""POST /v1/evaluate (wait for the results), POST /v1/jobs + GET /v1/jobs/{id} (poll)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Response

from client.models import EvaluateRequest
from service.api.deps import BatchesDep, require_api_key
from service.api.schemas import EvaluateAnswer, JobCreated, JobRequest, JobStatus

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["evaluate"], dependencies=[Depends(require_api_key)])

_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "API keys are configured and none was given"},
    403: {"description": "the API key is not valid"},
    413: {"description": "body over max_body_bytes, or more than max_batch items"},
    422: {"description": "malformed body or a field over a server limit; detail names it"},
    429: {"description": "queue over its high-water mark; see Retry-After"},
    503: {"description": "Redis unreachable or no live worker"},
}


def json_response(data: Any, status_code: int = 200) -> Response:
    """Serialise once, without FastAPI's re-validation of the response model."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(content=body, status_code=status_code, media_type="application/json")


@router.post("/evaluate", response_model=EvaluateAnswer, responses=_REFUSALS)
async def evaluate(request: EvaluateRequest, batches: BatchesDep) -> Response:
    """Evaluate a batch and wait for it (up to ``wait_s``).

    Items not finished within ``wait_s`` come back as ``infra_error``; the batch keeps
    running and ``job_id`` can be polled.
    """
    return json_response(await batches.evaluate(request))


@router.post("/jobs", status_code=202, response_model=JobCreated, responses=_REFUSALS)
async def create_job(request: JobRequest, batches: BatchesDep) -> Response:
    """Queue a batch and return at once; poll GET /v1/jobs/{job_id}."""
    plan = await batches.submit(request)
    return json_response({"job_id": plan.batch_id}, status_code=202)


@router.get("/jobs/{job_id}", response_model=JobStatus, responses={404: {"description": "unknown"}})
async def get_job(job_id: str, batches: BatchesDep) -> Response:
    """Status, progress (``done``/``total``) and the results so far."""
    return json_response(await batches.status(job_id))
