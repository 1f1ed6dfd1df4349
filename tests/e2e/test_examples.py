"""The examples in examples/, run against the live stack as far as this machine allows.

- ``trl_grpo.py`` runs as written (a tiny local model on the CPU, 2 GRPO steps), with the
  sync and with the async reward function.
- verl's and OpenRLHF's trainings need GPUs; what calls the service runs here: verl's
  preprocessing script writes parquet files that verl's own ``RLHFDataset`` reads and
  whose ground truths score the references through the adapter; OpenRLHF's data script
  writes a prompt dataset that OpenRLHF's own ``preprocess_data`` turns into the
  (prompt, label) pairs its ``reward_func.py`` mode is called with. (The launch
  commands' config and flags: tests/e2e/test_frameworks_{verl,openrlhf}.py.)
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from omegaconf import OmegaConf
from trl.chat_template_utils import qwen2_5_chat_template
from verl.utils.dataset.rl_dataset import RLHFDataset

from client.adapters import verl as verl_adapter
from tests.e2e._frameworks import openrlhf_modules, tiny_tokenizer
from tests.support.paths import DATA, ROOT

pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "examples"
MBPP = DATA / "mbpp_head50.jsonl"


def run_example(args: list[str], url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "UTRS_URL": url, "OMP_NUM_THREADS": "1", **env},
    )


@pytest.mark.parametrize("variant", [[], ["--async-reward"]], ids=["sync", "async"])
def test_trl_grpo_example_runs_on_cpu(live_service: str, tmp_path: Path, variant: list[str]) -> None:
    run = run_example([str(EXAMPLES / "trl_grpo.py"), "--tiny", "--max-steps", "2", "--limit", "8",
                       "--output-dir", str(tmp_path), *variant], live_service)
    assert run.returncode == 0, run.stderr[-3000:]
    logged = [json.loads(line) for line in run.stdout.splitlines() if line.startswith('{"')]  # ours, not TRL's
    steps = [entry for entry in logged if "reward" in entry]
    name = "utrs_async" if variant else "utrs"
    assert [entry["step"] for entry in steps] == [1, 2]
    assert all(f"rewards/{name}/mean" in entry and f"{name}/pass_ratio" in entry for entry in steps)
    assert all(entry[f"{name}/unscored"] == 0.0 for entry in steps)  # every completion was judged


def humaneval_subset(humaneval: list[dict[str, Any]], path: Path, n: int) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(record) + "\n" for record in humaneval[:n])
    return path


def test_verl_preprocessing_feeds_verls_dataset_and_the_reward(
    live_service: str, tmp_path: Path, humaneval: list[dict[str, Any]]
) -> None:
    out = tmp_path / "parquet"
    he = humaneval_subset(humaneval, tmp_path / "he.jsonl.gz", 10)
    run = run_example([str(EXAMPLES / "verl" / "preprocess.py"), "--mbpp", str(MBPP), "--apps",
                       str(DATA / "apps_train_sample"), "--humaneval", str(he), "--out", str(out)], live_service)
    assert run.returncode == 0, run.stderr
    tokenizer = tiny_tokenizer(["x"], chat_template=qwen2_5_chat_template)
    config = OmegaConf.create({"max_prompt_length": 100_000, "cache_dir": str(tmp_path / "cache")})
    rows = [row for split in ("train", "test")
            for row in RLHFDataset(str(out / f"{split}.parquet"), tokenizer, config)]
    assert len(rows) == 50 + 5 + 10
    assert {row["data_source"] for row in rows} == {"mbpp", "apps", "humaneval"}
    references = reference_solutions(humaneval)
    responses = [f"```python\n{references[(row['data_source'], row['extra_info']['task_id'])]}\n```"
                 for row in rows]
    scores = verl_adapter.compute_score_batch(
        [row["data_source"] for row in rows], responses, [row["reward_model"]["ground_truth"] for row in rows],
        [row["extra_info"] for row in rows], url=live_service,
    )
    passed = {source: sum(s["pass_ratio"] == 1.0 for s, row in zip(scores, rows, strict=True)
                          if row["data_source"] == source) for source in ("mbpp", "apps", "humaneval")}
    assert passed["humaneval"] == 10 and passed["apps"] == 5
    assert passed["mbpp"] >= 45  # the MBPP references, judged honestly (a few fail their own tests)


def reference_solutions(humaneval: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    found = {("humaneval", r["task_id"]): r["prompt"] + r["canonical_solution"] for r in humaneval}
    for line in MBPP.read_text().splitlines():
        record = json.loads(line)
        found["mbpp", str(record["task_id"])] = record["code"]
    for folder in (DATA / "apps_train_sample").iterdir():
        found["apps", folder.name] = json.loads((folder / "solutions.json").read_text())[0]
    return found


@pytest.fixture(scope="module")
def openrlhf() -> Iterator[SimpleNamespace]:
    with openrlhf_modules() as modules:
        yield modules


def test_openrlhf_data_script_feeds_openrlhfs_dataset_and_reward_func(
    openrlhf: SimpleNamespace, live_service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UTRS_URL", live_service)
    out = tmp_path / "train.jsonl"
    run = run_example([str(EXAMPLES / "openrlhf" / "prepare_data.py"), str(MBPP), str(out)], live_service)
    assert run.returncode == 0, run.stderr
    tokenizer = tiny_tokenizer(["x"], chat_template=qwen2_5_chat_template)
    records = [json.loads(line) for line in MBPP.read_text().splitlines()][:5]
    pairs = [openrlhf.preprocess_data(json.loads(line), input_key="prompt", label_key="tests",
                                      apply_chat_template=tokenizer.apply_chat_template)
             for line in out.read_text().splitlines()[:5]]
    executor = openrlhf.SingleTurn(str(EXAMPLES / "openrlhf" / "reward_func.py"))
    queries = [prompt + f"```python\n{r['code']}\n```<|im_end|>" for (prompt, _), r in zip(pairs, records,
                                                                                          strict=True)]
    out_scores = executor.reward_func(queries, [p for p, _ in pairs], [label for _, label in pairs])
    assert out_scores["scores"].tolist() == [1.0] * 5
