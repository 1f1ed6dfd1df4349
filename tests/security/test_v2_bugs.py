"""The two verdict bugs issue 10 found besides the attacks, each with its test here.

1. A top-level ``sys.exit(0)`` in an assert-mode program counted as a successful load
   (the cases then ran on what was defined before it): an exit while loading is a
   ``crash`` of every case, "before the tests ran" (also ``top_level_sys_exit`` in
   test_forgery.py and tests/sandbox/test_semantics.py).
2. An ``IndentationError`` on the last line of a *complete* program, with no
   ``finish_reason``, was reported as unfinished code (U_global); RLTF's Table 2 says
   U_ignore. Code cut off inside a block (``for ...:`` and nothing after it) stays
   unfinished (docs/feedback.md §3).
"""

from __future__ import annotations

import pytest

from client.models import Category, Status, TestStatus
from service.sandbox.executor import evaluate_items
from service.sandbox.pool import SandboxPool
from tests.support.attacks import assert_item

F1 = ("assert f(1) == 1",)


@pytest.mark.parametrize("code", [
    "def f(x):\n    return 0\nimport sys\nsys.exit(0)\n",
    "import sys\nsys.exit(0)\ndef f(x):\n    return x\n",
    "def f(x):\n    return 0\nraise SystemExit\n",
], ids=["after-definitions", "before-definitions", "raise-system-exit"])
def test_exit_while_loading_is_a_crash(pool: SandboxPool, code: str) -> None:
    [result] = evaluate_items(pool, [assert_item(code, (*F1, "assert f(2) == 2"), ident="exit")])
    assert [t.status for t in result.tests] == [TestStatus.CRASH, TestStatus.CRASH]
    error = result.tests[0].error
    assert error is not None and "before the tests ran" in error.message, error


COMPLETE = {
    "unexpected-indent-on-last-line": "def f(x):\n    y = x\n        return y\n",
    "unindent-mismatch-on-last-line": "def f(x):\n    if x:\n        y = 1\n      return y\n",
    "tab-error-on-last-line": "def f(x):\n    if x:\n        y = 1\n\treturn y\n",
}


@pytest.mark.parametrize("name", list(COMPLETE))
def test_indentation_error_on_last_line_of_complete_code_is_ignore(pool: SandboxPool, name: str) -> None:
    [result] = evaluate_items(pool, [assert_item(COMPLETE[name], F1, ident=name)])
    assert result.status is Status.ERROR
    error = result.error
    assert error is not None and error.subtype == "indentation", error
    assert error.category is Category.IGNORE, (error.type, error.message, error.category)


def test_block_cut_off_at_the_end_stays_unfinished(pool: SandboxPool) -> None:
    """The control: a block that was never written is truncation, whatever the reason."""
    [result] = evaluate_items(pool, [assert_item("def f(x):\n    for i in range(x):\n", F1, ident="cut")])
    error = result.error
    assert error is not None and error.subtype == "indentation" and error.category is Category.GLOBAL, error
