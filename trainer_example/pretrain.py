"""Supervised warm-up of a tiny policy on reference solutions (no service needed).

The learning demonstration starts every arm from the same partly trained checkpoint:
``python -m trainer_example.pretrain --steps 150 --out runs/demo/warm`` writes a local
Hugging Face checkpoint (model + tokenizer) that ``train --model`` loads. The problems
the trainer holds out for its evaluation (the same ``--seed``, ``--eval-problems`` and
``--data``) are left out here too, so the held-out set stays unseen.
"""

from __future__ import annotations

import argparse
import logging
import random
from collections.abc import Sequence
from pathlib import Path

import torch

from trainer_example.build import split_problems
from trainer_example.config import TrainConfig
from trainer_example.data import load_problems
from trainer_example.losses import token_logprobs, weighted_nll
from trainer_example.model import build_tiny
from trainer_example.sequences import code_mask, collate, encode

__all__ = ["main"]

log = logging.getLogger("trainer_example.pretrain")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trainer_example.pretrain")
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-problems", type=int, default=TrainConfig.eval_problems)
    parser.add_argument("--tiny-layers", type=int, default=4)
    parser.add_argument("--tiny-dim", type=int, default=128)
    parser.add_argument("--out", type=Path, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = _parser().parse_args(argv)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    config = TrainConfig(
        tiny=True,
        tiny_layers=args.tiny_layers,
        tiny_dim=args.tiny_dim,
        seed=args.seed,
        eval_problems=args.eval_problems,
    )
    train, _ = split_problems(load_problems(args.data, seed=args.seed), config)
    problems = [p for p in train if p.reference]
    lm, tokenizer = build_tiny(problems, config)
    optimizer = torch.optim.AdamW(lm.parameters(), lr=args.lr)
    lm.train()
    for step in range(args.steps):
        batch = rng.sample(problems, min(args.batch, len(problems)))
        rows = [encode(tokenizer, p.prompt, p.reference or "", eos=True, max_prompt=256, max_code=256) for p in batch]
        ids, mask = collate(rows, int(tokenizer.pad_token_id or 0), torch.device("cpu"))
        cmask = code_mask(rows, ids.shape[1])
        logp = token_logprobs(lm(input_ids=ids, attention_mask=mask).logits, ids)
        loss = weighted_nll(logp, cmask, cmask.sum(1))
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        if step % 25 == 0 or step == args.steps - 1:
            log.info("step %d sl loss %.4f", step, float(loss.detach()))
    lm.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
