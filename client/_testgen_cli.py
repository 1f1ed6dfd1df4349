"""``utrs testgen CORPUS --out dataset.jsonl``: the corpus pipeline against a service.

Extraction, the language and length filters and decontamination run here (they only
parse the corpus); the references run on the service (``POST /v1/testgen``, in batches
of ``--batch``). Rows and the resumable state are the same as ``python -m
service.testgen``'s (docs/testgen.md): run it again with the same ``--out`` to go on.
Needs the ``testgen`` extra (``pip install 'utrs[testgen]'``).
"""

from __future__ import annotations

import argparse
import sys

from client.client import RewardClient
from client.errors import ClientError

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from service.testgen.cli import add_corpus_arguments

    p = commands.add_parser("testgen", help="generate unit tests for a code corpus (a dataset JSONL)",
                            description=__doc__.split("\n\n")[0])
    add_corpus_arguments(p)
    p.add_argument("--url", default=None, help="service base URL (default: $UTRS_URL)")
    p.add_argument("--api-key", default=None, help="API key (default: $UTRS_API_KEY)")
    p.add_argument("--timeout", type=float, default=900.0, help="per request, seconds (pending items are polled)")


def run(args: argparse.Namespace) -> int:
    """0: done; 1: the service could not be used (what is done is kept; run again to
    resume); 2: the corpus or a filter could not be read."""
    from service.errors import InvalidField
    from service.testgen.cli import corpus_and_filters, progress_bar, write_funnel
    from service.testgen.dataset import build_dataset

    try:
        instances, filters = corpus_and_filters(args)
    except (InvalidField, ImportError, OSError) as exc:
        print(f"utrs testgen: {exc}", file=sys.stderr)
        return 2
    try:
        with RewardClient(args.url, api_key=args.api_key, timeout_s=args.timeout) as rewards, \
                progress_bar(len(instances), args.quiet) as bar:
            funnel = build_dataset(instances, args.out, lambda items: rewards.testgen(items, batch=args.batch),
                                   filters=filters, batch=args.batch, keep_reference=not args.drop_reference,
                                   n_tests=args.n_tests, progress=bar.update)
    except ClientError as exc:
        print(f"utrs testgen: {type(exc).__name__}: {exc}; what is done is kept in {args.out} "
              "(run the same command again to resume)", file=sys.stderr)
        return 1
    print(write_funnel(args.out, funnel))
    return 0
