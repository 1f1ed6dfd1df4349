"""Baselines for the coarse and adaptive terms (RLTF eqs. 6 and 10).

``best_so_far`` (the paper): the best reward seen for the problem before this batch;
``latest_greedy`` (the RLTF code): the reward of a greedy program the current policy
wrote for the problem in the same generation pass; ``none``: 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from client.models import Status
from trainer_example.config import BaselineMode
from trainer_example.rollout import Scored, adaptive_value, reward

__all__ = ["Baseline", "BaselineValue", "BestSoFar", "LatestGreedy", "NoBaseline", "make"]


@dataclass(frozen=True)
class BaselineValue:
    coarse: float = 0.0
    adaptive: float = 0.0


class Baseline(Protocol):
    def value(self, scored: Scored) -> BaselineValue: ...

    def observe(self, batch: list[Scored]) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class NoBaseline:
    def value(self, scored: Scored) -> BaselineValue:
        return BaselineValue()

    def observe(self, batch: list[Scored]) -> None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


class LatestGreedy(NoBaseline):
    """The greedy program's rewards; 0 when it could not be judged."""

    def value(self, scored: Scored) -> BaselineValue:
        greedy = scored.greedy
        if greedy is None or greedy.status is Status.INFRA_ERROR:
            return BaselineValue()
        return BaselineValue(reward(greedy, "coarse"), adaptive_value(greedy))


class BestSoFar:
    """Per problem, the best coarse and adaptive rewards observed so far (0 before any)."""

    def __init__(self) -> None:
        self.best: dict[str, tuple[float, float]] = {}

    def value(self, scored: Scored) -> BaselineValue:
        coarse, adaptive = self.best.get(scored.sample.problem.id, (0.0, 0.0))
        return BaselineValue(coarse, adaptive)

    def observe(self, batch: list[Scored]) -> None:
        """Fold a batch in; call after the batch's loss so it does not baseline itself."""
        for scored in batch:
            key = scored.sample.problem.id
            coarse = reward(scored.result, "coarse")
            adaptive = adaptive_value(scored.result)
            old = self.best.get(key)
            if old is not None:
                coarse, adaptive = max(coarse, old[0]), max(adaptive, old[1])
            self.best[key] = (coarse, adaptive)

    def state_dict(self) -> dict[str, Any]:
        return {"best": dict(self.best)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = {k: (float(v[0]), float(v[1])) for k, v in state.get("best", {}).items()}


def make(mode: BaselineMode) -> Baseline:
    """The baseline for a mode."""
    if mode is BaselineMode.BEST_SO_FAR:
        return BestSoFar()
    if mode is BaselineMode.LATEST_GREEDY:
        return LatestGreedy()
    return NoBaseline()
