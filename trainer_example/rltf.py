"""The RLTF objective (Liu et al., 2023, eqs. 6-10) as per-token weights.

``L = L_sl + L_coarse + L_fine + L_adaptive``. Against one baseline program ``W^b``
(:mod:`trainer_example.baselines`), with ``c(W)`` its coarse score and ``a(W)`` its
adaptive score (a failure's -0.3 + 1.3 * pass ratio replaces its coarse -0.3):

- ``L_coarse   = -(c(W^s) - c(W^b)) * sum_t log p(w_t)``
- ``L_adaptive = -([a(W^s) - a(W^b)] - [c(W^s) - c(W^b)]) * sum_t log p(w_t)``
- ``L_fine     = -alpha * sum_{t=S}^{E-1} R_fine * log p(w_t)``, ``alpha = T / (E - S)``

so with both on the sequence weight is ``a(W^s) - a(W^b)``: what the RLTF code trains
with (``get_reward_from_error_type`` of the sample minus that of the baseline), and the
adaptive term alone is the pass-ratio part ``1.3 * (ratio_s [W^s fails] - ratio_b [W^b
fails])``. ``[S, E)`` is the token span of the service's ``fine_char_start/end``: the
error line for U_line, the whole program **including EOS** (``S = 0``, ``E = T``,
alpha = 1) for U_global. Each term is divided by ``T`` (:mod:`trainer_example.losses`).

With token-critic weights ``q_t`` (``--token-critic``, CodeRL's critic as the RLTF code
uses it with ``fine_grained_type 1``), every term's weight at token ``t`` is multiplied
by ``q_t``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from client.models import Category
from client.spans import alpha, fine_token_span
from trainer_example.baselines import ZERO, Baseline, ProgramScore
from trainer_example.config import Component
from trainer_example.rollout import Scored, reward
from trainer_example.sequences import Encoded

__all__ = ["fine_span", "fine_weights", "rltf_weights", "sequence_terms"]


def sequence_terms(scored: Scored, base: ProgramScore, components: frozenset[Component]) -> dict[Component, float]:
    """The coarse and adaptive sequence weights of one sample against its baseline."""
    sample = ProgramScore.of(scored.result) or ZERO
    coarse = sample.coarse - base.coarse
    terms: dict[Component, float] = {}
    if Component.COARSE in components:
        terms[Component.COARSE] = coarse
    if Component.ADAPTIVE in components:
        terms[Component.ADAPTIVE] = (sample.adaptive - base.adaptive) - coarse
    return terms


def fine_span(scored: Scored, enc: Encoded) -> tuple[int, int] | None:
    """Tokens ``[S, E)`` of the fine reward: the error line, or every token for U_global."""
    span = fine_token_span(scored.result.rewards, enc.offsets)
    error = scored.result.error
    if span is not None and error is not None and error.category is Category.GLOBAL:
        return 0, enc.n_code  # the whole sequence, EOS (a token without characters) included
    return span


def fine_weights(scored: Scored, enc: Encoded, *, alpha_compat: bool) -> list[float]:
    """``alpha * R_fine`` on the code tokens of the fine span, 0 elsewhere (code tokens)."""
    weights = [0.0] * enc.n_code
    value = reward(scored.result, "fine")
    span = fine_span(scored, enc)
    if value == 0.0 or span is None:
        return weights
    start, end = span
    a = 1.0 if alpha_compat else alpha(enc.n_code, start, end)
    for t in range(start, end):
        weights[t] = a * value
    return weights


def _row(values: Sequence[float], enc: Encoded, length: int) -> torch.Tensor:
    row = torch.zeros(length)
    row[enc.n_prompt : len(enc.ids)] = torch.tensor(list(values))
    return row


def _terms(
    scored: Scored, enc: Encoded, base: ProgramScore, components: frozenset[Component], alpha_compat: bool
) -> dict[Component, list[float]]:
    per = {c: [v] * enc.n_code for c, v in sequence_terms(scored, base, components).items()}
    if Component.FINE in components:
        per[Component.FINE] = fine_weights(scored, enc, alpha_compat=alpha_compat)
    return per


def rltf_weights(
    batch: Sequence[Scored],
    encoded: Sequence[Encoded],
    baseline: Baseline,
    components: frozenset[Component],
    *,
    alpha_compat: bool,
    token_weights: Sequence[Sequence[float]] | None = None,
) -> dict[Component, torch.Tensor]:
    """Per-token weights ``[B, L]`` of each switched-on RL component.

    ``token_weights`` (one value per code token of each row) multiply every term.
    """
    length = max(len(e.ids) for e in encoded)
    rows: dict[Component, list[torch.Tensor]] = {c: [] for c in components - {Component.SL}}
    for i, (scored, enc) in enumerate(zip(batch, encoded, strict=True)):
        per = _terms(scored, enc, baseline.value(scored), components, alpha_compat)
        q = token_weights[i] if token_weights is not None else [1.0] * enc.n_code
        for component in rows:
            rows[component].append(_row([w * v for w, v in zip(q, per[component], strict=True)], enc, length))
    return {c: torch.stack(r) for c, r in rows.items()}
