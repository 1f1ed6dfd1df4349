"""What the framework tests share (no tests here): tiny local policies for TRL, and the
pinned OpenRLHF release's source.

Nothing is downloaded but OpenRLHF's wheel: it cannot be installed here (its
dependencies are Ray + vLLM + flash-attn on a GPU, and its wheel ships a top-level
``tests`` package that would shadow ours), so :func:`openrlhf_source` fetches the pinned
wheel once with pip and unpacks its ``openrlhf`` package under the venv; the tests import
its real modules from there, as OpenRLHF's own tests load them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any
from unittest.mock import MagicMock

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

__all__ = [
    "OPENRLHF_VERSION", "ScriptedPolicy", "openrlhf_modules", "openrlhf_source", "tiny_config", "tiny_tokenizer",
    "tool_call",
]

OPENRLHF_VERSION = "0.11.2"
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]


def tiny_tokenizer(corpus: list[str], *, chat_template: str | None = None) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on ``corpus`` (lossless on any text)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, trainer=trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    ))
    tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|pad|>"
    )
    tokenizer.padding_side = "left"
    tokenizer.chat_template = chat_template
    return tokenizer


def tiny_config(tokenizer: PreTrainedTokenizerFast) -> GPT2Config:
    return GPT2Config(
        vocab_size=len(tokenizer), n_positions=2048, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def tool_call(name: str, **arguments: Any) -> str:
    """A tool call as Qwen2.5's chat template writes it (and TRL parses it)."""
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


class ScriptedPolicy(GPT2LMHeadModel):
    """A tiny GPT-2 whose sampling is replaced by a script: turn ``k`` of a rollout (``k`` =
    the tool answers already in its context) is ``script[k]``. Its forward pass, hence
    TRL's log-probabilities, loss and optimizer step, are the real model's."""

    def __init__(self, tokenizer: PreTrainedTokenizerFast, script: list[str]) -> None:
        super().__init__(tiny_config(tokenizer))
        self.script = script
        self.tokenizer = tokenizer

    def generate(self, input_ids: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:  # type: ignore[override]
        del args, kwargs
        rows = []
        for ids in input_ids:
            context = self.tokenizer.decode(ids, skip_special_tokens=False)
            turn = min(context.count("<tool_response>"), len(self.script) - 1)
            text_ids = self.tokenizer(self.script[turn], add_special_tokens=False)["input_ids"]
            rows.append([*text_ids, self.tokenizer.eos_token_id])
        width = max(len(row) for row in rows)
        pad = self.tokenizer.pad_token_id
        new = torch.tensor([row + [pad] * (width - len(row)) for row in rows], device=input_ids.device)
        return torch.cat([input_ids, new], dim=1)


def openrlhf_source() -> Path:
    """A folder holding the pinned OpenRLHF release's ``openrlhf`` package (fetched once)."""
    cache = Path(sys.prefix) / "utrs-frameworks" / f"openrlhf-{OPENRLHF_VERSION}"
    if (cache / "openrlhf" / "utils" / "agent.py").exists():
        return cache
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
             f"openrlhf=={OPENRLHF_VERSION}", "-d", tmp],
            check=True, timeout=300,
        )
        [wheel] = Path(tmp).glob("openrlhf-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            prefix = f"openrlhf-{OPENRLHF_VERSION}.data/purelib/"
            for name in archive.namelist():
                if name.startswith(prefix + "openrlhf/") and not name.endswith("/"):
                    target = cache / name[len(prefix):]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.read(name))
    return cache


@contextlib.contextmanager
def openrlhf_modules() -> Iterator[SimpleNamespace]:
    """OpenRLHF's modules, imported from its release's source with ``vllm`` stubbed (it
    cannot run here); ``sys.modules`` and ``sys.path`` are restored afterwards."""
    source = openrlhf_source()
    saved = dict(sys.modules)
    stub = ModuleType("vllm")
    stub.SamplingParams = SimpleNamespace  # type: ignore[attr-defined]
    sys.modules.update({"vllm": stub, "vllm.inputs": MagicMock(), "vllm.utils": MagicMock()})
    sys.path.insert(0, str(source))
    try:
        from openrlhf.trainer.ppo_utils.samples_generator import SamplesGenerator
        from openrlhf.trainer.ray.vllm_engine import _load_agent_executor
        from openrlhf.utils.agent import SingleTurnAgentExecutor

        # Its dataset module by path: the package's __init__ pulls in the SFT/RM datasets.
        path = source / "openrlhf" / "datasets" / "prompts_dataset.py"
        spec = importlib.util.spec_from_file_location("prompts_dataset", path)
        assert spec is not None and spec.loader is not None
        prompts_dataset = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(prompts_dataset)
        yield SimpleNamespace(
            source=source / "openrlhf", SingleTurn=SingleTurnAgentExecutor, load_agent=_load_agent_executor,
            Samples=SamplesGenerator, preprocess_data=prompts_dataset.preprocess_data,
        )
    finally:
        sys.path.remove(str(source))
        for name in set(sys.modules) - set(saved):
            del sys.modules[name]
        sys.modules.update(saved)
