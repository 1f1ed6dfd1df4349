"""Properties: the classifier, locator and rewards are total on arbitrary run results.

Whatever the executor hands over (inconsistent counts, frames pointing past the end of
the code, unknown exception classes, odd line endings), annotate never raises, never
falls back to its safety net, and always returns valid categories and finite rewards.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client.models import (
    Case,
    Category,
    ErrorInfo,
    FinishReason,
    Frame,
    Item,
    Result,
    RewardSpec,
    Status,
    TestKind,
    TestResult,
    Tests,
    TestStatus,
    Where,
)
from service.feedback.annotation import annotate
from service.feedback.rewards import Outcome, RewardInput, Scheme, compute_rewards
from service.feedback.taxonomy import Subtype, category_of, subtype_of

NAMES = [
    "IndexError",
    "TypeError",
    "ValueError",
    "EOFError",
    "NameError",
    "UnboundLocalError",
    "KeyError",
    "ImportError",
    "ModuleNotFoundError",
    "ZeroDivisionError",
    "RecursionError",
    "SyntaxError",
    "IndentationError",
    "TabError",
    "MemoryError",
    "AttributeError",
    "AssertionError",
    "StopIteration",
    "SystemExit",
    "Timeout",
    "MemoryLimit",
    "OutputLimit",
    "Signal",
    "Exit",
    "SandboxKilled",
    "__main__.MyErr",
    "builtins.KeyError",
    "Exception",
]
names = st.one_of(st.sampled_from(NAMES), st.text(max_size=12))
small = st.one_of(st.none(), st.integers(min_value=-3, max_value=60))
source = st.text(alphabet=st.sampled_from(list("ab (:)'\"\\#\t\n\r x=1")), max_size=80)

frames = st.builds(
    Frame,
    where=st.sampled_from(list(Where)),
    file=st.text(max_size=5),
    function=st.text(max_size=5),
    line=small,
    end_line=small,
    col=small,
)
errors = st.builds(
    ErrorInfo,
    type=names,
    message=st.text(max_size=20),
    exception_mro=st.lists(names, max_size=4),
    frames=st.lists(frames, max_size=4),
    signal=st.none() | st.integers(0, 64),
    exit_code=st.none() | st.integers(0, 255),
    syntax_unclosed=st.none() | st.booleans(),
)
tests = st.builds(TestResult, status=st.sampled_from(list(TestStatus)), error=st.none() | errors)
results = st.builds(
    Result,
    status=st.sampled_from(list(Status)),
    passed=st.integers(0, 5),
    total=st.integers(0, 5),
    tests=st.lists(tests, max_size=4),
    error=st.none() | errors,
)
specs = st.sampled_from(
    [
        RewardSpec(),
        RewardSpec(scheme="coderl"),
        RewardSpec(scheme="pangu"),
        RewardSpec(scheme="pangu", params={"lambda": 2, "eta": 3}),
        RewardSpec(scheme="pass_fraction", params={"threshold": 0.5}),
        RewardSpec(
            scheme="rltf",
            params={
                "compat_alpha_one": True,
                "compat_timeout_ignore": True,
                "crash_category": "global",
                "unfinished": "positional",
            },
        ),
        RewardSpec(scheme="nope"),
        RewardSpec(scheme="rltf", params={"bad": 1}),
    ]
)
items = st.builds(
    Item,
    code=source,
    prompt=source,
    tests=st.just(Tests(kind=TestKind.ASSERT, cases=[Case(code="assert True")])),
    finish_reason=st.none() | st.sampled_from(list(FinishReason)),
    frame=st.sampled_from(["innermost", "outermost"]),
    reward=specs,
)


def _check_error(error: ErrorInfo, code: str) -> None:
    assert error.subtype in {s.value for s in Subtype}
    assert isinstance(error.category, Category)
    assert isinstance(error.where, Where)
    if error.char_start is not None or error.char_end is not None:
        assert error.where is Where.CODE
        assert error.char_start is not None and error.char_end is not None
        assert 0 <= error.char_start <= error.char_end <= len(code)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=items, result=results)
def test_annotate_is_total(item: Item, result: Result) -> None:
    out = annotate(item, result)
    if result.status is Status.INFRA_ERROR:
        assert out.rewards == {}
        return
    assert out.status is result.status, out.detail  # the safety net never fired
    for test in out.tests:
        if test.error is not None:
            _check_error(test.error, item.code)
        elif test.status in (TestStatus.ERROR, TestStatus.TIMEOUT, TestStatus.CRASH):
            raise AssertionError("an errored test without an error")
    if out.error is not None:
        _check_error(out.error, item.code)
    if result.status is Status.NO_TESTS:
        assert out.rewards == {}
    for value in out.rewards.values():
        assert value is None or (isinstance(value, float) and math.isfinite(value))
    if out.rewards:
        assert out.rewards["total"] is not None
    assert annotate(item, out) == out


@given(
    status=st.sampled_from(list(TestStatus)),
    error=st.none() | errors,
    triple=st.booleans(),
    in_code=st.booleans(),
    unfinished=st.booleans(),
)
def test_classifier_is_total(
    status: TestStatus, error: ErrorInfo | None, triple: bool, in_code: bool, unfinished: bool
) -> None:
    subtype = subtype_of(status, error, triple_quoted=triple)
    assert isinstance(subtype, Subtype)
    assert isinstance(category_of(subtype, in_code=in_code, unfinished=unfinished), Category)


reward_inputs = st.builds(
    RewardInput,
    outcome=st.sampled_from(list(Outcome)),
    passed=st.integers(0, 1000),
    failed=st.integers(0, 1000),
    total=st.integers(0, 1000),
    category=st.none() | st.sampled_from(list(Category)),
    line_span=st.none() | st.tuples(st.integers(-5, 100), st.integers(-5, 100)),
    code_length=st.integers(0, 100),
)


@given(inp=reward_inputs, scheme=st.sampled_from(list(Scheme)))
def test_rewards_are_total(inp: RewardInput, scheme: Scheme) -> None:
    got = compute_rewards(RewardSpec(scheme=scheme.value), inp)
    assert got["total"] is not None and math.isfinite(got["total"])
    for value in got.values():
        assert value is None or math.isfinite(value)
