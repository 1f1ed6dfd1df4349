"""A result as the short message a model can act on, for multi-turn repair.

>>> print(feedback_text(result, item))
1 of 2 tests passed. Test 2 raised an error:
    assert f(3) == 2
IndexError: list index out of range
line 3 of your code:
    return y[x]
           ^^^^

It names the first test that did not pass and how (the case itself; for HumanEval-style
``check`` functions, the assertion of the setup that failed), the error class and message,
the error's line in the model's own code with a caret under the failing expression, and
for stdio/call tests the expected against the actual value (a call's return value is not
reported by the service, so only what was expected is shown). Everything comes from the
structured result (frames, columns), never from scraping the traceback text; every piece
is clipped and the whole message is capped at ``max_chars``. Without the ``item`` the
message has no test text and no code line, only what the result itself says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from client.models import ErrorInfo, Item, Result, Status, TestKind, TestResult, TestStatus, Where

__all__ = ["feedback_text"]

_PIECE_CHARS = 300
_HOW = {
    TestStatus.FAIL: "failed",
    TestStatus.ERROR: "raised an error",
    TestStatus.TIMEOUT: "timed out",
    TestStatus.MEMORY: "ran out of memory",
    TestStatus.OUTPUT_LIMIT: "printed more than the output limit",
    TestStatus.CRASH: "crashed",
}
_COMPILE = frozenset({"syntax", "indentation", "triple_quoted"})
_FILE_SUFFIX = re.compile(r" \([^()]*, line \d+\)$")


def feedback_text(result: Result, item: Item | None = None, *, max_chars: int = 1500) -> str:
    """``result`` (of ``item``) as a concise message for the model that wrote the code."""
    if result.status is Status.PASS:
        return f"All {result.total} tests passed."
    if result.status is Status.NO_TESTS:
        return "No tests were run for this program."
    if result.status is Status.INFRA_ERROR:
        return "The tests could not be run (a service error, not your program's); run them again."
    index = _deciding_test(result)
    test = result.tests[index] if index is not None else None
    error = test.error if test is not None and test.error is not None else result.error
    lines = [_headline(result, index, test, error)]
    if item is not None and index is not None and not _compile_error(error):
        lines += _case_lines(item, index, test, error)
    if error is not None:
        lines.append(_error_line(error))
        lines += _source_lines(error, item)
    elif item is not None and index is not None and test is not None:
        lines += _expected_lines(item, index, test)
    return _clip("\n".join(lines), max_chars)


def _deciding_test(result: Result) -> int | None:
    for index, test in enumerate(result.tests):
        if test.status not in (TestStatus.PASS, TestStatus.SKIPPED):
            return index
    return None


def _compile_error(error: ErrorInfo | None) -> bool:
    return error is not None and error.subtype in _COMPILE and error.where is Where.CODE


def _headline(
    result: Result, index: int | None, test: TestResult | None, error: ErrorInfo | None
) -> str:
    passed = f"{result.passed} of {result.total} tests passed."
    if _compile_error(error):
        return f"{passed} Your program does not compile:"
    if index is None or test is None:
        return passed
    return f"{passed} Test {index + 1} {_HOW.get(test.status, str(test.status))}:"


def _case_lines(
    item: Item, index: int, test: TestResult | None, error: ErrorInfo | None
) -> list[str]:
    cases = item.tests.cases
    if index >= len(cases) or item.tests.kind is TestKind.STDIO:
        return []
    case = cases[index]
    if item.tests.kind is TestKind.CALL:
        return [_indent(_call_text(item, case.args or [], case.kwargs or {}))]
    lines = [_indent(_clip((case.code or "").strip(), _PIECE_CHARS))]
    setup_line = _setup_line(item, error)
    if setup_line:
        lines.append(f"in the test setup: {setup_line}")
    return lines


def _setup_line(item: Item, error: ErrorInfo | None) -> str | None:
    """The setup's line an error passed through (HumanEval's ``assert candidate(...)``)."""
    if error is None or not item.tests.setup:
        return None
    setup = item.tests.setup.splitlines()
    for frame in reversed(error.frames):
        in_setup = frame.where is Where.TESTS and frame.file.endswith(":setup>")
        if in_setup and frame.line is not None and 0 < frame.line <= len(setup):
            return _clip(setup[frame.line - 1].strip(), _PIECE_CHARS)
    return None


def _call_text(item: Item, args: Sequence[object], kwargs: Mapping[str, object]) -> str:
    owner = f"{item.tests.class_name}()." if item.tests.class_name else ""
    shown = [json.dumps(a) for a in args] + [f"{k}={json.dumps(v)}" for k, v in kwargs.items()]
    return _clip(f"{owner}{item.tests.fn_name}({', '.join(shown)})", _PIECE_CHARS)


def _error_line(error: ErrorInfo) -> str:
    message = error.message
    if error.subtype in _COMPILE:
        # str(SyntaxError) ends with the sandbox's file name: "(main.py, line 3)".
        message = _FILE_SUFFIX.sub("", message)
    if not message and error.subtype == "wrong_answer":
        message = "the assertion is false"
    return _clip(f"{error.type}: {message}" if message else error.type, _PIECE_CHARS)


def _source_lines(error: ErrorInfo, item: Item | None) -> list[str]:
    """The error's line in the code (or prompt) with a caret under the expression."""
    if error.line is None or error.where not in (Where.CODE, Where.PROMPT):
        return []
    whose = "your code" if error.where is Where.CODE else "the prompt"
    text = None if item is None else (item.code if error.where is Where.CODE else item.prompt)
    lines = text.splitlines() if text else []
    if not 0 < error.line <= len(lines):
        return [f"line {error.line} of {whose}"]
    source = lines[error.line - 1]
    shown = [f"line {error.line} of {whose}:", _indent(_clip(source.expandtabs(4), _PIECE_CHARS))]
    if error.col is not None and error.col <= len(source):
        start = len(source[: error.col].expandtabs(4))
        shown.append(_indent(" " * start + "^" * _caret_width(error)))
    return shown


def _caret_width(error: ErrorInfo) -> int:
    """The failing expression's width where the frame at the error's line gives it."""
    for frame in error.frames:
        same = frame.line == error.line and frame.col == error.col
        if same and frame.end_col is not None and frame.end_line in (None, error.line):
            return max(1, min(frame.end_col - (frame.col or 0), _PIECE_CHARS))
    return 1


def _expected_lines(item: Item, index: int, test: TestResult) -> list[str]:
    """Expected against actual for a wrong answer with no exception (stdio, call)."""
    if index >= len(item.tests.cases):
        return []
    case = item.tests.cases[index]
    if item.tests.kind is TestKind.STDIO:
        return [
            "input:", _indent(_clip(case.input or "", _PIECE_CHARS)),
            "expected output:", _indent(_clip(case.output or "", _PIECE_CHARS)),
            "your output:", _indent(_clip(test.stdout, _PIECE_CHARS) or "(nothing)"),
        ]
    if item.tests.kind is TestKind.CALL:
        return ["expected return value:", _indent(_clip(json.dumps(case.expected), _PIECE_CHARS))]
    return []


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip("\n").splitlines()) or "    "


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"
