"""service.feedback.annotate on results built by hand: the program-level rules.

(Real sandbox output is covered by tests/sandbox/test_feedback_table.py.)
"""

from __future__ import annotations

import pytest

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
from service.feedback import annotation
from service.feedback.annotation import annotate, decisive_index

CODE = "def f(x):\n    return [1][x]\n"
PASS = TestResult(status=TestStatus.PASS)
FAIL = TestResult(status=TestStatus.FAIL)


def item(**kw: object) -> Item:
    base: dict[str, object] = {
        "code": CODE,
        "tests": Tests(kind=TestKind.ASSERT, cases=[Case(code="assert f(0) == 1")]),
    }
    return Item.model_validate({**base, **kw})


def index_error(line: int = 2) -> TestResult:
    frames = [Frame(where=Where.CODE, file="main.py", function="f", line=line)]
    error = ErrorInfo(type="IndexError", exception_mro=["IndexError", "LookupError"], frames=frames)
    return TestResult(status=TestStatus.ERROR, error=error)


def timeout() -> TestResult:
    return TestResult(status=TestStatus.TIMEOUT, error=ErrorInfo(type="Timeout"))


def failed_assert() -> TestResult:
    frames = [Frame(where=Where.TESTS, file="<tests:case 0>", function="<module>", line=1)]
    return TestResult(status=TestStatus.FAIL, error=ErrorInfo(type="AssertionError", frames=frames))


def result(status: Status, *tests: TestResult, **kw: object) -> Result:
    passed = sum(t.status is TestStatus.PASS for t in tests)
    return Result(status=status, tests=list(tests), passed=passed, total=len(tests), **kw)


# status, tests, index of the deciding test
DECISIVE = [
    ("error first", Status.ERROR, [index_error(), FAIL, FAIL], 0),
    ("fail then error", Status.ERROR, [failed_assert(), index_error()], 1),
    ("pass then timeout then error", Status.ERROR, [PASS, timeout(), index_error()], 1),
    ("failure with an assert case", Status.FAILURE, [PASS, failed_assert()], 1),
    ("stdio failure has no error", Status.FAILURE, [PASS, FAIL], None),
    ("pass", Status.PASS, [PASS, PASS], None),
]


@pytest.mark.parametrize(
    ("name", "status", "tests", "index"), DECISIVE, ids=[d[0] for d in DECISIVE]
)
def test_decisive_error(
    name: str, status: Status, tests: list[TestResult], index: int | None
) -> None:
    assert decisive_index(status, tests) == index
    out = annotate(item(), result(status, *tests))
    if index is None:
        assert out.error is None
    else:
        assert out.error == out.tests[index].error
    assert all(t.error is None or t.error.category is not None for t in out.tests)


@pytest.mark.parametrize("status", [Status.NO_TESTS, Status.INFRA_ERROR])
def test_no_rewards_without_a_verdict(status: Status) -> None:
    assert annotate(item(), Result(status=status)).rewards == {}


def test_invalid_spec_gets_no_rewards_and_a_detail() -> None:
    out = annotate(item(reward={"scheme": "nope"}), result(Status.ERROR, index_error()))
    assert out.rewards == {}
    assert out.status is Status.ERROR
    assert out.detail is not None and "reward.scheme 'nope'" in out.detail
    assert out.error is not None and out.error.subtype == "index"


def test_program_level_error_without_test_errors() -> None:
    frames = [Frame(where=Where.CODE, file="main.py", function="f", line=2)]
    lone = ErrorInfo(type="KeyError", exception_mro=["KeyError"], frames=frames)
    out = annotate(item(), result(Status.ERROR, PASS, error=lone))
    assert out.error is not None
    assert (out.error.subtype, out.error.line) == ("key", 2)


def test_missing_error_is_filled() -> None:
    out = annotate(item(), result(Status.ERROR, TestResult(status=TestStatus.TIMEOUT)))
    assert out.error is not None and out.error.subtype == "timeout"
    assert out.rewards["fine"] == -0.3


# reward params, test, expected category, expected fine
COMPAT = [
    ({}, timeout(), Category.GLOBAL, -0.3),
    ({"compat_timeout_ignore": True}, timeout(), Category.IGNORE, 0.0),
    (
        {"crash_category": "global"},
        TestResult(status=TestStatus.CRASH, error=ErrorInfo(type="Signal", signal=11)),
        Category.GLOBAL,
        -0.3,
    ),
]


@pytest.mark.parametrize(("params", "test", "category", "fine"), COMPAT)
def test_compat_options(
    params: dict[str, object], test: TestResult, category: Category, fine: float
) -> None:
    out = annotate(item(reward={"scheme": "rltf", "params": params}), result(Status.ERROR, test))
    assert out.error is not None and out.error.category is category
    assert out.rewards["fine"] == fine


def _syntax_at_end() -> TestResult:
    frames = [Frame(where=Where.CODE, file="main.py", function="", line=2, col=12)]
    error = ErrorInfo(type="SyntaxError", exception_mro=["SyntaxError"], frames=frames)
    return TestResult(status=TestStatus.ERROR, error=error)


@pytest.mark.parametrize(
    ("finish", "unfinished", "category"),
    [
        (FinishReason.LENGTH, "auto", Category.GLOBAL),
        (None, "auto", Category.GLOBAL),
        (FinishReason.STOP, "auto", Category.LINE),
        (FinishReason.STOP, "positional", Category.GLOBAL),
        (FinishReason.LENGTH, "off", Category.LINE),
    ],
)
def test_unfinished_option(
    finish: FinishReason | None, unfinished: str, category: Category
) -> None:
    spec = {"scheme": "rltf", "params": {"unfinished": unfinished}}
    out = annotate(item(finish_reason=finish, reward=spec), result(Status.ERROR, _syntax_at_end()))
    assert out.error is not None and out.error.category is category
    assert out.error.col == 11  # SyntaxError offsets are 1-based; ErrorInfo.col is 0-based
    assert out.rewards["coarse"] == -1.0


@pytest.mark.parametrize(
    ("spec", "total"),
    [
        (RewardSpec(scheme="pangu"), 50 * 0.5**0.5),
        (RewardSpec(scheme="pass_fraction"), 0.5),
        (RewardSpec(scheme="pass_fraction", params={"threshold": 0.6}), 0.0),
        (RewardSpec(scheme="coderl"), -0.6),
    ],
)
def test_schemes_through_annotate(spec: RewardSpec, total: float) -> None:
    out = annotate(item(reward=spec.model_dump()), result(Status.ERROR, PASS, index_error()))
    assert out.rewards["total"] == pytest.approx(total)


def test_a_bug_becomes_infra_error_not_a_reward(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(annotation, "compute_rewards", boom)
    out = annotate(item(), result(Status.ERROR, index_error()))
    assert out.status is Status.INFRA_ERROR
    assert out.rewards == {}
    assert out.detail is not None and "bug" in out.detail
