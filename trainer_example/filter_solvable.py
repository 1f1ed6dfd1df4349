"""PanguCoder-RL's solvability filter (§3.3, step 6): keep the instances for which the
policy finds at least one valid solution in ``k`` samples (the paper: 100).

    python -m trainer_example.filter_solvable --data rows.jsonl --out solvable.jsonl --tiny --k 100 \\
        --service-url http://127.0.0.1:8000

The policy samples ``k`` programs per problem (``--temperature``, ``--top-p``,
``--max-new-tokens`` as in training); the service judges them. A problem is kept when a
sample passes, dropped when every sample was judged and none passed; one with no pass
but with samples the service could not judge (``infra_error``, never a verdict) is kept
and counted as undecided. The kept rows are copied unchanged; a summary is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from client import RewardClient
from client.models import Result, Status
from trainer_example.config import TrainConfig
from trainer_example.data import Problem, load_problems
from trainer_example.rollout import Sample, to_item

__all__ = ["Verdict", "main", "verdicts"]


@dataclass(frozen=True)
class Verdict:
    problem_id: str
    samples: int
    passed: int
    unjudged: int

    @property
    def keep(self) -> bool:
        return self.passed > 0 or self.unjudged > 0

    @property
    def undecided(self) -> bool:
        return self.passed == 0 and self.unjudged > 0


def verdicts(samples: Sequence[Sample], results: Sequence[Result]) -> dict[str, Verdict]:
    """Per problem, what its samples came to."""
    counts: dict[str, list[int]] = {}
    for sample, result in zip(samples, results, strict=True):
        c = counts.setdefault(sample.problem.id, [0, 0, 0])
        c[0] += 1
        c[1] += result.status is Status.PASS
        c[2] += result.status is Status.INFRA_ERROR
    return {pid: Verdict(pid, *c) for pid, c in counts.items()}


def _sample_all(problems: list[Problem], config: TrainConfig) -> list[Sample]:
    import torch

    from trainer_example.generation import Generator
    from trainer_example.model import load_policy

    lm, tokenizer = load_policy(config, problems, Path(config.out_dir) / "initial")
    generator = Generator(tokenizer, config, torch.device("cpu"))
    samples: list[Sample] = []
    for start in range(0, len(problems), config.problems_per_step):
        samples += generator.sample(lm, problems[start: start + config.problems_per_step], step=0)
    return samples


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainer_example.filter_solvable", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="dataset JSONL (e.g. python -m service.testgen's rows)")
    p.add_argument("--out", type=Path, required=True, help="the kept rows")
    p.add_argument("--k", type=int, default=100, help="samples per problem")
    p.add_argument("--model", default=None, help="a local Hugging Face checkpoint")
    p.add_argument("--tiny", action="store_true", help="a small random model (for tests)")
    p.add_argument("--service-url", default=TrainConfig.service_url)
    p.add_argument("--temperature", type=float, default=TrainConfig.temperature)
    p.add_argument("--top-p", type=float, default=TrainConfig.top_p)
    p.add_argument("--max-new-tokens", type=int, default=TrainConfig.max_new_tokens)
    p.add_argument("--problems-per-batch", type=int, default=4)
    p.add_argument("--timeout-s", type=float, default=TrainConfig.program_timeout_s, help="per test")
    p.add_argument("--work-dir", default="runs/filter_solvable", help="where a --tiny model is kept")
    args = p.parse_args(argv)
    if args.model is None and not args.tiny:
        p.error("give --model PATH or --tiny")
    config = dataclasses.replace(
        TrainConfig(), model=args.model, tiny=args.tiny, data=args.data, samples_per_problem=args.k,
        problems_per_step=args.problems_per_batch, temperature=args.temperature, top_p=args.top_p,
        max_new_tokens=args.max_new_tokens, service_url=args.service_url, out_dir=args.work_dir,
        program_timeout_s=args.timeout_s)
    problems = load_problems(args.data)
    samples = _sample_all(problems, config)
    items = [to_item(s, scheme="pass_fraction", timeout_s=config.program_timeout_s, item_id=f"{s.problem.id}#{i}")
             for i, s in enumerate(samples)]
    with RewardClient(config.service_url, timeout_s=config.request_timeout_s) as client:
        results = list(client.evaluate(items))
    found = verdicts(samples, results)
    kept = {pid for pid, v in found.items() if v.keep}
    _copy_rows(Path(args.data), args.out, kept)
    summary = {"problems": len(problems), "samples": len(samples), "kept": len(kept),
               "dropped": len(problems) - len(kept), "undecided": sum(v.undecided for v in found.values())}
    print(json.dumps(summary))
    return 0


def _copy_rows(data: Path, out: Path, kept: set[str]) -> None:
    """The kept rows, unchanged and in order (ids as :func:`load_problems` reads them)."""
    with data.open(encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        index = 0
        for line in src:
            if not line.strip():
                continue
            row = json.loads(line)
            if str(row.get("id", index)) in kept:
                dst.write(line if line.endswith("\n") else line + "\n")
            index += 1


if __name__ == "__main__":
    sys.exit(main())
