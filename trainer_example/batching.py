"""From scored samples, replayed solutions and reference solutions to training tensors.

Sampled programs are trained on their sampled token ids (:mod:`trainer_example.sequences`);
replayed (AST-reduced) and reference solutions are texts, tokenized canonically.
:func:`policy_step` is where the policy engine steps: the terms are summed,
back-propagated and applied; :func:`idle_step` steps an engine with zero gradients when
a rank has nothing to train on, so that the ranks' collectives stay in step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import PreTrainedTokenizerFast

from trainer_example.config import Component, TrainConfig
from trainer_example.data import Problem
from trainer_example.losses import token_logprobs, weighted_nll
from trainer_example.rollout import Scored
from trainer_example.sequences import Encoded, code_mask, collate, encode

__all__ = ["Encoder", "Tensors", "forward", "idle_step", "policy_step", "sl_term"]


@dataclass(frozen=True)
class Tensors:
    ids: torch.Tensor  # [B, L]
    mask: torch.Tensor  # attention mask [B, L]
    cmask: torch.Tensor  # code tokens [B, L] (float)

    @property
    def lengths(self) -> torch.Tensor:
        """T of each row (code tokens)."""
        return self.cmask.sum(dim=1)


@dataclass
class Encoder:
    tokenizer: PreTrainedTokenizerFast
    config: TrainConfig
    device: torch.device

    def texts(self, prompts: Sequence[str], codes: Sequence[str]) -> list[Encoded]:
        """Programs given as text (canonical tokens, EOS appended)."""
        c = self.config
        return [
            encode(self.tokenizer, p, code, eos=True, max_prompt=c.max_prompt_tokens, max_code=c.max_new_tokens)
            for p, code in zip(prompts, codes, strict=True)
        ]

    def sampled(self, batch: Sequence[Scored]) -> list[Encoded]:
        """Sampled programs on their own token ids (EOS when the program stopped)."""
        c = self.config
        return [
            encode(
                self.tokenizer,
                s.sample.problem.prompt,
                s.sample.code,
                eos=s.sample.finish_reason.value == "stop",
                max_prompt=c.max_prompt_tokens,
                max_code=c.max_new_tokens,
                sampled=s.sample.token_ids or None,
            )
            for s in batch
        ]

    def references(self, batch: Sequence[Scored]) -> list[Encoded]:
        """SL rows: reference solutions of the batch's problems (``--sl-batch`` of them)."""
        if Component.SL not in self.config.active_components:
            return []
        seen: dict[str, Problem] = {}
        for s in batch:
            if s.sample.problem.reference:
                seen.setdefault(s.sample.problem.id, s.sample.problem)
        refs = list(seen.values())[: self.config.sl_batch]
        return self.texts([p.prompt for p in refs], [p.reference or "" for p in refs])

    def token_stats(self, rows: Sequence[Encoded], batch: Sequence[Scored]) -> dict[str, float]:
        """How often the sampled ids were trained on, and were the canonical tokenization."""
        n = max(len(batch), 1)
        own = canonical = 0
        for row, scored in zip(rows, batch, strict=True):
            ids = list(scored.sample.token_ids)
            own += row.ids[row.n_prompt : row.n_prompt + len(ids)] == ids
            retokenized = self.tokenizer(scored.sample.code, add_special_tokens=False)
            canonical += retokenized["input_ids"] == ids
        return {"sampled_ids_rate": own / n, "canonical_rate": canonical / n}

    def tensors(self, rows: Sequence[Encoded]) -> Tensors:
        ids, mask = collate(rows, int(self.tokenizer.pad_token_id or 0), self.device)
        return Tensors(ids, mask, code_mask(rows, ids.shape[1]).to(self.device))


def forward(engine: Any, t: Tensors) -> tuple[torch.Tensor, torch.Tensor]:
    """The policy's logits ``[B, L, V]`` and the log-probabilities of the ids ``[B, L]``."""
    logits: torch.Tensor = engine(input_ids=t.ids, attention_mask=t.mask, use_cache=False).logits
    return logits, token_logprobs(logits, t.ids)


def sl_term(logp: torch.Tensor, t: Tensors, start: int) -> torch.Tensor:
    """Cross-entropy on the code tokens of rows ``start:`` (the reference solutions)."""
    return weighted_nll(logp[start:], t.cmask[start:], t.lengths[start:])


def idle_step(engine: Any) -> dict[str, float]:
    """A zero-gradient step when there is nothing to train on (no sample was scored).

    Every rank steps every engine each step, so the gradient all-reduce lines up.
    """
    params = [p for p in engine.module.parameters() if p.requires_grad]
    loss = torch.stack([p.sum() for p in params]).sum() * 0.0
    engine.backward(loss)
    engine.step()
    return {"idle": 1.0}


def policy_step(engine: Any, terms: dict[str, torch.Tensor], t: Tensors) -> dict[str, float]:
    """Sum the terms, back-propagate, step; the terms' values (``loss_<name>``)."""
    loss = torch.stack(list(terms.values())).sum()
    engine.backward(loss)
    engine.step()
    stats = {f"loss_{k}": float(v.detach()) for k, v in terms.items()}
    return stats | {"loss": float(loss.detach()), "train_tokens": float(t.mask.sum())}
