"""``utrs``: evaluate a JSONL file of programs against a running service.

    utrs evaluate problems.jsonl --url http://127.0.0.1:8000 --format mbpp -o results.jsonl

Each input line is one record; ``--format`` says how to read it:

- ``items``: a wire ``Item`` (``code``, ``tests``, ...).
- ``humaneval``: a HumanEval record; the program is ``completion`` if the line has one,
  else ``canonical_solution``.
- ``mbpp``: an MBPP record; the program is ``completion``, else the reference ``code``.
- ``apps``: an APPS record with ``input_output`` (and ``starter_code``); the program is
  ``completion``, else the first of ``solutions``.

Results are written as JSONL, one per input line, in order; a summary table (pass rate,
outcomes, sub-errors, cache hits, throughput) follows on the terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from client import builders
from client._summary import Summary
from client.client import RewardClient
from client.errors import ClientError
from client.models import Item, Result

__all__ = ["ExitCode", "main"]


class ExitCode(IntEnum):
    OK = 0
    SERVICE_ERROR = 1  # the service could not be used (after retries) or refused the batch
    BAD_INPUT = 2  # bad arguments or an input line that is not a valid record


class Format(StrEnum):
    ITEMS = "items"
    HUMANEVAL = "humaneval"
    MBPP = "mbpp"
    APPS = "apps"


class BadRecord(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")


def _apps_program(record: Mapping[str, Any]) -> str:
    if "completion" in record:
        return str(record["completion"])
    solutions = record.get("solutions") or []
    if isinstance(solutions, str):
        solutions = json.loads(solutions)
    if not solutions:
        raise ValueError("no 'completion' and no 'solutions' to evaluate")
    return str(solutions[0])


_READERS: dict[Format, Callable[[dict[str, Any]], Item]] = {
    Format.ITEMS: Item.model_validate,
    Format.HUMANEVAL: lambda r: builders.from_humaneval(
        r, r["completion"] if "completion" in r else r["canonical_solution"]
    ),
    Format.MBPP: lambda r: builders.from_mbpp(r, r.get("completion")),
    Format.APPS: lambda r: builders.from_apps(r, _apps_program(r)),
}


def read_items(path: Path, fmt: Format, limit: int | None = None) -> list[Item]:
    """The file's records as items (blank lines skipped).

    Raises:
        BadRecord: a line is not JSON or not a valid record of ``fmt``.
    """
    reader = _READERS[fmt]
    items: list[Item] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if limit is not None and len(items) >= limit:
                break
            if not line.strip():
                continue
            try:
                items.append(reader(json.loads(line)))
            except (ValueError, KeyError, TypeError, ValidationError) as exc:
                raise BadRecord(number, f"{type(exc).__name__}: {exc}") from exc
    return items


def write_results(results: Sequence[Result], out: TextIO) -> None:
    for result in results:
        out.write(result.model_dump_json(exclude_none=True) + "\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="utrs", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("evaluate", help="evaluate a JSONL file of programs")
    run.add_argument("file", type=Path, help="input JSONL")
    run.add_argument("--url", default="http://127.0.0.1:8000", help="service base URL")
    run.add_argument("--format", type=Format, choices=list(Format), default=Format.ITEMS)
    run.add_argument("-o", "--out", default="-", help="results JSONL (default: stdout)")
    run.add_argument("--api-key", default=None)
    run.add_argument("--limit", type=int, default=None, help="only the first N records")
    run.add_argument("--chunk", type=int, default=256, help="programs per request")
    run.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    run.add_argument("--timeout", type=float, default=600.0, help="per request, seconds")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _evaluate(args: argparse.Namespace) -> ExitCode:
    try:
        items = read_items(args.file, args.format, args.limit)
    except (OSError, BadRecord) as exc:
        print(f"utrs: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    started = time.monotonic()
    try:
        with RewardClient(
            args.url, api_key=args.api_key, timeout_s=args.timeout, max_batch=args.chunk,
            concurrency=args.concurrency, progress=not args.no_progress,
        ) as rewards:
            results = rewards.evaluate(items)
    except ClientError as exc:
        print(f"utrs: {type(exc).__name__}: {exc}", file=sys.stderr)
        return ExitCode.SERVICE_ERROR
    summary = Summary.of(results, time.monotonic() - started)
    if args.out == "-":
        write_results(results, sys.stdout)
        print(summary.table(), file=sys.stderr)
    else:
        with open(args.out, "w", encoding="utf-8") as out:
            write_results(results, out)
        print(summary.table())
    return ExitCode.OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``utrs`` console script."""
    args = _parser().parse_args(argv)
    if args.command == "evaluate":
        return int(_evaluate(args))
    return int(ExitCode.BAD_INPUT)  # pragma: no cover - argparse requires a command


if __name__ == "__main__":
    sys.exit(main())
