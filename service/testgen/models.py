"""The wire shapes of test generation (``POST /v1/testgen``): request items and results.

A result's ``tests`` is a wire :class:`client.models.Tests` object that can be put
unchanged into an ``/v1/evaluate`` item; ``reason`` names the filter that rejected an
item (:class:`Reason`). Phase 2 moves these models next to the others in
``client/models.py`` (the wire contract is defined once) and keeps these names as
re-exports.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from client.models import Tests

__all__ = ["Reason", "TestgenItem", "TestgenRequest", "TestgenResponse", "TestgenResult", "TestgenStats",
           "TestgenStatus"]

_IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$"
Identifier = Annotated[str, Field(pattern=_IDENT, max_length=128)]


class TestgenItem(BaseModel):
    """A reference implementation to generate unit tests for."""

    __test__ = False
    model_config = ConfigDict(extra="forbid")

    id: str = Field(max_length=512)
    code: str = Field(min_length=1, description="the reference implementation: module source")
    fn_name: Identifier = Field(description="the function (or method, with class_name) under test")
    class_name: Identifier | None = None
    description: str | None = Field(default=None, description="its docstring/comments; examples seed inputs")
    inputs: list[list[JsonValue]] | None = Field(default=None, description="seed positional argument lists")
    n_tests: int | None = Field(default=None, ge=2, le=200, description="at most this many tests")


class TestgenRequest(BaseModel):
    __test__ = False
    model_config = ConfigDict(extra="forbid")

    items: list[TestgenItem] = Field(min_length=1)
    wait_s: float | None = Field(default=None, gt=0)


class TestgenStatus(StrEnum):
    __test__ = False

    OK = "ok"
    REJECTED = "rejected"  # ``reason`` names the filter
    INFRA_ERROR = "infra_error"  # the sandbox could not run the reference: retry, never a verdict


class Reason(StrEnum):
    """Why an item was rejected: the filter that left it without a usable suite."""

    UNPARSABLE = "unparsable"  # the code is not valid Python
    NO_FUNCTION = "no_function"  # fn_name (in class_name) is not defined at the top level
    NEEDS_CONSTRUCTOR_ARGS = "needs_constructor_args"  # class_name() cannot be called without arguments
    NO_INPUTS = "no_inputs"  # no seeds and no parameter types to generate from
    LOAD_ERROR = "load_error"  # the reference does not load in the sandbox
    KILLED_SANDBOX = "killed_sandbox"  # the reference broke the sandbox agent
    TOO_FEW_TESTS = "too_few_tests"  # fewer than 2 inputs returned (the rest raised or timed out)
    NONDETERMINISTIC = "nondeterministic"  # fewer than 2 inputs gave the same output under two hash seeds
    CONSTANT_OUTPUT = "constant_output"  # every output is the same value


class TestgenStats(BaseModel):
    """Where the candidate inputs went, in the order of the filters."""

    __test__ = False

    seeds: int = 0  # from the description's examples and the item's inputs
    candidates: int = 0  # distinct inputs run against the reference
    returned: int = 0
    raised: int = 0  # of which kept as "raises" tests: raises_kept
    raises_kept: int = 0
    timeouts: int = 0  # over the call budget
    skipped: int = 0  # not run: larger than inputs that were already over budget
    crashed: int = 0  # other outcomes: crash, memory, output limit, an unrecordable value
    oversized: int = 0  # an output too large to be a test
    nondeterministic: int = 0
    distinct_outputs: int = 0
    tests: int = 0
    lines_total: int = 0  # executable lines of the reference the kept inputs could reach
    lines_covered: int = 0
    mutants: int = 0
    mutants_killed: int = 0
    elapsed_ms: float = 0.0


class TestgenResult(BaseModel):
    __test__ = False

    id: str
    status: TestgenStatus
    reason: Reason | None = None
    detail: str | None = None  # what exactly went wrong (rejected and infra_error)
    tests: Tests | None = None
    stats: TestgenStats = Field(default_factory=TestgenStats)
    signature: str | None = None  # the function's def line, as in the code


class TestgenResponse(BaseModel):
    __test__ = False

    results: list[TestgenResult]
