"""Sizes and helpers of the test-generation tests (tests/testgen).

CI runs the generation with small candidate budgets (:data:`CI_OPTIONS`);
``UTRS_TESTGEN_FULL=1`` runs it with the defaults of :class:`TestgenOptions`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from service.testgen import TestgenOptions

__all__ = ["CI_OPTIONS", "FULL", "options"]

FULL = os.environ.get("UTRS_TESTGEN_FULL", "") not in ("", "0")
CI_OPTIONS = TestgenOptions() if FULL else TestgenOptions(max_candidates=100, mutations=50, hypothesis_examples=40,
                                                          mutants=12)


def options(**changes: Any) -> TestgenOptions:
    """:data:`CI_OPTIONS` with some fields changed."""
    return dataclasses.replace(CI_OPTIONS, **changes)
