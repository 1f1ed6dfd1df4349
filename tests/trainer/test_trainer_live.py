"""The trainer example end to end: tiny model, DeepSpeed on the CPU, the real service.

Each run is a subprocess (``python -m trainer_example.train``, or the ``deepspeed``
launcher with two ranks) so DeepSpeed's process group and the accelerator choice
(``DS_ACCELERATOR=cpu``) stay out of the test process. Every run uses one intra-op
thread per process (``OMP_NUM_THREADS=1``): the machine's two cores are shared with the
service's worker and sandbox, and oversubscribed torch threads make a step ten times
slower. Nothing here skips: a missing DeepSpeed, Redis or Docker fails.
"""

from __future__ import annotations

import csv
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import safetensors.torch

from tests.support.paths import ROOT
from tests.support.waiting import free_port

TINY = [
    "--tiny",
    "--tiny-layers",
    "2",
    "--tiny-dim",
    "64",
    "--problems-per-step",
    "4",
    "--samples-per-problem",
    "2",
    "--max-new-tokens",
    "40",
    "--lr",
    "1e-3",
    "--eval-every",
    "0",
]
EVAL = ["--eval-problems", "2", "--eval-every", "1", "--eval-samples", "10"]
# what a replay must reproduce exactly (timings and the buffer's fill level may differ)
TIMINGS = {"wait_s", "step_s", "wait_fraction", "gen_tokens_per_s", "train_tokens_per_s", "service_s", "eval_s"}


def _env() -> dict[str, str]:
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    return env


@dataclass
class Run:
    out: Path
    log: str

    def rows(self, name: str = "metrics.csv") -> list[dict[str, str]]:
        with (self.out / name).open() as handle:
            return list(csv.DictReader(handle))


def _launch(command: list[str], out: Path, timeout: int = 150) -> Run:
    done = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return Run(out, done.stdout + done.stderr)


def _train(url: str, out: Path, *args: str) -> Run:
    command = [sys.executable, "-m", "trainer_example.train", *TINY, "--service-url", url, "--out-dir", str(out)]
    return _launch([*command, *args], out)


def _changed(out: Path) -> bool:
    before = safetensors.torch.load_file(str(out / "initial" / "model.safetensors"))
    after = safetensors.torch.load_file(str(out / "final" / "model.safetensors"))
    return any(not bool((before[k] == after[k]).all()) for k in before)


def _finite(rows: list[dict[str, str]], *keys: str) -> None:
    for row in rows:
        for key in keys:
            assert row[key] != "" and math.isfinite(float(row[key])), (key, row)


