"""The critics, on features of a frozen copy of the pre-trained (initial) policy.

- :class:`ValueCritic` (PanguCoder-RL): a two-layer MLP ``hidden -> hidden/2 -> 1``
  (ReLU) on the representation of the sequence's last token (EOS when the program ended
  with one) taken from the frozen copy, so its inputs do not drift as the policy trains.
- :class:`TokenCritic` (CodeRL's critic, which the RLTF code can weight its token
  rewards with): ``hidden -> 128 -> 4`` (ReLU) per token, trained on the program's
  outcome class with max-pooled logits; :func:`token_weights` is the softmax probability
  each token gives the outcome that actually happened.

Each critic is its own DeepSpeed engine with its own optimizer and learning rate, updated
in its own phase after the policy's (the policy never back-propagates into a critic).
"""

from __future__ import annotations

from enum import IntEnum

import torch
import torch.nn.functional as F
from torch import nn

from client.models import Result, Status
from trainer_example.rollout import reward

__all__ = [
    "Outcome",
    "TokenCritic",
    "ValueCritic",
    "last_token_features",
    "outcome_class",
    "token_critic_loss",
    "token_weights",
]


class Outcome(IntEnum):
    """CodeRL's four outcome classes (``get_error_type`` in the RLTF code)."""

    SYNTAX_ERROR = 0
    RUNTIME_ERROR = 1
    FAILURE = 2
    PASS = 3


def outcome_class(result: Result) -> Outcome:
    """The outcome class of an rltf-scheme result (a syntax error has coarse -1)."""
    if result.status is Status.PASS:
        return Outcome.PASS
    if result.status is Status.FAILURE:
        return Outcome.FAILURE
    return Outcome.SYNTAX_ERROR if reward(result, "coarse") <= -1.0 else Outcome.RUNTIME_ERROR


class ValueCritic(nn.Module):
    """PanguCoder-RL's critic: ``hidden -> width -> 1`` with ReLU (width = hidden / 2)."""

    def __init__(self, hidden_size: int, width: int | None = None) -> None:
        super().__init__()
        width = width or max(hidden_size // 2, 1)
        self.net = nn.Sequential(nn.Linear(hidden_size, width), nn.ReLU(), nn.Linear(width, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Values ``[B]`` from last-token features ``[B, H]``."""
        out: torch.Tensor = self.net(features).squeeze(-1)
        return out


class TokenCritic(nn.Module):
    """CodeRL's error head: per-token logits over :class:`Outcome`."""

    def __init__(self, hidden_size: int, width: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(hidden_size, width), nn.ReLU(), nn.Linear(width, len(Outcome)))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, L, 4]`` from hidden states ``[B, L, H]``."""
        out: torch.Tensor = self.net(hidden)
        return out


def last_token_features(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """``hidden[b, last_b]`` for right-padded rows (``[B, L, H]`` -> ``[B, H]``)."""
    last = attention_mask.sum(dim=1) - 1
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    return hidden[rows, last]


def token_critic_loss(logits: torch.Tensor, code_mask: torch.Tensor, outcomes: torch.Tensor) -> torch.Tensor:
    """CodeRL's critic loss: cross-entropy of the max over code tokens of the logits."""
    masked = logits.float().masked_fill(code_mask[..., None] <= 0, float("-inf"))
    pooled, _ = masked.max(dim=1)
    return F.cross_entropy(pooled, outcomes)


def token_weights(logits: torch.Tensor, outcomes: torch.Tensor) -> torch.Tensor:
    """``softmax(logits[b, t])[outcome_b]``: each token's weight (``[B, L]``)."""
    probs = F.softmax(logits.float(), dim=-1)
    index = outcomes[:, None, None].expand(-1, probs.shape[1], 1)
    return probs.gather(-1, index).squeeze(-1)
