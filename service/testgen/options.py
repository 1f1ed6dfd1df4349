"""The knobs of test generation, with their defaults; the service's come from its
``testgen_*`` settings (:func:`options_of`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from service.settings import Settings

__all__ = ["Prefer", "TestgenOptions", "options_of"]


class Prefer(StrEnum):
    """Which wire test kind to write: ``auto`` writes ``call`` tests when every argument and
    expected value is exact JSON (no tuples, sets, floats or raises tests), else ``assert``."""

    AUTO = "auto"
    ASSERT = "assert"
    CALL = "call"


@dataclass(frozen=True)
class TestgenOptions:
    __test__ = False

    # An item's default n_tests: a suite has up to this many tests; one whose item names
    # no n_tests grows past it, up to max_tests, while inputs still tell new mutants of the
    # reference apart or run new lines (an item's own n_tests is a hard cap).
    n_tests: int = 10
    max_tests: int = 30
    detect: int = 2  # the suite tells each mutant apart with this many inputs where it can (select.py)
    max_candidates: int = 240  # distinct inputs run against the reference per item
    mutations: int = 120  # type-aware mutants of the seeds (EvalPlus)
    shaped: int = 48  # seeds with a string mutated within its shape (mutate.py: Shapes)
    hypothesis_examples: int = 80  # property-based draws, where the types are known
    # CPU seconds a call of the reference may take, from a timer in its own process (an
    # input over it is dropped; after max_over_budget such inputs the larger ones are not run); the
    # sandbox's own limit, timeout_s, only backs it up. The traced run gets trace_factor
    # times both (tracing is that much slower).
    call_budget_s: float = 0.2
    max_over_budget: int = 8
    timeout_s: float = 0.5
    # The first round runs this many inputs; a reference that ran past the sandbox's limit
    # on max_hung of them is not given the rest (each such input costs the whole limit).
    first_round: int = 16
    max_hung: int = 3
    trace_factor: float = 10.0
    memory_mb: int = 256
    output_kb: int = 64
    # The second run's hash seed (the pool's is the first): an output that differs is
    # nondeterministic (set order, id(), time, random) and the input is dropped.
    reseed: int = 2_654_435_761
    max_value_chars: int = 1000  # a longer expected value (as a literal) is no test
    max_input_chars: int = 1000
    coverage: bool = True  # choose tests by the lines they run (settrace, in the sandbox)
    traced_inputs: int = 40  # how many kept inputs the traced run measures (distinct outputs first)
    # Mutants of the reference that choose tests too (0: none): half 0 of the usual
    # operator set and the SELECTION set (mutants.py; never half 1 of the usual set, which
    # the bench measures with), spread over the function.
    mutants: int = 64
    keep_raises: bool = True  # "raises X" tests when the description names X
    prefer: Prefer = Prefer.AUTO
    seed: int = 0


def options_of(settings: Settings) -> TestgenOptions:
    """The service's test-generation options (its ``testgen_*`` settings)."""
    return TestgenOptions(n_tests=settings.testgen_n_tests, max_candidates=settings.testgen_max_candidates,
                          mutants=settings.testgen_mutants, call_budget_s=settings.testgen_call_budget_s,
                          timeout_s=settings.testgen_timeout_s, reseed=settings.testgen_reseed)
