"""POST /v1/openrlhf/get_reward: the service as an OpenRLHF remote reward model.

Point OpenRLHF at it with ``--remote_rm_url http://HOST:8000/v1/openrlhf/get_reward
--label_key <column with test specs>`` (``?reward=coarse`` picks another reward than
``total``). The body and answer shapes, and how a query becomes an item, live in
:mod:`client.adapters.openrlhf`; the batch runs through the same ``BatchService`` as
``POST /v1/evaluate``, so admission, the cache and the 429/503 refusals are the same.

A batch with an unjudged item answers 503, which OpenRLHF's request wrapper retries;
the service never invents a reward for it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import ValidationError

from client.adapters.openrlhf import RewardRequest, RewardResponse, answer_of, items_of
from client.errors import NotScored
from client.models import EvaluateRequest, Status
from service.api.deps import BatchesDep, TenantDep, require_api_key
from service.api.responses import json_response
from service.errors import InvalidField, NotJudged

__all__ = ["router"]

router = APIRouter(prefix="/v1/openrlhf", tags=["openrlhf"], dependencies=[Depends(require_api_key)])


@router.post(
    "/get_reward",
    response_model=RewardResponse,
    responses={
        422: {"description": "labels missing, misaligned, or not a test spec"},
        503: {"description": "an item could not be judged (retry), or the service is down"},
    },
)
async def get_reward(
    body: RewardRequest,
    batches: BatchesDep,
    tenant: TenantDep,
    reward: Annotated[str, Query(description="which of Result.rewards to return")] = "total",
) -> Response:
    """Rewards for OpenRLHF's ``query``/``prompts``/``labels`` batch, in order.

    Raises:
        InvalidField: labels missing, misaligned or not test specs; or results without
            the requested reward (422 naming ``labels`` or ``reward``).
        NotJudged: an item came back ``infra_error`` (503, retried by OpenRLHF).
    """
    try:
        items = items_of(body)
    except (ValueError, TypeError, ValidationError) as exc:
        raise InvalidField("labels", str(exc), kind="value_error") from exc
    if not items:
        return json_response(RewardResponse(rewards=[], scores=[]))
    answer = await batches.evaluate(EvaluateRequest(items=items), tenant=tenant)
    results = answer.results()
    unjudged = [i for i, r in enumerate(results) if r.status in (Status.INFRA_ERROR, Status.PENDING)]
    if unjudged:
        raise NotJudged(unjudged)
    try:
        return json_response(answer_of(results, reward))
    except NotScored as exc:
        raise InvalidField("reward", str(exc), kind="value_error") from exc
