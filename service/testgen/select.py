"""Choosing a suite among the inputs that survived the filters (test-suite reduction in
the spirit of EvalPlus): greedily, the input that adds the most reference lines not yet
run and mutants not yet told apart, until none adds anything; then, if ``fill``, inputs
whose outputs the suite does not have yet, up to ``n_tests``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

__all__ = ["Evidence", "choose"]


@dataclass(frozen=True)
class Evidence:
    """What one surviving input showed: its output (canonical text), the reference lines
    it ran, the mutants it told apart from the reference, and its size (shorter first)."""

    index: int
    output: str
    lines: frozenset[int]
    kills: frozenset[int]
    size: int


def _gain(e: Evidence, lines: set[int], kills: set[int]) -> int:
    return len(e.lines - lines) + len(e.kills - kills)


def choose(evidence: list[Evidence], n_tests: int, *, fill: bool = True) -> tuple[list[int], int]:
    """The indices of the chosen inputs (in input order) and how many of them the
    coverage/mutant criterion chose (the rest fill the suite with new outputs)."""
    chosen: list[Evidence] = []
    lines: set[int] = set()
    kills: set[int] = set()
    rest = list(evidence)
    while rest and len(chosen) < n_tests:
        best = max(rest, key=lambda e: (_gain(e, lines, kills), -e.size, -e.index))
        if _gain(best, lines, kills) == 0:
            break
        chosen.append(best)
        rest.remove(best)
        lines |= best.lines
        kills |= best.kills
    core = len(chosen)
    counts = Counter(e.output for e in chosen)
    while rest and len(chosen) < n_tests and (fill or len(counts) < 2 or len(chosen) < 2):
        # the rarest output so far, then the input that ran the most, then the shortest
        best = min(rest, key=lambda e: (counts[e.output], -len(e.kills), -len(e.lines), e.size, e.index))
        if not fill and best.output in counts and len(chosen) >= 2:
            break
        chosen.append(best)
        rest.remove(best)
        counts[best.output] += 1
    return sorted(e.index for e in chosen), core
