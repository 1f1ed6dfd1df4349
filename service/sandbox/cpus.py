"""Which CPU a new sandbox container is pinned to: the engine's sandbox containers spread
evenly over its CPUs, whichever worker or pool started them.

A container judges one program at a time, and each program is a chain of hand-offs
between the agent's processes (agent, zygote, program, harness). Left to the kernel, the
two containers of a 2-core host keep waking each other's processes on the other core:
the machine was 11-15% idle during a batch, and 0.6-1.4% with each container pinned to a
core of its own (``docs/benchmarks.md``). The engine is the only state every worker
shares, so a container's CPU is a label on it (read back with one listing): a new
container takes the least-used CPU (ties broken at random), and once it answers, its pool
looks again: where pools chose at the same moment and collided, the youngest containers
of a CPU holding more than its share are started again on the least-used one (every pool
computes the same answer from the same listing, and moves only its own).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Placed", "least_used", "must_move"]


@dataclass(frozen=True)
class Placed:
    """A pinned sandbox container on the engine: its CPU and its age."""

    cid: str
    cpu: int
    created: int  # the engine's creation time (seconds; ties: the id decides)


def _counts(ncpu: int, placed: Iterable[Placed]) -> list[int]:
    counts = [0] * ncpu
    for p in placed:
        if 0 <= p.cpu < ncpu:
            counts[p.cpu] += 1
    return counts


def least_used(ncpu: int, placed: Iterable[Placed], rng: random.Random | None = None) -> int:
    """The CPU with the fewest containers (one of them at random when several tie)."""
    counts = _counts(ncpu, placed)
    low = min(counts)
    return (rng or random).choice([cpu for cpu, n in enumerate(counts) if n == low])


def must_move(cid: str, ncpu: int, placed: list[Placed]) -> bool:
    """Whether container ``cid`` (one of ``placed``) should go to another CPU: its CPU
    holds more than an even share and it is one of the youngest there, the excess."""
    mine = next((p for p in placed if p.cid == cid), None)
    if mine is None or not 0 <= mine.cpu < ncpu:
        return False
    counts = _counts(ncpu, placed)
    share = math.ceil(sum(counts) / ncpu)
    excess = counts[mine.cpu] - share
    if excess <= 0:
        return False
    here = sorted((p for p in placed if p.cpu == mine.cpu), key=lambda p: (p.created, p.cid), reverse=True)
    return cid in {p.cid for p in here[:excess]}
