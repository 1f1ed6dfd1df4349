"""The verl adapter driven by verl itself (``verl==0.9.1``, pinned in pyproject's
``frameworks`` extra; it installs and runs on a CPU) against the live stack.

- The reward loop: verl's ``RewardLoopWorker`` (what its ``RewardLoopManager`` runs as a
  Ray actor; here in-process, no Ray cluster) is built from ``examples/verl/utrs_grpo.yaml``
  composed with verl's own ``ppo_trainer`` config, loads ``compute_score`` by its
  ``pkg://`` path, and scores a ``DataProto`` batch with its ``naive`` manager, with a
  reward router address set (so the extra keywords are passed). The batch's samples reach
  the service as one request.
- ``prime``: its ``run_reward_scoring`` (a process pool, positional arguments,
  ``float(result)``) with ``compute_score_float``.
- ``batch``: its ``BatchRewardManager`` with ``compute_score_batch``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict
from transformers import PreTrainedTokenizerFast
from verl import DataProto
from verl.experimental.reward_loop import RewardLoopWorker, migrate_legacy_reward_impl
from verl.trainer.ppo.reward import get_custom_reward_fn
from verl.workers.reward_manager.batch import BatchRewardManager
from verl.workers.reward_manager.prime import run_reward_scoring

from client.adapters import verl as adapter
from tests.e2e._frameworks import tiny_tokenizer
from tests.support.paths import DATA, ROOT

pytestmark = pytest.mark.slow

EXAMPLE = ROOT / "examples" / "verl"
MBPP = [json.loads(line) for line in (DATA / "mbpp_head50.jsonl").read_text().splitlines()[:3]]


def samples() -> list[tuple[str, str, str, dict[str, Any]]]:
    """(data_source, response, ground_truth, extra_info): MBPP references and wrong answers."""
    out = []
    for i, record in enumerate(MBPP):
        truth = json.dumps({"test_list": record["test_list"], "test_setup_code": record["test_setup_code"]})
        out.append(("mbpp", f"```python\n{record['code']}\n```", truth, {"index": i, "split": "train"}))
        out.append(("mbpp", "```python\ndef nothing():\n    pass\n```", truth, {"index": i, "split": "train"}))
    return out


def composed(tokenizer_dir: Path, url: str, *extra: str, **reward: str) -> DictConfig:
    """The example's config, as ``verl.trainer.main_ppo`` would read it."""
    overrides = [f"actor_rollout_ref.model.path={tokenizer_dir}",
                 f"reward.custom_reward_function.reward_kwargs.url={url}", *extra,
                 *(f"reward.custom_reward_function.{k}={v}" for k, v in reward.items())]
    with initialize_config_dir(config_dir=str(EXAMPLE), version_base=None):
        return migrate_legacy_reward_impl(compose("utrs_grpo", overrides=overrides))


