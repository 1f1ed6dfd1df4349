"""Choosing a suite among the inputs that survived the filters (test-suite reduction in
the spirit of EvalPlus): greedily, the input that adds the most reference lines not yet
run and mutants not yet told apart, until none adds anything or ``most`` are chosen;
then, if ``fill``, inputs whose outputs the suite does not have yet, up to ``n_tests``.
``most`` (default ``n_tests``) above ``n_tests`` lets the suite grow past it while inputs
still tell new mutants apart: the cap adapts to the function. ``detect`` (N-detect, as
in hardware testing): a mutant counts as told apart once that many chosen inputs tell it
apart, so the suite kills each mutant with several different inputs; a suite that does
generalises better to the faults it was not chosen with."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
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


def _gain(e: Evidence, lines: set[int], kills: Counter[int], detect: int) -> int:
    return len(e.lines - lines) + sum(kills[m] < detect for m in e.kills)


def choose(evidence: list[Evidence], n_tests: int, *, fill: bool = True,
           most: int | None = None, detect: int = 1, pinned: Sequence[int] = ()) -> tuple[list[int], int]:
    """The indices of the chosen inputs (in input order) and how many of them the
    coverage/mutant criterion chose (the rest fill the suite with new outputs);
    ``pinned`` (indices: the caller's own inputs) are chosen first, up to ``n_tests``."""
    wanted = set(pinned)
    chosen = [e for e in evidence if e.index in wanted][:n_tests]
    lines: set[int] = set().union(*(e.lines for e in chosen))
    kills: Counter[int] = Counter(m for e in chosen for m in e.kills)
    rest = [e for e in evidence if e not in chosen]
    while rest and len(chosen) < max(most or n_tests, n_tests):
        best = max(rest, key=lambda e: (_gain(e, lines, kills, detect), -e.size, -e.index))
        if _gain(best, lines, kills, detect) == 0:
            break
        chosen.append(best)
        rest.remove(best)
        lines |= best.lines
        kills.update(best.kills)
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
