"""POST /v1/openrlhf/get_reward: the service as an OpenRLHF remote reward model.

Point OpenRLHF at it with ``--reward.remote_url http://HOST:8000/v1/openrlhf/get_reward
--data.label_key <column with test specs>`` (``?reward=coarse`` picks another reward than
``total``). OpenRLHF sends no headers, so with API keys configured the key goes in the
path: ``/v1/openrlhf/k/<key>/get_reward``. The batch waits at most
:data:`~service.budgets.OPENRLHF_WAIT_S` (150 s), under OpenRLHF's 180 s request limit.

The body and answer shapes, and how a query becomes an item, live in
:mod:`client.adapters.openrlhf`; the batch runs through the same ``BatchService`` as
``POST /v1/evaluate``, so admission, the cache and the 429/503 refusals are the same.

A batch with an unjudged item answers 503, which OpenRLHF's request wrapper retries;
the service never invents a reward for it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import ValidationError

from client.adapters.openrlhf import RewardRequest, RewardResponse, answer_of, items_of
from client.errors import NotScored
from client.models import EvaluateRequest, Status
from service.api.batches import BatchService
from service.api.deps import BatchesDep, PathTenantDep, TenantDep
from service.api.responses import json_response
from service.budgets import OPENRLHF_WAIT_S
from service.errors import InvalidField, NotJudged

__all__ = ["router"]

router = APIRouter(prefix="/v1/openrlhf", tags=["openrlhf"])

_RESPONSES: dict[int | str, dict[str, str]] = {
    422: {"description": "labels missing, misaligned, or not a test spec"},
    503: {"description": "an item could not be judged (retry), or the service is down"},
}
RewardName = Annotated[str, Query(description="which of Result.rewards to return")]


@router.post("/get_reward", response_model=RewardResponse, responses=_RESPONSES)
async def get_reward(
    body: RewardRequest, batches: BatchesDep, tenant: TenantDep, reward: RewardName = "total"
) -> Response:
    """Rewards for OpenRLHF's ``query``/``prompts``/``labels`` batch, in order (the API
    key, if any, in a header)."""
    return await _rewards(body, batches, tenant, reward)


@router.post("/k/{api_key}/get_reward", response_model=RewardResponse, responses=_RESPONSES)
async def get_reward_keyed(
    body: RewardRequest, batches: BatchesDep, tenant: PathTenantDep, reward: RewardName = "total"
) -> Response:
    """As ``/v1/openrlhf/get_reward``, with the API key in the path (OpenRLHF sends no
    headers)."""
    return await _rewards(body, batches, tenant, reward)


async def _rewards(body: RewardRequest, batches: BatchService, tenant: str, reward: str) -> Response:
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
    answer = await batches.evaluate(EvaluateRequest(items=items, wait_s=OPENRLHF_WAIT_S), tenant=tenant)
    results = answer.results()
    unjudged = [i for i, r in enumerate(results) if r.status in (Status.INFRA_ERROR, Status.PENDING)]
    if unjudged:
        raise NotJudged(unjudged)
    try:
        return json_response(answer_of(results, reward))
    except NotScored as exc:
        raise InvalidField("reward", str(exc), kind="value_error") from exc
