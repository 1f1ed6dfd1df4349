"""The OpenRLHF adapters driven by OpenRLHF's own code (release 0.11.2) against the live
stack.

OpenRLHF needs Ray, vLLM and GPUs, so it is not installed: its pinned release's source
is imported from the unpacked wheel (tests/e2e/_frameworks.py), with ``vllm`` replaced by
a stub (it cannot run here) and its generation by a scripted engine, as OpenRLHF's own
tests do (``tests/test_agent.py``). Everything after generation is OpenRLHF's code:

- ``SingleTurnAgentExecutor`` loads ``reward_func.py`` by path (``spec_from_file_location``,
  not registered in ``sys.modules``) and calls it from a thread, one query per call;
  its HTTP mode posts to the service's route with its own aiohttp request;
- ``MultiTurnAgentExecutor`` runs the repair agent of ``examples/openrlhf/agent_func.py``
  (loaded by OpenRLHF's ``_load_agent_executor``);
- ``SamplesGenerator._process_response_into_experience`` turns the rollouts into
  experiences (rewards, scores for dynamic filtering, extra logs);
- the launch script's flags are checked against ``train_ppo_ray``'s argument parser.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from client.adapters import openrlhf as adapter
from tests.e2e._frameworks import openrlhf_modules, tiny_tokenizer
from tests.support.paths import ROOT
from tests.support.stack import Stack, run_stack

pytestmark = pytest.mark.slow

EXAMPLE = ROOT / "examples" / "openrlhf"
SPEC = json.dumps({"kind": "assert", "cases": [{"code": "assert add(1, 2) == 3"},
                                               {"code": "assert add(2, 2) == 4"}]})
PROMPT = "<|im_start|>user\nWrite add(a, b).<|im_end|>\n<|im_start|>assistant\n"
GOOD = "```python\ndef add(a, b):\n    return a + b\n```"
BAD = "```python\ndef add(a, b):\n    return a - b\n```"


@pytest.fixture(scope="module")
def openrlhf() -> Iterator[SimpleNamespace]:
    with openrlhf_modules() as modules:
        yield modules


class Engine:
    """Stands in for vLLM: turn ``k`` of a rollout generates ``script[k]``."""

    def __init__(self, tokenizer: Any, script: list[str]) -> None:
        self.tokenizer, self.script, self.calls = tokenizer, script, 0

    async def generate(self, token_ids: list[int], params: Any, **kwargs: Any) -> Any:
        text = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return SimpleNamespace(outputs=[SimpleNamespace(token_ids=ids, text=text, finish_reason="stop",
                                                        logprobs=None)])


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return tiny_tokenizer([PROMPT, GOOD, BAD])


def rollout(executor: Any, tokenizer: Any, script: list[str], label: str = SPEC) -> dict[str, Any]:
    params = SimpleNamespace(max_tokens=None, logprobs=None)
    response: dict[str, Any] = asyncio.run(
        executor.execute(PROMPT, label, params, 1024, tokenizer, Engine(tokenizer, script)))
    return response


def experience(openrlhf: SimpleNamespace, response: dict[str, Any]) -> Any:
    generator = openrlhf.Samples.__new__(openrlhf.Samples)  # no Ray actors: only the conversion
    return generator._process_response_into_experience(response, max_len=1024)


@pytest.fixture(scope="module")
def keyed_stack(redis_server: str) -> Iterator[Stack]:
    """A stack that requires an API key."""
    with run_stack(redis_server, UTRS_API_KEYS="k-openrlhf") as stack:
        yield stack


@pytest.mark.parametrize("path", [EXAMPLE / "reward_func.py", ROOT / "client" / "adapters" / "openrlhf.py"])
def test_reward_func_file_loaded_and_called_by_openrlhf(
    openrlhf: SimpleNamespace, tokenizer: Any, keyed_stack: Stack, path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UTRS_URL", keyed_stack.url)
    monkeypatch.setenv("UTRS_API_KEY", "k-openrlhf")  # sent as the bearer key
    executor = openrlhf.SingleTurn(str(path))  # loads the file by path, as --reward.remote_url does
    assert executor.reward_func is not None

    async def concurrent() -> list[dict[str, Any]]:
        params = SimpleNamespace(max_tokens=None, logprobs=None)
        runs = [executor.execute(PROMPT, SPEC, params, 1024, tokenizer, Engine(tokenizer, [text]))
                for text in (GOOD, BAD, GOOD)]
        return list(await asyncio.gather(*runs))

    good, bad, again = (experience(openrlhf, r) for r in asyncio.run(concurrent()))
    assert good.scores.item() == 1.0 and bad.scores.item() == 0.0
    assert good.rewards.item() > bad.rewards.item() and again.rewards.item() == good.rewards.item()
    assert good.info["pass_ratio"].item() == 1.0 and bad.info["passed_all"].item() == 0.0


def test_http_mode_posts_to_the_route(openrlhf: SimpleNamespace, tokenizer: Any, live_service: str) -> None:
    executor = openrlhf.SingleTurn(f"{live_service}/v1/openrlhf/get_reward")
    good = experience(openrlhf, rollout(executor, tokenizer, [GOOD]))
    bad = experience(openrlhf, rollout(executor, tokenizer, [BAD]))
    assert (good.scores.item(), bad.scores.item()) == (1.0, 0.0)
    assert good.rewards.item() > bad.rewards.item()


def test_http_mode_with_the_key_in_the_path(openrlhf: SimpleNamespace, tokenizer: Any, keyed_stack: Stack) -> None:
    """OpenRLHF's HTTP mode sends no headers: a keyed service takes the key in the path,
    and refuses a wrong one (OpenRLHF's request wrapper raises after its retries)."""
    executor = openrlhf.SingleTurn(f"{keyed_stack.url}/v1/openrlhf/k/k-openrlhf/get_reward")
    good = experience(openrlhf, rollout(executor, tokenizer, [GOOD]))
    assert good.scores.item() == 1.0
    wrong = httpx.post(f"{keyed_stack.url}/v1/openrlhf/k/not-a-key/get_reward",
                       json={"query": [GOOD], "prompts": [PROMPT], "labels": [SPEC]}, timeout=30)
    assert wrong.status_code == 403
    bare = httpx.post(f"{keyed_stack.url}/v1/openrlhf/get_reward",
                      json={"query": [GOOD], "prompts": [PROMPT], "labels": [SPEC]}, timeout=30)
    assert bare.status_code == 401


def test_agent_mode_repairs_over_turns(
    openrlhf: SimpleNamespace, tokenizer: Any, live_service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UTRS_URL", live_service)
    executor = openrlhf.load_agent(str(EXAMPLE / "agent_func.py"))
    response = rollout(executor, tokenizer, [BAD, GOOD, "unused"])
    transcript = tokenizer.decode(response["observation_tokens"], skip_special_tokens=False)
    assert len(response["action_ranges"]) == 2  # fixed on the second turn: done
    assert "0 of 2 tests passed. Test 1 failed:\n    assert add(1, 2) == 3" in transcript
    assert transcript.index("return a - b") < transcript.index("Test 1 failed") < transcript.index("return a + b")
    from client import RewardClient

    with RewardClient(live_service) as client:
        [final] = client.evaluate([{"code": "def add(a, b):\n    return a + b\n", "tests": json.loads(SPEC)}])
    done = experience(openrlhf, response)
    assert done.rewards.item() == pytest.approx(final.rewards["total"])  # turn rewards: 0, then the verdict
    assert done.scores.item() == 1.0 and done.info["turns"].item() == 2.0

    stubborn = rollout(executor, tokenizer, [BAD])  # never fixed: ends after max_turns
    assert len(stubborn["action_ranges"]) == 3 and stubborn["scores"] == 0.0


def parser_flags(source: Path) -> set[str]:
    """Every option string ``train_ppo_ray``'s parser defines."""
    tree = ast.parse((source / "cli" / "train_ppo_ray.py").read_text())
    return {arg.value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument"
            for arg in node.args if isinstance(arg, ast.Constant) and str(arg.value).startswith("--")}


def test_launch_script_and_docs_use_openrlhfs_current_flags(openrlhf: SimpleNamespace) -> None:
    flags = parser_flags(openrlhf.source)
    script = set(re.findall(r"(--[a-z][a-z_.]+)", (EXAMPLE / "train_ppo.sh").read_text()))
    assert script and script <= flags, sorted(script - flags)
    docs = (ROOT / "docs" / "client.md").read_text()
    documented = set(re.findall(r"(--(?:reward|data|algo|train|rollout|actor)\.[a-z_.]+)", docs))
    assert documented and documented <= flags, sorted(documented - flags)
    for renamed in ("--remote_rm_url", "--label_key", "--dynamic_filtering"):
        assert renamed not in flags
        assert f"{renamed} " not in docs and f"`{renamed}`" not in docs


def test_reward_requests_finish_inside_openrlhfs_own_timeout(openrlhf: SimpleNamespace) -> None:
    agent_source = (openrlhf.source / "utils" / "agent.py").read_text()
    [total] = re.findall(r"aiohttp\.ClientTimeout\(total=(\d+)\)", agent_source)
    assert float(total) == adapter.OPENRLHF_TIMEOUT_S
    assert adapter.connection().timeout_s < adapter.OPENRLHF_TIMEOUT_S
