"""Each adapter against the real service, called with its framework's arguments.

These are the adapters' own contracts on real results; the frameworks' calling code
drives them in tests/e2e/test_frameworks_{trl,verl,openrlhf}.py.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from client import Item, feedback_text
from client.adapters import openrlhf, trl, verl
from client.builders import from_humaneval
from client.client import RewardClient
from client.errors import NotScored
from tests.support.paths import DATA

pytestmark = pytest.mark.slow

APPS = DATA / "apps_train_sample"


def fenced(code: str) -> str:
    return f"Here is my solution:\n```python\n{code}```\nIt runs in O(n)."


def humaneval_rows(humaneval: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """A TRL dataset: a prompt column and a JSON test-spec column per problem."""
    rows = []
    for record in humaneval[:n]:
        spec = {"tests": {"kind": "assert", "setup": record["test"],
                          "cases": [{"code": f"check({record['entry_point']})"}]}}
        rows.append({"prompt": record["prompt"], "tests": json.dumps(spec),
                     "task_id": record["task_id"]})
    return rows


def call_like_grpo_trainer(reward_func: Any, inputs: list[dict[str, Any]]) -> list[float]:
    """What GRPOTrainer._calculate_rewards does for a plain-function reward."""
    prompts = [x["prompt"] for x in inputs]
    completions = [x["completion"] for x in inputs]
    completion_ids = [[1, 2, 3] for _ in inputs]
    keys = [key for key in inputs[0] if key not in ["prompt", "completion"]]
    reward_kwargs: dict[str, Any] = {key: [example[key] for example in inputs] for key in keys}
    reward_kwargs["trainer_state"] = object()
    name = reward_func.__name__
    assert name == "utrs"
    output: list[float] = reward_func(
        prompts=prompts, completions=completions, completion_ids=completion_ids, **reward_kwargs
    )
    return output


def test_trl_reward_fn_standard_and_conversational(
    live_service: str, humaneval: list[dict[str, Any]]
) -> None:
    rows = humaneval_rows(humaneval, 4)
    records = humaneval[:4]
    good = [fenced(r["prompt"] + r["canonical_solution"]) for r in records]
    bad = [fenced(r["prompt"] + "    return None\n") for r in records]
    inputs = [{**row, "completion": c} for row, c in zip(rows + rows, good + bad, strict=True)]
    reward_fn = trl.make_reward_fn(live_service)
    rewards = call_like_grpo_trainer(reward_fn, inputs)
    assert len(rewards) == 8
    assert all(isinstance(r, float) for r in rewards)
    assert min(rewards[:4]) > max(rewards[4:])

    conversational = [
        {**x, "prompt": [{"role": "user", "content": x["prompt"]}],
         "completion": [{"role": "assistant", "content": x["completion"]}]}
        for x in inputs
    ]
    assert call_like_grpo_trainer(reward_fn, conversational) == rewards


def test_trl_reward_fn_with_own_item_maker_and_coarse_reward(
    live_service: str, humaneval: list[dict[str, Any]]
) -> None:
    by_id = {r["task_id"]: r for r in humaneval[:3]}

    def make_item(code: str, row: dict[str, Any]) -> Any:
        return from_humaneval(by_id[row["task_id"]], code)

    with RewardClient(live_service) as client:
        reward_fn = trl.make_reward_fn(client=client, make_item=make_item, reward_key="coarse")
        inputs = [{"prompt": r["prompt"], "task_id": r["task_id"],
                   "completion": r["canonical_solution"]} for r in by_id.values()]
        assert call_like_grpo_trainer(reward_fn, inputs) == [1.0, 1.0, 1.0]


def apps_truth(name: str) -> tuple[str, list[str]]:
    io = (APPS / name / "input_output.json").read_text()
    solutions = json.loads((APPS / name / "solutions.json").read_text())
    return io, solutions


def test_trl_scores_the_last_assistant_message_not_a_trailing_tool_answer(
    live_service: str,
) -> None:
    spec = json.dumps({"kind": "assert", "cases": [{"code": "assert add(1, 2) == 3"}]})
    conversation = [
        {"role": "assistant", "content": fenced("def add(a, b):\n    return a + b\n")},
        {"role": "tool", "name": "run_tests", "content": fenced("def add(a, b):\n    return 0\n")},
    ]
    reward_fn = trl.make_reward_fn(live_service, reward_key="coarse")
    assert reward_fn(prompts=[""], completions=[conversation], tests=[spec]) == [1.0]


def test_trl_unjudged_samples_get_none_or_raise(live_service: str) -> None:
    specs = [json.dumps({"kind": "assert", "cases": []}), json.dumps(["assert 1 + 1 == 2"])]
    kwargs = {"prompts": ["", ""], "completions": ["x = 1\n", "x = 1\n"], "tests": specs}
    assert trl.make_reward_fn(live_service, reward_key="coarse")(**kwargs) == [None, 1.0]
    with pytest.raises(NotScored, match="no_tests"):
        trl.make_reward_fn(live_service, on_unscored="raise")(**kwargs)
    async_fn = trl.make_async_reward_fn(live_service, reward_key="coarse")
    assert asyncio.run(async_fn(**kwargs)) == [None, 1.0]


def test_verl_compute_score_per_sample_with_the_reward_loops_keywords(live_service: str) -> None:
    ground_truth, solutions = apps_truth("4184")
    reward_kwargs = {"url": live_service}  # custom_reward_function.reward_kwargs
    wrong = fenced("def is_prime(n):\n    return True\n")

    async def reward_loop() -> list[dict[str, float]]:
        # The reward loop awaits an async compute_score per sample, concurrently, and adds
        # reward_router_address/reward_model_tokenizer when a reward model is configured.
        calls = [verl.compute_score(data_source="apps", solution_str=response, ground_truth=ground_truth,
                                    extra_info={"index": i, "split": "train"}, reward_router_address="127.0.0.1:1",
                                    reward_model_tokenizer=None, **reward_kwargs)
                 for i, response in enumerate([fenced(solutions[0]), wrong])]
        return list(await asyncio.gather(*calls))

    scores = asyncio.run(reward_loop())
    assert all(set(score) == {"score", "pass_ratio", "passed"} for score in scores)
    assert scores == [verl.compute_score_sync("apps", r, ground_truth, {"index": i}, **reward_kwargs)
                      for i, r in enumerate([fenced(solutions[0]), wrong])]
    assert verl.compute_score_float("apps", wrong, ground_truth, None, **reward_kwargs) == scores[1]["score"]
    assert scores[0]["pass_ratio"] == 1.0
    assert scores[1]["pass_ratio"] < 1.0
    assert scores[0]["score"] > scores[1]["score"]


def test_verl_compute_score_batch_like_batch_reward_manager(live_service: str) -> None:
    stdio_truth, stdio_solutions = apps_truth("0001")
    call_truth, call_solutions = apps_truth("2404")
    scores = verl.compute_score_batch(
        data_sources=["apps", "apps", "apps"],
        solution_strs=[fenced(stdio_solutions[0]), fenced(call_solutions[0]), "no code at all"],
        ground_truths=[stdio_truth, json.loads(call_truth), call_truth],
        extra_infos=[{"index": 0}, {"index": 1}, {"index": 2}],
        url=live_service, reward_router_address=None,
    )
    assert [s["pass_ratio"] for s in scores] == [1.0, 1.0, 0.0]


def openrlhf_payload(humaneval: list[dict[str, Any]]) -> dict[str, Any]:
    template = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
    records = humaneval[:3]
    prompts = [template.format(r["prompt"]) for r in records]
    answers = [r["prompt"] + r["canonical_solution"] for r in records]
    answers[2] = records[2]["prompt"] + "    return 1 / 0\n"
    queries = [p + fenced(a) + "<|im_end|><|endoftext|>" for p, a in zip(prompts, answers,
                                                                           strict=True)]
    labels = [json.dumps({"test": r["test"], "entry_point": r["entry_point"], "prompt": ""})
              for r in records]
    return {"query": queries, "prompts": prompts, "labels": labels}


def test_openrlhf_remote_reward_endpoint(
    live_service: str, humaneval: list[dict[str, Any]]
) -> None:
    # OpenRLHF: requests.post(url, json=data, headers=..., timeout=180).json()
    url = f"{live_service}/v1/openrlhf/get_reward"
    payload = openrlhf_payload(humaneval)
    response = httpx.post(url, json=payload, headers={"Content-Type": "application/json"},
                          timeout=180)
    response.raise_for_status()
    body = response.json()
    assert set(body) == {"rewards", "scores", "extra_logs"}
    assert len(body["rewards"]) == 3
    assert body["scores"] == [1.0, 1.0, 0.0]
    assert body["extra_logs"]["pass_ratio"] == [1.0, 1.0, 0.0]
    assert body["rewards"][0] > body["rewards"][2]

    with_metas = httpx.post(url + "?reward=coarse", json={**payload, "metas": [{}, {}, {}]},
                            timeout=180)
    assert with_metas.json()["rewards"][:2] == [1.0, 1.0]

    misaligned = httpx.post(url, json={**payload, "labels": payload["labels"][:1]}, timeout=30)
    assert misaligned.status_code == 422
    assert "labels" in misaligned.json()["detail"]


def test_openrlhf_reward_func_file_mode(
    live_service: str, humaneval: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UTRS_URL", live_service)
    payload = openrlhf_payload(humaneval)
    out = openrlhf.reward_func(payload["query"], payload["prompts"], payload["labels"],
                               metas=None)
    assert list(out["scores"]) == [1.0, 1.0, 0.0]


def test_adapters_refuse_to_score_programs_without_tests(live_service: str) -> None:
    no_tests = json.dumps({"kind": "assert", "cases": []})
    with pytest.raises(NotScored, match="no_tests"):
        verl.compute_score_sync("x", "print(1)", no_tests, url=live_service)
    with pytest.raises(NotScored, match="no_tests"):
        asyncio.run(verl.compute_score("x", "print(1)", no_tests, url=live_service))


def test_feedback_text_of_live_results(live_service: str) -> None:
    tests = {"kind": "assert", "cases": [{"code": "assert f(0) == 1"}, {"code": "assert f(3) == 2"}]}
    items = [Item.model_validate({"code": code, "tests": tests}) for code in (
        "def f(x):\n    y = [1]\n    return y[x]\n", "def f(x)\n    return x\n", "def f(x):\n    return 1\n")]
    with RewardClient(live_service) as client:
        runtime, syntax, partly = (feedback_text(r, i) for r, i in zip(client.evaluate(items), items,
                                                                      strict=True))
    assert runtime.endswith("IndexError: list index out of range\nline 3 of your code:\n"
                            "        return y[x]\n               ^^^^")
    assert syntax.endswith("SyntaxError: expected ':'\nline 1 of your code:\n    def f(x)\n            ^")
    assert partly == "1 of 2 tests passed. Test 2 failed:\n    assert f(3) == 2\n" \
        "AssertionError: the assertion is false"
