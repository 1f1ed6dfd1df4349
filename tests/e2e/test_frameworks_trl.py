"""The TRL adapters driven by TRL itself (``trl==1.16.0``, pinned in pyproject's
``frameworks`` extra) against the live stack.

- A real ``GRPOTrainer`` trains 2 steps on a tiny local GPT-2 with both our reward
  functions, the sync one and the ``async def`` one (which TRL runs on its own event
  loop); one row has no tests, so its samples get ``None`` and TRL leaves them out.
- ``environment_factory`` with the repair environment: TRL's own tool loop parses the
  policy's tool calls, runs ``run_tests`` and feeds its answer back; the policy is
  scripted (a tiny model cannot be made to call tools; its sampling is replaced, its
  forward pass and the optimizer step are real).
- The reward functions and the environment factory survive a pickle round trip into a
  spawned child (as AsyncGRPO's rollout worker receives them) and work there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import multiprocessing
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
from datasets import Dataset
from transformers import GPT2LMHeadModel
from trl import GRPOConfig, GRPOTrainer
from trl.chat_template_utils import qwen2_5_chat_template

from client.adapters.trl import make_async_reward_fn, make_reward_fn
from client.adapters.trl_env import repair_environment
from client.client import RewardClient
from client.models import Item
from tests.e2e._frameworks import ScriptedPolicy, tiny_config, tiny_tokenizer, tool_call

pytestmark = pytest.mark.slow

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

ADD_TESTS = json.dumps({"kind": "assert", "cases": [{"code": "assert add(1, 2) == 3"},
                                                    {"code": "assert add(2, 2) == 4"}]})
NO_TESTS = json.dumps({"kind": "assert", "cases": []})
BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"


class Recording:
    """Wraps a reward function to keep what TRL passed and what it got back."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.__name__ = inner.__name__
        self.calls: list[tuple[list[Any], list[Any], list[float | None]]] = []

    def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> Any:
        rewards = self.inner(prompts=prompts, completions=completions, **kwargs)
        self.calls.append((list(completions), list(kwargs["tests"]), list(rewards)))
        return rewards


class AsyncRecording(Recording):
    async def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> Any:  # type: ignore[override]
        rewards = await self.inner(prompts=prompts, completions=completions, **kwargs)
        self.calls.append((list(completions), list(kwargs["tests"]), list(rewards)))
        return rewards


def grpo_config(tmp_path: Path, **overrides: Any) -> GRPOConfig:
    settings: dict[str, Any] = {
        "output_dir": str(tmp_path / "run"), "max_steps": 2, "per_device_train_batch_size": 4,
        "num_generations": 2, "max_completion_length": 24, "logging_steps": 1,
        "save_strategy": "no", "report_to": "none", "use_cpu": True, "bf16": False,
        "shuffle_dataset": False, "learning_rate": 1e-5,
    }
    return GRPOConfig(**{**settings, **overrides})


def test_grpo_trainer_two_steps_with_sync_and_async_reward_functions(
    live_service: str, tmp_path: Path
) -> None:
    prompts = [f"Write add(a, b). Attempt {i}.\n" for i in range(4)]
    tokenizer = tiny_tokenizer([*prompts, FIXED, BUGGY])
    # A tiny random GPT-2 writes gibberish: the service judges it (a syntax error at best).
    model = GPT2LMHeadModel(tiny_config(tokenizer))
    specs = [NO_TESTS, ADD_TESTS, ADD_TESTS, ADD_TESTS]  # the first prompt has no tests
    dataset = Dataset.from_list([{"prompt": p, "tests": s} for p, s in zip(prompts, specs, strict=True)])
    sync_fn = Recording(make_reward_fn(live_service))
    async_fn = AsyncRecording(make_async_reward_fn(live_service))
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=[sync_fn, async_fn],
                          args=grpo_config(tmp_path), train_dataset=dataset)
    trainer.train()

    assert trainer.state.global_step == 2
    assert len(sync_fn.calls) == len(async_fn.calls) == 2  # one call per generation batch
    with RewardClient(live_service) as client:
        for (completions, tests, rewards), (_, _, async_rewards) in zip(sync_fn.calls, async_fn.calls,
                                                                       strict=True):
            assert rewards == async_rewards
            items = [Item.model_validate({"code": c, "tests": json.loads(t)})
                     for c, t in zip(completions, tests, strict=True) if t != NO_TESTS]
            totals = [r.rewards["total"] for r in client.evaluate(items)]
            assert [r for r, t in zip(rewards, tests, strict=True) if t != NO_TESTS] == totals
            assert all(r is None for r, t in zip(rewards, tests, strict=True) if t == NO_TESTS)
    first, second = (entry for entry in trainer.state.log_history if "rewards/utrs/mean" in entry)
    judged = [r for r in sync_fn.calls[0][2] if r is not None]
    # TRL left the unjudged samples out of its mean (a NaN, not a 0).
    assert math.isclose(first["rewards/utrs/mean"], sum(judged) / len(judged), rel_tol=1e-5)
    assert first["utrs/unscored"] == 0.5 and second["utrs/unscored"] == 0.0
    assert "utrs/pass_ratio" in first and "utrs_async/pass_ratio" in first
    assert any(key.startswith("utrs/error/") for key in first)


