"""Policies without a hub: a local checkpoint, or a tiny random model with its own tokenizer.

``--tiny`` trains a byte-level BPE tokenizer on the local problem set (statements and
reference solutions) and builds a small GPT-2-style model around it; nothing is
downloaded. ``--model PATH`` loads any local Hugging Face causal LM (``local_files_only``).
Both tokenizers are "fast" ones, because the fine-grained loss needs offset mappings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from trainer_example.config import TrainConfig
from trainer_example.data import Problem

__all__ = ["EOS", "PAD", "build_tiny", "load_local", "load_policy", "train_tokenizer"]

EOS = "<|endoftext|>"
PAD = "<|pad|>"


def train_tokenizer(texts: Iterable[str], *, vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (GPT-2 style pre-tokenisation) trained on ``texts``."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok, eos_token=EOS, pad_token=PAD
    )
    fast.padding_side = "left"  # generation pads on the left
    return fast


def _corpus(problems: Sequence[Problem]) -> list[str]:
    return [p.prompt + (p.reference or "") for p in problems]


def build_tiny(problems: Sequence[Problem], config: TrainConfig) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """A small randomly initialised GPT-2 and a tokenizer trained on ``problems``."""
    tokenizer = train_tokenizer(_corpus(problems), vocab_size=config.tiny_vocab)
    gpt2 = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=config.max_prompt_tokens + config.max_new_tokens + 8,
        n_embd=config.tiny_dim,
        n_layer=config.tiny_layers,
        n_head=config.tiny_heads,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        resid_pdrop=0.0,  # no dropout: the policy that samples is the policy that learns
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    return GPT2LMHeadModel(gpt2), tokenizer


def load_local(path: str | Path) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """Load a local Hugging Face causal LM checkpoint and its (fast) tokenizer.

    Raises:
        ValueError: the checkpoint's tokenizer is not a fast one (no offset mappings).
    """
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    if not isinstance(tokenizer, PreTrainedTokenizerFast):
        raise ValueError(f"{path}: the tokenizer must be a fast one (offset mappings)")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True)
    return model, tokenizer


def load_policy(
    config: TrainConfig, problems: Sequence[Problem], initial_dir: Path
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """The starting policy: a resumed run's saved initial policy, ``--model`` or ``--tiny``."""
    if config.resume and (initial_dir / "config.json").exists():
        return load_local(initial_dir)
    if config.model is not None:
        return load_local(config.model)
    return build_tiny(problems, config)
