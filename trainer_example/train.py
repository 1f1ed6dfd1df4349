"""Online RL trainer: ``python -m trainer_example.train --tiny`` (or ``deepspeed ...``).

Each step: the generation side keeps ``--lookahead`` batches at the service (sampled with
the latest weights), the training side takes the oldest scored batch from the online
buffer and applies the RLTF objective (or the actor-critic update). Reward computation
thus overlaps optimisation; the time the trainer still waits is logged.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from trainer_example import engine as ds
from trainer_example.actor_critic import AdaptiveKL, actor_critic_losses
from trainer_example.baselines import Baseline, make
from trainer_example.buffer import OnlineBuffer
from trainer_example.config import Algo, BaselineMode, Component, TrainConfig, parse_args
from trainer_example.data import Problem, load_problems
from trainer_example.feeder import RewardFeeder
from trainer_example.generation import Generator
from trainer_example.losses import kl_per_sequence, token_logprobs, weighted_nll
from trainer_example.metrics import MetricsWriter, batch_metrics
from trainer_example.model import load_policy
from trainer_example.policy import Policy
from trainer_example.replay import ReplayBuffer
from trainer_example.rltf import rltf_weights
from trainer_example.rollout import Scored, reward
from trainer_example.sequences import Encoded, code_mask, collate, encode

__all__ = ["Trainer", "main"]

log = logging.getLogger("trainer_example")

RL_COMPONENTS = frozenset({Component.COARSE, Component.FINE, Component.ADAPTIVE})


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
    reference: PreTrainedModel | None
    baseline: Baseline
    writer: MetricsWriter
    step: int = 0
    kl: AdaptiveKL = field(default_factory=lambda: AdaptiveKL(0.0, 0.0, 1))
    replay: ReplayBuffer = field(default_factory=lambda: ReplayBuffer(0))
    clock: Clock = field(default_factory=Clock)
    cursor: int = 0
    submitted: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    # --- set-up ----------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return torch.device(self.engine.device)

    @property
    def lm(self) -> PreTrainedModel:
        lm: PreTrainedModel = self.engine.module.lm
        return lm

    @property
    def out(self) -> Path:
        return Path(self.config.out_dir)

    def next_problems(self) -> list[Problem]:
        """The next ``problems_per_step`` problems of this rank (reshuffled every epoch)."""
        n = self.config.problems_per_step
        chosen = []
        for _ in range(n):
            if self.cursor % len(self.problems) == 0:
                random.Random(self.config.seed + self.cursor).shuffle(self.problems)
            chosen.append(self.problems[self.cursor % len(self.problems)])
            self.cursor += 1
        return chosen

    # --- generation side -------------------------------------------------------------

    def produce(self, feeder: RewardFeeder, generator: Generator) -> None:
        """Keep ``lookahead`` batches ahead of the trainer, sampled with the latest weights."""
        ahead = min(self.step + self.config.lookahead, self.config.steps)
        while self.submitted < ahead:  # batches sent or buffered, not yet trained on
            started = time.monotonic()
            problems = self.next_problems()
            samples = generator.sample(self.lm, problems, step=self.step)
            greedy = []
            if self.config.baseline is BaselineMode.LATEST_GREEDY:
                greedy = generator.sample(self.lm, problems, step=self.step, greedy=True)
            self.clock.gen_s += time.monotonic() - started
            self.clock.gen_tokens += sum(s.new_tokens for s in samples + greedy)
            feeder.submit(samples, greedy)
            self.submitted += 1

    # --- training side ---------------------------------------------------------------

    def encode_all(
        self,
        prompts: Sequence[str],
        codes: Sequence[str],
        eos: Sequence[bool],
        sampled: Sequence[Sequence[int] | None] | None = None,
    ) -> list[Encoded]:
        c = self.config
        sampled = sampled or [None] * len(codes)
        return [
            encode(
                self.tokenizer, p, code, eos=e, max_prompt=c.max_prompt_tokens, max_code=c.max_new_tokens, sampled=ids
            )
            for p, code, e, ids in zip(prompts, codes, eos, sampled, strict=True)
        ]

    def _sl_rows(self, batch: Sequence[Scored]) -> list[Encoded]:
        if Component.SL not in self.config.components:
            return []
        seen: dict[str, Problem] = {}
        for s in batch:
            if s.sample.problem.reference:
                seen.setdefault(s.sample.problem.id, s.sample.problem)
        refs = list(seen.values())[: self.config.sl_batch]
        return self.encode_all([p.prompt for p in refs], [p.reference or "" for p in refs], [True] * len(refs))

    def _rl_rows(self, batch: Sequence[Scored]) -> list[Encoded]:
        rows = self.encode_all(
            [s.sample.problem.prompt for s in batch],
            [s.sample.code for s in batch],
            [s.sample.finish_reason.value == "stop" for s in batch],
            [s.sample.token_ids or None for s in batch],
        )
        self.extra |= self._token_stats(rows, batch)
        return rows

    def _token_stats(self, rows: list[Encoded], batch: Sequence[Scored]) -> dict[str, float]:
        """How often the sampled ids were trained on, and were the canonical tokenization."""
        n = max(len(batch), 1)
        own = canonical = 0
        for row, scored in zip(rows, batch, strict=True):
            ids = list(scored.sample.token_ids)
            own += row.ids[row.n_prompt : row.n_prompt + len(ids)] == ids
            retokenized = self.tokenizer(scored.sample.code, add_special_tokens=False)
            canonical += retokenized["input_ids"] == ids
        return {"sampled_ids_rate": own / n, "canonical_rate": canonical / n}

    def optimize(self, batch: list[Scored]) -> dict[str, float]:
        """One forward/backward/step over the batch (and the SL references)."""
        rl_batch = batch if self._needs_rl() else []
        if self.config.algo is Algo.ACTOR_CRITIC:
            rl_batch = rl_batch + self.replay.sample(self.config.replay_per_step)
        rl_rows, sl_rows = self._rl_rows(rl_batch), self._sl_rows(batch)
        rows = rl_rows + sl_rows
        if not rows:
            return {}
        ids, mask = collate(rows, int(self.tokenizer.pad_token_id or 0), self.device)
        logits, values = self.engine(ids, mask)
        logp = token_logprobs(logits, ids)
        cmask = code_mask(rows, ids.shape[1]).to(self.device)
        n = len(rl_rows)
        terms: dict[str, torch.Tensor] = {}
        if sl_rows:
            terms["sl"] = weighted_nll(logp[n:], cmask[n:], cmask[n:].sum(1))
        if rl_rows:
            terms |= self._rl_terms(rl_batch, rl_rows, ids, mask, logits, logp, cmask, values)
        loss = torch.stack(list(terms.values())).sum()
        self.engine.backward(loss)
        self.engine.step()
        stats = {f"loss_{k}": float(v.detach()) for k, v in terms.items()}
        stats["loss"] = float(loss.detach())
        stats["train_tokens"] = float(mask.sum())
        return stats | self.extra

    def _needs_rl(self) -> bool:
        return self.config.algo is Algo.ACTOR_CRITIC or bool(self.config.components & RL_COMPONENTS)

    def _kl(
        self, ids: torch.Tensor, mask: torch.Tensor, logits: torch.Tensor, cmask: torch.Tensor
    ) -> torch.Tensor | None:
        if self.reference is None:
            return None
        n = cmask.shape[0]
        with torch.no_grad():
            ref_logits = self.reference(input_ids=ids[:n], attention_mask=mask[:n]).logits
        return kl_per_sequence(logits[:n], ref_logits, cmask)

    def _rl_terms(
        self,
        batch: list[Scored],
        rows: list[Encoded],
        ids: torch.Tensor,
        mask: torch.Tensor,
        logits: torch.Tensor,
        logp: torch.Tensor,
        cmask: torch.Tensor,
        values: torch.Tensor | None,
    ) -> dict[str, torch.Tensor]:
        n = len(rows)
        kl = self._kl(ids, mask, logits, cmask[:n])
        self.extra["kl"] = float(kl.detach().mean()) if kl is not None else float("nan")
        if self.config.algo is Algo.RLTF:
            weights = rltf_weights(
                batch,
                rows,
                self.baseline,
                self.config.components,
                alpha_compat=self.config.alpha_compat,
            )
            lengths = cmask[:n].sum(1)
            return {c.value: weighted_nll(logp[:n, : w.shape[1]], w.to(logp), lengths) for c, w in weights.items()}
        assert values is not None
        rewards = torch.tensor([self._scaled(s) for s in batch], device=self.device)
        self.extra |= {"value_mean": float(values[:n].detach().mean()), "kl_coef": self.kl.coef}
        return actor_critic_losses(
            rewards=rewards,
            values=values[:n],
            logp=logp[:n],
            code_mask=cmask[:n],
            kl=kl,
            kl_coef=self.kl.coef,
            critic_weight=self.config.critic_weight,
        )

    def _scaled(self, scored: Scored) -> float:
        return reward(scored.result, self.config.reward_key) * self.config.reward_multiplier

    # --- loop --------------------------------------------------------------------------

    def run_step(self, feeder: RewardFeeder, generator: Generator) -> None:
        started = time.monotonic()
        self.produce(feeder, generator)
        waited = time.monotonic()
        batch = feeder.buffer.take(self.config.batch_size)
        wait_s = time.monotonic() - waited
        trained = time.monotonic()
        self.extra = {}
        stats = self.optimize(batch)
        train_s = time.monotonic() - trained
        self.after_step(batch)
        step_s = time.monotonic() - started
        self.clock.wait_s += wait_s
        self.clock.total_s += step_s
        self.log_step(batch, stats, feeder, wait_s=wait_s, step_s=step_s, train_s=train_s)
        self.step += 1

    def after_step(self, batch: list[Scored]) -> None:
        self.baseline.observe(batch)
        if self.config.algo is Algo.ACTOR_CRITIC:
            for scored in batch:
                self.replay.add(scored)
            if "kl" in self.extra and self.extra["kl"] == self.extra["kl"]:
                self.kl.update(self.extra["kl"])

    def log_step(
        self,
        batch: list[Scored],
        stats: dict[str, float],
        feeder: RewardFeeder,
        *,
        wait_s: float,
        step_s: float,
        train_s: float,
    ) -> None:
        gen_s, gen_tokens = self.clock.take_gen()
        counts = feeder.take_counts()
        row: dict[str, float | None] = batch_metrics(batch, step=self.step)
        row |= {k: v for k, v in stats.items() if k != "train_tokens"}
        row |= {
            "wait_s": wait_s,
            "step_s": step_s,
            "wait_fraction": self.clock.wait_s / max(self.clock.total_s, 1e-9),
            "gen_tokens_per_s": gen_tokens / gen_s if gen_s > 0 else None,
            "train_tokens_per_s": stats.get("train_tokens", 0.0) / max(train_s, 1e-9),
            "buffer_len": float(len(feeder.buffer)),
            "buffer_dropped": feeder.buffer.dropped,
            "unscored": float(sum(v for k, v in counts.items() if k.startswith("unscored"))),
            "service_s": counts["service_ms"] / 1000.0,
            "replay_size": float(len(self.replay)),
        }
        self.writer.write(self.step, row)
        log.info(
            "step %d pass %.3f syntax %.3f loss %s wait %.2fs",
            self.step,
            row["pass_rate"] or 0.0,
            row["syntax_error_rate"] or 0.0,
            f"{stats.get('loss', float('nan')):.4f}",
            wait_s,
        )

    def state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "baseline": self.baseline.state_dict(),
            "kl_coef": self.kl.coef,
            "cursor": self.cursor,
            "clock": asdict(self.clock),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.step = self.submitted = int(state["step"])
        self.baseline.load_state_dict(state.get("baseline", {}))
        self.kl.coef = float(state.get("kl_coef", self.kl.coef))
        self.cursor = int(state.get("cursor", 0))
        self.clock = Clock(**state.get("clock", {}))

    def train(self) -> None:
        generator = Generator(self.tokenizer, self.config, self.device)
        buffer = OnlineBuffer(self.config.buffer_size)
        with RewardFeeder(self.config, buffer) as feeder:
            while self.step < self.config.steps:
                self.run_step(feeder, generator)
                if self.step % self.config.save_every == 0 or self.step == self.config.steps:
                    ds.save_checkpoint(self.engine, self.out / "checkpoints", self.step, self.state())
        self.writer.close()
        if _rank() == 0:
            self.lm.save_pretrained(self.out / "final")
            self.tokenizer.save_pretrained(self.out / "final")
        log.info(
            "reward wait fraction %.3f over %d steps",
            self.clock.wait_s / max(self.clock.total_s, 1e-9),
            self.step,
        )


def _rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def _world() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def _prepare_lm(config: TrainConfig, problems: list[Problem]) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    initial = Path(config.out_dir) / "initial"
    lm, tokenizer = load_policy(config, problems, initial)
    if _rank() == 0 and not (initial / "config.json").exists():
        lm.save_pretrained(initial)
        tokenizer.save_pretrained(initial)
    return lm, tokenizer


def _reference(
    config: TrainConfig, lm: PreTrainedModel, device: torch.device, dtype: torch.dtype
) -> PreTrainedModel | None:
    """A frozen copy of the initial policy (for the KL term and the KL metric)."""
    if config.algo is not Algo.ACTOR_CRITIC and config.kl_coef <= 0:
        return None
    ref: Any = copy.deepcopy(lm)
    ref.to(device=device, dtype=dtype)
    ref.eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    frozen: PreTrainedModel = ref
    return frozen


def build_trainer(config: TrainConfig) -> Trainer:
    """Load problems and the policy, start DeepSpeed, and resume if asked."""
    ds.init_distributed()
    torch.manual_seed(config.seed + _rank())
    problems = load_problems(config.data, limit=config.max_problems, seed=config.seed)
    lm, tokenizer = _prepare_lm(config, problems)
    critic = config.critic_hidden if config.algo is Algo.ACTOR_CRITIC else None
    engine = ds.build_engine(Policy(lm, critic_width=critic), config, micro_batch=config.batch_size)
    dtype = next(engine.module.lm.parameters()).dtype
    trainer = Trainer(
        config=config,
        engine=engine,
        tokenizer=tokenizer,
        problems=problems[_rank() :: _world()] or problems,
        reference=_reference(config, lm, torch.device(engine.device), dtype),
        baseline=make(config.baseline),
        writer=MetricsWriter(Path(config.out_dir), tensorboard=config.tensorboard, enabled=_rank() == 0),
        kl=AdaptiveKL(config.kl_coef, config.kl_target, config.kl_horizon),
        replay=ReplayBuffer(config.replay_size, seed=config.seed),
    )
    if config.resume:
        state = ds.load_checkpoint(engine, Path(config.out_dir) / "checkpoints")
        if state is not None:
            trainer.restore(state)
    return trainer


def _save_config(config: TrainConfig) -> None:
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = {
        k: sorted(v) if isinstance(v, frozenset) else str(v) if isinstance(v, Path) else v
        for k, v in asdict(config).items()
    }
    (out / "config.json").write_text(json.dumps(data, indent=2, default=str))


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    config = parse_args(argv)
    trainer = build_trainer(config)
    if _rank() == 0:
        _save_config(config)
    trainer.train()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