def test_environment_factory_repair_loop_in_grpo_trainer(live_service: str, tmp_path: Path) -> None:
    script = [tool_call("run_tests", code=BUGGY), tool_call("run_tests", code=FIXED), "Done."]
    tokenizer = tiny_tokenizer(script * 2, chat_template=qwen2_5_chat_template)
    policy = ScriptedPolicy(tokenizer, script)
    dataset = Dataset.from_list([{"prompt": [{"role": "user", "content": "Write add(a, b)."}],
                                  "tests": ADD_TESTS}] * 2)
    trainer = GRPOTrainer(
        model=policy, processing_class=tokenizer, args=grpo_config(tmp_path, max_steps=1,
                                                                     per_device_train_batch_size=2,
                                                                     max_completion_length=512),
        train_dataset=dataset, environment_factory=repair_environment(live_service),
    )
    assert trainer.reward_func_names == ["RepairEnvironment"]  # get_reward is the reward
    trainer.train()

    [logged] = [entry for entry in trainer.state.log_history if "reward" in entry]
    with RewardClient(live_service) as client:
        [final] = client.evaluate([{"code": FIXED, "tests": json.loads(ADD_TESTS)}])
    assert logged["rewards/RepairEnvironment/mean"] == pytest.approx(final.rewards["total"])
    assert logged["tools/call_frequency"] == 2.0 and logged["tools/failure_frequency"] == 0.0
    conversation = next(iter(trainer._logs["completion"]))  # TRL's record of the rollout
    tool_answers = [m["content"] for m in conversation if m["role"] == "tool"]
    assert tool_answers[0].startswith("0 of 2 tests passed. Test 1 failed:")
    assert "assert add(1, 2) == 3" in tool_answers[0]
    assert tool_answers[1] == "All 2 tests passed."


# ----------------------------------------------------------------- pickling


def score_in_child(function: Any, completions: list[str], tests: list[str]) -> list[float | None]:
    """Runs in a spawned child: the unpickled reward function makes its own client."""
    kwargs = {"prompts": [""] * len(completions), "completions": completions, "tests": tests}
    output = function(**kwargs)
    return list(asyncio.run(output) if asyncio.iscoroutine(output) else output)


def repair_in_child(factory: Any, programs: list[str]) -> tuple[list[str], float | None]:
    environment = factory()
    environment.reset(prompt="Write add(a, b).", tests=ADD_TESTS)
    return [environment.run_tests(code=p) for p in programs], environment.get_reward()


def test_reward_functions_and_environments_pickle_into_a_spawned_child(live_service: str) -> None:
    completions, tests = [f"```python\n{FIXED}```", BUGGY], [ADD_TESTS, ADD_TESTS]
    sync_fn = make_reward_fn(live_service)
    here = sync_fn(prompts=["", ""], completions=completions, tests=tests)  # its client exists now
    async_fn = make_async_reward_fn(live_service)
    factory = repair_environment(live_service)
    for value in (sync_fn, async_fn, factory):
        pickle.loads(pickle.dumps(value))
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as child:
        there = child.submit(score_in_child, sync_fn, completions, tests).result(timeout=120)
        there_async = child.submit(score_in_child, async_fn, completions, tests).result(timeout=120)
        answers, reward = child.submit(repair_in_child, factory, [BUGGY, FIXED]).result(timeout=120)
    assert here == there == there_async
    assert here[0] is not None and here[1] is not None and here[0] > here[1]
    assert answers[1] == "All 2 tests passed." and reward == here[0]
