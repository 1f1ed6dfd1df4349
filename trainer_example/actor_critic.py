"""PanguCoder-RL's actor-critic option (Algorithm 1), on the same online loop.

- advantage ``A = R - V(s)`` with ``V`` the critic on the policy's final hidden state;
- REINFORCE: ``-A * sum_t log p(w_t) / T``; critic: ``(V - R)^2``;
- a KL penalty ``zeta * KL(pi || pi_init)`` whose coefficient is adapted so that the KL
  tracks a target ``rho`` (the proportional controller of Ziegler et al., 2019);
- replayed valid solutions (:mod:`trainer_example.replay`) join each batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from trainer_example.losses import weighted_nll

__all__ = ["AdaptiveKL", "actor_critic_losses"]


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


def actor_critic_losses(
    *,
    rewards: torch.Tensor,
    values: torch.Tensor,
    logp: torch.Tensor,
    code_mask: torch.Tensor,
    kl: torch.Tensor | None,
    kl_coef: float,
    critic_weight: float = 1.0,
) -> dict[str, torch.Tensor]:
    """The policy-gradient, critic and KL terms (each a scalar tensor)."""
    advantage = (rewards - values.detach()).to(logp)
    lengths = code_mask.sum(dim=1)
    losses = {
        "pg": weighted_nll(logp, code_mask.to(logp) * advantage[:, None], lengths),
        "critic": critic_weight * F.mse_loss(values.float(), rewards.float()),
    }
    if kl is not None:
        losses["kl"] = kl_coef * kl.mean()
    return losses
