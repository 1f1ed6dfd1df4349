"""PanguCoder-RL's actor-critic parts: critics on a frozen copy, R = R_f - zeta * KL,
the replay buffer, and the two update phases (hand-checked on a tiny model)."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from client.models import Status
from tests.support.trainer import PROBLEM, PROBLEMS, TorchEngine, result, scored
from trainer_example.actor_critic import ActorCriticUpdate, AdaptiveKL, penalized_reward
from trainer_example.batching import Encoder
from trainer_example.config import Algo, Component, TrainConfig
from trainer_example.critics import ValueCritic, last_token_features
from trainer_example.frozen import FrozenLM
from trainer_example.losses import token_kl
from trainer_example.metrics import batch_metrics
from trainer_example.model import build_tiny
from trainer_example.replay import ReplayBuffer

CONFIG = TrainConfig(
    tiny=True,
    tiny_layers=1,
    tiny_dim=32,
    tiny_heads=2,
    tiny_vocab=400,
    algo=Algo.ACTOR_CRITIC,
    max_new_tokens=40,
    max_prompt_tokens=64,
    lr=1e-3,
    critic_lr=2e-3,
    kl_coef=0.5,
)
GOOD = "def add(x):\n    return x + 1\n"


def test_value_critic_is_hidden_to_half_to_one_with_relu() -> None:
    critic = ValueCritic(64)
    first, relu, last = critic.net
    assert (first.in_features, first.out_features, last.in_features, last.out_features) == (64, 32, 32, 1)
    assert isinstance(relu, torch.nn.ReLU)
    assert critic(torch.zeros(3, 64)).shape == (3,)


def test_frozen_copy_does_not_follow_the_policy() -> None:
    lm, tok = build_tiny(PROBLEMS, CONFIG)
    frozen = FrozenLM(lm, device=torch.device("cpu"), dtype=torch.float32)
    ids = torch.tensor([tok(PROBLEM.prompt + GOOD)["input_ids"]])
    mask = torch.ones_like(ids)
    before = frozen(ids, mask)
    with torch.no_grad():
        for p in lm.parameters():
            p.add_(0.1)
    after = frozen(ids, mask)
    assert torch.equal(before.hidden, after.hidden) and torch.equal(before.logits, after.logits)
    assert not any(p.requires_grad for p in frozen.model.parameters())
    # the critic reads the last token of each right-padded row
    hidden = torch.arange(12.0).reshape(2, 3, 2)
    rows = last_token_features(hidden, torch.tensor([[1, 1, 0], [1, 1, 1]]))
    assert rows.tolist() == [[2.0, 3.0], [10.0, 11.0]]


def test_penalized_reward_and_kl_controller() -> None:
    # R = R_f - zeta * KL: [1.0 - 0.1 * 0.5, -0.2 - 0.1 * 2.0] = [0.95, -0.4]
    r = penalized_reward(torch.tensor([1.0, -0.2]), torch.tensor([0.5, 2.0]), 0.1)
    assert r.tolist() == pytest.approx([0.95, -0.4]) and not r.requires_grad
    kl = AdaptiveKL(coef=1.0, target=0.1, horizon=10)
    assert kl.update(1.0) == pytest.approx(1.02)  # clipped at +20 % / horizon
    assert kl.update(0.0) < 1.02


def test_replay_is_seeded_reduced_and_sampled_per_problem() -> None:
    replay = ReplayBuffer(capacity=2, seed=0)
    assert replay.seed(PROBLEMS[:3]) == 3  # the training set's reference solutions
    assert replay.solutions(PROBLEM.id) == ["def add(x):\n    return x + 1"]  # AST-reduced form
    ok = result(Status.PASS, passed=3, total=3)
    assert not replay.add(scored(ok, code="def add(x):  # again\n    return (x+1)\n"))  # same after reduction
    assert not replay.add(scored(result(Status.FAILURE, passed=1), code="def add(x): return 2"))
    assert replay.add(scored(ok, code="def unused():\n    pass\n\ndef add(x):\n    return 1 + x\n"))
    assert replay.solutions(PROBLEM.id) == ["def add(x):\n    return x + 1", "def add(x):\n    return 1 + x"]
    assert replay.duplicates == 1 and len(replay) == 4
    assert replay.add(scored(ok, code="def add(x):\n    return x - -1\n"))  # capacity 2: the oldest leaves
    assert replay.solutions(PROBLEM.id) == ["def add(x):\n    return 1 + x", "def add(x):\n    return x - -1"]
    picked = replay.sample([PROBLEM, PROBLEM, PROBLEMS[1], PROBLEMS[50]], 1)
    assert [r.problem.id for r in picked] == [PROBLEM.id, PROBLEMS[1].id]  # n_gen per problem, none for 50
    assert len(replay.sample([PROBLEM], 5)) == 2
    restored = ReplayBuffer(capacity=2)
    restored.load_state_dict(replay.state_dict(), PROBLEMS)
    assert restored.solutions(PROBLEM.id) == replay.solutions(PROBLEM.id)


def _update(config: TrainConfig) -> tuple[ActorCriticUpdate, TorchEngine, TorchEngine]:
    torch.manual_seed(0)
    lm, tok = build_tiny(PROBLEMS, config)
    frozen = FrozenLM(lm, device=torch.device("cpu"), dtype=torch.float32)
    with torch.no_grad():  # the policy has moved away from the initial one: KL > 0
        for p in lm.parameters():
            p.add_(0.02 * torch.randn_like(p))
    policy, critic = TorchEngine(lm, config.lr), TorchEngine(ValueCritic(frozen.hidden_size), config.critic_lr)
    replay = ReplayBuffer(4)
    replay.seed([PROBLEM])
    kl = AdaptiveKL(config.kl_coef, config.kl_target, config.kl_horizon)
    encoder = Encoder(tok, config, torch.device("cpu"))
    return ActorCriticUpdate(config, policy, critic, frozen, encoder, replay, kl), policy, critic


def test_actor_critic_step_penalizes_kl_and_updates_in_two_phases() -> None:
    update, policy, critic = _update(CONFIG)
    # pangu rewards 50 * ratio ** 0.5, scaled by 1/50: a pass 1.0, one test of four 0.5
    batch = [
        scored(result(Status.PASS, passed=4), code=GOOD),
        scored(result(Status.FAILURE, passed=1), code="def add(x):\n    return x\n"),
    ]
    for s, total in zip(batch, (50.0, 25.0), strict=True):
        s.result.rewards["total"] = total
    rows = update.encoder.sampled(batch) + update.encoder.texts([PROBLEM.prompt], ["def add(x):\n    return x + 1"])
    t = update.encoder.tensors(rows)
    with torch.no_grad():
        logits = policy(input_ids=t.ids, attention_mask=t.mask).logits
        frozen = update.frozen(t.ids, t.mask)
        kl = (token_kl(logits, frozen.logits) * t.cmask).sum(1)
        target = torch.tensor([1.0, 0.5, 1.0]) - 0.5 * kl  # r_max = 1.0 for the replayed solution
        values = critic(last_token_features(frozen.hidden, t.mask))
    critic_before = copy.deepcopy(critic.module.state_dict())
    stats = update(batch)
    assert stats["replayed"] == 1.0 and "loss_sl" not in stats  # RL only by default
    assert (kl > 0).all() and stats["kl"] == pytest.approx(float(kl[:2].mean()), rel=1e-5)
    assert stats["reward_penalized"] == pytest.approx(float(target.mean()), rel=1e-5)
    assert stats["value_mean"] == pytest.approx(float(values.mean()), rel=1e-5)
    assert stats["loss_critic"] == pytest.approx(float(((values - target) ** 2).mean()), rel=1e-5)
    assert stats["advantage_mean"] == pytest.approx(float((target - values).mean()), rel=1e-5)
    assert policy.steps == 1 and critic.steps == 1  # one step each, in its own phase
    # Adam's first step moves every parameter with a gradient by about its own lr
    moved = max((critic.module.state_dict()[k] - v).abs().max().item() for k, v in critic_before.items())
    assert moved == pytest.approx(CONFIG.critic_lr, rel=0.05)
    assert update.kl.coef == pytest.approx(0.5 * (1 + max(min(float(kl[:2].mean()) - 1, 0.2), -0.2) / 100))


def test_actor_critic_adds_sl_only_when_asked() -> None:
    config = dataclasses.replace(CONFIG, components=frozenset({Component.SL}))
    update, _, _ = _update(config)
    stats = update([scored(result(Status.PASS, passed=4), code=GOOD)])
    assert stats["loss_sl"] > 0 and stats["loss"] == pytest.approx(stats["loss_pg"] + stats["loss_sl"])


def test_a_batch_with_nothing_scored_steps_both_engines_with_zero_gradients() -> None:
    update, policy, critic = _update(CONFIG)
    before = copy.deepcopy(policy.module.state_dict())
    assert update([]) == {"idle": 1.0}
    assert policy.steps == 1 and critic.steps == 1  # every rank steps together
    # zero gradients: only AdamW's decoupled weight decay (lr * 0.01 * p) moves a weight
    after = policy.module.state_dict()
    assert all(torch.allclose(after[k], v * (1 - CONFIG.lr * 0.01), atol=1e-7) for k, v in before.items())
    assert batch_metrics([], step=0) == {"samples": 0.0}
