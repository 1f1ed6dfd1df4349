"""The module DeepSpeed trains: the causal LM, and for actor-critic a small MLP critic.

The critic (PanguCoder-RL) reads the policy's final hidden state at the last token of
each sequence; the hidden state is detached, so the critic's MSE loss trains the critic
only and the policy learns from the advantage alone.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import PreTrainedModel

__all__ = ["Critic", "Policy"]


class Critic(nn.Module):
    def __init__(self, hidden_size: int, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(hidden_size, width), nn.ReLU(), nn.Linear(width, 1))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(hidden).squeeze(-1)
        return out


class Policy(nn.Module):
    def __init__(self, lm: PreTrainedModel, *, critic_width: int | None = None) -> None:
        super().__init__()
        self.lm = lm
        hidden = int(lm.config.hidden_size)
        self.critic = Critic(hidden, critic_width) if critic_width else None

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits ``[B, L, V]`` and critic values ``[B]`` (``None`` without a critic)."""
        want_hidden = self.critic is not None
        out = self.lm(
            input_ids=input_ids,
            attention_mask=attention_mask,
            output_hidden_states=want_hidden,
            use_cache=False,
        )
        logits: torch.Tensor = out.logits
        if self.critic is None:
            return logits, None
        last = attention_mask.sum(dim=1) - 1
        rows = torch.arange(input_ids.shape[0], device=input_ids.device)
        final = out.hidden_states[-1][rows, last].detach()
        return logits, self.critic(final).float()
