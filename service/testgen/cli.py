"""``python -m service.testgen CORPUS --out dataset.jsonl``: the corpus pipeline on a
local sandbox pool (no API, Redis or worker; phase 2 adds ``utrs testgen`` calling
``/v1/testgen``).

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
from service.testgen.dataset import Filters, build_dataset
from service.testgen.decontam import Decontaminator, benchmark_texts
from service.testgen.language import LanguageFilter
from service.testgen.options import Prefer, TestgenOptions
from service.testgen.pools import open_pools

__all__ = ["main"]

# The benchmark copies the repository bundles (MBPP, APPS selection), when run from a checkout.
_BUNDLED = Path(__file__).resolve().parents[2] / "trainer_example" / "data"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m service.testgen", description=__doc__.split("\n\n")[0])
    p.add_argument("corpus", type=Path, help="directory of .py files, a .py, a .jsonl of functions, or a HF dataset")
    p.add_argument("--out", type=Path, required=True, help="dataset JSONL (appended to; resumable)")
    p.add_argument("--limit", type=int, default=None, help="at most this many extracted functions")
    p.add_argument("--batch", type=int, default=32, help="functions per testgen call")
    p.add_argument("--pool-size", type=int, default=None, help="containers per pool (default: settings)")
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
    p.add_argument("--max-candidates", type=int, default=TestgenOptions.max_candidates)
    p.add_argument("--mutants", type=int, default=TestgenOptions.mutants)
    p.add_argument("--prefer", choices=[p.value for p in Prefer], default=Prefer.AUTO.value)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    options = TestgenOptions(n_tests=args.n_tests, max_candidates=args.max_candidates, mutants=args.mutants,
                             prefer=Prefer(args.prefer))
    try:
        instances = list(itertools.islice(read_corpus(args.corpus, include_private=args.include_private,
                                                      column=args.column, split=args.split), args.limit))
        filters = Filters(language=None if args.no_language_filter else LanguageFilter(),
                          min_tokens=args.min_tokens, max_tokens=args.max_tokens)
        if not args.no_decontaminate:
            bundled = [_BUNDLED / n for n in ("mbpp.jsonl", "apps_selected150.jsonl") if (_BUNDLED / n).exists()]
            filters.decontaminator = Decontaminator(benchmark_texts([*bundled, *args.benchmark]))
        settings = get_settings()
        with open_pools(settings, options, size=args.pool_size) as pools, _bar(len(instances), args.quiet) as bar:
            funnel = build_dataset(instances, args.out, pools, pools.main.settings, options=options, filters=filters,
                                   batch=args.batch, keep_reference=not args.drop_reference, progress=bar.update)
    except (InvalidField, ImportError) as exc:
        print(f"testgen: {exc}", file=sys.stderr)
        return 2
    except SandboxError as exc:
        print(f"testgen: the sandbox is not available: {exc}", file=sys.stderr)
        return 3
    summary = json.dumps(funnel.as_dict(), indent=2)
    args.out.with_name(args.out.name + ".funnel.json").write_text(summary + "\n", encoding="utf-8")
    print(summary)
    return 0


class _Bar(Protocol):
    def update(self, n: int) -> object: ...

    def __enter__(self) -> _Bar: ...

    def __exit__(self, *exc: object) -> object: ...


def _bar(total: int, quiet: bool) -> _Bar:
    """A tqdm bar on stderr (tqdm ships no type stubs: reached through importlib)."""
    tqdm = importlib.import_module("tqdm")
    bar: _Bar = tqdm.tqdm(total=total, unit="fn", disable=quiet, file=sys.stderr, mininterval=1.0)
    return bar
