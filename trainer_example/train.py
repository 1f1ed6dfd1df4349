"""Online RL trainer: ``python -m trainer_example.train --tiny`` (or ``deepspeed ...``).

Each step: the generation side keeps ``--lookahead`` batches at the scorer (sampled with
the latest weights), the training side takes the oldest scored batch from the online
buffer and applies the RLTF objective (or the actor-critic update). Reward computation
thus overlaps optimisation; the time the trainer still waits is logged. Every
``--eval-every`` steps the policy is evaluated on held-out problems.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from trainer_example import engine as ds
from trainer_example.actor_critic import AdaptiveKL
from trainer_example.baselines import Baseline
from trainer_example.buffer import OnlineBuffer
from trainer_example.config import Algo, BaselineMode, TrainConfig, parse_args
from trainer_example.data import Problem
from trainer_example.distributed import rank, world
from trainer_example.evaluation import HeldOut
from trainer_example.feeder import RewardFeeder
from trainer_example.generation import Generator
from trainer_example.metrics import MetricsWriter, batch_metrics
from trainer_example.replay import ReplayBuffer
from trainer_example.rollout import Scored

__all__ = ["Trainer", "main"]

log = logging.getLogger("trainer_example")


@dataclass
class Clock:
    wait_s: float = 0.0
    total_s: float = 0.0
    gen_s: float = 0.0
    gen_tokens: int = 0

    def take_gen(self) -> tuple[float, int]:
        out = (self.gen_s, self.gen_tokens)
        self.gen_s, self.gen_tokens = 0.0, 0
        return out


@dataclass
class Trainer:
    config: TrainConfig
    engine: Any
    tokenizer: PreTrainedTokenizerFast
    problems: list[Problem]
    update: Callable[[list[Scored]], dict[str, float]]
    baseline: Baseline
    generator: Generator
    writer: MetricsWriter
    eval_writer: MetricsWriter
    heldout: HeldOut
    critics: dict[str, Any] = field(default_factory=dict)  # name -> DeepSpeed engine
    kl: AdaptiveKL = field(default_factory=lambda: AdaptiveKL(0.0, 0.0, 1))
    replay: ReplayBuffer = field(default_factory=lambda: ReplayBuffer(0))
    step: int = 0
    clock: Clock = field(default_factory=Clock)
    cursor: int = 0
    submitted: int = 0

    @property
    def lm(self) -> PreTrainedModel:
        lm: PreTrainedModel = self.engine.module
        return lm

    @property
    def out(self) -> Path:
        return Path(self.config.out_dir)

    def next_problems(self) -> list[Problem]:
        """The next ``problems_per_step`` problems of this rank (reshuffled every epoch)."""
        chosen = []
        for _ in range(self.config.problems_per_step):
            if self.cursor % len(self.problems) == 0:
                random.Random(self.config.seed + self.cursor).shuffle(self.problems)
            chosen.append(self.problems[self.cursor % len(self.problems)])
            self.cursor += 1
        return chosen

    # --- generation side -------------------------------------------------------------

    def produce(self, feeder: RewardFeeder) -> None:
        """Keep ``lookahead`` batches ahead of the trainer, sampled with the latest weights."""
        ahead = min(self.step + self.config.lookahead, self.config.steps)
        while self.submitted < ahead:  # batches sent or buffered, not yet trained on
            started = time.monotonic()
            problems = self.next_problems()
            samples = self.generator.sample(self.lm, problems, step=self.step)
            greedy = []
            if self.config.baseline is BaselineMode.LATEST_GREEDY and self.config.algo is Algo.RLTF:
                greedy = self.generator.sample(self.lm, problems, step=self.step, greedy=True)
            self.clock.gen_s += time.monotonic() - started
            self.clock.gen_tokens += sum(s.new_tokens for s in samples + greedy)
            feeder.submit(samples, greedy)
            self.submitted += 1

    # --- loop --------------------------------------------------------------------------

    def run_step(self, feeder: RewardFeeder) -> None:
        started = time.monotonic()
        self.produce(feeder)
        waited = time.monotonic()
        batch = feeder.buffer.take()
        wait_s = time.monotonic() - waited
        trained = time.monotonic()
        stats = self.update(batch)
        train_s = time.monotonic() - trained
        self.after_step(batch)
        step_s = time.monotonic() - started
        self.clock.wait_s += wait_s
        self.clock.total_s += step_s
        row = self.step_row(batch, stats, feeder, wait_s=wait_s, step_s=step_s, train_s=train_s)
        row |= self.evaluate(feeder, policy_step=self.step + 1)
        self.writer.write(self.step, row)
        log.info(
            "step %d pass %.3f syntax %.3f loss %.4f wait %.2fs",
            self.step,
            row.get("pass_rate") or 0.0,
            row.get("syntax_error_rate") or 0.0,
            stats.get("loss", float("nan")),
            wait_s,
        )
        self.step += 1

    def after_step(self, batch: list[Scored]) -> None:
        self.baseline.observe(batch)
        if self.config.algo is Algo.ACTOR_CRITIC:
            for scored in batch:
                self.replay.add(scored)

    def evaluate(self, feeder: RewardFeeder, *, policy_step: int) -> dict[str, float | None]:
        """The held-out evaluation when it is due (else nothing); also to ``eval.csv``."""
        if not self.heldout.due(policy_step):
            return {}
        started = time.monotonic()
        row = self.heldout.run(self.lm, feeder.judge, step=policy_step)
        row["eval_s"] = time.monotonic() - started
        self.eval_writer.write(policy_step, row)
        log.info("eval after %d steps: %s", policy_step, {k: v for k, v in row.items() if v is not None})
        return row

    def step_row(
        self,
        batch: list[Scored],
        stats: dict[str, float],
        feeder: RewardFeeder,
        *,
        wait_s: float,
        step_s: float,
        train_s: float,
    ) -> dict[str, float | None]:
        gen_s, gen_tokens = self.clock.take_gen()
        counts = feeder.take_counts()
        row: dict[str, float | None] = batch_metrics(batch, step=self.step)
        row |= {k: v for k, v in stats.items() if k != "train_tokens"}
        return row | {
            "wait_s": wait_s,
            "step_s": step_s,
            "wait_fraction": self.clock.wait_s / max(self.clock.total_s, 1e-9),
            "gen_tokens_per_s": gen_tokens / gen_s if gen_s > 0 else None,
            "train_tokens_per_s": stats.get("train_tokens", 0.0) / max(train_s, 1e-9),
            "buffer_len": float(len(feeder.buffer)),
            "buffer_dropped": feeder.buffer.dropped,
            "unscored": float(sum(v for k, v in counts.items() if k.startswith("unscored"))),
            "replay_misses": float(feeder.misses),
            "service_s": counts["service_ms"] / 1000.0,
            "replay_size": float(len(self.replay)),
        }

    # --- checkpoints -------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "baseline": self.baseline.state_dict(),
            "kl_coef": self.kl.coef,
            "cursor": self.cursor,
            "clock": asdict(self.clock),
            "replay": self.replay.state_dict(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.step = self.submitted = int(state["step"])
        self.baseline.load_state_dict(state.get("baseline", {}))
        self.kl.coef = float(state.get("kl_coef", self.kl.coef))
        self.cursor = int(state.get("cursor", 0))
        self.clock = Clock(**state.get("clock", {}))
        if "replay" in state:
            self.replay.load_state_dict(state["replay"], self.problems)

    def save(self) -> None:
        ds.save_checkpoint(self.engine, self.out / "checkpoints", self.step, self.state())
        for name, critic in self.critics.items():
            ds.save_checkpoint(critic, self.out / "checkpoints" / name, self.step, {})

    def resume(self) -> None:
        """Continue from the latest checkpoint in ``--out-dir``, if there is one."""
        state = ds.load_checkpoint(self.engine, self.out / "checkpoints")
        if state is None:
            return
        for name, critic in self.critics.items():
            ds.load_checkpoint(critic, self.out / "checkpoints" / name)
        self.restore(state)

    # --- the run -----------------------------------------------------------------------

    def train(self) -> None:
        buffer = OnlineBuffer(self.config.buffer_size)
        with RewardFeeder(self.config, buffer, rank=rank()) as feeder:
            if self.step == 0:
                self.evaluate(feeder, policy_step=0)
            while self.step < self.config.steps:
                self.run_step(feeder)
                if self.step % self.config.save_every == 0 or self.step == self.config.steps:
                    self.save()
        self.writer.close()
        self.eval_writer.close()
        if rank() == 0:
            self.lm.save_pretrained(self.out / "final")
            self.tokenizer.save_pretrained(self.out / "final")
        self.report()

    def report(self) -> None:
        checksum = sum(float(p.detach().double().sum()) for p in self.lm.parameters())
        log.info(
            "rank %d of %d: reward wait fraction %.4f over %d steps, parameter checksum %.12e",
            rank(),
            world(),
            self.clock.wait_s / max(self.clock.total_s, 1e-9),
            self.step,
            checksum,
        )


def _save_config(config: TrainConfig) -> None:
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = {
        k: sorted(v) if isinstance(v, frozenset) else str(v) if isinstance(v, Path) else v
        for k, v in asdict(config).items()
    }
    (out / "config.json").write_text(json.dumps(data, indent=2, default=str))


def main(argv: Sequence[str] | None = None) -> int:
    from trainer_example.build import build_trainer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    config = parse_args(argv)
    trainer = build_trainer(config)
    if rank() == 0:
        _save_config(config)
    torch.manual_seed(config.seed + rank())
    trainer.train()
    ds.close_distributed()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
