"""Replay buffer of valid solutions, de-duplicated after AST normalisation (PanguCoder-RL).

Programs that passed every test are kept (per problem, first come) and replayed into
later actor-critic batches; a program equal to a stored one after
:func:`~trainer_example.normalize.normalize` is not added again.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from typing import Any

from client.models import Status
from trainer_example.normalize import entry_points, normalize
from trainer_example.rollout import Scored

__all__ = ["ReplayBuffer"]


class ReplayBuffer:
    """Bounded store of passing programs, keyed by (problem id, normalised program)."""

    def __init__(self, capacity: int, *, seed: int = 0) -> None:
        self._items: OrderedDict[tuple[str, str], Scored] = OrderedDict()
        self._capacity = capacity
        self._rng = random.Random(seed)
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, scored: Scored) -> bool:
        """Store a passing program; ``False`` when it is not valid or a duplicate."""
        if scored.result.status is not Status.PASS or self._capacity <= 0:
            return False
        problem = scored.sample.problem
        key = normalize(scored.sample.code, entry_points(problem.tests))
        if key is None:
            return False
        if (problem.id, key) in self._items:
            self.duplicates += 1
            return False
        self._items[(problem.id, key)] = scored
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)
        return True

    def sample(self, n: int) -> list[Scored]:
        """Up to ``n`` stored programs, uniformly without replacement."""
        values = list(self._items.values())
        return self._rng.sample(values, min(n, len(values)))

    def state_dict(self) -> dict[str, Any]:
        return {"duplicates": self.duplicates, "size": len(self._items)}
