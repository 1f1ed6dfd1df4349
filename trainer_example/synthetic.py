"""A small family of synthetic tasks: simple functions with unit tests.

Each task is one template instantiated with a constant ``k``; the expected values of its
tests come from a trusted Python function here (the model's programs are never run on
the host, only in the service). Small enough for a tiny model to learn on a CPU in
minutes, varied enough that the model makes every kind of mistake on the way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from client.models import Case, TestKind, Tests
from trainer_example.data import Problem

__all__ = ["FAMILIES", "Family", "sum_to", "synthetic_problems"]


@dataclass(frozen=True)
class Family:
    """A task template: its statement and reference with ``{k}``, the function's name, a
    trusted oracle ``(input, k) -> expected`` and the test inputs (the same for every
    ``k``, or chosen per ``k``)."""

    name: str
    text: str  # with {k}
    code: str  # with {k}
    fn: str
    oracle: Callable[[Any, int], Any]
    inputs: tuple[Any, ...] | Callable[[int], tuple[Any, ...]]

    def inputs_at(self, k: int) -> tuple[Any, ...]:
        return self.inputs(k) if callable(self.inputs) else self.inputs

    def cases(self, k: int) -> list[Case]:
        return [Case(code=f"assert {self.fn}({arg!r}) == {self.oracle(arg, k)!r}") for arg in self.inputs_at(k)]

    @property
    def signature(self) -> str:
        return self.code.split(":", 1)[0].removeprefix("def ")


def sum_to(n: int, k: int) -> int:
    return sum(i * k for i in range(1, n + 1))


FAMILIES: tuple[Family, ...] = (
    Family(
        "plus",
        "returns x plus {k}",
        "def add(x):\n    return x + {k}\n",
        "add",
        lambda x, k: x + k,
        (0, 4, -3),
    ),
    Family(
        "minus",
        "returns x minus {k}",
        "def sub(x):\n    return x - {k}\n",
        "sub",
        lambda x, k: x - k,
        (0, 10, 7),
    ),
    Family(
        "times",
        "returns x times {k}",
        "def mul(x):\n    return x * {k}\n",
        "mul",
        lambda x, k: x * k,
        (1, 3, -2),
    ),
    Family(
        "greater",
        "returns True when x is greater than {k}",
        "def greater(x):\n    return x > {k}\n",
        "greater",
        lambda x, k: x > k,
        (0, 5, 12),
    ),
    Family(
        "add_each",
        "returns a list with {k} added to each item of xs",
        "def add_each(xs):\n    return [v + {k} for v in xs]\n",
        "add_each",
        lambda xs, k: [v + k for v in xs],
        ([1, 2], [], [5]),
    ),
    Family(
        "count",
        "returns how many items of xs are equal to {k}",
        "def count_eq(xs):\n    return xs.count({k})\n",
        "count_eq",
        lambda xs, k: xs.count(k),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9], [], [4, 4, 4]),
    ),
    Family(
        "repeat",
        "returns the string s repeated {k} times",
        "def repeat(s):\n    return s * {k}\n",
        "repeat",
        lambda s, k: s * k,
        ("ab", "", "x"),
    ),
    Family(
        "first",
        "returns the first {k} items of xs",
        "def first(xs):\n    return xs[:{k}]\n",
        "first",
        lambda xs, k: xs[:k],
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [], [3, 1]),
    ),
    Family(
        "rem",
        "returns the remainder of x divided by {k}",
        "def rem(x):\n    return x % {k}\n",
        "rem",
        lambda x, k: x % k,
        (17, 4, 100),
    ),
    Family(
        "sum_plus",
        "returns the sum of xs plus {k}",
        "def sum_plus(xs):\n    return sum(xs) + {k}\n",
        "sum_plus",
        lambda xs, k: sum(xs) + k,
        ([1, 2], [], [10, -3]),
    ),
    Family(
        "largest",
        "returns the largest item of xs, or {k} when xs is empty",
        "def largest(xs):\n    if not xs:\n        return {k}\n    return max(xs)\n",
        "largest",
        lambda xs, k: max(xs) if xs else k,
        ([1, 9, 3], [], [-5]),
    ),
    Family(
        "total",
        "returns the sum of i times {k} for i from 1 to n",
        "def total(n):\n    s = 0\n    for i in range(1, n + 1):\n        s += i * {k}\n    return s\n",
        "total",
        sum_to,
        (0, 3, 5),
    ),
)


def _problem(family: Family, k: int) -> Problem:
    cases = family.cases(k)
    text = f"Write a function {family.signature} that " + family.text.format(k=k) + "."
    return Problem(
        id=f"syn/{family.name}/{k}",
        text=text,
        reference=family.code.format(k=k),
        tests=Tests(kind=TestKind.ASSERT, cases=cases),
        examples=(cases[0].code or "",),
    )


def synthetic_problems(ks: range = range(1, 10)) -> list[Problem]:
    """Every family instantiated with every ``k`` (108 problems by default)."""
    return [_problem(family, k) for family in FAMILIES for k in ks]
