"""MBPP as OpenRLHF's prompt dataset: a JSONL with ``prompt`` (chat messages, for
``--data.apply_chat_template``) and ``tests`` (the test spec, for ``--data.label_key``).

    python examples/openrlhf/prepare_data.py trainer_example/data/mbpp.jsonl data/openrlhf/train.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ANSWER = "Answer with the complete Python program in one ```python block."


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: prepare_data.py MBPP_JSONL OUT_JSONL", file=sys.stderr)
        return 2
    source, out = Path(args[0]), Path(args[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for line in source.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            tests = "\n".join(record["test_list"])
            question = f"{record['text']}\nYour code should pass these tests:\n{tests}\n{ANSWER}"
            spec = {"test_list": record["test_list"], "test_setup_code": record.get("test_setup_code", "")}
            row = {"prompt": [{"role": "user", "content": question}], "tests": json.dumps(spec)}
            handle.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
