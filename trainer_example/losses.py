"""Token-level losses shared by the RLTF objective and the actor-critic option.

All sequence terms follow one shape: ``-mean_b( sum_t W[b, t] * log p(w_t) / T_b )``
where ``W`` holds each token's weight (a reward, an advantage, alpha times a reward, or
0) and ``T_b`` is the number of code tokens of row ``b``. Dividing by ``T`` makes
RLTF's ``alpha = T / (E - S)`` turn the fine term into a mean over the error span.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["token_kl", "token_logprobs", "weighted_nll"]


def token_logprobs(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """``log p(input_ids[:, t])`` under ``logits[:, t - 1]``, placed at ``t`` (``[B, L]``).

    Position 0 (no prediction) is 0.
    """
    logp = F.log_softmax(logits[:, :-1].float(), dim=-1)
    picked = logp.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return F.pad(picked, (1, 0))


def weighted_nll(logp: torch.Tensor, weights: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``-mean_b(sum_t weights * logp / lengths)``; rows with length 0 count as 1."""
    per_row = (weights.to(logp) * logp).sum(dim=1) / lengths.to(logp).clamp(min=1.0)
    return -per_row.mean()


def token_kl(logits: torch.Tensor, ref_logits: torch.Tensor) -> torch.Tensor:
    """Exact ``KL(pi(.|w_<t) || pi_ref(.|w_<t))`` over the vocabulary, placed at ``t``.

    ``[B, L]`` like :func:`token_logprobs` (position 0 is 0); mask it with the code mask
    and sum for the KL of the program (an unbiased estimate of the sequence-level
    ``KL(pi(y|x) || pi_ref(y|x))`` for programs sampled from ``pi``).
    """
    logp = F.log_softmax(logits[:, :-1].float(), dim=-1)
    ref = F.log_softmax(ref_logits[:, :-1].float(), dim=-1)
    return F.pad((logp.exp() * (logp - ref)).sum(-1), (1, 0))
