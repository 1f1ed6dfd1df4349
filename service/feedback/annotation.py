"""The feedback facade: the executor's structured result in, the classified, located,
rewarded result out.

Applies :mod:`.taxonomy` (sub-error, category), :mod:`.location` (where, line, char
span), :mod:`.truncation` (truncated code) and :mod:`.rewards` (reward schemes) to a
:class:`~client.models.Result`. Pure: no I/O beyond a log line.

Which error decides the program's feedback (``Result.error``): the first test, in test
order, whose status is an error (error/timeout/memory/output_limit/crash) when the
program's status is ``error``; the first failed test's error (an assert case's
AssertionError; None for stdio/call wrong answers) when it is ``failure``; None when it
passed. Every test keeps its own annotated error in ``tests[]``.
"""

from __future__ import annotations

import logging
from typing import Any

from client.models import (
    Category,
    ErrorInfo,
    FinishReason,
    Item,
    Result,
    Status,
    TestResult,
    TestStatus,
    Where,
)
from service.errors import InvalidField
from service.feedback.location import FrameChoice, locate, opens_unterminated_triple_quote
from service.feedback.rewards import Outcome, RewardInput, Rewards, Scheme, compute_rewards, resolve_params
from service.feedback.taxonomy import (
    ERROR_STATUSES,
    ClassifyOptions,
    Subtype,
    category_of,
    is_compile_error,
    subtype_of,
)
from service.feedback.truncation import MAX_SCAN_CHARS, UnfinishedRule, ends_open, is_unfinished

__all__ = ["annotate", "annotate_error", "classify_options", "decisive_index"]

logger = logging.getLogger(__name__)

# What the agent reports when it has no exception to describe; used when a test's
# error is missing so every errored test still gets a category.
_PSEUDO_TYPE: dict[TestStatus, str] = {
    TestStatus.ERROR: "Error",
    TestStatus.TIMEOUT: "Timeout",
    TestStatus.MEMORY: "MemoryLimit",
    TestStatus.OUTPUT_LIMIT: "OutputLimit",
    TestStatus.CRASH: "Exit",
}
_NO_REWARDS = frozenset({Status.NO_TESTS, Status.INFRA_ERROR})


def classify_options(params: dict[str, Any]) -> ClassifyOptions:
    """Classifier overrides carried by the rltf scheme's parameters (defaults otherwise)."""
    return ClassifyOptions(
        timeout_ignore=bool(params.get("compat_timeout_ignore", False)),
        crash_category=Category(params.get("crash_category", Category.IGNORE)),
        unfinished=UnfinishedRule(params.get("unfinished", UnfinishedRule.AUTO)),
    )


def _source_text(item: Item, where: Where) -> str:
    return {Where.CODE: item.code, Where.PROMPT: item.prompt}.get(where, "")


def _unclosed(item: Item, error: ErrorInfo) -> bool:
    """The program text ends inside an open bracket/string (only asked of truncated code)."""
    if item.finish_reason is not FinishReason.LENGTH:
        return False
    program = item.prompt + item.code
    if len(program) > MAX_SCAN_CHARS:
        return bool(error.syntax_unclosed)
    return ends_open(program)


def annotate_error(
    item: Item, status: TestStatus, error: ErrorInfo, options: ClassifyOptions
) -> ErrorInfo:
    """Fill subtype, category, where, line, end_line, col and char span of one error."""
    compile_error = is_compile_error(error)
    loc = locate(error, item.code, choice=FrameChoice(item.frame), compile_error=compile_error)
    triple = compile_error and opens_unterminated_triple_quote(
        _source_text(item, loc.where), loc.line
    )
    subtype = subtype_of(status, error, triple_quoted=triple)
    unfinished = compile_error and is_unfinished(
        item.code,
        loc,
        finish_reason=item.finish_reason,
        unclosed=compile_error and _unclosed(item, error),
        rule=options.unfinished,
    )
    if unfinished and subtype is Subtype.INDENTATION and item.finish_reason is None and not error.syntax_unclosed:
        # Without a finish reason, position alone cannot tell a cut-off block from a
        # complete program whose last line is mis-indented (Table 2: U_ignore); only a
        # block the compiler still expected at the end counts as cut off.
        unfinished = False
    category = category_of(
        subtype, in_code=loc.char_start is not None, unfinished=unfinished, options=options
    )
    return error.model_copy(update={**loc.fields(), "subtype": subtype.value, "category": category})


