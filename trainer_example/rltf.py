"""The RLTF objective (Liu et al., 2023, eqs. 6-10) as per-token weights.

``L = L_sl + L_coarse + L_fine + L_adaptive`` with

- ``L_coarse  = -(R_coarse(W^s) - R_coarse(W^b)) * sum_{t=0}^{T} log p(w_t)``
- ``L_fine    = -alpha * sum_{t=S}^{E} R_fine(w_t) * log p(w_t)``, ``alpha = T / (E - S)``
- ``L_adaptive = -(R_adaptive(W^s) - R_adaptive(W^b)) * sum_t log p(w_t)`` (failures only)

each divided by ``T`` (see :mod:`trainer_example.losses`). ``[S, E)`` is the token span
of the service's ``fine_char_start/fine_char_end`` (the error line for U_line errors, the
whole program for U_global), mapped with :func:`client.spans.fine_token_span`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from client.spans import alpha, fine_token_span
from trainer_example.baselines import Baseline
from trainer_example.config import Component
from trainer_example.rollout import Scored, reward
from trainer_example.sequences import Encoded

__all__ = ["fine_weights", "rltf_weights"]


def fine_weights(scored: Scored, enc: Encoded, *, alpha_compat: bool) -> list[float]:
    """``alpha * R_fine`` on the code tokens of the fine span, 0 elsewhere (code tokens)."""
    weights = [0.0] * enc.n_code
    value = reward(scored.result, "fine")
    span = fine_token_span(scored.result.rewards, enc.offsets)
    if value == 0.0 or span is None:
        return weights
    start, end = span
    a = 1.0 if alpha_compat else alpha(enc.n_code, start, end)
    for t in range(start, end):
        weights[t] = a * value
    return weights


def _row(values: list[float], enc: Encoded, length: int) -> torch.Tensor:
    row = torch.zeros(length)
    row[enc.n_prompt : len(enc.ids)] = torch.tensor(values)
    return row


def rltf_weights(
    batch: Sequence[Scored],
    encoded: Sequence[Encoded],
    baseline: Baseline,
    components: frozenset[Component],
    *,
    alpha_compat: bool,
) -> dict[Component, torch.Tensor]:
    """Per-token weights ``[B, L]`` of each switched-on RL component."""
    length = max(len(e.ids) for e in encoded)
    rows: dict[Component, list[torch.Tensor]] = {c: [] for c in components - {Component.SL}}
    for scored, enc in zip(batch, encoded, strict=True):
        base = baseline.value(scored)
        result = scored.result
        adaptive = result.rewards.get("adaptive")
        per = {
            Component.COARSE: [reward(result, "coarse") - base.coarse] * enc.n_code,
            Component.ADAPTIVE: [0.0 if adaptive is None else adaptive - base.adaptive] * enc.n_code,
        }
        for component in rows:
            values = (
                fine_weights(scored, enc, alpha_compat=alpha_compat) if component is Component.FINE else per[component]
            )
            rows[component].append(_row(values, enc, length))
    return {c: torch.stack(r) for c, r in rows.items()}
