"""PanguCoder-RL's actor-critic option (Algorithm 1), on the same online loop.

Per step, for the batch's programs and, per problem, ``n_gen`` valid solutions drawn from
the replay buffer (:mod:`trainer_example.replay`, reward ``r_max``):

- reward ``R = R_f - zeta * KL`` (the paper's eq. 2): ``R_f`` the service's reward
  (scaled), ``KL`` the program's KL from the frozen initial policy (the per-token exact
  KL summed over its tokens); the advantage and the critic's target both use ``R``;
- value ``V`` from :class:`~trainer_example.critics.ValueCritic` on the frozen copy's
  last-token representation; advantage ``A = R - V``;
- **policy phase**: REINFORCE ``-A * sum_t log p(w_t) / T`` (plus ``L_sl`` only when ``sl``
  is asked for in ``--components``; the paper uses RL alone), one optimizer step at
  ``--lr``;
- **critic phase**: ``(V - R)^2``, one step of the critic's own optimizer at
  ``--critic-lr``;
- then ``zeta`` moves so that the batch's mean KL tracks the target ``rho``
  (:class:`AdaptiveKL`, Ziegler et al., 2019).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from trainer_example.batching import Encoder, forward, idle_step, policy_step, sl_term
from trainer_example.config import TrainConfig
from trainer_example.critics import last_token_features
from trainer_example.frozen import FrozenLM
from trainer_example.losses import token_kl, weighted_nll
from trainer_example.replay import ReplayBuffer
from trainer_example.rollout import Scored, reward

__all__ = ["ActorCriticUpdate", "AdaptiveKL", "penalized_reward"]


@dataclass
class AdaptiveKL:
    """``zeta <- zeta * (1 + clip(KL / rho - 1, -0.2, 0.2) / horizon)`` after each step."""

    coef: float
    target: float
    horizon: int

    def update(self, kl: float) -> float:
        if self.target <= 0:
            return self.coef
        error = min(max(kl / self.target - 1.0, -0.2), 0.2)
        self.coef *= 1.0 + error / max(self.horizon, 1)
        return self.coef


def penalized_reward(reward_f: torch.Tensor, kl: torch.Tensor, coef: float) -> torch.Tensor:
    """``R = R_f - zeta * KL`` (PanguCoder-RL eq. 2), detached: a target, not a path."""
    return (reward_f - coef * kl).detach()


@dataclass
class ActorCriticUpdate:
    config: TrainConfig
    engine: Any
    critic: Any  # a DeepSpeed engine around a ValueCritic
    frozen: FrozenLM
    encoder: Encoder
    replay: ReplayBuffer
    kl: AdaptiveKL

    def __call__(self, batch: list[Scored]) -> dict[str, float]:
        if not batch:  # nothing was scored: step both engines with zero gradients
            idle_step(self.critic)
            return idle_step(self.engine)
        replayed = self.replay.sample([s.sample.problem for s in batch], self.config.replay_per_problem)
        rl_rows = self.encoder.sampled(batch)
        stats = self.encoder.token_stats(rl_rows, batch)
        rl_rows += self.encoder.texts([r.problem.prompt for r in replayed], [r.code for r in replayed])
        sl_rows = self.encoder.references(batch)
        t = self.encoder.tensors(rl_rows + sl_rows)
        n = len(rl_rows)
        logits, logp = forward(self.engine, t)
        frozen = self.frozen(t.ids[:n], t.mask[:n])
        kl = (token_kl(logits[:n].detach(), frozen.logits) * t.cmask[:n]).sum(dim=1)
        target = penalized_reward(self._rewards(batch, len(replayed), t.ids.device), kl, self.kl.coef)
        features = last_token_features(frozen.hidden, t.mask[:n])
        features = features.to(next(self.critic.module.parameters()).dtype)
        with torch.no_grad():
            values = self.critic(features).float()
        advantage = target - values
        terms = {"pg": weighted_nll(logp[:n], t.cmask[:n] * advantage[:, None], t.lengths[:n])}
        if sl_rows:
            terms["sl"] = sl_term(logp, t, n)
        stats |= policy_step(self.engine, terms, t)
        stats["loss_critic"] = self._critic_step(features, target)
        online = kl[: len(batch)]
        stats |= _summary(online, target, values, advantage, self.kl.coef, len(replayed))
        self.kl.update(float(online.mean()))
        return stats

    def _rewards(self, batch: list[Scored], n_replayed: int, device: torch.device) -> torch.Tensor:
        scale = self.config.reward_multiplier
        online = [reward(s.result, self.config.reward_key) * scale for s in batch]
        return torch.tensor(online + [self.config.max_reward] * n_replayed, device=device)

    def _critic_step(self, features: torch.Tensor, target: torch.Tensor) -> float:
        loss = F.mse_loss(self.critic(features).float(), target)
        self.critic.backward(loss)
        self.critic.step()
        return float(loss.detach())


def _summary(
    kl: torch.Tensor, target: torch.Tensor, values: torch.Tensor, advantage: torch.Tensor, coef: float, replayed: int
) -> dict[str, float]:
    return {
        "kl": float(kl.mean()),
        "kl_coef": coef,
        "reward_penalized": float(target.mean()),
        "value_mean": float(values.mean()),
        "advantage_mean": float(advantage.mean()),
        "replayed": float(replayed),
    }
