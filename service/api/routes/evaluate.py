"""POST /v1/evaluate: evaluate a batch and wait for it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from client.models import EvaluateRequest, EvaluateResponse
from service.api.deps import BatchesDep, require_api_key
from service.api.responses import REFUSALS, json_response

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["evaluate"], dependencies=[Depends(require_api_key)])


@router.post("/evaluate", response_model=EvaluateResponse, responses=REFUSALS)
async def evaluate(request: EvaluateRequest, batches: BatchesDep) -> Response:
    """Evaluate a batch and wait for it (up to ``wait_s``).

    Items not finished within ``wait_s`` come back as ``infra_error``; the batch keeps
    running and ``job_id`` can be polled.
    """
    return json_response(await batches.evaluate(request))
