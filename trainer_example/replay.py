"""Replay buffer of valid solutions in AST-reduced form (PanguCoder-RL, Algorithm 1).

Seeded with the training problems' reference solutions; every later program that passes
all its tests is added. Solutions are stored, and trained on, as their
:func:`~trainer_example.normalize.normalize` form (comments, formatting and unused
functions gone), which is also what they are de-duplicated on, per problem. For each
problem of a batch, ``n_gen`` of its stored solutions are drawn (uniformly, without
replacement) and join the batch with the maximum reward ``r_max``. Each problem keeps at
most ``capacity`` solutions (the oldest leaves first); checkpoints keep the buffer.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from client.models import Status
from trainer_example.data import Problem
from trainer_example.normalize import entry_points, normalize
from trainer_example.rollout import Scored

__all__ = ["ReplayBuffer", "Replayed"]


@dataclass(frozen=True)
class Replayed:
    """A stored valid solution (AST-reduced) of a problem."""

    problem: Problem
    code: str


class ReplayBuffer:
    """Per problem, an ordered set of AST-reduced valid solutions."""

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        self._items: dict[str, OrderedDict[str, Replayed]] = {}
        self._capacity = capacity
        self._rng = random.Random(seed)
        self.duplicates = 0

    def __len__(self) -> int:
        return sum(len(v) for v in self._items.values())

    def solutions(self, problem_id: str) -> list[str]:
        """The stored (AST-reduced) solutions of a problem, oldest first."""
        return list(self._items.get(problem_id, {}))

    def seed(self, problems: Iterable[Problem]) -> int:
        """Add the problems' reference solutions; how many were added."""
        return sum(self._add(p, p.reference) for p in problems if p.reference)

    def add(self, scored: Scored) -> bool:
        """Store a passing program; ``False`` when it is not valid or a duplicate."""
        if scored.result.status is not Status.PASS:
            return False
        return self._add(scored.sample.problem, scored.sample.code)

    def _add(self, problem: Problem, code: str) -> bool:
        if self._capacity <= 0:
            return False
        reduced = normalize(code, entry_points(problem.tests))
        if reduced is None:
            return False
        stored = self._items.setdefault(problem.id, OrderedDict())
        if reduced in stored:
            self.duplicates += 1
            return False
        stored[reduced] = Replayed(problem, reduced)
        while len(stored) > self._capacity:
            stored.popitem(last=False)
        return True

    def sample(self, problems: Sequence[Problem], n_gen: int) -> list[Replayed]:
        """Up to ``n_gen`` stored solutions of each distinct problem, in problem order."""
        out: list[Replayed] = []
        for problem_id in dict.fromkeys(p.id for p in problems):
            values = list(self._items.get(problem_id, {}).values())
            out += self._rng.sample(values, min(n_gen, len(values)))
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"duplicates": self.duplicates, "solutions": {k: list(v) for k, v in self._items.items()}}

    def load_state_dict(self, state: dict[str, Any], problems: Sequence[Problem]) -> None:
        """Restore the stored solutions of the problems still being trained on."""
        by_id = {p.id: p for p in problems}
        self.duplicates = int(state.get("duplicates", 0))
        self._items = {
            key: OrderedDict((code, Replayed(by_id[key], code)) for code in codes)
            for key, codes in state.get("solutions", {}).items()
            if key in by_id
        }