def _annotate_test(item: Item, test: TestResult, options: ClassifyOptions) -> TestResult:
    error = test.error
    if error is None and test.status in _PSEUDO_TYPE:
        error = ErrorInfo(type=_PSEUDO_TYPE[test.status])
    if error is None:
        return test
    return test.model_copy(update={"error": annotate_error(item, test.status, error, options)})


def decisive_index(status: Status, tests: list[TestResult]) -> int | None:
    """Index of the test whose error decides the program's feedback (module docstring)."""
    if status is Status.ERROR:
        wanted: frozenset[TestStatus] = ERROR_STATUSES
    elif status is Status.FAILURE:
        wanted = frozenset({TestStatus.FAIL})
    else:
        return None
    for index, test in enumerate(tests):
        if test.status in wanted and test.error is not None:
            return index
    return None


def _outcome(status: Status, error: ErrorInfo | None) -> Outcome:
    if status is Status.PASS:
        return Outcome.PASS
    if status is Status.FAILURE:
        return Outcome.FAILURE
    program_text = error is not None and error.where in (Where.CODE, Where.PROMPT)
    if error is not None and program_text and is_compile_error(error):
        return Outcome.SYNTAX_ERROR
    return Outcome.ERROR


def _reward_input(item: Item, result: Result, error: ErrorInfo | None) -> RewardInput:
    span = None
    if error is not None and error.char_start is not None and error.char_end is not None:
        span = (error.char_start, error.char_end)
    return RewardInput(
        outcome=_outcome(result.status, error),
        passed=result.passed,
        failed=sum(1 for t in result.tests if t.status is TestStatus.FAIL),
        total=result.total,
        category=error.category if error is not None else None,
        line_span=span,
        code_length=len(item.code),
    )


def _program_error(
    item: Item, result: Result, tests: list[TestResult], options: ClassifyOptions
) -> ErrorInfo | None:
    index = decisive_index(result.status, tests)
    if index is not None:
        return tests[index].error
    if result.error is not None and result.status is Status.ERROR:
        return annotate_error(item, TestStatus.ERROR, result.error, options)
    return None


def _annotate(item: Item, result: Result) -> Result:
    detail = result.detail
    scheme: Scheme | None = None
    params: dict[str, Any] | None = None
    try:
        scheme, params = resolve_params(item.reward)
    except InvalidField as exc:  # the API rejects these (422); direct callers get a note
        detail = f"rewards not computed: {exc.message}"
    options = classify_options(params) if params is not None and scheme is Scheme.RLTF else ClassifyOptions()
    tests = [_annotate_test(item, t, options) for t in result.tests]
    error = _program_error(item, result, tests, options)
    rewards: Rewards = {}
    if result.status not in _NO_REWARDS and params is not None:
        rewards = compute_rewards(item.reward, _reward_input(item, result, error))
    return result.model_copy(
        update={"tests": tests, "error": error, "rewards": rewards, "detail": detail}
    )


def annotate(item: Item, result: Result) -> Result:
    """Classify and locate every per-test error, pick ``Result.error``, compute rewards.

    Never raises. ``no_tests`` and ``infra_error`` results get no rewards (an empty
    dict); an invalid reward spec (normally refused by the API with a 422) gets none
    either and a ``detail`` saying why. A bug in this module turns the result into an
    ``infra_error`` (retried by clients, never scored) rather than a wrong reward.
    """
    if result.status is Status.INFRA_ERROR:
        return result.model_copy(update={"rewards": {}})
    try:
        return _annotate(item, result)
    except Exception as exc:  # a bug here must never become a reward
        logger.exception("feedback failed for item %s", item.id)
        return result.model_copy(
            update={"status": Status.INFRA_ERROR, "rewards": {}, "detail": f"feedback: {exc!r}"}
        )
