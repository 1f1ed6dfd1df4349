"""What flows from the generation side to the training side.

A :class:`Sample` is one program the policy wrote; a :class:`Scored` sample carries the
service's :class:`~client.models.Result` for it and, for the ``latest_greedy`` baseline,
the result of the greedy program written for the same problem in the same pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from client.models import FinishReason, Item, Limits, Result, RewardSpec
from trainer_example.data import Problem

__all__ = ["Sample", "Scored", "reward", "to_item"]


@dataclass(frozen=True)
class Sample:
    problem: Problem
    code: str
    finish_reason: FinishReason
    new_tokens: int
    policy_step: int  # the optimizer step whose weights wrote it
    greedy: bool = False
    token_ids: tuple[int, ...] = ()  # the sampled ids of ``code`` (EOS and padding removed)


@dataclass(frozen=True)
class Scored:
    sample: Sample
    result: Result
    greedy: Result | None = None


def to_item(sample: Sample, *, scheme: str, timeout_s: float, item_id: str) -> Item:
    """The wire item for one program (the prompt is comments, so it is not sent)."""
    return Item(
        id=item_id,
        code=sample.code,
        tests=sample.problem.tests,
        finish_reason=sample.finish_reason,
        limits=Limits(timeout_s=timeout_s),
        reward=RewardSpec(scheme=scheme),
    )


def reward(result: Result, key: str) -> float:
    """A reward component; a missing or null one counts as 0 (e.g. ``fine`` on a pass)."""
    value = result.rewards.get(key)
    return float(value) if value is not None else 0.0
