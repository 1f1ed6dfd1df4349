"""Pure parts of the adapters: code extraction, test specs, OpenRLHF bodies, scoring,
TRL's completion text, pickling, and the grouping of per-sample calls (against a scripted
transport; the live and framework-driven tests are in tests/e2e)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from client.adapters import extract_code, item_from_spec, reward_or_none, rewards_of
from client.adapters.openrlhf import RewardRequest, answer_of, items_of, response_text
from client.adapters.trl import completion_text
from client.errors import NotScored
from client.models import Compare, Result, TestKind


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("def f():\n    return 1\n", "def f():\n    return 1\n"),
        ("Sure:\n```python\nx = 1\n```\nDone.", "x = 1\n"),
        ("```py\nfirst\n```\nthen\n```python\nsecond\n```", "second\n"),
        ("```text\nnot code\n```\n```\nplain\n```", "plain\n"),
        ("```python\ncut off by max_tokens\n    while Tr", "cut off by max_tokens\n    while Tr"),
        ("```Python3 title\nX\n```", "X\n"),
    ],
)
def test_extract_code(text: str, code: str) -> None:
    assert extract_code(text) == code


def test_completion_text_for_strings_and_conversations() -> None:
    assert completion_text("abc") == "abc"
    assert completion_text([{"role": "assistant", "content": "xyz"}]) == "xyz"
    assert completion_text([]) == ""


def test_completion_text_is_the_last_assistant_message_not_a_tool_answer() -> None:
    conversation = [
        {"role": "assistant", "content": "```python\nfirst\n```"},
        {"role": "tool", "name": "run_tests", "content": "```python\nprint('tool output')\n```"},
        {"role": "assistant", "content": [{"type": "text", "text": "```python\nfinal\n"},
                                          {"type": "text", "text": "```"}]},
        {"role": "tool", "name": "run_tests", "content": "All 3 tests passed."},
    ]
    assert completion_text(conversation) == "```python\nfinal\n```"
    assert extract_code(completion_text(conversation)) == "final\n"
    assert completion_text([{"role": "tool", "content": "x"}]) == ""


def test_spec_forms() -> None:
    tests = {"kind": "stdio", "cases": [{"input": "1", "output": "1"}]}
    assert item_from_spec("c", tests).tests.kind is TestKind.STDIO
    assert item_from_spec("c", json.dumps(tests), id="i").id == "i"
    template = {"tests": tests, "compare": "exact", "limits": {"timeout_s": 2}}
    from_template = item_from_spec("c", json.dumps(template))
    assert (from_template.compare, from_template.limits.timeout_s) == (Compare.EXACT, 2)
    apps = item_from_spec("c", {"inputs": [[1]], "outputs": [2], "fn_name": "f"})
    assert (apps.tests.kind, apps.compare) == (TestKind.CALL, Compare.APPS)
    humaneval = item_from_spec("c", {"test": "def check(f): pass", "entry_point": "g"})
    assert humaneval.tests.cases[0].code == "check(g)"
    mbpp = item_from_spec("c", {"test_list": ["assert f(1)"], "test_setup_code": ""}, id="m")
    assert (mbpp.id, mbpp.code) == ("m", "c")
    assert item_from_spec("c", ["assert True"]).tests.cases[0].code == "assert True"


def test_bad_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="unrecognised test spec"):
        item_from_spec("c", {"answer": 42})
    with pytest.raises(TypeError):
        item_from_spec("c", 42)
    with pytest.raises(ValidationError):
        item_from_spec("c", {"kind": "call", "cases": []})


def test_openrlhf_response_text_strips_prompt_and_end_tokens() -> None:
    prompt = "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n"
    assert response_text(prompt + "answer<|im_end|><|endoftext|>", prompt) == "answer"
    assert response_text("no prompt match</s>", "other") == "no prompt match"
    assert response_text("x", None) == "x"


def test_openrlhf_items_need_aligned_labels() -> None:
    spec = json.dumps({"kind": "assert", "cases": [{"code": "assert f() == 1"}]})
    request = RewardRequest.model_validate(
        {"query": ["P```python\ndef f(): return 1\n```"], "prompts": ["P"], "labels": [spec],
         "metas": [{"anything": 1}]}
    )
    [item] = items_of(request)
    assert item.code == "def f(): return 1\n"
    with pytest.raises(ValueError, match="aligned"):
        items_of(RewardRequest(query=["a", "b"], prompts=["a", "b"], labels=[spec]))
    with pytest.raises(ValueError, match="aligned"):
        items_of(RewardRequest(query=["a"]))


def scored(status: str, total: float | None = 1.0, ratio: float = 1.0, **extra: Any) -> Result:
    return Result(status=status, pass_ratio=ratio, rewards={"total": total}, **extra)


def test_rewards_of_never_invents_a_score() -> None:
    assert rewards_of([scored("pass"), scored("error", -1.0, 0.0)]) == [1.0, -1.0]
    with pytest.raises(NotScored) as caught:
        rewards_of([scored("pass"), scored("infra_error", None, detail="sandbox lost"),
                    Result(status="no_tests")])
    assert caught.value.indices == [1, 2]
    assert caught.value.statuses == ["infra_error", "no_tests"]
    assert "sandbox lost" in str(caught.value)
    with pytest.raises(NotScored, match="'adaptive'"):
        rewards_of([scored("pass")], "adaptive")


def test_reward_or_none_is_none_without_a_verdict() -> None:
    assert reward_or_none(scored("failure", -0.6, 0.0)) == -0.6
    assert reward_or_none(scored("infra_error", None)) is None
    assert reward_or_none(Result(status="no_tests")) is None
    assert reward_or_none(scored("pass"), "adaptive") is None


def test_openrlhf_answer_shape() -> None:
    body = answer_of([scored("pass"), scored("failure", -0.5, 0.5)])
    assert body.model_dump() == {
        "rewards": [1.0, -0.5],
        "scores": [1.0, 0.5],
        "extra_logs": {"pass_ratio": [1.0, 0.5], "passed_all": [1.0, 0.0]},
    }
