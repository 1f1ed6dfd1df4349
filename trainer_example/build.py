"""Build a :class:`~trainer_example.train.Trainer`: problems, policy, critics, engines.

The problems are split once (``--seed``): ``--eval-problems`` of them are held out for the
evaluation and never trained on (nor used for the tiny tokenizer, SL or the replay
buffer's seeds); the rest are shared out over the ranks. With ``--eval-data`` the
held-out problems come from that source instead and all of ``--data`` is trained on.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from trainer_example import engine as ds
from trainer_example.actor_critic import ActorCriticUpdate, AdaptiveKL
from trainer_example.baselines import Baseline, make
from trainer_example.batching import Encoder
from trainer_example.config import Algo, TrainConfig
from trainer_example.critics import TokenCritic, ValueCritic
from trainer_example.data import Problem, load_problems
from trainer_example.distributed import rank, world
from trainer_example.evaluation import HeldOut
from trainer_example.frozen import FrozenLM
from trainer_example.generation import Generator
from trainer_example.metrics import EVAL_COLUMNS, MetricsWriter
from trainer_example.model import load_policy
from trainer_example.replay import ReplayBuffer
from trainer_example.rltf_update import RltfUpdate
from trainer_example.rollout import Scored
from trainer_example.train import Trainer

__all__ = ["build_trainer", "load_split", "split_problems"]

Update = Callable[[list[Scored]], dict[str, float]]


def split_problems(problems: list[Problem], config: TrainConfig) -> tuple[list[Problem], list[Problem]]:
    """(training problems, held-out problems); at least one problem is trained on."""
    held = 0
    if config.eval_every > 0:
        held = min(config.eval_problems, len(problems) - 1)
    chosen = set(random.Random(config.seed).sample(range(len(problems)), max(held, 0)))
    train = [p for i, p in enumerate(problems) if i not in chosen]
    return train, [p for i, p in enumerate(problems) if i in chosen]


def load_split(config: TrainConfig) -> tuple[list[Problem], list[Problem]]:
    """(training problems, held-out problems) of ``--data`` and ``--eval-data``.

    Raises:
        ValueError: a held-out problem's id is also a training problem's.
    """
    problems = load_problems(config.data, limit=config.max_problems, seed=config.seed)
    if config.eval_data is None:
        return split_problems(problems, config)
    held: list[Problem] = []
    if config.eval_every > 0 and config.eval_problems > 0:
        held = load_problems(config.eval_data, limit=config.eval_problems, seed=config.seed)
    shared = {p.id for p in problems} & {p.id for p in held}
    if shared:
        raise ValueError(f"held-out problems are also training problems: {sorted(shared)[:5]}")
    return problems, held


def _prepare_lm(config: TrainConfig, problems: list[Problem]) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    initial = Path(config.out_dir) / "initial"
    lm, tokenizer = load_policy(config, problems, initial)
    if rank() == 0 and not (initial / "config.json").exists():
        lm.save_pretrained(initial)
        tokenizer.save_pretrained(initial)
    return lm, tokenizer


def _critic_engine(module: torch.nn.Module, config: TrainConfig, lr: float) -> Any:
    return ds.build_engine(module, config, micro_batch=config.batch_size, lr=lr)


def _writers(config: TrainConfig) -> tuple[MetricsWriter, MetricsWriter]:
    out, enabled = Path(config.out_dir), rank() == 0
    metrics = MetricsWriter(out, tensorboard=config.tensorboard, enabled=enabled)
    evals = MetricsWriter(out, tensorboard=False, enabled=enabled, name="eval.csv", columns=("step", *EVAL_COLUMNS))
    return metrics, evals


@dataclass
class _Parts:
    config: TrainConfig
    engine: Any
    frozen: FrozenLM | None
    encoder: Encoder
    problems: list[Problem]
    baseline: Baseline
    replay: ReplayBuffer
    kl: AdaptiveKL

    def update(self) -> tuple[Update, dict[str, Any]]:
        """The training step of the algorithm, and its critics' engines by name."""
        c, frozen = self.config, self.frozen
        if c.algo is Algo.ACTOR_CRITIC:
            assert frozen is not None
            critic = _critic_engine(ValueCritic(frozen.hidden_size, c.critic_hidden), c, c.critic_lr)
            self.replay.seed(self.problems)
            return ActorCriticUpdate(c, self.engine, critic, frozen, self.encoder, self.replay, self.kl), {
                "critic": critic
            }
        if not c.token_critic:
            return RltfUpdate(c, self.engine, self.encoder, self.baseline, frozen), {}
        assert frozen is not None
        token = _critic_engine(TokenCritic(frozen.hidden_size), c, c.token_critic_lr)
        return RltfUpdate(c, self.engine, self.encoder, self.baseline, frozen, token), {"token_critic": token}


def build_trainer(config: TrainConfig) -> Trainer:
    """Load problems and the policy, start DeepSpeed, and resume if asked."""
    ds.init_distributed()
    torch.manual_seed(config.seed)  # the same initial weights on every rank
    train, held = load_split(config)
    lm, tokenizer = _prepare_lm(config, train)
    engine = ds.build_engine(lm, config, micro_batch=config.batch_size, lr=config.lr)
    device = torch.device(engine.device)
    frozen = FrozenLM(lm, device=device, dtype=next(lm.parameters()).dtype) if config.needs_frozen else None
    generator = Generator(tokenizer, config, device)
    parts = _Parts(
        config=config,
        engine=engine,
        frozen=frozen,
        encoder=Encoder(tokenizer, config, device),
        problems=train[rank() :: world()] or train,
        baseline=make(config.baseline),
        replay=ReplayBuffer(config.replay_size, seed=config.seed + rank()),
        kl=AdaptiveKL(config.kl_coef, config.kl_target, config.kl_horizon),
    )
    update, critics = parts.update()
    metrics, evals = _writers(config)
    trainer = Trainer(
        config=config,
        engine=engine,
        tokenizer=tokenizer,
        problems=parts.problems,
        update=update,
        baseline=parts.baseline,
        generator=generator,
        writer=metrics,
        eval_writer=evals,
        heldout=HeldOut.build(held[rank() :: world()], config, generator),
        critics=critics,
        kl=parts.kl,
        replay=parts.replay,
    )
    if config.resume:
        trainer.resume()
    return trainer