def data_proto(tokenizer: PreTrainedTokenizerFast, rows: list[tuple[str, str, str, dict[str, Any]]]) -> DataProto:
    """A rollout batch as verl's reward managers read it: left-padded prompts, right-padded
    responses, the attention mask over both, and the non-tensor columns."""
    prompt_ids = [tokenizer("Write the function.")["input_ids"] for _ in rows]
    response_ids = [tokenizer(response)["input_ids"] for _, response, _, _ in rows]
    width_p, width_r, pad = max(map(len, prompt_ids)), max(map(len, response_ids)), tokenizer.pad_token_id
    prompts = torch.tensor([[pad] * (width_p - len(p)) + p for p in prompt_ids])
    responses = torch.tensor([r + [pad] * (width_r - len(r)) for r in response_ids])
    mask = torch.tensor([[0] * (width_p - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (width_r - len(r))
                         for p, r in zip(prompt_ids, response_ids, strict=True)])
    return DataProto.from_dict(
        tensors={"prompts": prompts, "responses": responses, "attention_mask": mask,
                 "input_ids": torch.cat([prompts, responses], dim=1)},
        non_tensors={"data_source": np.array([s for s, _, _, _ in rows], dtype=object),
                     "reward_model": np.array([{"ground_truth": t} for _, _, t, _ in rows], dtype=object),
                     "extra_info": np.array([dict(e) for _, _, _, e in rows], dtype=object)},
    )


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tokenizer")
    tiny_tokenizer([r["code"] for r in MBPP] + ["def nothing():\n    pass\n"]).save_pretrained(folder)
    return folder


def evaluate_requests(url: str) -> float:
    metrics = httpx.get(f"{url}/metrics", timeout=10).text
    found = re.findall(r'utrs_http_requests_total\{[^}]*method="POST",route="/v1/evaluate"[^}]*\} (\S+)', metrics)
    return sum(float(value) for value in found)


def test_reward_loop_worker_scores_a_batch_in_one_request(live_service: str, tokenizer_dir: Path) -> None:
    # A long linger: on a loaded machine verl's decoding threads may start samples apart.
    config = composed(tokenizer_dir, live_service, "+reward.custom_reward_function.reward_kwargs.linger_s=1.0")
    assert config.reward.custom_reward_function.path == "pkg://client.adapters.verl"
    assert get_custom_reward_fn(config).func.__name__ == "_call_with_kwargs_async"  # verl sees it async
    # With a reward model configured verl passes reward_router_address= and
    # reward_model_tokenizer= to compute_score; a worker given a router address does too.
    worker = RewardLoopWorker(config, reward_router_address="127.0.0.1:9")
    assert type(worker.reward_manager).__name__ == "NaiveRewardManager"
    assert worker.reward_manager.is_async_reward_score
    tokenizer = PreTrainedTokenizerFast.from_pretrained(tokenizer_dir)
    rows = samples()
    before = evaluate_requests(live_service)
    # The actor's methods run on the event loop verl's manager took at construction.
    outputs = worker.loop.run_until_complete(worker.compute_score_batch(data_proto(tokenizer, rows)))
    assert evaluate_requests(live_service) - before == 1  # six samples, one request

    expected = [adapter.compute_score_sync(s, r, t, e, url=live_service) for s, r, t, e in rows]
    assert [o["reward_score"] for o in outputs] == [e["score"] for e in expected]
    assert [o["reward_extra_info"]["pass_ratio"] for o in outputs] == [1.0, 0.0] * 3
    assert outputs[0]["reward_score"] > outputs[1]["reward_score"]


def test_prime_run_reward_scoring_with_the_float_variant(live_service: str, tokenizer_dir: Path) -> None:
    config = composed(tokenizer_dir, live_service, name="compute_score_float")
    score = get_custom_reward_fn(config)  # verl's wrapper, pickled into prime's process pool
    rows = samples()
    scores = run_reward_scoring(score, completions=[r for _, r, _, _ in rows],
                                references=[t for _, _, t, _ in rows], tasks=[s for s, _, _, _ in rows],
                                extra_info=[e for _, _, _, e in rows], num_processes=2)
    expected = [adapter.compute_score_sync(s, r, t, e, url=live_service)["score"] for s, r, t, e in rows]
    assert scores == expected  # not the 0.0 prime substitutes for anything it cannot read
    assert scores[0] > scores[1]


def test_batch_reward_manager_with_compute_score_batch(live_service: str, tokenizer_dir: Path) -> None:
    config = composed(tokenizer_dir, live_service, name="compute_score_batch")
    with open_dict(config):
        kwargs = dict(config.reward.custom_reward_function.reward_kwargs)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(tokenizer_dir)
    manager = BatchRewardManager(tokenizer, 0, adapter.compute_score_batch, **kwargs)
    rows = samples()
    answer = manager(data_proto(tokenizer, rows), return_dict=True)
    assert answer["reward_extra_info"]["pass_ratio"] == [1.0, 0.0] * 3
    rewards = answer["reward_tensor"].sum(dim=1).tolist()
    assert rewards == pytest.approx(answer["reward_extra_info"]["score"])
