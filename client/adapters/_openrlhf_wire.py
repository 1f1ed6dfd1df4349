"""OpenRLHF's remote reward-model protocol: the body it posts, the answer it reads, and how
a query becomes an item.

OpenRLHF posts ``{"query": [...], "prompts": [...], "labels": [...]}`` (``query`` = prompt
+ response as decoded, special tokens included; ``labels`` = the ``--data.label_key``
column) and reads ``{"rewards": [...], "scores": [...], "extra_logs": {...}}``. These
models live apart from :mod:`client.adapters.openrlhf` because OpenRLHF loads that file
by path without registering it in ``sys.modules``, where pydantic could not resolve the
postponed annotations of models defined in it; imported from here, they are complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from client.adapters._spec import extract_code, item_from_spec, rewards_of
from client.models import Item, Result

__all__ = ["END_MARKERS", "RewardRequest", "RewardResponse", "answer_of", "items_of", "response_text"]

# End-of-turn / end-of-text tokens that decoding with skip_special_tokens=False leaves in.
END_MARKERS = (
    "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "</s>",
    "<\uff5cend\u2581of\u2581sentence\uff5c>",  # DeepSeek's, in full-width bars
)


class RewardRequest(BaseModel):
    """The body OpenRLHF posts (``metas`` and unknown keys are accepted and ignored)."""

    query: list[str]
    prompts: list[str] | None = None
    labels: list[Any] | None = None


class RewardResponse(BaseModel):
    """What OpenRLHF reads: ``rewards`` for the advantage, ``scores`` (0..1, the pass
    ratio) for dynamic filtering, ``extra_logs`` (lists aligned with ``query``) for
    logging."""

    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]] = Field(default_factory=dict)


def response_text(query: str, prompt: str | None) -> str:
    """The response part of ``query``: after the prompt, before the first end marker."""
    text = query[len(prompt):] if prompt and query.startswith(prompt) else query
    cut = min((i for i in (text.find(m) for m in END_MARKERS) if i >= 0), default=len(text))
    return text[:cut]


def items_of(request: RewardRequest) -> list[Item]:
    """One item per query.

    Raises:
        ValueError: ``labels`` missing or not aligned with ``query``, or a bad spec.
    """
    n = len(request.query)
    prompts: list[str | None] = [None] * n if request.prompts is None else [*request.prompts]
    labels = request.labels
    if labels is None or len(labels) != n or len(prompts) != n:
        raise ValueError(f"query, prompts and labels must be aligned lists ({n} queries)")
    return [
        item_from_spec(extract_code(response_text(query, prompt)), label)
        for query, prompt, label in zip(request.query, prompts, labels, strict=True)
    ]


def answer_of(results: Sequence[Result], reward_key: str = "total") -> RewardResponse:
    """The response body for ``results``.

    Raises:
        NotScored: a program could not be judged (the route answers 503, which
            OpenRLHF retries; no reward is invented).
    """
    rewards = rewards_of(results, reward_key)
    ratios = [r.pass_ratio for r in results]
    return RewardResponse(
        rewards=rewards,
        scores=ratios,
        extra_logs={"pass_ratio": ratios, "passed_all": [float(r == 1.0) for r in ratios]},
    )
