"""The wire shapes of test generation (``POST /v1/testgen``), defined once in
:mod:`client.models` and re-exported here under the names the library has used."""

from __future__ import annotations

from client.models import (
    Reason,
    TestgenItem,
    TestgenJobStatus,
    TestgenRequest,
    TestgenResponse,
    TestgenResult,
    TestgenStats,
    TestgenStatus,
)

__all__ = ["Reason", "TestgenItem", "TestgenJobStatus", "TestgenRequest", "TestgenResponse", "TestgenResult",
           "TestgenStats", "TestgenStatus"]
