"""MBPP, APPS and HumanEval as verl's RL parquet files, with test specs the service reads.

    python examples/verl/preprocess.py --mbpp trainer_example/data/mbpp.jsonl \\
        --apps tests/data/apps_train_sample --humaneval HumanEval.jsonl.gz --out data/utrs

Writes ``train.parquet`` and ``test.parquet`` (every ``--test-every``-th problem) with
verl's columns: ``data_source``, ``prompt`` (chat messages), ``ability``,
``reward_model`` (``{"style": "rule", "ground_truth": <test spec as JSON text>}``) and
``extra_info`` (``split``, ``index``, ``task_id``). The ground truth is JSON text, not a
nested struct, so it reaches ``compute_score`` exactly as written (parquet would turn
nested lists into numpy arrays). The specs are those of
:func:`client.adapters.item_from_spec`: MBPP's ``test_list``, APPS's
``inputs``/``outputs``/``fn_name``, HumanEval's ``test``/``entry_point`` (whole-function
answers: ``prompt`` is empty).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ANSWER = "Answer with the complete Python program in one ```python block."


def mbpp_rows(path: Path) -> Iterator[dict[str, Any]]:
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        tests = "\n".join(record["test_list"])
        question = f"{record['text']}\nYour code should pass these tests:\n{tests}\n{ANSWER}"
        spec = {"test_list": record["test_list"], "test_setup_code": record.get("test_setup_code", "")}
        yield row("mbpp", question, spec, str(record["task_id"]))


def apps_rows(folder: Path) -> Iterator[dict[str, Any]]:
    for problem in sorted(p for p in folder.iterdir() if (p / "input_output.json").exists()):
        io = json.loads((problem / "input_output.json").read_text(encoding="utf-8"))
        starter = problem / "starter_code.py"
        question = (problem / "question.txt").read_text(encoding="utf-8")
        if starter.exists():
            question += f"\nStart from:\n```python\n{starter.read_text(encoding='utf-8')}```"
        how = "Read from standard input and write to standard output." if not io.get("fn_name") else ""
        spec = {key: io[key] for key in ("inputs", "outputs", "fn_name") if key in io}
        yield row("apps", f"{question}\n{how}\n{ANSWER}".replace("\n\n\n", "\n\n"), spec, problem.name)


def humaneval_rows(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            question = f"Complete this function:\n```python\n{record['prompt']}```\n{ANSWER}"
            spec = {"test": record["test"], "entry_point": record["entry_point"], "prompt": ""}
            yield row("humaneval", question, spec, record["task_id"])


def row(source: str, question: str, spec: dict[str, Any], task_id: str) -> dict[str, Any]:
    return {
        "data_source": source,
        "prompt": [{"role": "user", "content": question}],
        "ability": "code",
        "reward_model": {"style": "rule", "ground_truth": json.dumps(spec)},
        "extra_info": {"task_id": task_id},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mbpp", type=Path, help="MBPP JSONL")
    parser.add_argument("--apps", type=Path, help="a folder of APPS problem folders")
    parser.add_argument("--humaneval", type=Path, help="HumanEval JSONL (.gz or not)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--test-every", type=int, default=10, help="every N-th problem goes to test")
    args = parser.parse_args(argv)
    if not (args.mbpp or args.apps or args.humaneval):
        parser.error("give at least one of --mbpp, --apps, --humaneval")
    if args.test_every < 2:
        parser.error(f"argument --test-every: must be >= 2, got {args.test_every}")
    import pandas as pd

    rows = [*(mbpp_rows(args.mbpp) if args.mbpp else []), *(apps_rows(args.apps) if args.apps else []),
            *(humaneval_rows(args.humaneval) if args.humaneval else [])]
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
    for index, entry in enumerate(rows):
        split = "test" if index % args.test_every == args.test_every - 1 else "train"
        entry["extra_info"] = {**entry["extra_info"], "split": split, "index": len(splits[split])}
        splits[split].append(entry)
    args.out.mkdir(parents=True, exist_ok=True)
    for split, entries in splits.items():
        pd.DataFrame(entries).to_parquet(args.out / f"{split}.parquet")
        print(f"{args.out / split}.parquet: {len(entries)} problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())
