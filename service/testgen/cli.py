"""``python -m service.testgen CORPUS --out dataset.jsonl``: the corpus pipeline on a
local sandbox pool (no API, Redis or worker; ``utrs testgen`` is the same pipeline
calling a service's ``/v1/testgen``).

    python -m service.testgen /usr/lib/python3.11/textwrap.py --out rows.jsonl
    python -m service.testgen corpus/ --out rows.jsonl --limit 500 --pool-size 2
    python -m service.testgen functions.jsonl --out rows.jsonl --no-language-filter

Run again with the same ``--out`` to resume. The funnel is printed (JSON) at the end and
written to ``OUT.funnel.json``.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import logging
import sys
from pathlib import Path
from typing import Protocol

from service.errors import InvalidField, SandboxError
from service.settings import get_settings
from service.testgen.corpus import read_corpus
from service.testgen.dataset import Filters, Funnel, build_dataset
from service.testgen.decontam import Decontaminator, benchmark_texts
from service.testgen.extract import Instance
from service.testgen.language import LanguageFilter
from service.testgen.models import TestgenItem, TestgenResult
from service.testgen.options import Prefer, TestgenOptions

__all__ = ["add_corpus_arguments", "corpus_and_filters", "main", "progress_bar", "write_funnel"]

# The benchmark copies the repository bundles (MBPP, APPS selection), when run from a checkout.
_BUNDLED = Path(__file__).resolve().parents[2] / "trainer_example" / "data"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m service.testgen", description=__doc__.split("\n\n")[0])
    add_corpus_arguments(p)
    p.add_argument("--pool-size", type=int, default=None, help="containers per pool (default: settings)")
    p.add_argument("--max-candidates", type=int, default=TestgenOptions.max_candidates)
    p.add_argument("--mutants", type=int, default=TestgenOptions.mutants)
    p.add_argument("--prefer", choices=[p.value for p in Prefer], default=Prefer.AUTO.value)
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def add_corpus_arguments(p: argparse.ArgumentParser) -> None:
    """The corpus, filter and output arguments (also ``utrs testgen``'s)."""
    p.add_argument("corpus", type=Path, help="directory of .py files, a .py, a .jsonl of functions, or a HF dataset")
    p.add_argument("--out", type=Path, required=True, help="dataset JSONL (appended to; resumable)")
    p.add_argument("--limit", type=int, default=None, help="at most this many extracted functions")
    p.add_argument("--batch", type=int, default=32, help="functions per testgen call")
    p.add_argument("--include-private", action="store_true", help="also _private functions and methods")
    p.add_argument("--column", default=None, help="the code column of a JSONL/HF corpus")
    p.add_argument("--split", default="train", help="the split of a saved HF DatasetDict")
    p.add_argument("--no-language-filter", action="store_true")
    p.add_argument("--min-tokens", type=int, default=10)
    p.add_argument("--max-tokens", type=int, default=512)
    p.add_argument("--no-decontaminate", action="store_true")
    p.add_argument("--benchmark", type=Path, action="append", default=[],
                   help="a benchmark JSONL to decontaminate against (HumanEval and the bundled MBPP/APPS always)")
    p.add_argument("--drop-reference", action="store_true", help="rows without the reference (replay starts empty)")
    p.add_argument("--n-tests", type=int, default=TestgenOptions.n_tests)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def corpus_and_filters(args: argparse.Namespace) -> tuple[list[Instance], Filters]:
    """The instances of ``args.corpus`` and the text filters the arguments ask for.

    Raises:
        InvalidField: the corpus cannot be read as one of the known kinds.
        ImportError: a filter's package (the ``testgen`` extra) is not installed.
    """
    instances = list(itertools.islice(read_corpus(args.corpus, include_private=args.include_private,
                                                  column=args.column, split=args.split), args.limit))
    filters = Filters(language=None if args.no_language_filter else LanguageFilter(),
                      min_tokens=args.min_tokens, max_tokens=args.max_tokens)
    if not args.no_decontaminate:
        bundled = [_BUNDLED / n for n in ("mbpp.jsonl", "apps_selected150.jsonl") if (_BUNDLED / n).exists()]
        filters.decontaminator = Decontaminator(benchmark_texts([*bundled, *args.benchmark]))
    return instances, filters


def write_funnel(out: Path, funnel: Funnel) -> str:
    """The funnel as JSON, also written to ``OUT.funnel.json``."""
    summary = json.dumps(funnel.as_dict(), indent=2)
    out.with_name(out.name + ".funnel.json").write_text(summary + "\n", encoding="utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    # Here, not at the top: ``utrs testgen`` reuses this module's corpus arguments on a
    # client machine, without the sandbox's Docker SDK.
    from service.testgen.pipeline import testgen
    from service.testgen.pools import open_pools

    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    options = TestgenOptions(n_tests=args.n_tests, max_candidates=args.max_candidates, mutants=args.mutants,
                             prefer=Prefer(args.prefer))
    try:
        instances, filters = corpus_and_filters(args)
        settings = get_settings()
        with open_pools(settings, options, size=args.pool_size) as pools, \
                progress_bar(len(instances), args.quiet) as bar:
            def generate(items: list[TestgenItem]) -> list[TestgenResult]:
                return testgen(items, pools, pools.main.settings, options)

            funnel = build_dataset(instances, args.out, generate, filters=filters, batch=args.batch,
                                   keep_reference=not args.drop_reference, progress=bar.update)
    except (InvalidField, ImportError) as exc:
        print(f"testgen: {exc}", file=sys.stderr)
        return 2
    except SandboxError as exc:
        print(f"testgen: the sandbox is not available: {exc}", file=sys.stderr)
        return 3
    print(write_funnel(args.out, funnel))
    return 0


class _Bar(Protocol):
    def update(self, n: int) -> object: ...

    def __enter__(self) -> _Bar: ...

    def __exit__(self, *exc: object) -> object: ...


def progress_bar(total: int, quiet: bool) -> _Bar:
    """A tqdm bar on stderr (tqdm ships no type stubs: reached through importlib)."""
    tqdm = importlib.import_module("tqdm")
    bar: _Bar = tqdm.tqdm(total=total, unit="fn", disable=quiet, file=sys.stderr, mininterval=1.0)
    return bar
