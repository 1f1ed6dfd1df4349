"""The learning demo's entry point against the real service: a 2-step smoke run, not the demo.

``python -m trainer_example.demo`` warms a tiny policy up on the labelled pool, trains
two arms (SL-only and full RLTF) for two steps each with the held-out evaluation, and
prints one line per arm; the demo itself (minutes to hours) is not run in CI. Also: the
demo's reference solutions pass their own tests in the sandbox, so that the labelled
pool teaches correct programs.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from client import RewardClient
from client.models import Item, Status, Tests
from tests.support.paths import ROOT
from trainer_example.demo_data import FAMILIES, Split, item_row


def _env() -> dict[str, str]:
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    return env


SMOKE = [
    *("--warm-steps", "2", "--steps", "2", "--eval-every", "1", "--seeds", "0"),
    *("--problems-per-step", "2", "--samples-per-problem", "2", "--eval-problems", "2", "--eval-samples", "2"),
    *("--tiny-layers", "2", "--tiny-dim", "64", "--max-new-tokens", "24", "--arms", "sl_only,rltf_full"),
]


@pytest.mark.slow
def test_the_demo_entry_runs_two_arms_for_two_steps(live_service: str, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    command = [sys.executable, "-m", "trainer_example.demo", *SMOKE, "--service-url", live_service, "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if "held-out pass@1" in line and "syntax-error share" in line]
    assert [line.split()[0] for line in lines] == ["sl_only", "rltf_full"]
    assert all("pass@10" in line and "(1 seed;" in line for line in lines)
    assert "rltf_full vs sl_only" in done.stdout and "one seed: no standard error, untested" in done.stdout
    for arm in ("sl_only", "rltf_full"):
        with (out / f"{arm}_s0" / "eval.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        assert [row["step"] for row in rows] == ["0", "1", "2"]
        assert all(row["eval_problems"] == "2.0" and row["eval_unscored"] == "0.0" for row in rows)
    assert "| rltf_full | 1 |" in (out / "summary.md").read_text()
    results = json.loads((out / "results.json").read_text())
    assert sorted(results["runs"]) == ["rltf_full", "sl_only"] and results["settings"]["seeds"] == [0]
    assert results["runs"]["rltf_full"]["0"]["step"] == [0, 1, 2]
    assert (out / "demo.png").stat().st_size > 0
    assert (out / "warm_s0" / "config.json").exists()  # the warm start both arms began from
    held = {row["id"] for row in _rows(out / "data" / "heldout.jsonl")}
    assert held and held.isdisjoint(row["id"] for row in _rows(out / "data" / "train.jsonl"))


def _rows(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_the_reference_solutions_pass_their_tests_in_the_sandbox(live_service: str) -> None:
    items = []
    for family in FAMILIES:
        for k in Split().ks:
            row = item_row(family, k, labelled=True)
            items.append(Item(id=row["id"], code=row["code"], tests=Tests.model_validate(row["tests"])))
    with RewardClient(live_service) as client:
        results = client.evaluate(items)
    failed = [item.id for item, result in zip(items, results, strict=True) if result.status is not Status.PASS]
    assert failed == []
