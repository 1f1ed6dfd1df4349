"""Builders shared by the trainer's unit tests (no tests here).

Results are built as the service returns them for the rltf scheme (coarse, fine with its
char span, adaptive for failures only); :class:`TorchEngine` runs a module with a plain
torch optimizer behind the three calls the trainer makes of a DeepSpeed engine
(``engine(...)``, ``backward``, ``step``), so a training step runs in the test process
without a process group.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from transformers import PreTrainedTokenizerFast

from client.models import Category, ErrorInfo, FinishReason, Result, Status
from trainer_example.data import Problem
from trainer_example.model import train_tokenizer
from trainer_example.rollout import Sample, Scored
from trainer_example.synthetic import synthetic_problems

__all__ = ["BROKEN", "PROBLEM", "PROBLEMS", "TorchEngine", "result", "scored", "tokenizer"]

PROBLEMS = synthetic_problems()
PROBLEM = PROBLEMS[0]
BROKEN = "def add(x):\n    y = [1, 2]\n    z = y[x] + undefined_name\n    return z + 3\n"


@functools.cache
def tokenizer() -> PreTrainedTokenizerFast:
    return train_tokenizer([p.prompt + (p.reference or "") for p in PROBLEMS], vocab_size=600)


def result(
    status: Status,
    *,
    passed: int = 0,
    total: int = 4,
    span: tuple[int, int] | None = None,
    category: Category = Category.LINE,
    syntax: bool = False,
) -> Result:
    """An rltf-scheme result as the service computes it (feedback.md §4)."""
    ratio = passed / total if total else 0.0
    coarse = {Status.PASS: 1.0, Status.FAILURE: -0.3, Status.ERROR: -1.0 if syntax else -0.6}[status]
    rewards: dict[str, float | None] = {"coarse": coarse, "fine": 0.0, "adaptive": None}
    if status is Status.FAILURE:
        rewards["adaptive"] = -0.3 + 1.3 * passed / total
    if span is not None:
        rewards |= {"fine": -0.3, "fine_char_start": float(span[0]), "fine_char_end": float(span[1])}
    error = None
    if status is Status.ERROR:
        kind = ("SyntaxError", "syntax") if syntax else ("NameError", "name")
        error = ErrorInfo(type=kind[0], subtype=kind[1], category=category)
    return Result(status=status, rewards=rewards, error=error, pass_ratio=ratio, passed=passed, total=total)


def scored(
    res: Result,
    *,
    problem: Problem = PROBLEM,
    code: str = BROKEN,
    greedy: Result | None = None,
    token_ids: tuple[int, ...] = (),
) -> Scored:
    sample = Sample(
        problem=problem,
        code=code,
        finish_reason=FinishReason.STOP,
        new_tokens=10,
        policy_step=0,
        token_ids=token_ids,
    )
    return Scored(sample=sample, result=res, greedy=greedy)


class TorchEngine:
    """A module and an AdamW optimizer behind the engine calls the trainer makes."""

    def __init__(self, module: torch.nn.Module, lr: float) -> None:
        self.module = module
        self.optimizer = torch.optim.AdamW(module.parameters(), lr=lr)
        self.steps = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()  # type: ignore[no-untyped-call]

    def step(self) -> None:
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.steps += 1
