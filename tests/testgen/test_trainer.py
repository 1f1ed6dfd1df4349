"""The trainer example on a generated dataset (a short CPU run against the live service),
the replay buffer seeded from the rows' references, and the solvability filter."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from client.models import Result, Status, Tests
from service.testgen import TestgenItem, TestgenResult
from service.testgen import testgen as run_testgen
from service.testgen.corpus import read_corpus
from service.testgen.dataset import Filters, build_dataset
from tests.support.paths import ROOT
from tests.support.testgen import options
from trainer_example.data import Problem, load_problems
from trainer_example.filter_solvable import verdicts
from trainer_example.replay import ReplayBuffer
from trainer_example.rollout import Sample

FUNCTIONS = '''
def add_one(n: int) -> int:
    """Return n plus one, for any integer n that the caller passes in here."""
    return n + 1


def shout(text: str) -> str:
    """Return the text in upper case with an exclamation mark added at the end."""
    return text.upper() + "!"


def total(values: list[int]) -> int:
    """Return the sum of all the integers in the given list of values, or zero."""
    return sum(values)


def first_word(text: str) -> str:
    """Return the first whitespace separated word of the text, or the empty string."""
    parts = text.split()
    return parts[0] if parts else ""
'''
TINY = ["--tiny", "--tiny-layers", "2", "--tiny-dim", "64", "--problems-per-step", "2", "--samples-per-problem", "2",
        "--max-new-tokens", "32", "--eval-every", "0"]


@pytest.fixture(scope="module")
def dataset(pools: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tg_data")
    (root / "funcs.py").write_text(FUNCTIONS)
    out = root / "rows.jsonl"
    opts = options(max_candidates=50)

    def generate(items: list[TestgenItem]) -> list[TestgenResult]:
        return run_testgen(items, pools, pools.main.settings, opts)

    funnel = build_dataset(read_corpus(root / "funcs.py"), out, generate, filters=Filters(language=None))
    assert funnel.kept == 4
    return out


def _env() -> dict[str, str]:
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    return env


def _module(module: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


@pytest.mark.slow
def test_the_trainer_trains_on_a_generated_dataset(dataset: Path, live_service: str, tmp_path: Path) -> None:
    _module("trainer_example.train", *TINY, "--data", str(dataset), "--steps", "2", "--service-url", live_service,
            "--out-dir", str(tmp_path / "rltf"))
    with (tmp_path / "rltf" / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["step"] for r in rows] == ["0", "1"] and all(float(r["samples"]) == 4 for r in rows)


def test_the_replay_buffer_starts_from_the_rows_references(dataset: Path) -> None:
    problems = load_problems(str(dataset))
    buffer = ReplayBuffer(capacity=4)
    assert buffer.seed(problems) == len(problems) == 4  # PanguCoder-RL's buffer, seeded as the trainer does
    assert all(buffer.solutions(p.id) for p in problems)


@pytest.mark.slow
def test_filter_solvable_keeps_what_a_sample_solves(dataset: Path, live_service: str, tmp_path: Path) -> None:
    out = tmp_path / "kept.jsonl"
    summary = json.loads(_module("trainer_example.filter_solvable", "--data", str(dataset), "--out", str(out),
                                 "--tiny", "--k", "3", "--max-new-tokens", "24", "--service-url", live_service,
                                 "--work-dir", str(tmp_path / "work")))
    assert summary["problems"] == 4 and summary["samples"] == 12
    assert summary["kept"] + summary["dropped"] == 4 and len(out.read_text().splitlines()) == summary["kept"]


def test_the_keep_rule_never_drops_on_unjudged_samples() -> None:
    tests = Tests.model_validate({"kind": "assert", "cases": [{"code": "assert True"}]})
    problems = [Problem(id=name, text="", tests=tests) for name in ("solved", "unsolved", "unjudged")]

    def sample(problem: Problem) -> Sample:
        return Sample(problem=problem, code="", finish_reason="stop", new_tokens=1, policy_step=0)  # type: ignore[arg-type]

    pairs = [(problems[0], Status.FAILURE), (problems[0], Status.PASS), (problems[1], Status.ERROR),
             (problems[1], Status.FAILURE), (problems[2], Status.INFRA_ERROR), (problems[2], Status.FAILURE)]
    found = verdicts([sample(p) for p, _ in pairs], [Result(status=s) for _, s in pairs])
    assert {k: (v.keep, v.undecided) for k, v in found.items()} == {
        "solved": (True, False), "unsolved": (False, False), "unjudged": (True, True)}
