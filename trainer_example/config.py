"""Trainer settings: one frozen dataclass, filled from the command line.

Every option of the online loop, the RLTF objective and the actor-critic option lives
here, so a run is described by its ``config.json`` (written next to the metrics).
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
    """RLTF eqs. 6 and 10: what is subtracted from a sample's coarse/adaptive reward."""

    BEST_SO_FAR = "best_so_far"  # the paper: the best reward seen so far for the problem
    LATEST_GREEDY = "latest_greedy"  # the RLTF code: a greedy sample of the current policy
    NONE = "none"


class Component(StrEnum):
    """Loss terms of the RLTF objective; any subset can be switched on (ablations)."""

    SL = "sl"
    COARSE = "coarse"
    FINE = "fine"
    ADAPTIVE = "adaptive"


ALL_COMPONENTS = frozenset(Component)
DEFAULT_DS_CONFIG = Path(__file__).with_name("ds_config_cpu.json")


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
    max_problems: int | None = None
    seed: int = 0
    # service
    service_url: str = "http://127.0.0.1:8000"
    request_timeout_s: float = 120.0
    concurrency: int = 4
    program_timeout_s: float = 2.0
    infra_retries: int = 2
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
    components: frozenset[Component] = ALL_COMPONENTS
    baseline: BaselineMode = BaselineMode.BEST_SO_FAR
    alpha_compat: bool = False
    sl_batch: int = 8
    lr: float = 1e-4
    steps: int = 100
    grad_clip: float = 1.0
    # actor-critic (PanguCoder-RL)
    reward_scheme: str | None = None
    reward_key: str = "total"
    reward_scale: float | None = None  # None: 1/50 for the pangu scheme (its lambda), else 1
    critic_hidden: int = 256
    critic_weight: float = 0.5
    kl_coef: float = 0.05
    kl_target: float = 0.1
    kl_horizon: int = 100
    replay_size: int = 512
    replay_per_step: int = 4
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
    def batch_size(self) -> int:
        """Sampled programs per training step."""
        return self.problems_per_step * self.samples_per_problem


def _components(text: str) -> frozenset[Component]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if names == ["all"]:
        return ALL_COMPONENTS
    return frozenset(Component(name) for name in names)


_FLAGS: dict[str, str] = {
    "tiny": "build a small random model and train a tokenizer on the problems",
    "alpha_compat": "alpha = 1 as in the RLTF code (the paper: T / (E - S))",
    "resume": "resume from the latest checkpoint in --out-dir",
    "tensorboard": "also write TensorBoard events",
}


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


_TYPES: dict[str, type] = {
    "max_problems": int,
    "zero_stage": int,
    "grad_accum": int,
    "reward_scale": float,
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


def parse_args(argv: Sequence[str] | None = None) -> TrainConfig:
    """Build a :class:`TrainConfig` from command-line arguments (defaults where absent)."""
    namespace = _build_parser().parse_args(argv)
    given = {k: v for k, v in vars(namespace).items() if v is not None and v is not False}
    if given.get("local_rank") is None:
        given.pop("local_rank", None)
    config = TrainConfig(**given)
    if config.model is None and not config.tiny:
        raise SystemExit("give --model PATH (a local Hugging Face checkpoint) or --tiny")
    return config
