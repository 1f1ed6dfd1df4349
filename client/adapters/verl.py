"""verl scoring functions backed by the service (verl 0.9, its reward loop).

verl's reward loop imports the function named by ``reward.custom_reward_function`` and
calls it once per sample, with keywords: ``data_source``, ``solution_str``,
``ground_truth`` (the parquet's ``reward_model.ground_truth``: a test spec as in
:func:`client.adapters.item_from_spec`), ``extra_info``, the
``reward.custom_reward_function.reward_kwargs`` and, when a reward model is configured,
``reward_router_address`` and ``reward_model_tokenizer``::

    reward.custom_reward_function.path=pkg://client.adapters.verl
    reward.custom_reward_function.name=compute_score
    +reward.custom_reward_function.reward_kwargs.url=http://utrs:8000

=========================  ============================================================
``compute_score``          ``async def``, the default: concurrent samples of a reward
                           loop worker go out as one ``/v1/evaluate`` request
``compute_score_sync``     the same, synchronous (reward manager ``remote``, which refuses
                           async functions, or the ``naive`` one from its threads)
``compute_score_float``    a bare ``float`` (``prime``-style managers call
                           ``float(result)`` and pass the arguments by position)
``compute_score_batch``    lists in, a list out (``batch``-style managers)
=========================  ============================================================

The dict results are ``{"score": reward, "pass_ratio": ..., "passed": ...}``; verl uses
``score`` as the reward and logs the rest. Unknown keywords are accepted and ignored. A
program the service could not judge raises :class:`~client.errors.NotScored` (verl has no
"no reward" value; a made-up 0 would train on it). verl itself is not imported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from client.adapters._clients import Connection
from client.adapters._group import Grouping, evaluate_grouped, evaluate_grouped_sync
from client.adapters._spec import extract_code, item_from_spec, rewards_of
from client.models import Item, Result

__all__ = ["compute_score", "compute_score_batch", "compute_score_float", "compute_score_sync"]


async def compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None = None,
    *, url: str | None = None, api_key: str | None = None, reward_key: str = "total",
    linger_s: float = 0.05, **kwargs: Any,
) -> dict[str, float]:
    """Score one response, sent together with the other samples scored right now.

    Raises:
        NotScored: the program could not be judged (no score is invented for it).
    """
    del kwargs  # reward_router_address, reward_model_tokenizer, ...
    item = _item(data_source, solution_str, ground_truth, extra_info)
    results = await evaluate_grouped(Connection(url, api_key), [item], Grouping(linger_s))
    return _scored(results, reward_key)[0]


def compute_score_sync(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None = None,
    *, url: str | None = None, api_key: str | None = None, reward_key: str = "total",
    linger_s: float = 0.05, **kwargs: Any,
) -> dict[str, float]:
    """:func:`compute_score` for callers that cannot await (samples from concurrent
    threads are still grouped)."""
    del kwargs
    item = _item(data_source, solution_str, ground_truth, extra_info)
    results = evaluate_grouped_sync(Connection(url, api_key), [item], Grouping(linger_s))
    return _scored(results, reward_key)[0]


def compute_score_float(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> float:
    """The reward alone, for managers that call ``float(result)`` (verl's ``prime``)."""
    return compute_score_sync(data_source, solution_str, ground_truth, extra_info, **kwargs)["score"]


def compute_score_batch(
    data_sources: Sequence[str], solution_strs: Sequence[str], ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None, *, url: str | None = None,
    api_key: str | None = None, reward_key: str = "total", **kwargs: Any,
) -> list[dict[str, float]]:
    """Score a batch in one call (``batch``-style managers)."""
    del kwargs
    infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
    items = [
        _item(source, solution, truth, info)
        for source, solution, truth, info in zip(data_sources, solution_strs, ground_truths, infos, strict=True)
    ]
    return _scored(Connection(url, api_key).client().evaluate(items), reward_key)


def _item(data_source: str, solution: str, truth: Any, info: Mapping[str, Any] | None) -> Item:
    index = (info or {}).get("index")
    item_id = f"{data_source}:{index}" if index is not None else str(data_source)
    return item_from_spec(extract_code(solution), truth, id=item_id)


def _scored(results: Sequence[Result], reward_key: str) -> list[dict[str, float]]:
    rewards = rewards_of(results, reward_key)
    return [
        {"score": reward, "pass_ratio": r.pass_ratio, "passed": float(r.passed)}
        for r, reward in zip(results, rewards, strict=True)
    ]
