"""The learning demo's problems: labelled, unlabelled and held-out pools of task families.

PanguCoder-RL's setting, where RL has something SL cannot use: every family is a
template instantiated with a constant ``k`` (``returns x plus {k}``), and its ``(family,
k)`` problems are split, per family, into

- a small **labelled** pool: statement, tests and reference solution (SL trains on it,
  the tiny model is warmed up on it, and the actor-critic's replay buffer is seeded with
  it);
- a larger **unlabelled** pool: statement and tests, no solution (only the RL arms can
  learn from it, through the service's verdicts);
- **held-out** problems of the same families, never trained on, for the evaluation.

The tests' inputs depend on ``k`` where a fixed input would not tell two constants apart
(``x > k`` is checked at ``k`` and ``k + 1``), so a program passes only with the right
constant; :func:`distinguishes` checks that. Expected values come from trusted oracles
here; the model's programs run only in the service.

The pools are written as item JSONL (``{"id", "text", "tests", "code"}``, the format
``--data PATH`` reads), so another source of problems (generated tests without
solutions) can stand in for the synthetic ones by writing the same three files.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.models import TestKind, Tests
from trainer_example.synthetic import Family, sum_to

__all__ = ["FAMILIES", "POOLS", "Split", "distinguishes", "item_row", "rows", "split", "write_pools"]

POOLS = ("labelled", "unlabelled", "heldout")


def item_row(family: Family, k: int, *, labelled: bool) -> dict[str, Any]:
    """One item row; the first test is shown in the statement (the prompt's example)."""
    cases = family.cases(k)
    text = f"Write a function {family.signature} that {family.text.format(k=k)}.\n{cases[0].code}"
    tests = Tests(kind=TestKind.ASSERT, cases=cases)
    wire = tests.model_dump(mode="json", exclude_none=True)
    row: dict[str, Any] = {"id": f"demo/{family.name}/{k}", "text": text, "tests": wire}
    if labelled:
        row["code"] = family.code.format(k=k)
    return row


def _family(
    name: str, text: str, code: str, oracle: Callable[[Any, int], Any], inputs: Callable[[int], tuple[Any, ...]]
) -> Family:
    fn = code.removeprefix("def ").split("(", 1)[0]
    return Family(name, text, code, fn, oracle, inputs)


FAMILIES: tuple[Family, ...] = (
    _family(
        "plus",
        "returns x plus {k}",
        "def add(x):\n    return x + {k}\n",
        lambda x, k: x + k,
        lambda k: (0, 4, -3),
    ),
    _family(
        "minus",
        "returns x minus {k}",
        "def sub(x):\n    return x - {k}\n",
        lambda x, k: x - k,
        lambda k: (0, 10, 7),
    ),
    _family(
        "times",
        "returns x times {k}",
        "def mul(x):\n    return x * {k}\n",
        lambda x, k: x * k,
        lambda k: (3, 1, -2),
    ),
    _family(
        "greater",
        "returns True when x is greater than {k}",
        "def greater(x):\n    return x > {k}\n",
        lambda x, k: x > k,
        lambda k: (k + 1, k, 0),
    ),
    _family(
        "add_each",
        "returns a list with {k} added to each item of xs",
        "def add_each(xs):\n    return [v + {k} for v in xs]\n",
        lambda xs, k: [v + k for v in xs],
        lambda k: ([1, 2], [], [5]),
    ),
    _family(
        "count",
        "returns how many items of xs are equal to {k}",
        "def count_eq(xs):\n    return xs.count({k})\n",
        lambda xs, k: xs.count(k),
        lambda k: ([k, 0, k], [], [k + 1, k - 1, k]),
    ),
    _family(
        "repeat",
        "returns the string s repeated {k} times",
        "def repeat(s):\n    return s * {k}\n",
        lambda s, k: s * k,
        lambda k: ("ab", "", "x"),
    ),
    _family(
        "first",
        "returns the first {k} items of xs",
        "def first(xs):\n    return xs[:{k}]\n",
        lambda xs, k: xs[:k],
        lambda k: (list(range(1, k + 3)), [], [9] * (k + 1)),
    ),
    _family(
        "rem",
        "returns the remainder of x divided by {k}",
        "def rem(x):\n    return x % {k}\n",
        lambda x, k: x % k,
        lambda k: (2 * k - 1, k, k - 1),
    ),
    _family(
        "sum_plus",
        "returns the sum of xs plus {k}",
        "def sum_plus(xs):\n    return sum(xs) + {k}\n",
        lambda xs, k: sum(xs) + k,
        lambda k: ([1, 2], [], [10, -3]),
    ),
    _family(
        "largest",
        "returns the largest item of xs, or {k} when xs is empty",
        "def largest(xs):\n    if not xs:\n        return {k}\n    return max(xs)\n",
        lambda xs, k: max(xs) if xs else k,
        lambda k: ([], [1, 9, 3], [-5]),
    ),
    _family(
        "total",
        "returns the sum of i times {k} for i from 1 to n",
        "def total(n):\n    s = 0\n    for i in range(1, n + 1):\n        s += i * {k}\n    return s\n",
        sum_to,
        lambda k: (3, 0, 5),
    ),
)


def distinguishes(family: Family, k: int, others: Sequence[int]) -> bool:
    """Whether the tests of ``(family, k)`` fail the family's program for every other constant."""
    inputs = family.inputs_at(k)
    expected = [family.oracle(arg, k) for arg in inputs]
    return all([family.oracle(arg, j) for arg in inputs] != expected for j in others if j != k)


@dataclass(frozen=True)
class Split:
    """Constants per family and how many of each family go to each pool."""

    ks: range = range(2, 21)
    labelled: int = 4
    heldout: int = 4
    seed: int = 0

    def assign(self) -> dict[str, dict[str, list[int]]]:
        """Per pool, per family, the constants (a seeded shuffle per family)."""
        out: dict[str, dict[str, list[int]]] = {pool: {} for pool in POOLS}
        for index, family in enumerate(FAMILIES):
            ks = list(self.ks)
            random.Random(self.seed * 1000 + index).shuffle(ks)
            # held-out first, so that the held-out problems do not depend on the labelled size
            labelled_end = self.heldout + self.labelled
            out["heldout"][family.name] = sorted(ks[: self.heldout])
            out["labelled"][family.name] = sorted(ks[self.heldout : labelled_end])
            out["unlabelled"][family.name] = sorted(ks[labelled_end:])
        return out


def rows(config: Split) -> dict[str, list[dict[str, Any]]]:
    """The three pools as item rows (only the labelled ones carry ``code``)."""
    by_name = {f.name: f for f in FAMILIES}
    return {
        pool: [item_row(by_name[name], k, labelled=pool == "labelled") for name, ks in families.items() for k in ks]
        for pool, families in config.assign().items()
    }


def split(config: Split) -> dict[str, list[dict[str, Any]]]:
    """:func:`rows`, checked: every problem's tests tell its constant from the others."""
    for family in FAMILIES:
        for k in config.ks:
            if not distinguishes(family, k, range(1, 3 * max(config.ks))):
                raise ValueError(f"{family.name}/{k}: the tests do not pin the constant down")
    return rows(config)


def write_pools(out: Path, config: Split) -> dict[str, Path]:
    """Write ``labelled.jsonl``, ``unlabelled.jsonl``, ``heldout.jsonl`` and ``train.jsonl``
    (labelled + unlabelled, what the RL arms sample from) under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    pools = split(config)
    pools["train"] = pools["labelled"] + pools["unlabelled"]
    paths = {}
    for name, items in pools.items():
        path = out / f"{name}.jsonl"
        path.write_text("".join(json.dumps(item) + "\n" for item in items))
        paths[name] = path
    return paths