@pytest.fixture(scope="module")
def recorded(live_service: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Two RLTF steps (latest_greedy) with the held-out evaluation, results recorded."""
    out = tmp_path_factory.mktemp("rltf")
    return _train(live_service, out, "--steps", "2", *EVAL, "--record-results", str(out / "results.jsonl"))


@pytest.mark.slow
def test_rltf_steps_with_deepspeed_on_cpu(recorded: Run) -> None:
    rows = recorded.rows()
    assert [row["step"] for row in rows] == ["0", "1"]
    _finite(rows, "loss", "loss_sl", "loss_coarse", "loss_fine", "loss_adaptive")
    assert all(row["kl"] == "" for row in rows)  # no reference model in RLTF mode by default
    assert all(float(row["samples"]) == 8 for row in rows)  # every program was scored
    assert all(row["greedy_pass_rate"] != "" and row["replay_misses"] == "0.0" for row in rows)
    outcomes = sum(float(rows[0][f"outcome_{o}"]) for o in ("pass", "failure", "error"))
    assert outcomes == pytest.approx(1.0)
    assert 0.0 <= float(rows[-1]["wait_fraction"]) <= 1.0
    assert _changed(recorded.out)


@pytest.mark.slow
def test_held_out_evaluation_through_the_service(recorded: Run) -> None:
    evals = recorded.rows("eval.csv")
    assert [row["step"] for row in evals] == ["0", "1", "2"]  # before training and after each step
    _finite(evals, "eval_greedy_pass_rate", "eval_pass_at_1", "eval_pass_at_5", "eval_pass_at_10")
    assert all(row["eval_problems"] == "2.0" and row["eval_unscored"] == "0.0" for row in evals)
    for row in evals:
        assert 0.0 <= float(row["eval_pass_at_1"]) <= float(row["eval_pass_at_5"]) <= float(row["eval_pass_at_10"])
    rows = recorded.rows()
    assert [row["eval_pass_at_10"] for row in rows] == [row["eval_pass_at_10"] for row in evals[1:]]
    held = {line for line in recorded.log.splitlines() if "eval after" in line}
    assert len(held) == 3


@pytest.mark.slow
def test_replayed_results_reproduce_the_run_without_a_service(recorded: Run, tmp_path: Path) -> None:
    results = recorded.out / "results.jsonl"
    assert len(results.read_text().splitlines()) > 8
    nothing = f"http://127.0.0.1:{free_port()}"  # no service listens here
    replay = _train(nothing, tmp_path, "--steps", "2", *EVAL, "--replay-results", str(results))
    for name in ("metrics.csv", "eval.csv"):
        for a, b in zip(recorded.rows(name), replay.rows(name), strict=True):
            same = {k: v for k, v in a.items() if k not in TIMINGS}
            assert {k: b[k] for k in same} == same
    assert all(row["replay_misses"] == "0.0" for row in replay.rows())


@pytest.mark.slow
def test_actor_critic_steps_and_resume(live_service: str, tmp_path: Path) -> None:
    args = ("--algo", "actor_critic", "--save-every", "1")
    rows = _train(live_service, tmp_path, *args, "--steps", "2").rows()
    _finite(rows, "loss", "loss_pg", "loss_critic", "kl", "kl_coef", "value_mean", "reward_penalized")
    assert all(row["loss_sl"] == "" for row in rows)  # RL only by default
    assert all(float(row["replayed"]) >= 1 for row in rows)  # seeded with the reference solutions
    assert float(rows[0]["kl"]) == 0.0 < float(rows[1]["kl"])  # the policy starts at the frozen copy
    assert _changed(tmp_path)
    rows = _train(live_service, tmp_path, *args, "--steps", "3", "--resume").rows()
    assert [row["step"] for row in rows] == ["0", "1", "2"]  # resumed at step 2
    assert (tmp_path / "checkpoints" / "step3").is_dir()
    assert (tmp_path / "checkpoints" / "critic" / "step3").is_dir()


@pytest.mark.slow
def test_two_ranks_under_the_deepspeed_launcher(live_service: str, tmp_path: Path) -> None:
    """2 CPU ranks (gloo), 2 RLTF steps with the token critic and the evaluation."""
    command = [
        str(Path(sys.executable).with_name("deepspeed")),
        "--num_accelerators",
        "2",
        "--master_port",
        str(free_port()),
        "--module",
        "trainer_example.train",
        *TINY,
        *EVAL,
        "--steps",
        "2",
        "--token-critic",
        "--baseline",
        "best_so_far",
        "--service-url",
        live_service,
        "--out-dir",
        str(tmp_path),
    ]
    run = _launch(command, tmp_path, timeout=240)
    reports = re.findall(r"rank (\d) of 2: .* parameter checksum (\S+)", run.log)
    assert sorted(r for r, _ in reports) == ["0", "1"]
    assert len({c for _, c in reports}) == 1  # gradients were all-reduced: the ranks agree
    rows = run.rows()
    assert [row["step"] for row in rows] == ["0", "1"]  # rank 0 writes the metrics
    _finite(rows, "loss", "loss_coarse", "loss_token_critic", "token_weight_mean")
    assert all(0.0 < float(row["token_weight_mean"]) < 1.0 for row in rows)
    assert [row["eval_problems"] for row in run.rows("eval.csv")] == ["2.0"] * 3  # summed over the ranks
    assert _changed(tmp_path)
