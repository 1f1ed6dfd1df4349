"""The multi-turn repair loop every framework's environment wraps: a program is judged,
the model reads :func:`client.feedback_text` of the verdict and tries again; the rollout's
reward is the service's verdict on the final program.

:class:`RepairTask` holds one task's test spec and its attempts; the TRL environment
(:mod:`client.adapters.trl_env`) and the OpenRLHF agent (:mod:`client.adapters.openrlhf_agent`)
differ only in how the framework calls them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from client.adapters._spec import extract_code, item_from_spec, judged, reward_or_none
from client.feedback import feedback_text
from client.models import Item, Result, Status

__all__ = ["Attempt", "RepairTask"]


@dataclass(frozen=True)
class Attempt:
    """One judged program and the message the model gets back."""

    item: Item
    result: Result
    feedback: str

    @property
    def passed(self) -> bool:
        return self.result.status is Status.PASS


@dataclass
class RepairTask:
    """One rollout's task: its test spec and the programs tried so far."""

    spec: Any
    reward_key: str = "total"
    max_chars: int = 1500
    attempts: list[Attempt] = field(default_factory=list)

    def item(self, answer: str) -> Item:
        """The item for a model's answer (the last fenced block, or the whole text)."""
        return item_from_spec(extract_code(answer), self.spec)

    def record(self, item: Item, result: Result) -> Attempt:
        attempt = Attempt(item, result, feedback_text(result, item, max_chars=self.max_chars))
        self.attempts.append(attempt)
        return attempt

    @property
    def final(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    def reward(self) -> float | None:
        """The verdict's reward on the final program; ``None`` when no program was judged
        (none tried, or the last one could not be judged)."""
        final = self.final
        return None if final is None else reward_or_none(final.result, self.reward_key)

    def score(self) -> float | None:
        """The final program's pass ratio (``None`` as for :meth:`reward`)."""
        final = self.final
        return final.result.pass_ratio if final is not None and judged(final.result) else None
