"""``utrs``: evaluate a JSONL file of programs against a running service, or generate
unit tests for a code corpus with it.

    utrs evaluate problems.jsonl --url http://127.0.0.1:8000 --format mbpp -o results.jsonl
    utrs testgen corpus/ --out dataset.jsonl --url http://127.0.0.1:8000   (client/_testgen_cli.py)

Each input line is one record; ``--format`` says how to read it:

- ``items``: a wire ``Item`` (``code``, ``tests``, ...).
- ``humaneval``: a HumanEval record; the program is ``completion`` if the line has one,
  else ``canonical_solution``.
- ``mbpp``: an MBPP record; the program is ``completion``, else the reference ``code``.
- ``apps``: an APPS record with ``input_output`` (and ``starter_code``); the program is
  ``completion``, else the first of ``solutions``.

Results are written as JSONL, one per input line, in order, as soon as they are judged
(``--resume`` continues a file a failed run left behind); a summary table (pass rate,
outcomes, sub-errors, cache hits, throughput) follows on the terminal. ``--url`` and
``--api-key`` default to ``UTRS_URL`` and ``UTRS_API_KEY``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from enum import IntEnum
from pathlib import Path
from typing import TextIO

from client import _testgen_cli
from client._jsonl import BadRecord, Format, read_items, resume_point, write_result
from client._summary import Summary
from client.client import RewardClient
from client.errors import ClientError
from client.models import Result

__all__ = ["BadRecord", "ExitCode", "Format", "main", "read_items"]


class ExitCode(IntEnum):
    OK = 0
    SERVICE_ERROR = 1  # the service could not be used (after retries) or refused the batch
    BAD_INPUT = 2  # bad arguments or an input line that is not a valid record


def _bounded(kind: Callable[[str], float], low: float, *, strict: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {low:g}, got {text}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="utrs", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("evaluate", help="evaluate a JSONL file of programs")
    count = _bounded(int, 1, strict=False)
    run.add_argument("file", type=Path, help="input JSONL")
    run.add_argument("--url", default=None, help="service base URL (default: $UTRS_URL)")
    run.add_argument("--format", type=Format, choices=list(Format), default=Format.ITEMS)
    run.add_argument("-o", "--out", default="-", help="results JSONL (default: stdout)")
    run.add_argument("--resume", action="store_true",
                     help="keep the results already in --out and evaluate the rest")
    run.add_argument("--api-key", default=None, help="API key (default: $UTRS_API_KEY)")
    run.add_argument("--limit", type=count, default=None, help="only the first N records")
    run.add_argument("--chunk", type=count, default=256, help="programs per request")
    run.add_argument("--concurrency", type=count, default=4, help="requests in flight")
    run.add_argument("--timeout", type=_bounded(float, 0, strict=True), default=600.0,
                     help="per request, seconds")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    with contextlib.suppress(ImportError):  # the testgen extra's corpus tools
        _testgen_cli.add_parser(commands)
    return parser


def _fail(code: ExitCode, message: str) -> ExitCode:
    print(f"utrs: {message}", file=sys.stderr)
    return code


@contextlib.contextmanager
def _output(args: argparse.Namespace, resuming: bool) -> Iterator[TextIO]:
    if args.out == "-":
        yield sys.stdout
        return
    with open(args.out, "a" if resuming else "w", encoding="utf-8") as out:
        yield out


def _evaluate(args: argparse.Namespace) -> ExitCode:
    if args.resume and args.out == "-":
        return _fail(ExitCode.BAD_INPUT, "argument --resume: needs -o/--out FILE")
    try:
        items = read_items(args.file, args.format, int(args.limit) if args.limit else None)
        done = resume_point(Path(args.out), items) if args.resume else 0
    except (OSError, BadRecord) as exc:
        return _fail(ExitCode.BAD_INPUT, str(exc))
    started = time.monotonic()
    results: list[Result] = []
    try:
        with _output(args, args.resume) as out, RewardClient(
            args.url, api_key=args.api_key, timeout_s=args.timeout, max_batch=int(args.chunk),
            concurrency=int(args.concurrency), progress=not args.no_progress,
        ) as rewards:
            for result in rewards.iter_evaluate(items[done:]):
                write_result(result, out)
                results.append(result)
    except ClientError as exc:
        kept = f"; {done + len(results)} result(s) kept in {args.out} (--resume continues)"
        return _fail(ExitCode.SERVICE_ERROR, f"{type(exc).__name__}: {exc}" + (
            kept if args.out != "-" else ""))
    _report(args, Summary.of(results, time.monotonic() - started), done)
    return ExitCode.OK


def _report(args: argparse.Namespace, summary: Summary, done: int) -> None:
    lines = [summary.table()]
    if done:
        lines.insert(0, f"resumed after {done} result(s) already in {args.out}")
    print("\n".join(lines), file=sys.stderr if args.out == "-" else sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``utrs`` console script: 0 judged, 1 service unusable, 2 bad
    arguments (argparse names the argument) or input."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse: 2 for bad arguments (named), 0 for --help
        return int(exc.code) if isinstance(exc.code, int) else int(ExitCode.BAD_INPUT)
    if args.command == "evaluate":
        return int(_evaluate(args))
    if args.command == "testgen":
        return _testgen_cli.run(args)
    return int(ExitCode.BAD_INPUT)  # pragma: no cover - argparse requires a command


if __name__ == "__main__":
    sys.exit(main())
