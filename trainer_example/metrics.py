"""Per-step metrics: what the service said about the batch, losses, timings.

Written to ``metrics.csv`` (fixed columns, so runs can be compared and plotted) and,
with ``--tensorboard``, to TensorBoard event files.
"""

from __future__ import annotations

import csv
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from client.models import Result, Status
from trainer_example.rollout import Scored, reward

__all__ = ["COLUMNS", "EVAL_COLUMNS", "KS", "MetricsWriter", "batch_metrics", "is_syntax_error"]

SUBTYPES = (
    "syntax",
    "index",
    "type",
    "value",
    "eof",
    "timeout",
    "name",
    "key",
    "import",
    "zero_division",
    "recursion",
    "triple_quoted",
    "indentation",
    "else",
    "crash",
    "memory",
    "output_limit",
    "wrong_answer",
)
OUTCOMES = ("pass", "failure", "error")
KS = (1, 5, 10)  # pass@k of the held-out evaluation
EVAL_COLUMNS = (
    "eval_greedy_pass_rate",
    *(f"eval_pass_at_{k}" for k in KS),
    "eval_syntax_error_rate",
    "eval_problems",
    "eval_unscored",
    "eval_s",
)
COLUMNS: tuple[str, ...] = (
    "step",
    "samples",
    "pass_rate",
    "syntax_error_rate",
    "greedy_pass_rate",
    *(f"outcome_{o}" for o in OUTCOMES),
    *(f"sub_{s}" for s in SUBTYPES),
    "sub_other",
    "reward_coarse",
    "reward_fine",
    "reward_adaptive",
    "reward_total",
    "loss",
    "loss_sl",
    "loss_coarse",
    "loss_fine",
    "loss_adaptive",
    "loss_pg",
    "loss_critic",
    "loss_token_critic",
    "token_weight_mean",
    "kl",
    "kl_coef",
    "reward_penalized",
    "value_mean",
    "advantage_mean",
    "replay_size",
    "replayed",
    "policy_lag",
    "wait_s",
    "step_s",
    "wait_fraction",
    "gen_tokens_per_s",
    "train_tokens_per_s",
    "buffer_len",
    "buffer_dropped",
    "unscored",
    "replay_misses",
    "idle",
    "service_s",
    "sampled_ids_rate",
    "canonical_rate",
    *EVAL_COLUMNS,
)


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _subtype(result: Result) -> str | None:
    error = result.error
    if result.status is Status.PASS or error is None:
        return None
    name = error.subtype or "else"
    return name if name in SUBTYPES else "other"


def is_syntax_error(result: Result) -> bool:
    """The program has RLTF's ``Syntax`` sub-error (what ``syntax_error_rate`` counts)."""
    return _subtype(result) == "syntax"


def batch_metrics(batch: Sequence[Scored], *, step: int) -> dict[str, float | None]:
    """Pass rate, outcome and sub-error distribution, mean rewards of a batch."""
    n = len(batch)
    if n == 0:  # nothing of the batch was scored
        return {"samples": 0.0}
    outcomes = Counter(s.result.status.value for s in batch)
    subtypes = Counter(_subtype(s.result) for s in batch)
    greedy = {s.sample.problem.id: s.greedy for s in batch if s.greedy is not None}
    out: dict[str, float | None] = {
        "samples": float(n),
        "pass_rate": outcomes["pass"] / n,
        "syntax_error_rate": subtypes["syntax"] / n,
        "greedy_pass_rate": _mean([float(g.status is Status.PASS) for g in greedy.values()]),
        "policy_lag": _mean([float(step - s.sample.policy_step) for s in batch]),
    }
    out.update({f"outcome_{o}": outcomes[o] / n for o in OUTCOMES})
    out.update({f"sub_{s}": subtypes[s] / n for s in (*SUBTYPES, "other")})
    for key in ("coarse", "fine", "total"):
        out[f"reward_{key}"] = _mean([reward(s.result, key) for s in batch])
    adaptive = [s.result.rewards.get("adaptive") for s in batch]
    out["reward_adaptive"] = _mean([float(a) for a in adaptive if a is not None])
    return out


class MetricsWriter:
    """Appends one row per step to ``metrics.csv`` (or ``name``; and TensorBoard when asked)."""

    def __init__(
        self,
        directory: Path,
        *,
        tensorboard: bool,
        enabled: bool = True,
        name: str = "metrics.csv",
        columns: Sequence[str] = COLUMNS,
    ) -> None:
        self.path = directory / name
        self.columns = tuple(columns)
        self._enabled = enabled
        self._tb: Any = None
        if not enabled:
            return
        directory.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            with self.path.open("w", newline="") as handle:
                csv.writer(handle).writerow(self.columns)
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(directory / "tensorboard"))

    def write(self, step: int, row: Mapping[str, float | int | None]) -> None:
        if not self._enabled:
            return
        values = {**row, "step": step}
        with self.path.open("a", newline="") as handle:
            csv.writer(handle).writerow(["" if values.get(c) is None else values[c] for c in self.columns])
        if self._tb is not None:
            for key, value in values.items():
                if value is not None and key != "step":
                    self._tb.add_scalar(key, float(value), step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
