"""The end-of-run summary of a batch: counts are pure, the table is plain text."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from client.models import Result, Status

_UNSCORED = (Status.INFRA_ERROR, Status.NO_TESTS)


@dataclass(frozen=True)
class Summary:
    items: int
    elapsed_s: float
    outcomes: Counter[str] = field(default_factory=Counter)
    subtypes: Counter[str] = field(default_factory=Counter)
    cached: int = 0
    tests_passed: int = 0
    tests_total: int = 0

    @classmethod
    def of(cls, results: Sequence[Result], elapsed_s: float) -> Summary:
        subtypes: Counter[str] = Counter()
        for result in results:
            if result.status in (Status.ERROR, Status.FAILURE) and result.error is not None:
                subtypes[result.error.subtype or result.error.type] += 1
        return cls(
            items=len(results),
            elapsed_s=elapsed_s,
            outcomes=Counter(str(result.status) for result in results),
            subtypes=subtypes,
            cached=sum(result.cached for result in results),
            tests_passed=sum(result.passed for result in results),
            tests_total=sum(result.total for result in results),
        )

    @property
    def judged(self) -> int:
        """Items with a verdict (not ``infra_error``, not ``no_tests``)."""
        return self.items - sum(self.outcomes[str(status)] for status in _UNSCORED)

    @property
    def pass_rate(self) -> float:
        return self.outcomes[str(Status.PASS)] / self.judged if self.judged else 0.0

    @property
    def throughput(self) -> float:
        return self.items / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def table(self) -> str:
        """A two-column text table for a terminal."""
        passed = self.outcomes[str(Status.PASS)]
        rows = [
            ("items", str(self.items)),
            ("pass rate", f"{self.pass_rate:.3f}  ({passed}/{self.judged} judged)"),
            ("tests passed", f"{self.tests_passed}/{self.tests_total}"),
            ("outcomes", _counts(self.outcomes, [str(s) for s in Status])),
            ("sub-errors", _counts(self.subtypes) or "-"),
            ("cache hits", f"{self.cached}  ({_share(self.cached, self.items)})"),
            ("elapsed", f"{self.elapsed_s:.2f} s"),
            ("throughput", f"{self.throughput:.1f} programs/s"),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _counts(counts: Counter[str], order: Sequence[str] | None = None) -> str:
    keys = [k for k in order if counts[k]] if order else [k for k, _ in counts.most_common()]
    return ", ".join(f"{key} {counts[key]}" for key in keys)


def _share(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"
