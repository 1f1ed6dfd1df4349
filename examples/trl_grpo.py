"""GRPO with TRL on MBPP, rewarded by the service.

On a CPU, with a tiny model built here (a 2-layer GPT-2 and a tokenizer trained on the
problems; nothing is downloaded)::

    UTRS_URL=http://127.0.0.1:8000 python examples/trl_grpo.py --tiny --max-steps 2

On a GPU, with a real model (a local path or a hub name your machine can load)::

    python examples/trl_grpo.py --model Qwen/Qwen2.5-Coder-0.5B-Instruct --max-steps 200 \\
        --num-generations 8 --max-completion-length 512 --url http://utrs:8000

Each row of the dataset is an MBPP problem: a ``prompt`` and a ``tests`` column holding
its test spec; ``client.adapters.trl.make_reward_fn`` turns each completion into an item
and returns the service's reward (``--async-reward``: the ``async def`` variant). A sample
the service could not judge gets ``None`` and TRL leaves it out of its group's baseline.
The reward function logs the pass ratio and error sub-types through TRL's ``log_metric``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "trainer_example" / "data" / "mbpp.jsonl"
TEMPLATE = (
    "{text}\nYour code should pass these tests:\n{tests}\n"
    "Answer with the function in one ```python block.\n"
)


def rows(path: Path, limit: int) -> list[dict[str, Any]]:
    """MBPP records as TRL rows: ``prompt`` (text) and ``tests`` (a JSON test spec)."""
    out = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            spec = {"test_list": record["test_list"], "test_setup_code": record.get("test_setup_code", "")}
            prompt = TEMPLATE.format(text=record["text"], tests="\n".join(record["test_list"]))
            out.append({"prompt": prompt, "tests": json.dumps(spec), "task_id": str(record["task_id"]),
                        "reference": record["code"]})
            if len(out) >= limit:
                break
    return out


def tiny_policy(corpus: list[str]) -> tuple[Any, Any]:
    """A randomly initialised 2-layer GPT-2 and a byte-level BPE tokenizer trained on ``corpus``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    special = ["<|endoftext|>", "<|pad|>"]
    tok.train_from_iterator(corpus, trainer=trainers.BpeTrainer(
        vocab_size=512, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    ))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=special[0], pad_token=special[1])
    tokenizer.padding_side = "left"
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=1024, n_embd=64, n_layer=2, n_head=2,
                        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                        pad_token_id=tokenizer.pad_token_id)
    return GPT2LMHeadModel(config), tokenizer


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    policy = parser.add_mutually_exclusive_group(required=True)
    policy.add_argument("--tiny", action="store_true", help="a tiny random model built here (CPU)")
    policy.add_argument("--model", help="a causal LM: local path or hub name")
    parser.add_argument("--url", default=None, help="the service (default: $UTRS_URL)")
    parser.add_argument("--data", type=Path, default=DATA, help="MBPP JSONL")
    parser.add_argument("--limit", type=int, default=64, help="problems to train on")
    parser.add_argument("--max-steps", type=int, default=2)
    parser.add_argument("--num-generations", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=2, help="completions per device and step")
    parser.add_argument("--max-completion-length", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-5)
    parser.add_argument("--output-dir", type=Path, default=Path("runs/trl_grpo"))
    parser.add_argument("--async-reward", action="store_true", help="the async def reward function")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from client.adapters.trl import make_async_reward_fn, make_reward_fn

    data = rows(args.data, args.limit)
    if args.tiny:
        model, tokenizer = tiny_policy([row["prompt"] + row["reference"] for row in data])
    else:
        model = AutoModelForCausalLM.from_pretrained(args.model)
        tokenizer = AutoTokenizer.from_pretrained(args.model, padding_side="left")
    if tokenizer.chat_template:  # an instruct model: conversational prompts
        data = [{**row, "prompt": [{"role": "user", "content": row["prompt"]}]} for row in data]
    dataset = Dataset.from_list([{k: v for k, v in row.items() if k != "reference"} for row in data])
    reward = make_async_reward_fn(args.url) if args.async_reward else make_reward_fn(args.url)
    on_gpu = torch.cuda.is_available()
    config = GRPOConfig(
        output_dir=str(args.output_dir), max_steps=args.max_steps, learning_rate=args.learning_rate,
        per_device_train_batch_size=args.batch_size, num_generations=args.num_generations,
        max_completion_length=args.max_completion_length, logging_steps=1, save_strategy="no",
        report_to="none", use_cpu=not on_gpu, bf16=on_gpu, log_completions=False,
    )
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=[reward],
                          args=config, train_dataset=dataset)
    trainer.train()
    for entry in trainer.state.log_history:
        print(json.dumps(entry), flush=True)  # one JSON object per logged step
    return 0


if __name__ == "__main__":
    sys.exit(main())
