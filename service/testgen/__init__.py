"""Automatic unit-test generation (PanguCoder-RL §3.3): reference implementations in,
wire test suites out; everything a reference does runs in the sandbox.

``testgen(items, pools, settings)`` is the whole feature as a pure function of its
pools (``POST /v1/testgen`` and the jobs API wire it in phase 2); ``python -m
service.testgen CORPUS --out dataset.jsonl`` is the corpus pipeline. See docs/testgen.md.
"""

from service.testgen.models import (
    Reason,
    TestgenItem,
    TestgenRequest,
    TestgenResponse,
    TestgenResult,
    TestgenStats,
    TestgenStatus,
)
from service.testgen.options import Prefer, TestgenOptions
from service.testgen.pipeline import testgen
from service.testgen.pools import OraclePools, open_pools

__all__ = [
    "OraclePools",
    "Prefer",
    "Reason",
    "TestgenItem",
    "TestgenOptions",
    "TestgenRequest",
    "TestgenResponse",
    "TestgenResult",
    "TestgenStats",
    "TestgenStatus",
    "open_pools",
    "testgen",
]
