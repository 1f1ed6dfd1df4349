"""Held-out evaluation: greedy pass rate and pass@k on problems never trained on.

Every ``--eval-every`` optimizer steps (and before the first and after the last), the
current policy writes one greedy program and ``--eval-samples`` sampled programs
(``--eval-temperature``, the training top-p) for each of the ``--eval-problems``
problems set aside at start-up; the scorer judges them (the same service, or recorded
results). pass@k is the unbiased estimator of Chen et al. (2021),
``1 - C(n - c, k) / C(n, k)`` for ``n`` scored samples of which ``c`` passed, averaged over
the problems with ``n >= k``. Programs that were not scored (``infra_error``,
``no_tests``, replay misses) are left out of ``n`` and counted. Under several ranks each
rank judges its share of the problems and the sums are all-reduced.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from client.models import Result, Status
from trainer_example.config import TrainConfig
from trainer_example.data import Problem
from trainer_example.generation import Generator
from trainer_example.metrics import KS, is_syntax_error
from trainer_example.rollout import Sample

__all__ = ["HeldOut", "Judge", "pass_at_k"]

Judge = Callable[[Sequence[Sample]], list[Result | None]]


def pass_at_k(n: int, c: int, k: int) -> float | None:
    """The unbiased pass@k of ``n`` samples with ``c`` correct; None when ``n < k``."""
    if n < k:
        return None
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def _problem_sums(results: Sequence[Result | None], greedy: Result | None) -> dict[str, float]:
    """One problem's contribution to the sums (``None``: a program that was not scored)."""
    scored = [r for r in results if r is not None]
    passed = sum(r.status is Status.PASS for r in scored)
    out = {"problems": 1.0, "scored": float(len(scored)), "unscored": float(len(results) - len(scored))}
    for k in KS:
        value = pass_at_k(len(scored), passed, k)
        out[f"pass_at_{k}"], out[f"count_{k}"] = value or 0.0, float(value is not None)
    out["syntax"] = float(sum(is_syntax_error(r) for r in scored))
    out["greedy_scored"] = float(greedy is not None)
    out["greedy_pass"] = float(greedy is not None and greedy.status is Status.PASS)
    out["unscored"] += float(greedy is None)
    return out


_SUMS = ("problems", "scored", "unscored", *(f"{a}_{k}" for k in KS for a in ("pass_at", "count")))
_SUMS += ("syntax", "greedy_scored", "greedy_pass")


@dataclass
class HeldOut:
    """The held-out problems of this rank and how to sample them."""

    problems: list[Problem]
    config: TrainConfig
    generator: Generator

    @classmethod
    def build(cls, problems: list[Problem], config: TrainConfig, generator: Generator) -> HeldOut:
        sampling = dataclasses.replace(
            config, samples_per_problem=config.eval_samples, temperature=config.eval_temperature
        )
        return cls(problems, config, dataclasses.replace(generator, config=sampling))

    def due(self, policy_step: int) -> bool:
        """Whether to evaluate the policy after ``policy_step`` optimizer steps."""
        every = self.config.eval_every
        if every <= 0 or self.config.eval_problems <= 0:
            return False
        return policy_step % every == 0 or policy_step == self.config.steps

    def _chunks(self) -> list[list[Problem]]:
        size = max(1, self.config.batch_size // max(self.config.eval_samples, 1))
        return [self.problems[i : i + size] for i in range(0, len(self.problems), size)]

    def run(self, lm: Any, judge: Judge, *, step: int) -> dict[str, float | None]:
        """Sample, judge and summarise (summed over the ranks)."""
        totals = dict.fromkeys(_SUMS, 0.0)
        n = self.config.eval_samples
        for chunk in self._chunks():
            samples: list[Sample] = self.generator.sample(lm, chunk, step=step)
            greedy = self.generator.sample(lm, chunk, step=step, greedy=True)
            results = judge(samples + greedy)
            for i in range(len(chunk)):
                sums = _problem_sums(results[i * n : (i + 1) * n], results[len(samples) + i])
                totals = {key: totals[key] + sums[key] for key in _SUMS}
        return _summary(_all_reduce(totals))


def _all_reduce(totals: dict[str, float]) -> dict[str, float]:
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return totals
    tensor = torch.tensor([totals[key] for key in _SUMS], dtype=torch.float64)
    dist.all_reduce(tensor)
    return dict(zip(_SUMS, tensor.tolist(), strict=True))


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _summary(t: dict[str, float]) -> dict[str, float | None]:
    out: dict[str, float | None] = {"eval_greedy_pass_rate": _ratio(t["greedy_pass"], t["greedy_scored"])}
    out |= {f"eval_pass_at_{k}": _ratio(t[f"pass_at_{k}"], t[f"count_{k}"]) for k in KS}
    out["eval_syntax_error_rate"] = _ratio(t["syntax"], t["scored"])
    out["eval_problems"] = t["problems"]
    out["eval_unscored"] = t["unscored"]
    return out
