"""Trainer settings: one frozen dataclass, filled from the command line.

Every option of the online loop, the RLTF objective, the actor-critic option, the
held-out evaluation and the scorer lives here, so a run is described by its
``config.json`` (written next to the metrics).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = ["Algo", "BaselineMode", "Component", "TrainConfig", "parse_args"]


class Algo(StrEnum):
    RLTF = "rltf"
    ACTOR_CRITIC = "actor_critic"


class BaselineMode(StrEnum):
    """RLTF eqs. 6 and 10: the program whose score is subtracted from a sample's."""

    LATEST_GREEDY = "latest_greedy"  # the RLTF code: a greedy program of the current policy
    BEST_SO_FAR = "best_so_far"  # the paper (§3.4): the best program seen so far
    NONE = "none"


class Component(StrEnum):
    """Loss terms of the RLTF objective; any subset can be switched on (ablations)."""

    SL = "sl"
    COARSE = "coarse"
    FINE = "fine"
    ADAPTIVE = "adaptive"


ALL_COMPONENTS = frozenset(Component)
DEFAULT_DS_CONFIG = Path(__file__).with_name("ds_config_cpu.json")

#: r_max, the reward of a valid (passing) solution, per reward scheme (before scaling).
MAX_REWARD: dict[str, float] = {"pangu": 50.0, "rltf": 1.0, "coderl": 1.0, "pass_fraction": 1.0}


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    # model
    model: str | None = None
    tiny: bool = False
    tiny_layers: int = 4
    tiny_dim: int = 128
    tiny_heads: int = 4
    tiny_vocab: int = 1024
    # data
    data: str = "synthetic"
    eval_data: str | None = None  # held-out problems from here (else a split of --data)
    max_problems: int | None = None
    seed: int = 0
    # service (or the recorded results that stand in for it)
    service_url: str = "http://127.0.0.1:8000"
    request_timeout_s: float = 120.0
    concurrency: int = 4
    program_timeout_s: float = 2.0
    infra_retries: int = 2
    record_results: Path | None = None
    replay_results: Path | None = None
    # generation side
    samples_per_problem: int = 4
    problems_per_step: int = 8
    temperature: float = 1.0
    top_p: float = 0.95
    max_new_tokens: int = 96
    max_prompt_tokens: int = 384
    lookahead: int = 2
    buffer_size: int = 256
    # training side
    algo: Algo = Algo.RLTF
    components: frozenset[Component] | None = None  # None: all for rltf, none for actor_critic
    baseline: BaselineMode = BaselineMode.LATEST_GREEDY
    alpha_compat: bool = False
    token_critic: bool = False
    token_critic_lr: float = 1e-4
    kl_metric: bool = False
    sl_batch: int = 8
    lr: float = 1e-4
    steps: int = 100
    grad_clip: float = 1.0
    # actor-critic (PanguCoder-RL)
    reward_scheme: str | None = None
    reward_key: str = "total"
    reward_scale: float | None = None  # None: 1/50 for the pangu scheme (its lambda), else 1
    critic_hidden: int | None = None  # None: hidden / 2 (the paper)
    critic_lr: float = 2e-4
    kl_coef: float = 0.05
    kl_target: float = 1.0
    kl_horizon: int = 100
    replay_size: int = 16
    replay_per_problem: int = 1
    # held-out evaluation
    eval_problems: int = 16
    eval_every: int = 20
    eval_samples: int = 10
    eval_temperature: float = 0.8
    # DeepSpeed, outputs
    ds_config: Path = DEFAULT_DS_CONFIG
    zero_stage: int | None = None
    grad_accum: int | None = None
    out_dir: Path = Path("runs/trainer")
    resume: bool = False
    save_every: int = 50
    tensorboard: bool = False
    local_rank: int = -1

    @property
    def scheme(self) -> str:
        """The reward scheme asked of the service (``pangu`` for actor-critic by default)."""
        if self.reward_scheme:
            return self.reward_scheme
        return "pangu" if self.algo is Algo.ACTOR_CRITIC else "rltf"

    @property
    def reward_multiplier(self) -> float:
        """What the actor-critic multiplies rewards by (keeps the critic's MSE near 1)."""
        if self.reward_scale is not None:
            return self.reward_scale
        return 0.02 if self.scheme == "pangu" else 1.0

    @property
    def max_reward(self) -> float:
        """r_max (scaled): the reward a replayed valid solution is trained with."""
        return MAX_REWARD.get(self.scheme, 1.0) * self.reward_multiplier

    @property
    def active_components(self) -> frozenset[Component]:
        """The switched-on terms: all for RLTF, none (RL only, the paper) for actor-critic."""
        if self.components is not None:
            return self.components
        return ALL_COMPONENTS if self.algo is Algo.RLTF else frozenset()

    @property
    def batch_size(self) -> int:
        """Sampled programs per training step."""
        return self.problems_per_step * self.samples_per_problem

    @property
    def needs_frozen(self) -> bool:
        """Whether a frozen copy of the initial policy is built (critic input, KL)."""
        return self.algo is Algo.ACTOR_CRITIC or self.token_critic or self.kl_metric


def _components(text: str) -> frozenset[Component]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if names == ["all"]:
        return ALL_COMPONENTS
    return frozenset(Component(name) for name in names)


_FLAGS: dict[str, str] = {
    "tiny": "build a small random model and train a tokenizer on the problems",
    "alpha_compat": "alpha = 1 as in the RLTF code (the paper: T / (E - S))",
    "token_critic": "weight token rewards by a token-level outcome critic (CodeRL, RLTF code)",
    "kl_metric": "RLTF: log KL(policy || initial policy) (builds a frozen copy)",
    "resume": "resume from the latest checkpoint in --out-dir",
    "tensorboard": "also write TensorBoard events",
}

_TYPES: dict[str, type] = {
    "max_problems": int,
    "zero_stage": int,
    "grad_accum": int,
    "reward_scale": float,
    "critic_hidden": int,
    "record_results": Path,
    "replay_results": Path,
}


def _arg_type(name: str) -> type:
    if name in _TYPES:
        return _TYPES[name]
    default = TrainConfig.__dataclass_fields__[name].default
    if isinstance(default, StrEnum):
        return type(default)
    if isinstance(default, bool | int | float | Path):
        return type(default)
    return str


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trainer_example.train",
        description="Online RL (RLTF / PanguCoder-RL actor-critic) with feedback from utrs.",
    )
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.name in _FLAGS:
            parser.add_argument(flag, action="store_true", help=_FLAGS[f.name])
        elif f.name == "components":
            parser.add_argument(flag, type=_components, help="comma list of sl,coarse,fine,adaptive (or all)")
        elif f.name == "local_rank":  # the deepspeed launcher passes --local_rank=N
            parser.add_argument(flag, "--local_rank", type=int, default=None)
        else:
            parser.add_argument(flag, type=_arg_type(f.name), default=None)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> TrainConfig:
    """Build a :class:`TrainConfig` from command-line arguments (defaults where absent).

    Raises:
        SystemExit: no model was given, or the options contradict each other.
    """
    namespace = _build_parser().parse_args(argv)
    given = {k: v for k, v in vars(namespace).items() if v is not None and v is not False}
    config = TrainConfig(**given)
    if config.model is None and not config.tiny:
        raise SystemExit("give --model PATH (a local Hugging Face checkpoint) or --tiny")
    if config.token_critic and config.algo is not Algo.RLTF:
        raise SystemExit("--token-critic weights RLTF's token rewards; it needs --algo rltf")
    if config.record_results is not None and config.replay_results is not None:
        raise SystemExit("give --record-results or --replay-results, not both")
    return config
