"""The feedback table: real programs, run in the real sandbox, classified and located.

Every row is a program the sandbox really runs (no hand-written tracebacks); the
executor turns what the agent saw into ErrorInfo and ``service.feedback.annotate``
classifies it. Each row states the expected sub-error, category, which text the error is
in, its line and the text of the char span in ``code`` (checked against the offsets, and
for duplicated lines against the occurrence that failed), plus the coarse reward.

All rows run as one batch (one ``evaluate_items`` call) to keep the test quick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from client.models import (
    Case,
    Category,
    ErrorInfo,
    FinishReason,
    Item,
    Limits,
    Result,
    Status,
    TestKind,
    Tests,
    Where,
)
from service.feedback.annotation import annotate
from service.sandbox.executor import evaluate_items
from service.sandbox.pool import SandboxPool

L, G, I = Category.LINE, Category.GLOBAL, Category.IGNORE  # noqa: E741
CODE, PROMPT, TESTS, NONE = Where.CODE, Where.PROMPT, Where.TESTS, Where.NONE
LENGTH, STOP = FinishReason.LENGTH, FinishReason.STOP


def asserts(*cases: str, setup: str | None = None) -> Tests:
    return Tests(kind=TestKind.ASSERT, cases=[Case(code=c) for c in cases], setup=setup)


def stdio(*pairs: tuple[str, str]) -> Tests:
    return Tests(kind=TestKind.STDIO, cases=[Case(input=i, output=o) for i, o in pairs])


def call(fn: str, *cases: tuple[list[Any], Any], class_name: str | None = None) -> Tests:
    return Tests(
        kind=TestKind.CALL,
        fn_name=fn,
        class_name=class_name,
        cases=[Case(args=a, expected=e) for a, e in cases],
    )


F1 = asserts("assert f(1) is not None")


@dataclass
class Row:
    """One program and what feedback must say about it.

    ``text`` is the expected content of ``code[char_start:char_end]`` (None: no span);
    ``nth`` says which occurrence of it the span must be (for duplicated lines);
    ``test`` picks a per-test error instead of ``Result.error``.
    """

    id: str
    code: str
    tests: Tests
    subtype: str | None
    category: Category | None
    where: Where | None
    line: int | None
    text: str | None
    coarse: float
    status: Status = Status.ERROR
    nth: int = 0
    prompt: str = ""
    finish: FinishReason | None = None
    frame: Literal["innermost", "outermost"] = "innermost"
    timeout_s: float = 2.0
    output_kb: int = 1024
    test: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def item(self) -> Item:
        return Item(
            id=self.id,
            code=self.code,
            prompt=self.prompt,
            tests=self.tests,
            finish_reason=self.finish,
            frame=self.frame,
            limits=Limits(timeout_s=self.timeout_s, output_kb=self.output_kb),
        )


DUP = "def f(x):\n    return x[3]\n\ndef g(x):\n    return x[3]\n"
DUP_KEY = "def f(d):\n    a = d['x']\n    d = {}\n    a = d['x']\n    return a\n"
NESTED = "def helper(a):\n    return a[10]\n\ndef f(x):\n    return helper(x)\n"
JSON = "import json\n\ndef f(s):\n    return json.loads(s)\n"
DOC_PROMPT = 'def add(a, b):\n    """Add two numbers."""\n'
HELPER_PROMPT = "def helper(x):\n    return x[0]\n\n"

# fmt: off
ROWS: list[Row] = [
    # --- Table 2 sub-errors -------------------------------------------------------
    Row("syntax-mid", "def f(x):\n    y = x +* 2\n    return y\n", F1,
        "syntax", L, CODE, 2, "    y = x +* 2", -1.0),
    Row("syntax-colon-stop", "def f(x)\n    return x\n", F1,
        "syntax", L, CODE, 1, "def f(x)", -1.0, finish=STOP),
    Row("syntax-return-outside", "x = 1\nreturn x\ny = 2\n", F1,
        "syntax", L, CODE, 2, "return x", -1.0),
    Row("index", "def f(x):\n    a = [1, 2]\n    return a[x]\n", asserts("assert f(5) == 1"),
        "index", L, CODE, 3, "    return a[x]", -0.6),
    Row("type", "def f(x):\n    return x + 'a'\n", asserts("assert f(1) == 2"),
        "type", L, CODE, 2, "    return x + 'a'", -0.6),
    Row("value", "def f(s):\n    return int(s)\n", asserts("assert f('abc') == 1"),
        "value", L, CODE, 2, "    return int(s)", -0.6),
    Row("eof", "n = int(input())\nm = int(input())\nprint(n + m)\n", stdio(("1\n", "2\n")),
        "eof", L, CODE, 2, "m = int(input())", -0.6),
    Row("name", "def f(x):\n    return y + x\n", F1,
        "name", L, CODE, 2, "    return y + x", -0.6),
    Row("name-unbound-local", "def f(x):\n    if x > 5:\n        y = 1\n    return y\n", F1,
        "name", L, CODE, 4, "    return y", -0.6),
    Row("key", "def f(k):\n    d = {'a': 1}\n    return d[k]\n", asserts("assert f('b') == 1"),
        "key", L, CODE, 3, "    return d[k]", -0.6),
    Row("import-module", "import numpyy\n\ndef f(x):\n    return x\n", F1,
        "import", L, CODE, 1, "import numpyy", -0.6),
    Row("import-name", "from math import sqroot\n\ndef f(x):\n    return x\n", F1,
        "import", L, CODE, 1, "from math import sqroot", -0.6),
    Row("zero-division", "def f(x):\n    return 10 // x\n", asserts("assert f(0) == 1"),
        "zero_division", L, CODE, 2, "    return 10 // x", -0.6),
    Row("timeout", "def f(x):\n    while True:\n        x += 1\n", F1,
        "timeout", G, NONE, None, None, -0.6, timeout_s=1.0),
    Row("timeout-stdio-sleep", "import time\ntime.sleep(30)\n", stdio(("", "")),
        "timeout", G, NONE, None, None, -0.6, timeout_s=1.0),
    Row("recursion", "def f(x):\n    return f(x + 1)\n", F1,
        "recursion", G, CODE, 2, "    return f(x + 1)", -0.6),
    Row("triple-quoted", 'def f(x):\n    """Return x.\n    return x\n', F1,
        "triple_quoted", I, CODE, 2, '    """Return x.', -1.0),
    Row("triple-quoted-length", 'def f(x):\n    """Return x.\n    return x\n', F1,
        "triple_quoted", I, CODE, 2, '    """Return x.', -1.0, finish=LENGTH),
    Row("indent-unexpected", "def f(x):\n    y = x\n        return y\nz = 1\n", F1,
        "indentation", I, CODE, 3, "        return y", -1.0),
    Row("indent-expected-block", "def f(x):\nreturn x\nz = 1\n", F1,
        "indentation", I, CODE, 2, "return x", -1.0),
    Row("indent-unindent", "def f(x):\n    if x:\n        y = 1\n      z = 2\n    return x\n", F1,
        "indentation", I, CODE, 4, "      z = 2", -1.0),
    Row("tabs-mixed-with-spaces", "def f(x):\n\tif x:\n        return 1\n\treturn 2\n", F1,
        "indentation", I, CODE, 3, "        return 1", -1.0),
    # --- Else ----------------------------------------------------------------------
    Row("else-attribute", "def f(x):\n    return x.foo\n", F1,
        "else", L, CODE, 2, "    return x.foo", -0.6),
    Row("else-stopiteration", "def f(x):\n    it = iter([])\n    return next(it)\n", F1,
        "else", L, CODE, 3, "    return next(it)", -0.6),
    Row("else-user-exception",
        "class MyErr(Exception):\n    pass\n\ndef f(x):\n    raise MyErr('bad')\n", F1,
        "else", L, CODE, 5, "    raise MyErr('bad')", -0.6),
    Row("user-exception-is-a-valueerror",
        "class Bad(ValueError):\n    pass\n\ndef f(x):\n    raise Bad(x)\n", F1,
        "value", L, CODE, 5, "    raise Bad(x)", -0.6),
    Row("else-assert-in-program", "def f(x):\n    assert x > 0, 'positive'\n    return x\n",
        asserts("assert f(-1) == -1"),
        "else", L, CODE, 2, "    assert x > 0, 'positive'", -0.6),
    Row("else-overflow", "import math\n\ndef f(x):\n    return math.exp(x)\n",
        asserts("assert f(1000) > 0"),
        "else", L, CODE, 4, "    return math.exp(x)", -0.6),
    # --- wrong answers (no fine signal) -------------------------------------------------
    Row("assert-case-fails", "def f(x):\n    return x + 1\n", asserts("assert f(1) == 3"),
        "wrong_answer", I, TESTS, 1, None, -0.3, status=Status.FAILURE),
    Row("stdio-wrong-answer", "print(41)\n", stdio(("", "42\n")),
        None, None, None, None, None, -0.3, status=Status.FAILURE),
    # --- nested calls -----------------------------------------------------------------------
    Row("nested-innermost", NESTED, asserts("assert f([1])"),
        "index", L, CODE, 2, "    return a[10]", -0.6),
    Row("nested-outermost", NESTED, asserts("assert f([1])"),
        "index", L, CODE, 5, "    return helper(x)", -0.6, frame="outermost"),
    Row("nested-comprehension", "def f(x):\n    return [1 / v for v in x]\n",
        asserts("assert f([1, 0])"),
        "zero_division", L, CODE, 2, "    return [1 / v for v in x]", -0.6),
    Row("nested-in-stdlib", JSON, asserts("assert f('{')"),
        "value", L, CODE, 4, "    return json.loads(s)", -0.6),
    Row("nested-in-stdlib-outermost", JSON, asserts("assert f('{')"),
        "value", L, CODE, 4, "    return json.loads(s)", -0.6, frame="outermost"),
    Row("nested-lambda-sorted",
        "def f(xs):\n    key = lambda p: p[1]\n    return sorted(xs, key=key)\n",
        asserts("assert f([(1, 2), (3,)])"),
        "index", L, CODE, 2, "    key = lambda p: p[1]", -0.6),
    # --- duplicated lines -----------------------------------------------------------------
    Row("duplicate-line-second", DUP, asserts("assert g([1]) == 1"),
        "index", L, CODE, 5, "    return x[3]", -0.6, nth=1),
    Row("duplicate-line-first", DUP, asserts("assert f([1]) == 1"),
        "index", L, CODE, 2, "    return x[3]", -0.6, nth=0),
    Row("duplicate-line-after-rebind", DUP_KEY, asserts("assert f({'x': 1}) == 1"),
        "key", L, CODE, 4, "    a = d['x']", -0.6, nth=1),
    # --- prompt and tests -----------------------------------------------------------------
    Row("humaneval-error-in-code", "    return a + c\n", asserts("assert add(1, 2) == 3"),
        "name", L, CODE, 1, "    return a + c", -0.6, prompt=DOC_PROMPT),
    Row("humaneval-syntax-in-code", "    return a +* b\n\nx = 1\n",
        asserts("assert add(1, 2) == 3"),
        "syntax", L, CODE, 1, "    return a +* b", -1.0, prompt=DOC_PROMPT),
    Row("error-in-prompt", "def f(x):\n    return helper(x)\n", asserts("assert helper([]) == 0"),
        "index", I, PROMPT, 2, None, -0.6, prompt=HELPER_PROMPT),
    Row("compile-error-in-prompt", "    return x\n", F1,
        "triple_quoted", I, PROMPT, 2, None, -1.0, prompt="def f(x):\n    '''Doc.\n"),
    Row("error-in-test-case", "def f(x):\n    return None\n", asserts("assert len(f(1)) == 1"),
        "type", I, TESTS, 1, None, -0.6),
    Row("error-in-test-setup", "def f(x):\n    return 1\n",
        asserts("check(f)", setup="def check(c):\n    assert c(1)[0] == 1\n"),
        "type", I, TESTS, 2, None, -0.6),
    Row("syntax-error-in-tests", "def f(x):\n    return 1\n", asserts("assert f(1) =="),
        "syntax", I, TESTS, 1, None, -0.6),
    # --- unfinished code ---------------------------------------------------------------------
    Row("cut-mid-expression-length", "def f(x):\n    y = x * (2 +", F1,
        "syntax", G, CODE, 2, "    y = x * (2 +", -1.0, finish=LENGTH),
    Row("cut-mid-expression-no-reason", "def f(x):\n    y = x * (2 +", F1,
        "syntax", G, CODE, 2, "    y = x * (2 +", -1.0),
    Row("cut-mid-expression-stop", "def f(x):\n    y = x * (2 +", F1,
        "syntax", L, CODE, 2, "    y = x * (2 +", -1.0, finish=STOP),
    Row("cut-open-call-length", "def f(x):\n    y = max(x,\n        3,\n", F1,
        "syntax", G, CODE, 2, "    y = max(x,", -1.0, finish=LENGTH),
    Row("cut-open-call-no-reason", "def f(x):\n    y = max(x,\n        3,\n", F1,
        "syntax", L, CODE, 2, "    y = max(x,", -1.0),
    Row("cut-binary-op-length", "def f(x):\n    return x +\n", F1,
        "syntax", G, CODE, 2, "    return x +", -1.0, finish=LENGTH),
    Row("cut-mid-string-length", "def f(x):\n    return 'abc", F1,
        "syntax", G, CODE, 2, "    return 'abc", -1.0, finish=LENGTH),
    Row("cut-mid-string-no-reason", "def f(x):\n    return 'abc", F1,
        "syntax", G, CODE, 2, "    return 'abc", -1.0),
    Row("unterminated-string-mid-code-length", "def f(x):\n    s = 'abc\n    return s\n", F1,
        "syntax", L, CODE, 2, "    s = 'abc", -1.0, finish=LENGTH),
    Row("cut-mid-docstring-length", 'def f(x):\n    """Compute', F1,
        "triple_quoted", I, CODE, 2, '    """Compute', -1.0, finish=LENGTH),
    Row("cut-mid-block-length", "def f(x):\n    for i in range(x):\n", F1,
        "indentation", G, CODE, 2, "    for i in range(x):", -1.0, finish=LENGTH),
    Row("cut-mid-block-no-reason", "def f(x):\n    for i in range(x):\n", F1,
        "indentation", G, CODE, 2, "    for i in range(x):", -1.0),
    Row("cut-mid-block-stop", "def f(x):\n    for i in range(x):\n", F1,
        "indentation", I, CODE, 2, "    for i in range(x):", -1.0, finish=STOP),
    # A complete program whose last line is mis-indented is no cut-off code (Table 2:
    # U_ignore), finish reason or not; before, the positional rule made it U_global.
    Row("indent-last-line-complete", "def f(x):\n    return x\n  y = 1\n", F1,
        "indentation", I, CODE, 3, "  y = 1", -1.0),
    Row("indent-unexpected-last-line", "def f(x):\n    y = x\n        return y\n", F1,
        "indentation", I, CODE, 3, "        return y", -1.0),
    # --- memory, output, crashes, exits --------------------------------------------------------
    Row("memory-raised", "def f(x):\n    a = [0] * (10 ** 10)\n    return a\n", F1,
        "memory", G, CODE, 2, "    a = [0] * (10 ** 10)", -0.6),
    Row("memory-growth",
        "def f(x):\n    a = []\n    while True:\n        a.append(' ' * 10 ** 7)\n", F1,
        "memory", G, None, None, None, -0.6, timeout_s=10.0, extra={"any_where": True}),
    Row("output-limit", "def f(x):\n    while True:\n        print('x' * 1000)\n", F1,
        "output_limit", G, NONE, None, None, -0.6, output_kb=16),
    Row("segfault", "import ctypes\n\ndef f(x):\n    return ctypes.string_at(0)\n", F1,
        "crash", I, NONE, None, None, -0.6),
    Row("sys-exit-1", "import sys\n\ndef f(x):\n    sys.exit(1)\n", F1,
        "crash", I, CODE, 4, "    sys.exit(1)", -0.6),
    Row("sys-exit-msg-stdio", "import sys\nsys.exit('bad input')\n", stdio(("", "1\n")),
        "crash", I, CODE, 2, "sys.exit('bad input')", -0.6),
    Row("os-exit-3", "import os\n\ndef f(x):\n    os._exit(3)\n", F1,
        "crash", I, NONE, None, None, -0.6),
    Row("sys-exit-0-stdio-pass", "import sys\nprint(42)\nsys.exit(0)\nprint(1)\n",
        stdio(("", "42\n")),
        None, None, None, None, None, 1.0, status=Status.PASS),
    Row("sys-exit-0-stdio-before-output", "import sys\nsys.exit(0)\nprint(42)\n",
        stdio(("", "42\n")),
        None, None, None, None, None, -0.3, status=Status.FAILURE),
    # An exit while loading is not a load: the tests never ran (agent v2; before, the cases
    # ran on what was defined before the exit and failed with a NameError).
    Row("sys-exit-0-before-definitions", "import sys\nsys.exit(0)\n\ndef f(x):\n    return x\n",
        F1, "crash", I, CODE, 2, "sys.exit(0)", -0.6),
    # --- text encodings and layout -------------------------------------------------------------
    Row("tab-indented", "def f(x):\n\treturn x[9]\n", asserts("assert f([1])"),
        "index", L, CODE, 2, "\treturn x[9]", -0.6),
    Row("crlf", "def f(x):\r\n    y = x\r\n    return y[9]\r\n", asserts("assert f([1])"),
        "index", L, CODE, 3, "    return y[9]", -0.6),
    Row("unicode", "def f(x):\n    s = 'héllo→'\n    return s[x]\n", asserts("assert f(20)"),
        "index", L, CODE, 3, "    return s[x]", -0.6),
    Row("multi-line-call", "def f(x):\n    return max(\n        x,\n        'a',\n    )\n", F1,
        "type", L, CODE, 2, "    return max(\n        x,\n        'a',\n    )", -0.6),
    # --- which error decides ---------------------------------------------------------------------
    Row("crash-after-passes", "def f(x):\n    return 10 // x\n",
        asserts("assert f(1) == 10", "assert f(2) == 5", "assert f(0) == 0"),
        "zero_division", L, CODE, 2, "    return 10 // x", -0.6),
    Row("error-then-fail", "def f(x):\n    return [1][x]\n",
        asserts("assert f(5) == 1", "assert f(0) == 2"),
        "index", L, CODE, 2, "    return [1][x]", -0.6),
    Row("fail-then-error", "def f(x):\n    return [1, 2][x]\n",
        asserts("assert f(0) == 2", "assert f(5) == 1"),
        "index", L, CODE, 2, "    return [1, 2][x]", -0.6),
    Row("fail-then-error-test0", "def f(x):\n    return [1, 2][x]\n",
        asserts("assert f(0) == 2", "assert f(5) == 1"),
        "wrong_answer", I, TESTS, 1, None, -0.6, test=0),
    Row("module-level-error", "x = [][0]\n\ndef f(x):\n    return x\n", asserts("f(1)", "f(2)"),
        "index", L, CODE, 1, "x = [][0]", -0.6),
    Row("call-kind-class", "class Solution:\n    def two(self, nums):\n        return nums[10]\n",
        call("two", ([[1, 2]], 1), class_name="Solution"),
        "index", L, CODE, 3, "        return nums[10]", -0.6),
    Row("stdio-zero-division", "n = int(input())\nprint(10 // n)\n", stdio(("0\n", "1\n")),
        "zero_division", L, CODE, 2, "print(10 // n)", -0.6),
    Row("runtime-syntax-error-from-eval", "def f(s):\n    return eval(s)\n",
        asserts("assert f('1 +') == 1"),
        "syntax", None, None, None, None, -0.6, extra={"any_where": True}),
]


