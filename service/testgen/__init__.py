"""Automatic unit-test generation (PanguCoder-RL §3.3): reference implementations in,
wire test suites out; everything a reference does runs in the sandbox.

``testgen(items, pools, settings)`` is the whole feature as a pure function of its
pools (the workers run it for ``POST /v1/testgen`` and testgen jobs); ``python -m
service.testgen CORPUS --out dataset.jsonl`` is the corpus pipeline on local pools, and
``utrs testgen`` the same over HTTP. See docs/testgen.md.

``testgen``, ``open_pools`` and ``OraclePools`` are loaded on first use: the parts that
only parse (extraction, filters, rows; ``utrs testgen`` on a client machine) never load
the sandbox's Docker SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
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

_LAZY = {"testgen": "service.testgen.pipeline", "OraclePools": "service.testgen.pools",
         "open_pools": "service.testgen.pools"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'service.testgen' has no attribute {name!r}")
