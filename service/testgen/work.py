"""One item's state through test generation (:mod:`.pipeline`): its candidates, the
reference's outcomes over the rounds, the mutants' runs, and the evidence each kept
input brings to the suite's choice (lines run, mutants told apart)."""

from __future__ import annotations

from dataclasses import dataclass, field

from service.testgen.candidates import Candidate
from service.testgen.models import Reason, TestgenItem, TestgenResult, TestgenStats, TestgenStatus
from service.testgen.oracle import Failure, Outcome, Probe, Seen, output_key

__all__ = ["Work"]

_FAILURES = {"killed": Reason.KILLED_SANDBOX, "load": Reason.LOAD_ERROR}


@dataclass
class Work:
    """One item's state; ``result`` is set once it is decided (ok, rejected, infra)."""

    item: TestgenItem
    stats: TestgenStats = field(default_factory=TestgenStats)
    result: TestgenResult | None = None
    candidates: list[Candidate] = field(default_factory=list)
    description: str = ""
    body_lines: frozenset[int] = frozenset()
    signature: str | None = None
    first: Probe | None = None
    first_seen: list[Outcome] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)
    second: Probe | None = None
    traced: Probe | None = None
    traced_kept: list[int] = field(default_factory=list)  # the kept inputs the traced run measures
    mutants: list[Probe] = field(default_factory=list)

    def reject(self, reason: Reason, detail: str) -> None:
        self.result = TestgenResult(id=self.item.id, status=TestgenStatus.REJECTED, reason=reason, detail=detail,
                                    stats=self.stats, signature=self.signature)

    def fail(self, failure: Failure) -> None:
        if failure.why in _FAILURES:
            self.reject(_FAILURES[failure.why], failure.detail)
        else:
            self.result = TestgenResult(id=self.item.id, status=TestgenStatus.INFRA_ERROR, detail=failure.detail,
                                        stats=self.stats, signature=self.signature)

    def to_trace(self, count: int) -> list[int]:
        """The kept inputs whose lines are measured: one per distinct output first, then more."""
        seen: set[str] = set()
        first: list[int] = []
        rest: list[int] = []
        for i in self.kept:
            out = output_key(self.first_seen[i])
            (rest if out in seen else first).append(i)
            seen.add(out)
        return (first + rest)[:count]

    def lines(self) -> dict[int, frozenset[int]]:
        """Reference lines each traced input ran (the body's statement lines)."""
        outcomes = self.traced.outcomes if self.traced is not None else None
        if not isinstance(outcomes, list):
            return {}
        return {i: o.lines & self.body_lines for i, o in zip(self.traced_kept, outcomes, strict=True)}

    def kills(self, index: int) -> frozenset[int]:
        """The mutants that input ``index`` tells apart from the reference."""
        position = self.kept.index(index)
        killed = set()
        for number, probe in enumerate(self.mutants):
            outcomes = probe.outcomes
            if not isinstance(outcomes, list):
                continue
            seen = outcomes[position]
            if seen.seen is not Seen.SKIPPED and not self.first_seen[index].same_as(seen):
                killed.add(number)
        return frozenset(killed)