@pytest.fixture(scope="module")
def results(pool: SandboxPool) -> dict[str, tuple[Item, Result]]:
    items = [row.item() for row in ROWS]
    got = evaluate_items(pool, items)
    return {item.id or "": (item, r) for item, r in zip(items, got, strict=True)}


def test_table_is_big_enough() -> None:
    assert len(ROWS) >= 60
    assert len({r.id for r in ROWS}) == len(ROWS)


def _error(row: Row, result: Result) -> ErrorInfo | None:
    return result.error if row.test is None else result.tests[row.test].error


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_feedback(row: Row, results: dict[str, tuple[Item, Result]]) -> None:
    item, result = results[row.id]
    error = _error(row, result)
    context = f"{result.status} {error!r}"
    assert result.status is row.status, context
    assert result.rewards["coarse"] == row.coarse, context
    if row.subtype is None:
        assert error is None or error.category is Category.IGNORE, context
        return
    assert error is not None, context
    assert error.subtype == row.subtype, context
    if row.category is not None:
        assert error.category is row.category, context
    if not row.extra.get("any_where"):
        assert error.where is row.where, context
        assert error.line == row.line, context
    _check_span(row, item, error, context)


def _check_span(row: Row, item: Item, error: ErrorInfo, context: str) -> None:
    if row.extra.get("any_where"):
        return
    if row.text is None:
        assert error.char_start is None and error.char_end is None, context
        return
    assert error.char_start is not None and error.char_end is not None, context
    assert item.code[error.char_start : error.char_end] == row.text, context
    start = -1
    for _ in range(row.nth + 1):
        start = item.code.index(row.text, start + 1)
    assert error.char_start == start, context


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_rltf_rewards_follow_the_error(row: Row, results: dict[str, tuple[Item, Result]]) -> None:
    item, result = results[row.id]
    rewards = result.rewards
    error = result.error
    category = error.category if error is not None else None
    if category is Category.GLOBAL and result.status is Status.ERROR:
        assert (rewards["fine_char_start"], rewards["fine_char_end"]) == (0, len(item.code))
        assert rewards["fine"] == -0.3
    elif category is Category.LINE and result.status is Status.ERROR:
        assert error is not None
        assert (rewards["fine_char_start"], rewards["fine_char_end"]) == (
            error.char_start,
            error.char_end,
        )
        assert rewards["fine"] == -0.3
    else:
        assert rewards["fine"] == 0.0
        assert rewards["fine_char_start"] is None
    if result.status is Status.FAILURE:
        judged = result.passed + sum(t.status.value == "fail" for t in result.tests)
        assert rewards["adaptive"] == pytest.approx(-0.3 + 1.3 * result.passed / judged)
    else:
        assert rewards["adaptive"] is None


def test_annotate_is_idempotent(results: dict[str, tuple[Item, Result]]) -> None:
    # evaluate_items already annotates; annotating again must change nothing.
    for item, result in results.values():
        assert annotate(item, result) == result


def test_every_per_test_error_is_annotated(results: dict[str, tuple[Item, Result]]) -> None:
    for _, result in results.values():
        for test in result.tests:
            if test.error is not None:
                assert test.error.subtype is not None
                assert test.error.category is not None


def test_crash_after_passes_keeps_passed(results: dict[str, tuple[Item, Result]]) -> None:
    _, result = results["crash-after-passes"]
    assert (result.passed, result.total) == (2, 3)
    assert [t.status.value for t in result.tests] == ["pass", "pass", "error"]
