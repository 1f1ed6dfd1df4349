"""Baselines of RLTF's coarse and adaptive terms (eqs. 6 and 10): one program per problem.

A baseline is one judged program ``W^b`` for the sample's problem, scored as the RLTF code
scores it (``get_reward_from_error_type`` in its ``datasets/utils.py``): -1.0 syntax
error, -0.6 other error, +1.0 pass, and for a failure -0.3, or -0.3 + 1.3 * pass ratio
with adaptive feedback on (a failure's adaptive value replaces its coarse value). Only a
failure has a pass-ratio term: an errored program scores -0.6 however many tests it
passed before the error.

- ``latest_greedy`` (the RLTF code, the default): the greedy program the current policy
  wrote for the problem in the same generation pass;
- ``best_so_far`` (the paper's "historical optimal code", §3.4): per problem, the one
  best program judged in earlier batches, ranked by its adaptive score (ties keep the
  older one); both of its scores come from that same program;
- ``none``, and any baseline before a program exists: 0 (the RLTF code's
  ``baseline_error == -1``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from client.models import Result, Status
from trainer_example.config import BaselineMode
from trainer_example.rollout import Scored, reward

__all__ = ["ZERO", "Baseline", "BestSoFar", "LatestGreedy", "NoBaseline", "ProgramScore", "make"]

_UNSCORED = (Status.INFRA_ERROR, Status.NO_TESTS)


@dataclass(frozen=True)
class ProgramScore:
    """RLTF's two scalar scores of one judged program (rltf reward scheme)."""

    coarse: float  # the coarse table: +1 / -0.3 / -0.6 / -1
    adaptive: float  # the same, with a failure's value replaced by -0.3 + 1.3 * pass ratio

    @classmethod
    def of(cls, result: Result | None) -> ProgramScore | None:
        """The scores of a judged program; None when it was not scored."""
        if result is None or result.status in _UNSCORED:
            return None
        coarse = reward(result, "coarse")
        adaptive = result.rewards.get("adaptive")  # the service sets it for failures only
        return cls(coarse, coarse if adaptive is None else float(adaptive))


ZERO = ProgramScore(0.0, 0.0)


class Baseline(Protocol):
    def value(self, scored: Scored) -> ProgramScore: ...

    def observe(self, batch: list[Scored]) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class NoBaseline:
    def value(self, scored: Scored) -> ProgramScore:
        return ZERO

    def observe(self, batch: list[Scored]) -> None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


class LatestGreedy(NoBaseline):
    """The greedy program's scores; 0 when it could not be judged."""

    def value(self, scored: Scored) -> ProgramScore:
        return ProgramScore.of(scored.greedy) or ZERO


class BestSoFar:
    """Per problem, the scores of the one best program judged so far (0 before any)."""

    def __init__(self) -> None:
        self.best: dict[str, ProgramScore] = {}

    def value(self, scored: Scored) -> ProgramScore:
        return self.best.get(scored.sample.problem.id, ZERO)

    def observe(self, batch: list[Scored]) -> None:
        """Fold a batch in; call after the batch's loss so it does not baseline itself."""
        for scored in batch:
            score = ProgramScore.of(scored.result)
            key = scored.sample.problem.id
            old = self.best.get(key)
            if score is not None and (old is None or score.adaptive > old.adaptive):
                self.best[key] = score

    def state_dict(self) -> dict[str, Any]:
        return {"best": {k: [v.coarse, v.adaptive] for k, v in self.best.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = {k: ProgramScore(float(v[0]), float(v[1])) for k, v in state.get("best", {}).items()}


def make(mode: BaselineMode) -> Baseline:
    """The baseline for a mode."""
    if mode is BaselineMode.BEST_SO_FAR:
        return BestSoFar()
    if mode is BaselineMode.LATEST_GREEDY:
        return LatestGreedy()
    return NoBaseline()
