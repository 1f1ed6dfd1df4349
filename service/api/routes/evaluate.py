"""POST /v1/evaluate: evaluate a batch and wait for it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from client.models import EvaluateRequest, EvaluateResponse
from service.api.deps import BatchesDep, TenantDep, require_api_key
from service.api.responses import REFUSALS, raw_json

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["evaluate"], dependencies=[Depends(require_api_key)])


@router.post("/evaluate", response_model=EvaluateResponse, responses=REFUSALS)
async def evaluate(request: EvaluateRequest, batches: BatchesDep, tenant: TenantDep) -> Response:
    """Evaluate a batch and wait for it (up to ``wait_s``).

    Items not finished within ``wait_s`` come back ``pending``; the batch keeps running
    and ``job_id`` can be polled. Lane: ``interactive`` unless the request names one.
    """
    return raw_json((await batches.evaluate(request, tenant=tenant)).body())
