"""Generation against the real sandbox: functions of several types, with and without
hints, methods; the generated suite passes on its reference and rejects wrong programs;
exact types (tuples, sets, generators); "raises" tests when the description says so."""

from __future__ import annotations

from typing import Any

import pytest

from client.models import Status, TestKind
from service.testgen import Reason, TestgenStatus
from tests.support.testgen import options

CASES: dict[str, tuple[str, str, str]] = {
    # name: (reference, fn_name, a wrong program)
    "ints_typed": (
        "def clamp_add(a: int, b: int) -> int:\n    '''Add a and b, at most 100.'''\n    return min(a + b, 100)\n",
        "clamp_add", "def clamp_add(a, b):\n    return a + b\n"),
    "floats_untyped_with_doctest": (
        "def mean(xs):\n    '''The mean of xs, 0.0 for none.\n\n    >>> mean([1.0, 2.0])\n    1.5\n    '''\n"
        "    return sum(xs) / len(xs) if xs else 0.0\n",
        "mean", "def mean(xs):\n    return sum(xs) / max(len(xs), 1) + 0.001\n"),
    "strings_from_prose_example": (
        "def shout(s):\n    '''Upper-case s and add '!', e.g. shout('hi') == 'HI!'.'''\n    return s.upper() + '!'\n",
        "shout", "def shout(s):\n    return s + '!'\n"),
    "lists_sphinx_docstring": (
        "def evens(values):\n    '''Keep the even ones.\n\n    :param values: the numbers\n"
        "    :type values: list of int\n    '''\n    return [v for v in values if v % 2 == 0]\n",
        "evens", "def evens(values):\n    return [v for v in values if v % 2 == 1]\n"),
    "dicts_typed": (
        "def invert(d: dict[str, int]) -> dict[int, str]:\n    '''Swap keys and values.'''\n"
        "    return {v: k for k, v in d.items()}\n",
        "invert", "def invert(d):\n    return dict(d)\n"),
    "nested_google_docstring": (
        "def flatten(rows):\n    '''Concatenate the rows.\n\n    Args:\n        rows (list[list[int]]): the rows.\n"
        "    '''\n    return [x for row in rows for x in row]\n",
        "flatten", "def flatten(rows):\n    return [row[0] for row in rows if row]\n"),
    "names_only": (
        "def count_char(text, ch):\n    return text.count(ch)\n",
        "count_char", "def count_char(text, ch):\n    return len(text)\n"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_suite_passes_the_reference_and_rejects_a_wrong_program(generate: Any, judge: Any,
                                                                          name: str) -> None:
    reference, fn_name, wrong = CASES[name]
    result = generate(reference, fn_name, id=name)
    assert result.status is TestgenStatus.OK, (result.reason, result.detail, result.stats)
    assert result.tests is not None and 2 <= len(result.tests.cases) <= 10
    assert result.stats.distinct_outputs >= 2 and result.stats.tests == len(result.tests.cases)
    assert judge(reference, result.tests).status is Status.PASS
    assert judge(wrong, result.tests).status in (Status.FAILURE, Status.ERROR)


def test_exact_types_tuples_sets_and_generators(generate: Any, judge: Any) -> None:
    code = ("def split_pairs(pairs: list[tuple[int, str]]) -> tuple[set[int], list[str]]:\n"
            "    '''Numbers and names, e.g. split_pairs([(1, 'a'), (2, 'b')]).'''\n"
            "    return {n for n, _ in pairs}, [s for _, s in pairs]\n"
            "def count_up(n: int):\n    '''Yield 0 .. n-1.'''\n    yield from range(min(n, 50))\n")
    pairs = generate(code, "split_pairs")
    assert pairs.status is TestgenStatus.OK and pairs.tests is not None
    assert pairs.tests.kind is TestKind.ASSERT and "_same" in (pairs.tests.setup or "")
    assert judge(code, pairs.tests).status is Status.PASS
    as_lists = code.replace("return {n for n, _ in pairs}, [s", "return [n for n, _ in pairs], [s")
    assert judge(as_lists, pairs.tests).status is Status.FAILURE  # a list is not the set the reference returns
    counted = generate(code, "count_up")
    assert counted.status is TestgenStatus.OK and counted.tests is not None
    assert any("list(count_up(" in (c.code or "") for c in counted.tests.cases)
    assert judge(code, counted.tests).status is Status.PASS


def test_call_tests_when_json_states_everything(generate: Any, judge: Any) -> None:
    code = "def repeat(word: str, times: int) -> list[str]:\n    return [word] * max(0, min(times, 5))\n"
    result = generate(code, "repeat", inputs=[["ab", 2], ["x", 0]])
    assert result.tests is not None and result.tests.kind is TestKind.CALL and result.tests.fn_name == "repeat"
    assert result.stats.seeds == 2
    assert [c.args for c in result.tests.cases[:2]] == [["ab", 2], ["x", 0]]  # the caller's seeds come first
    assert judge(code, result.tests).status is Status.PASS


def test_methods_of_a_class(generate: Any, judge: Any) -> None:
    code = ("class Stack:\n    def __init__(self):\n        self.items = []\n"
            "    def push_all(self, xs: list[int]) -> int:\n        '''Push xs; the new size.'''\n"
            "        self.items.extend(xs)\n        return len(self.items)\n")
    result = generate(code, "push_all", class_name="Stack")
    assert result.status is TestgenStatus.OK and result.tests is not None
    assert result.tests.class_name == "Stack"
    assert result.signature == "class Stack:\n    def push_all(self, xs: list[int]) -> int:"
    assert judge(code, result.tests).status is Status.PASS
    assert judge(code.replace("len(self.items)", "len(xs)"), result.tests).status is Status.PASS  # fresh instance
    assert judge(code.replace("return len(self.items)", "return 0"), result.tests).status is Status.FAILURE


def test_raises_tests_only_when_the_description_names_the_exception(generate: Any, judge: Any) -> None:
    body = "    if n < 0:\n        raise ValueError('negative')\n    return n * n\n"
    said = generate(f"def square(n: int) -> int:\n    '''Square n; raises ValueError when n < 0.'''\n{body}", "square")
    silent = generate(f"def square(n: int) -> int:\n    '''Square n.'''\n{body}", "square")
    assert said.stats.raises_kept > 0 and silent.stats.raises_kept == 0 < silent.stats.raised
    assert said.tests is not None and any("except ValueError" in (c.code or "") for c in said.tests.cases)
    code = f"def square(n):\n{body}"
    assert judge(code, said.tests).status is Status.PASS
    assert judge("def square(n):\n    return n * n\n", said.tests).status is Status.FAILURE


def test_coverage_and_mutants_choose_the_suite(generate: Any) -> None:
    code = ("def grade(score: int) -> str:\n    '''A letter for a score out of 100.'''\n"
            "    if score >= 90:\n        return 'A'\n    if score >= 75:\n        return 'B'\n"
            "    if score >= 50:\n        return 'C'\n    return 'F'\n")
    result = generate(code, "grade", inputs=[[95], [80], [60], [10]])
    s = result.stats
    assert s.lines_total == 7 and s.lines_covered == 7  # every branch, measured in the sandbox
    assert s.mutants > 0 and s.mutants_killed == s.mutants
    assert result.tests is not None and len(result.tests.cases) <= 10


def test_inputs_skipped_after_slow_negatives_are_run_again(generate: Any) -> None:
    # Loops forever on every negative number: the probe stops after max_over_budget slow
    # inputs and skips the rest; the rescue runs the positive ones it skipped.
    code = ("def steps(n: int) -> int:\n    '''>>> steps(5)\n    5\n    '''\n    count = 0\n"
            "    while n != 0:\n        n -= 1\n        count += 1\n    return count\n")
    result = generate(code, "steps", options=options(max_over_budget=2))
    s = result.stats
    assert result.status is TestgenStatus.OK and s.timeouts >= 2, result
    assert s.returned > 30, s  # without the rescue: the first round's and a few more


def test_n_tests_bounds_the_suite(generate: Any) -> None:
    result = generate("def inc(x: int) -> int:\n    return x + 1\n", "inc", n_tests=3)
    assert result.tests is not None and len(result.tests.cases) == 3


def test_several_items_in_one_call_keep_their_order(pools: Any) -> None:
    from service.testgen import TestgenItem, testgen
    from tests.support.testgen import CI_OPTIONS

    items = [TestgenItem(id=f"i{k}", code=f"def f(x: int) -> int:\n    return x * {k}\n", fn_name="f")
             for k in range(2, 6)]
    items.insert(2, TestgenItem(id="broken", code="def f(:\n", fn_name="f"))
    results = testgen(items, pools, pools.main.settings, CI_OPTIONS)
    assert [r.id for r in results] == ["i2", "i3", "broken", "i4", "i5"]
    assert [r.status for r in results] == [TestgenStatus.OK] * 2 + [TestgenStatus.REJECTED] + [TestgenStatus.OK] * 2
    assert results[2].reason is Reason.UNPARSABLE
