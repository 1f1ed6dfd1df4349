"""verl-style scoring functions backed by the service.

Point verl's ``custom_reward_function`` at this file::

    custom_reward_function.path=<site-packages>/client/adapters/verl.py
    custom_reward_function.name=compute_score            # NaiveRewardManager, per sample
    # or name=compute_score_batch with reward_model.reward_manager=batch
    +custom_reward_function.reward_kwargs.url=http://utrs:8000

``ground_truth`` (the parquet's ``reward_model.ground_truth``) is a test spec as in
:func:`client.adapters.item_from_spec`, e.g. verl's ``prime_code`` form
``{"inputs": [...], "outputs": [...], "fn_name"?}`` or a ``Tests`` object. The program is
the last fenced code block of ``solution_str``. verl itself is not imported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from client.adapters._clients import shared_client
from client.adapters._spec import extract_code, item_from_spec, rewards_of
from client.models import Item, Result

__all__ = ["compute_score", "compute_score_batch"]


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    url: str | None = None,
    reward_key: str = "total",
) -> dict[str, float]:
    """Score one response: ``{"score": reward, "pass_ratio": ..., "passed": ...}``.

    verl uses ``score`` as the reward and logs the other keys.

    Raises:
        NotScored: the program could not be judged (no score is invented for it).
    """
    return compute_score_batch(
        [data_source], [solution_str], [ground_truth], [extra_info], url=url,
        reward_key=reward_key,
    )[0]


def compute_score_batch(
    data_sources: Sequence[str],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    *,
    url: str | None = None,
    reward_key: str = "total",
) -> list[dict[str, float]]:
    """Score a batch in one request (verl's ``BatchRewardManager`` calling convention)."""
    infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
    items = [
        _item(source, solution, truth, info)
        for source, solution, truth, info in zip(
            data_sources, solution_strs, ground_truths, infos, strict=True
        )
    ]
    results = shared_client(url).evaluate(items)
    return [_scored(r, reward) for r, reward in zip(results, rewards_of(results, reward_key),
                                                    strict=True)]


def _item(
    data_source: str, solution: str, truth: Any, info: Mapping[str, Any] | None
) -> Item:
    index = (info or {}).get("index")
    item_id = f"{data_source}:{index}" if index is not None else data_source
    return item_from_spec(extract_code(solution), truth, id=item_id)


def _scored(result: Result, reward: float) -> dict[str, float]:
    return {"score": reward, "pass_ratio": result.pass_ratio, "passed": float(result.passed)}
