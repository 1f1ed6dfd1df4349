"""OpenRLHF's reward interfaces, backed by the service (OpenRLHF 0.11, flags after its
April 2026 rename).

Two ways to reward a rollout:

- HTTP: the service's route ``POST /v1/openrlhf/get_reward`` speaks OpenRLHF's remote
  reward-model protocol (:mod:`client.adapters._openrlhf_wire`):
  ``--reward.remote_url http://utrs:8000/v1/openrlhf/get_reward --data.label_key tests``.
- ``reward_func.py``: ``--reward.remote_url /path/to/reward_func.py`` makes OpenRLHF load
  that file by path and call its ``reward_func(queries, prompts, labels)`` from a thread,
  one query per call. :func:`reward_func` is that function: point OpenRLHF at
  ``examples/openrlhf/reward_func.py`` (which imports it) or at this file. The service is
  ``UTRS_URL`` with the key ``UTRS_API_KEY``; concurrent calls are grouped into one
  request, and each request's timeout (170 s) nests inside OpenRLHF's own 180 s.

Multi-turn repair in OpenRLHF's agent mode (``--train.agent_func_path``) is
:mod:`client.adapters.openrlhf_agent`. Each label is a test spec as in
:func:`client.adapters.item_from_spec`. OpenRLHF is never imported here; torch only when
``reward_func`` runs where it is installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from client.adapters._clients import Connection
from client.adapters._group import evaluate_grouped_sync
from client.adapters._openrlhf_wire import (
    END_MARKERS,
    RewardRequest,
    RewardResponse,
    answer_of,
    items_of,
    response_text,
)

__all__ = [
    "END_MARKERS",
    "OPENRLHF_TIMEOUT_S",
    "RewardRequest",
    "RewardResponse",
    "answer_of",
    "connection",
    "items_of",
    "response_text",
    "reward_func",
]

#: OpenRLHF's own limit on a reward request (``aiohttp.ClientTimeout(total=180)``).
OPENRLHF_TIMEOUT_S = 180.0
_CONNECTION = Connection(timeout_s=OPENRLHF_TIMEOUT_S - 10.0, concurrency=64)


def connection() -> Connection:
    """Where :func:`reward_func` sends its items (``UTRS_URL``, ``UTRS_API_KEY``)."""
    return _CONNECTION


def reward_func(
    queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **kwargs: Any
) -> dict[str, Any]:
    """OpenRLHF's ``reward_func.py`` entry point: ``{"rewards", "scores", "extra_logs"}``.

    ``kwargs`` (``metas`` in some OpenRLHF versions) are accepted and ignored. Returns
    torch tensors where torch is installed (as OpenRLHF expects), else lists.

    Raises:
        NotScored: a program could not be judged after the client's retries (no reward
            is invented for it).
        ValueError: the labels are missing, misaligned or not test specs.
    """
    del kwargs
    request = RewardRequest(query=list(queries), prompts=list(prompts), labels=list(labels))
    results = evaluate_grouped_sync(_CONNECTION, items_of(request))
    body = answer_of(results).model_dump()
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return body
    return {
        "rewards": torch.tensor(body["rewards"]),
        "scores": torch.tensor(body["scores"]),
        "extra_logs": {k: torch.tensor(v) for k, v in body["extra_logs"].items()},
    }
