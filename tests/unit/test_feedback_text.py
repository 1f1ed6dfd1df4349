"""``client.feedback_text``: table-driven, on results captured from the real sandbox image
(trimmed to the fields it reads; the live check is in tests/e2e/test_adapters.py)."""

from __future__ import annotations

from typing import Any

import pytest

from client import Item, Result, feedback_text


def frame(where: str, file: str, line: int, col: int, end_col: int) -> dict[str, Any]:
    return {"where": where, "file": file, "function": "f", "line": line, "end_line": line,
            "col": col, "end_col": end_col}


ASSERT_TESTS = {"kind": "assert", "cases": [{"code": "assert f(0) == 1"}, {"code": "assert f(3) == 2"}]}
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    "runtime error in the code": (
        {"code": "def f(x):\n    y = [1]\n    return y[x]\n", "tests": ASSERT_TESTS},
        {"status": "error", "passed": 1, "total": 2, "tests": [{"status": "pass"}, {"status": "error", "error": {
            "type": "IndexError", "subtype": "index", "message": "list index out of range", "where": "code",
            "line": 3, "col": 11, "frames": [frame("tests", "<tests:case 1>", 1, 7, 11),
                                             frame("code", "/sandbox/work/main.py", 3, 11, 15)]}}]},
        "1 of 2 tests passed. Test 2 raised an error:\n    assert f(3) == 2\n"
        "IndexError: list index out of range\nline 3 of your code:\n        return y[x]\n"
        "               ^^^^",
    ),
    "failed assertion": (
        {"code": "def f(x):\n    return x + 2\n", "tests": ASSERT_TESTS},
        {"status": "failure", "total": 2, "tests": [{"status": "fail", "error": {
            "type": "AssertionError", "subtype": "wrong_answer", "where": "tests", "line": 1, "col": 7,
            "frames": [frame("tests", "<tests:case 0>", 1, 7, 16)]}}, {"status": "fail"}]},
        "0 of 2 tests passed. Test 1 failed:\n    assert f(0) == 1\nAssertionError: the assertion is false",
    ),
    "compile error": (
        {"code": "def f(x)\n    return x\n", "tests": ASSERT_TESTS},
        {"status": "error", "total": 2, "tests": [{"status": "error", "error": {
            "type": "SyntaxError", "subtype": "syntax", "message": "expected ':' (main.py, line 1)",
            "where": "code", "line": 1, "col": 8,
            "frames": [frame("code", "/sandbox/work/main.py", 1, 9, 9)]}}] * 2},
        "0 of 2 tests passed. Your program does not compile:\nSyntaxError: expected ':'\n"
        "line 1 of your code:\n    def f(x)\n            ^",
    ),
    "HumanEval check in the setup": (
        {"prompt": "def add(x, y):\n", "code": "    return x - y\n", "tests": {
            "kind": "assert", "setup": "def check(candidate):\n    assert candidate(2, 3) == 5\n",
            "cases": [{"code": "check(add)"}]}},
        {"status": "failure", "total": 1, "tests": [{"status": "fail", "error": {
            "type": "AssertionError", "subtype": "wrong_answer", "where": "tests", "line": 2, "col": 11,
            "frames": [frame("tests", "<tests:case 0>", 1, 0, 10), frame("tests", "<tests:setup>", 2, 11, 31)]}}]},
        "0 of 1 tests passed. Test 1 failed:\n    check(add)\n"
        "in the test setup: assert candidate(2, 3) == 5\nAssertionError: the assertion is false",
    ),
    "stdio wrong output": (
        {"code": "print(int(input()) + 1)\n", "tests": {"kind": "stdio", "cases": [
            {"input": "2\n", "output": "4\n"}]}},
        {"status": "failure", "total": 1, "tests": [{"status": "fail", "stdout": "3\n"}]},
        "0 of 1 tests passed. Test 1 failed:\ninput:\n    2\nexpected output:\n    4\nyour output:\n    3",
    ),
    "call wrong value": (
        {"code": "def f(a, b):\n    return a - b\n", "tests": {"kind": "call", "fn_name": "f", "cases": [
            {"args": [1, 2], "expected": 3}]}},
        {"status": "failure", "total": 1, "tests": [{"status": "fail"}]},
        "0 of 1 tests passed. Test 1 failed:\n    f(1, 2)\nexpected return value:\n    3",
    ),
    "timeout": (
        {"code": "while True:\n    pass\n", "tests": {"kind": "assert", "cases": [{"code": "assert True"}]}},
        {"status": "error", "total": 1, "tests": [{"status": "timeout", "error": {
            "type": "Timeout", "subtype": "timeout",
            "message": "loading the program used 1.01s of CPU time, over the limit of 1s"}}]},
        "0 of 1 tests passed. Test 1 timed out:\n    assert True\n"
        "Timeout: loading the program used 1.01s of CPU time, over the limit of 1s",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_feedback_text(name: str) -> None:
    item, result, expected = CASES[name]
    assert feedback_text(Result.model_validate(result), Item.model_validate(item)) == expected


def test_feedback_without_the_item_says_what_the_result_knows() -> None:
    _, result, _ = CASES["runtime error in the code"]
    text = feedback_text(Result.model_validate(result))
    assert text == "1 of 2 tests passed. Test 2 raised an error:\nIndexError: list index out of range\n" \
        "line 3 of your code"


@pytest.mark.parametrize(("status", "start"), [("pass", "All 3 tests passed."),
                                               ("no_tests", "No tests were run"),
                                               ("infra_error", "The tests could not be run")])
def test_feedback_for_outcomes_without_a_failing_test(status: str, start: str) -> None:
    assert feedback_text(Result(status=status, total=3, passed=3)).startswith(start)


def test_feedback_is_capped() -> None:
    item, result, _ = CASES["stdio wrong output"]
    long = {**result, "tests": [{"status": "fail", "stdout": "x" * 10_000}]}
    text = feedback_text(Result.model_validate(long), Item.model_validate(item), max_chars=400)
    assert len(text) <= 400 and text.endswith("…")
    assert "x" * 299 in text and "x" * 301 not in text  # each piece is clipped too
