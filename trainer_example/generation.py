"""The generation side: N programs per problem from the latest weights.

Sampling uses the configured temperature and top-p; the ``latest_greedy`` baseline adds
one greedy program per problem. A program that ends without EOS is reported to the
service with ``finish_reason="length"`` (possibly unfinished code, RLTF's U_global case).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from client.models import FinishReason
from trainer_example.config import TrainConfig
from trainer_example.data import Problem
from trainer_example.rollout import Sample

__all__ = ["Generator"]


@dataclass
class Generator:
    tokenizer: PreTrainedTokenizerFast
    config: TrainConfig
    device: torch.device

    @torch.no_grad()
    def sample(
        self, lm: PreTrainedModel, problems: Sequence[Problem], *, step: int, greedy: bool = False
    ) -> list[Sample]:
        """``samples_per_problem`` programs per problem (one when ``greedy``), grouped."""
        n = 1 if greedy else self.config.samples_per_problem
        tok = self.tokenizer
        tok.truncation_side = "left"
        enc = tok(
            [p.prompt for p in problems],
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self.config.max_prompt_tokens,
            add_special_tokens=False,
        ).to(self.device)
        model: Any = lm  # transformers' generate/eval are not typed precisely
        was_training = model.training
        model.eval()
        out = model.generate(
            **enc,
            do_sample=not greedy,
            temperature=self.config.temperature if not greedy else None,
            top_p=self.config.top_p if not greedy else None,
            max_new_tokens=self.config.max_new_tokens,
            num_return_sequences=n,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
        )
        model.train(was_training)
        new = out[:, enc["input_ids"].shape[1] :].tolist()
        return [self._sample(problems[row // n], ids, step=step, greedy=greedy) for row, ids in enumerate(new)]

    def _sample(self, problem: Problem, ids: list[int], *, step: int, greedy: bool) -> Sample:
        eos = self.tokenizer.eos_token_id
        finish = FinishReason.LENGTH
        if eos in ids:
            ids = ids[: ids.index(eos)]
            finish = FinishReason.STOP
        pad = self.tokenizer.pad_token_id
        ids = [i for i in ids if i != pad]
        code = str(self.tokenizer.decode(ids, skip_special_tokens=True))
        return Sample(
            problem=problem,
            code=code,
            finish_reason=finish,
            new_tokens=len(ids) + (finish is FinishReason.STOP),
            policy_step=step,
            greedy=greedy,
            token_ids=tuple(ids),
        )
