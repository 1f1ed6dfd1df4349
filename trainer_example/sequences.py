"""Token sequences for training: prompt tokens, then the program's tokens with offsets.

Every code token carries a character offset into ``code``, so the service's
``[char_start, char_end)`` spans map to tokens (``client.spans``). A sampled program is
trained on the ids that were sampled (the policy gradient is about those): their offset
mapping comes from decoding growing prefixes. Re-tokenizing the text instead (what the
RLTF code does) gives the canonical tokenization, which a small policy often did not
sample; pushing the canonical tokens down then hurts correct programs. When the prefix
decoding does not line up with the text (a token ending inside a multi-byte character),
the text is re-tokenized with the tokenizer's own offset mapping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerFast

__all__ = ["Encoded", "code_mask", "collate", "encode", "sampled_offsets"]


@dataclass(frozen=True)
class Encoded:
    ids: list[int]  # prompt tokens + code tokens (+ EOS)
    n_prompt: int
    offsets: list[tuple[int, int]]  # one per code token, into ``code``; EOS: (0, 0)

    @property
    def n_code(self) -> int:
        """T: the number of tokens the program is made of (EOS included)."""
        return len(self.ids) - self.n_prompt


def sampled_offsets(tokenizer: PreTrainedTokenizerFast, ids: Sequence[int], code: str) -> list[tuple[int, int]] | None:
    """Offsets of sampled ``ids`` in ``code`` by decoding prefixes; None if they misalign."""
    offsets: list[tuple[int, int]] = []
    start = 0
    for i in range(len(ids)):
        text = str(tokenizer.decode(list(ids[: i + 1]), skip_special_tokens=True))
        if not code.startswith(text) or len(text) < start:
            return None
        offsets.append((start, len(text)))
        start = len(text)
    return offsets if start == len(code) else None


def _code_tokens(
    tokenizer: PreTrainedTokenizerFast, code: str, sampled: Sequence[int] | None
) -> tuple[list[int], list[tuple[int, int]]]:
    if sampled:
        offsets = sampled_offsets(tokenizer, sampled, code)
        if offsets is not None:
            return list(sampled), offsets
    enc = tokenizer(code, add_special_tokens=False, return_offsets_mapping=True)
    return list(enc["input_ids"]), [(int(a), int(b)) for a, b in enc["offset_mapping"]]


def encode(
    tokenizer: PreTrainedTokenizerFast,
    prompt: str,
    code: str,
    *,
    eos: bool,
    max_prompt: int,
    max_code: int,
    sampled: Sequence[int] | None = None,
) -> Encoded:
    """Tokenize ``prompt`` (its last ``max_prompt`` tokens) and ``code`` (or use ``sampled``)."""
    prompt_ids: list[int] = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    prompt_ids = prompt_ids[-max_prompt:]
    code_ids, offsets = _code_tokens(tokenizer, code, sampled)
    code_ids, offsets = code_ids[:max_code], offsets[:max_code]
    if eos and tokenizer.eos_token_id is not None:
        code_ids.append(int(tokenizer.eos_token_id))
        offsets.append((0, 0))
    if not code_ids:  # an empty program still needs a token to carry its reward
        code_ids, offsets = [int(tokenizer.eos_token_id or 0)], [(0, 0)]
    return Encoded(ids=prompt_ids + code_ids, n_prompt=len(prompt_ids), offsets=offsets)


def collate(batch: Sequence[Encoded], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``input_ids`` and ``attention_mask`` of shape ``[B, L]``."""
    length = max(len(e.ids) for e in batch)
    ids = torch.full((len(batch), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), length), dtype=torch.long)
    for row, e in enumerate(batch):
        ids[row, : len(e.ids)] = torch.tensor(e.ids, dtype=torch.long)
        mask[row, : len(e.ids)] = 1
    return ids.to(device), mask.to(device)


def code_mask(batch: Sequence[Encoded], length: int) -> torch.Tensor:
    """1.0 on the code tokens of each row, shape ``[B, L]`` (float)."""
    mask = torch.zeros((len(batch), length))
    for row, e in enumerate(batch):
        mask[row, e.n_prompt : len(e.ids)] = 1.0
    return mask
