"""Java → Python conversion of EvoSuite tests (run against Python translations in the
sandbox), and the Pynguin backend in its own image."""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.models import Status
from service.sandbox.pool import SandboxPool
from service.settings import Settings
from service.testgen import TestgenItem, TestgenStatus
from service.testgen import testgen as generate_tests
from service.testgen.java import JavaConversionError, convert_signature, convert_tests
from service.testgen.java_expr import java_expr, snake_case
from service.testgen.pynguin import PynguinBackend, seeds_from_pynguin
from tests.support.paths import ROOT
from tests.support.testgen import CI_OPTIONS

ESTEST = Path(__file__).with_name("data") / "StringUtils_ESTest.java"


def test_evosuite_tests_become_python_asserts_that_judge_a_translation(judge: Any) -> None:
    converted = convert_tests(ESTEST.read_text(), "sumArray", snake=True)
    assert len(converted.tests.cases) == 5
    assert converted.skipped == ["test5: object construction: new StringUtils"]
    for case in converted.tests.cases:
        ast.parse(case.code or "")
    raises = converted.tests.cases[2].code or ""
    assert "except ((TypeError, AttributeError)):" in raises and "Expecting exception" in raises
    right = "def sum_array(values: list[int]) -> int:\n    total = 0\n    for v in values:\n        total += v\n" \
            "    return total\n"
    assert judge(right, converted.tests).status is Status.PASS
    assert judge(right.replace("total += v", "total += abs(v)"), converted.tests).status is Status.FAILURE
    assert judge("def sum_array(values):\n    return 0 if values is None else sum(values)\n",
                 converted.tests).status is Status.FAILURE  # null must raise, as in Java


@pytest.mark.parametrize(("java", "python"), [
    ("public static int sumArray(int[] values)", "def sumArray(values: list[int]) -> int:"),
    ("public Map<String, List<Integer>> groupBy(final List<String> words, char sep)",
     "def groupBy(words: list[str], sep: str) -> dict[str, list[int]]:"),
    ("static boolean isEven(long n)", "def isEven(n: int) -> bool:"),
    ("private void reset()", "def reset() -> None:"),
])
def test_java_signatures(java: str, python: str) -> None:
    assert convert_signature(java) == python


def test_java_expressions() -> None:
    assert java_expr("Foo.bar(new int[] {1, -2}, null, true)", "bar", False) == "bar([1, -2], None, True)"
    assert java_expr("(double) Foo.bar(3L) + 1.5F", "bar", False) == "float(bar(3)) + 1.5"
    assert java_expr("!x && y || Integer.MAX_VALUE > 017", "f", False) == "not x and y or 2147483647 > 0o17"
    assert java_expr("new String[2][]", "f", False) == "[None] * (2)"
    assert snake_case("toHTMLString") == "to_html_string"
    with pytest.raises(JavaConversionError, match="object construction"):
        java_expr("new Foo(1)", "f", False)
    with pytest.raises(JavaConversionError):
        convert_signature("int x = 3;")


PYNGUIN_TESTS = '''
import module_under_test as module_0

def test_case_0():
    int_0 = -3
    str_0 = "ab"
    var_0 = module_0.repeat(str_0, int_0)

def test_case_1():
    list_0 = [1, 2]
    var_0 = module_0.repeat(word=list_0, times=2)
    var_1 = module_0.other(1)
    var_2 = module_0.repeat(var_0, 1)
'''


def test_seeds_from_pynguin_tests_follow_literal_variables() -> None:
    seeds = seeds_from_pynguin(PYNGUIN_TESTS, "repeat")
    assert [(s.args, s.kwargs) for s in seeds] == [(("ab", -3), {}), ((), {"word": [1, 2], "times": 2})]
    assert seeds_from_pynguin("def broken(:", "repeat") == []


@pytest.fixture(scope="module")
def pynguin_pool() -> Iterator[SandboxPool]:
    """A pool on the test-generation image (built here if missing: pip installs Pynguin)."""
    build = ROOT / "sandbox_images" / "testgen" / "build.sh"
    subprocess.run(["bash", str(build)], check=True, capture_output=True, timeout=900)
    tag = subprocess.run(["bash", str(build), "--tag"], check=True, capture_output=True, text=True).stdout.strip()
    with SandboxPool(Settings(pool_size=1, sandbox_image=tag, container_max_runs=1000)) as pool:
        yield pool


def test_pynguin_proposes_seeds_in_its_own_sandbox_image(pynguin_pool: SandboxPool, pools: Any) -> None:
    code = ("def triangle(a: int, b: int, c: int) -> str:\n    if a == b == c:\n        return 'equilateral'\n"
            "    if a == b or b == c or a == c:\n        return 'isosceles'\n    return 'scalene'\n")
    item = TestgenItem(id="tri", code=code, fn_name="triangle")
    backend = PynguinBackend(pynguin_pool, search_time_s=3)
    [proposed] = backend.propose([item])
    assert proposed and all(len(s.args) + len(s.kwargs) == 3 for s in proposed)
    [result] = generate_tests([item], pools, pools.main.settings, CI_OPTIONS, backend=backend)
    assert result.status is TestgenStatus.OK and result.stats.seeds >= len(proposed) > 0
    probe = "import importlib.util\nprint(importlib.util.find_spec('pynguin') is None)\n"
    from client.models import Item
    from service.sandbox.executor import evaluate_items

    [judged] = evaluate_items(pools.main, [Item.model_validate(
        {"code": probe, "tests": {"kind": "stdio", "cases": [{"input": "", "output": "True"}]}})])
    assert judged.status is Status.PASS  # the judging image has no Pynguin (nor its pytest)
