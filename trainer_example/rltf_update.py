"""One RLTF training step: the policy's phase, then (``--token-critic``) the critic's.

The policy's loss is ``L_sl + L_coarse + L_fine + L_adaptive`` (:mod:`trainer_example.rltf`).
The frozen copy of the initial policy runs only when something needs it: the token
critic's features, or ``--kl-metric`` (then ``kl`` is the mean per-token KL of the
batch's programs; without it the column stays empty and no reference model exists).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from trainer_example.baselines import Baseline
from trainer_example.batching import Encoder, Tensors, forward, idle_step, policy_step, sl_term
from trainer_example.config import Component, TrainConfig
from trainer_example.critics import outcome_class, token_critic_loss, token_weights
from trainer_example.frozen import FrozenLM, FrozenOutputs
from trainer_example.losses import token_kl, weighted_nll
from trainer_example.rltf import rltf_weights
from trainer_example.rollout import Scored
from trainer_example.sequences import Encoded

__all__ = ["RL_COMPONENTS", "RltfUpdate"]

RL_COMPONENTS = frozenset({Component.COARSE, Component.FINE, Component.ADAPTIVE})


@dataclass
class RltfUpdate:
    config: TrainConfig
    engine: Any
    encoder: Encoder
    baseline: Baseline
    frozen: FrozenLM | None = None
    token_critic: Any | None = None  # a DeepSpeed engine around a TokenCritic

    def __call__(self, batch: list[Scored]) -> dict[str, float]:
        components = self.config.active_components
        rl = batch if components & RL_COMPONENTS else []
        rl_rows, sl_rows = self.encoder.sampled(rl), self.encoder.references(batch)
        if not rl_rows + sl_rows:
            return self._idle()
        t = self.encoder.tensors(rl_rows + sl_rows)
        n = len(rl_rows)
        logits, logp = forward(self.engine, t)
        terms: dict[str, torch.Tensor] = {}
        stats: dict[str, float] = self.encoder.token_stats(rl_rows, rl) if rl else {}
        if sl_rows:
            terms["sl"] = sl_term(logp, t, n)
        critic_logits = None
        if rl_rows:
            frozen = self.frozen(t.ids[:n], t.mask[:n]) if self.frozen is not None else None
            critic_logits = self._critic_logits(frozen)
            q = self._weights(rl, rl_rows, critic_logits, t, stats)
            weights = rltf_weights(
                rl, rl_rows, self.baseline, components, alpha_compat=self.config.alpha_compat, token_weights=q
            )
            lengths = t.lengths[:n]
            terms |= {c.value: weighted_nll(logp[:n, : w.shape[1]], w, lengths) for c, w in weights.items()}
            if frozen is not None:
                stats["kl"] = _mean_token_kl(logits[:n].detach(), frozen, t, n)
        stats |= policy_step(self.engine, terms, t)
        if critic_logits is not None:
            stats["loss_token_critic"] = self._critic_step(critic_logits, rl, t, n)
        elif self.token_critic is not None:
            idle_step(self.token_critic)
        return stats

    def _idle(self) -> dict[str, float]:
        if self.token_critic is not None:
            idle_step(self.token_critic)
        return idle_step(self.engine)

    def _critic_logits(self, frozen: FrozenOutputs | None) -> torch.Tensor | None:
        """Token-critic logits aligned with the tokens they weight (``[B, L, 4]``)."""
        if self.token_critic is None or frozen is None:
            return None
        hidden = frozen.hidden.to(next(self.token_critic.module.parameters()).dtype)
        logits: torch.Tensor = self.token_critic(hidden)
        return F.pad(logits[:, :-1], (0, 0, 1, 0))  # token t is judged from the state before it

    def _weights(
        self,
        batch: list[Scored],
        rows: list[Encoded],
        critic_logits: torch.Tensor | None,
        t: Tensors,
        stats: dict[str, float],
    ) -> list[list[float]] | None:
        if critic_logits is None:
            return None
        q = token_weights(critic_logits.detach(), _outcomes(batch, t.ids.device))
        n = len(rows)
        stats["token_weight_mean"] = float((q * t.cmask[:n]).sum() / t.cmask[:n].sum().clamp(min=1.0))
        return [q[i, r.n_prompt : len(r.ids)].tolist() for i, r in enumerate(rows)]

    def _critic_step(self, critic_logits: torch.Tensor, batch: list[Scored], t: Tensors, n: int) -> float:
        assert self.token_critic is not None
        loss = token_critic_loss(critic_logits, t.cmask[:n], _outcomes(batch, t.ids.device))
        self.token_critic.backward(loss)
        self.token_critic.step()
        return float(loss.detach())


def _outcomes(batch: list[Scored], device: torch.device) -> torch.Tensor:
    return torch.tensor([int(outcome_class(s.result)) for s in batch], device=device)


def _mean_token_kl(logits: torch.Tensor, frozen: FrozenOutputs, t: Tensors, n: int) -> float:
    kl = token_kl(logits, frozen.logits) * t.cmask[:n]
    return float(kl.sum() / t.cmask[:n].sum().clamp(min=1.0))
