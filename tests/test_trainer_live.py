"""The trainer example end to end: tiny model, DeepSpeed on the CPU, the real service.

Each run is a subprocess (``python -m trainer_example.train``) so DeepSpeed's process
group and the accelerator choice (``DS_ACCELERATOR=cpu``) stay out of the test process.
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("deepspeed")  # the trainer extra; CI installs it
safetensors_torch = pytest.importorskip("safetensors.torch")


ROOT = Path(__file__).resolve().parent.parent
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
]


def _train(url: str, out: Path, *args: str) -> list[dict[str, str]]:
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "TOKENIZERS_PARALLELISM": "false"}
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    command = [
        sys.executable,
        "-m",
        "trainer_example.train",
        *TINY,
        "--service-url",
        url,
        "--out-dir",
        str(out),
        *args,
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=150, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    with (out / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


def _changed(out: Path) -> bool:
    before = safetensors_torch.load_file(str(out / "initial" / "model.safetensors"))
    after = safetensors_torch.load_file(str(out / "final" / "model.safetensors"))
    return any(not bool((before[k] == after[k]).all()) for k in before)


def _finite(rows: list[dict[str, str]], *keys: str) -> None:
    for row in rows:
        for key in keys:
            assert row[key] != "" and math.isfinite(float(row[key])), (key, row)


@pytest.mark.slow
def test_rltf_steps_with_deepspeed_on_cpu(live_service: str, tmp_path: Path) -> None:
    rows = _train(live_service, tmp_path, "--steps", "2", "--baseline", "latest_greedy")
    assert [row["step"] for row in rows] == ["0", "1"]
    _finite(rows, "loss", "loss_sl", "loss_coarse", "loss_fine", "loss_adaptive", "kl")
    assert all(float(row["samples"]) == 8 for row in rows)  # every program was scored
    assert all(row["greedy_pass_rate"] != "" for row in rows)
    outcomes = sum(float(rows[0][f"outcome_{o}"]) for o in ("pass", "failure", "error"))
    assert outcomes == pytest.approx(1.0)
    assert 0.0 <= float(rows[-1]["wait_fraction"]) <= 1.0
    assert _changed(tmp_path)


@pytest.mark.slow
def test_actor_critic_steps_and_resume(live_service: str, tmp_path: Path) -> None:
    rows = _train(live_service, tmp_path, "--algo", "actor_critic", "--steps", "2", "--save-every", "1")
    _finite(rows, "loss", "loss_pg", "loss_critic", "loss_kl", "kl_coef", "value_mean")
    assert _changed(tmp_path)
    rows = _train(live_service, tmp_path, "--algo", "actor_critic", "--steps", "3", "--resume")
    assert [row["step"] for row in rows] == ["0", "1", "2"]  # resumed at step 2
    assert (tmp_path / "checkpoints" / "step3").is_dir()
