"""A frozen copy of the initial (pre-trained) policy: critic features and the KL reference.

Built only when something needs it (``TrainConfig.needs_frozen``): the actor-critic's
value critic and KL-penalised reward, RLTF's ``--token-critic``, or RLTF's optional KL
metric (``--kl-metric``). One forward pass gives both the logits (for the KL) and the
last layer's hidden states (for the critics).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from transformers import PreTrainedModel

__all__ = ["FrozenLM", "FrozenOutputs"]


@dataclass(frozen=True)
class FrozenOutputs:
    logits: torch.Tensor  # [B, L, V]
    hidden: torch.Tensor  # [B, L, H], the last layer


class FrozenLM:
    """Never trained: no gradients, eval mode, its own copy of the weights."""

    def __init__(self, lm: PreTrainedModel, *, device: torch.device, dtype: torch.dtype) -> None:
        model: Any = copy.deepcopy(lm)
        model.to(device=device, dtype=dtype)
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        self.model = model

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @torch.no_grad()
    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> FrozenOutputs:
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            output_hidden_states=True,
            use_cache=False,
        )
        return FrozenOutputs(logits=out.logits, hidden=out.hidden_states[-1])
