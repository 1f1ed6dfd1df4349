"""``utrs-sandbox``: run a JSONL file of items through the sandbox, print results as JSONL.

    utrs-sandbox items.jsonl > results.jsonl
    utrs-sandbox - < items.jsonl            # read stdin

No API, Redis or worker involved: useful before deploying, and for debugging. A line
that is not a valid item yields ``{"line": n, "error": "..."}`` on stdout and the run
goes on.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from typing import BinaryIO, TextIO

from pydantic import ValidationError

from client.models import Item
from service.budgets import check_item
from service.errors import InvalidField, SandboxError
from service.sandbox.executor import evaluate_items
from service.sandbox.pool import SandboxPool
from service.settings import Settings, get_settings


def _parse(lines: BinaryIO, settings: Settings) -> Iterator[tuple[int, Item | str]]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, f"line {number}: not UTF-8 ({exc.reason} at byte {exc.start})"
            continue
        try:
            item = Item.model_validate_json(text)
            check_item(item, settings, field=f"line {number}")
        except ValidationError as exc:
            yield number, _first_error(exc)
            continue
        except InvalidField as exc:
            yield number, str(exc)
            continue
        yield number, item


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "item"
    return f"{where}: {err['msg']}"


def _batches(parsed: Iterator[tuple[int, Item | str]], size: int) -> Iterator[list[tuple[int, Item | str]]]:
    batch: list[tuple[int, Item | str]] = []
    for entry in parsed:
        batch.append(entry)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def run(source: BinaryIO, out: TextIO, pool: SandboxPool, *, batch_size: int) -> int:
    """Judge every item of ``source``; how many lines were refused."""
    refused = 0
    for batch in _batches(_parse(source, pool.settings), batch_size):
        items = [entry for _, entry in batch if isinstance(entry, Item)]
        results = iter(evaluate_items(pool, items))
        for number, entry in batch:
            if isinstance(entry, str):
                refused += 1
                out.write(json.dumps({"line": number, "error": entry}) + "\n")
            else:
                out.write(next(results).model_dump_json() + "\n")
        out.flush()
    return refused


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="utrs-sandbox", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="JSONL of items (api.md ITEM), or - for stdin")
    parser.add_argument("--pool-size", type=int, default=None, help="containers (default: settings)")
    parser.add_argument("--batch", type=int, default=256, help="items judged together")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    settings = get_settings()
    try:
        with SandboxPool(settings, size=args.pool_size) as pool:
            if args.file == "-":
                refused = run(sys.stdin.buffer, sys.stdout, pool, batch_size=args.batch)
            else:
                with open(args.file, "rb") as fh:
                    refused = run(fh, sys.stdout, pool, batch_size=args.batch)
    except SandboxError as exc:
        print(f"utrs-sandbox: {exc}", file=sys.stderr)
        return 2
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
