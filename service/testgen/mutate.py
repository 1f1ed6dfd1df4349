"""Type-aware mutation of seed inputs (EvalPlus's approach, Liu et al., 2023).

From a pool that starts with the seeds, an input is picked at random, one of its
arguments is mutated according to its runtime type (ints nudged and sent to their
boundaries, strings and lists grown, shrunk, reversed and given unicode, containers
emptied, elements mutated recursively, dictionary keys added and removed), and the
result joins the pool. Deterministic for a given ``seed``; sizes stay bounded so the
reference's outputs stay small enough to be tests.

Strings also mutate within their shape (:class:`Shapes`): a string is read as tokens
(runs of letters, runs of digits, single other characters), and a token is replaced by
another of its class from the vocabulary (the tokens of every seed string and of the
function's string constants), a digit run gets another length, a vocabulary word is
inserted or dropped beside the seed's separator, or a new string is made of vocabulary
words joined by that separator: ``"example.txt"`` → ``"exam123ple.dll"``,
``"three one five"`` → ``"nine two two zero"``, ``"MCMXCIV"`` → ``"MMXLIV"``. Mutation
that ignores the shape mostly leaves a grammar (file names, number words, numerals), and
the reference then raises or answers the same "invalid" for every input.
"""

from __future__ import annotations

import contextlib
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from service.testgen.values import key

__all__ = ["Shapes", "mutate_inputs", "mutate_value", "shaped", "strings_of", "tokens"]

MAX_LEN = 40
MAX_INT = 10**9
_CHARS = ("a", "Z", "0", " ", "_", "é", "ß", "中", "\n", "!", "A", "z")


_TOKEN = re.compile(r"[^\W\d_]+|\d+|.", re.DOTALL)


def tokens(text: str) -> list[str]:
    """``"abc12.txt"`` → ``["abc", "12", ".", "txt"]``: letter runs, digit runs, other characters."""
    return _TOKEN.findall(text)


def _class(token: str) -> str:
    return "digits" if token.isdigit() else "letters" if token.isalpha() else token


@dataclass(frozen=True)
class Shapes:
    """The vocabulary shape-aware string mutation draws from: tokens of each class."""

    words: tuple[str, ...] = ()  # letter runs
    numbers: tuple[str, ...] = ()  # digit runs
    marks: tuple[str, ...] = ()  # other characters (separators, punctuation)

    @classmethod
    def of(cls, texts: Iterable[str]) -> Shapes:
        words: dict[str, None] = {}
        numbers: dict[str, None] = {}
        marks: dict[str, None] = {}
        for text in texts:
            for token in tokens(text[:200]):
                kind = _class(token)
                (words if kind == "letters" else numbers if kind == "digits" else marks)[token] = None
        return cls(tuple(words)[:40], tuple(numbers)[:20], tuple(marks)[:12])

    def __bool__(self) -> bool:
        return bool(self.words or self.numbers or self.marks)


def strings_of(value: Any, depth: int = 0) -> list[str]:
    """The strings in a value (containers walked, a few levels)."""
    if isinstance(value, str):
        return [value]
    if depth > 3:
        return []
    if isinstance(value, dict):
        return [s for pair in value.items() for v in pair for s in strings_of(v, depth + 1)]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [s for v in value for s in strings_of(v, depth + 1)]
    return []


def mutate_inputs(seeds: list[tuple[Any, ...]], count: int, *, seed: int = 0,
                  shapes: Shapes | None = None) -> list[tuple[Any, ...]]:
    """Up to ``count`` new argument tuples mutated from ``seeds`` (seeds not repeated);
    with ``shapes``, half the string mutations keep the seed's shape."""
    rng = random.Random(seed)
    pool = [s for s in seeds if s]
    seen = {key(s) for s in seeds}
    out: list[tuple[Any, ...]] = []
    tries = 0
    while pool and len(out) < count and tries < count * 20:
        tries += 1
        parent = rng.choice(pool if rng.random() < 0.7 else pool[: len(seeds)] or pool)
        position = rng.randrange(len(parent))
        child = (*parent[:position], mutate_value(parent[position], rng, shapes=shapes), *parent[position + 1:])
        text = key(child)
        if text not in seen:
            seen.add(text)
            out.append(child)
            pool.append(child)
    return out


def mutate_value(value: Any, rng: random.Random, depth: int = 0, *, shapes: Shapes | None = None) -> Any:
    """One random mutation of ``value`` that keeps its type (containers recursively;
    strings within their shape half the time, with ``shapes``)."""
    if type(value) is str and shapes and rng.random() < 0.5:
        return shaped(value, rng, shapes)
    handler = _BY_TYPE.get(type(value))
    if handler is None or depth > 4:
        return value
    return handler(value, rng, depth, shapes)


def shaped(x: str, rng: random.Random, shapes: Shapes) -> str:
    """A mutation of ``x`` that keeps its shape (see the module's docstring)."""
    parts = tokens(x)
    options = _token_changes(parts, rng, shapes) + _sentence_changes(x, parts, rng, shapes)
    if not options:
        return _str(x, rng, 0)
    return rng.choice(options)()[:MAX_LEN * 2]


def _token_changes(parts: list[str], rng: random.Random, shapes: Shapes) -> list[Callable[[], str]]:
    words = [i for i, t in enumerate(parts) if t.isalpha()]
    numbers = [i for i, t in enumerate(parts) if t.isdigit()]
    options: list[Callable[[], str]] = []
    if words and shapes.words:
        def word() -> str:
            i = rng.choice(words)
            return "".join([*parts[:i], rng.choice(shapes.words), *parts[i + 1:]])
        options += [word, word]
    if numbers:
        def number() -> str:
            i = rng.choice(numbers)
            length = max(1, len(parts[i]) + rng.choice((-1, 1, 2)))
            digits = "".join(rng.choice("0123456789") for _ in range(length))
            return "".join([*parts[:i], rng.choice([*shapes.numbers, digits]) if rng.random() < 0.3 else digits,
                            *parts[i + 1:]])
        options.append(number)
    if words:
        def digits_in() -> str:  # a digit run inside a word, of one to five digits
            i = rng.choice(words)
            at = rng.randrange(len(parts[i]) + 1)
            run = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 5)))
            return "".join([*parts[:i], parts[i][:at] + run + parts[i][at:], *parts[i + 1:]])
        options.append(digits_in)
    if shapes.marks:
        def mark() -> str:  # a separator or punctuation added, dropped or changed
            i = rng.randrange(len(parts) + 1)
            choice = rng.randrange(3)
            if choice == 0 or not parts:
                return "".join([*parts[:i], rng.choice(shapes.marks), *parts[i:]])
            j = min(i, len(parts) - 1)
            return "".join([*parts[:j], *([rng.choice(shapes.marks)] if choice == 1 else []), *parts[j + 1:]])
        options.append(mark)
    return options


def _sentence_changes(x: str, parts: list[str], rng: random.Random, shapes: Shapes) -> list[Callable[[], str]]:
    separator = _separator(parts)
    options: list[Callable[[], str]] = []
    if shapes.words and separator is not None:
        units = x.split(separator)

        def insert() -> str:
            at = rng.randrange(len(units) + 1)
            return separator.join([*units[:at], rng.choice(shapes.words), *units[at:]])

        def sentence() -> str:
            return separator.join(rng.choice(shapes.words) for _ in range(rng.randint(2, 9)))

        options += [insert, sentence, sentence]
    return options


def _separator(parts: list[str]) -> str | None:
    """The one-character token between the words of a sentence-like string (``" "``,
    ``","``), if there is one."""
    between = [parts[i] for i in range(1, len(parts) - 1)
               if not parts[i].isalnum() and parts[i - 1].isalnum() and parts[i + 1].isalnum()]
    return max(set(between), key=between.count) if between else None




def _int(x: int, rng: random.Random, depth: int, shapes: Shapes | None = None) -> int:
    options = [x + 1, x - 1, -x, 0, 1, -1, x * 2, x // 2, x + rng.randint(-10, 10), rng.randint(-100, 100),
               10 ** rng.randint(2, 6), -(10 ** rng.randint(2, 6))]
    value: int = rng.choice(options)
    return max(-MAX_INT, min(MAX_INT, value))


def _float(x: float, rng: random.Random, depth: int, shapes: Shapes | None = None) -> float:
    options = [x + 0.5, x - 0.5, -x, 0.0, 1.0, -1.0, x * 1.5, x / 3, round(x, 1), 1e-9, rng.uniform(-100, 100)]
    value = rng.choice(options)
    return value if abs(value) < 1e12 else 0.0


def _bool(x: bool, rng: random.Random, depth: int, shapes: Shapes | None = None) -> bool:
    return not x


def _str(x: str, rng: random.Random, depth: int, shapes: Shapes | None = None) -> str:
    index = rng.randrange(len(x) + 1)
    char = rng.choice(_CHARS + tuple(x))
    options = ["", x + x, x[1:], x[:-1], x[::-1], x.upper(), x.swapcase(), x[:index] + char + x[index:],
               x[:index] + char + x[index + 1:], x + " " + x, char * rng.randint(1, 5)]
    words = x.split(" ")
    if len(words) > 1:  # words in another order, one dropped, one repeated
        drop = rng.randrange(len(words))
        options += [" ".join(rng.sample(words, len(words))), " ".join(words[:drop] + words[drop + 1:]),
                    " ".join([*words, rng.choice(words)])]
    return rng.choice(options)[:MAX_LEN * 2]


def _bytes(x: bytes, rng: random.Random, depth: int, shapes: Shapes | None = None) -> bytes:
    return _str(x.decode("latin-1"), rng, depth).encode("utf-8")[:MAX_LEN]


def _list(x: list[Any], rng: random.Random, depth: int, shapes: Shapes | None = None) -> list[Any]:
    options: list[Callable[[], list[Any]]] = [lambda: [], lambda: x[1:], lambda: x[:-1], lambda: x[::-1]]
    if x:
        index = rng.randrange(len(x))
        options += [
            lambda: [*x[:index], mutate_value(x[index], rng, depth + 1, shapes=shapes), *x[index + 1:]],
            lambda: [*x, mutate_value(rng.choice(x), rng, depth + 1, shapes=shapes)],
            lambda: [*x[:index], x[index], *x[index:]],
            lambda: x + x[: rng.randint(1, len(x))],
            lambda: _sorted_or_same(x),
        ]
    return rng.choice(options)()[:MAX_LEN]


def _sorted_or_same(x: list[Any]) -> list[Any]:
    try:
        return sorted(x)
    except TypeError:
        return list(x)


def _tuple(x: tuple[Any, ...], rng: random.Random, depth: int, shapes: Shapes | None = None) -> tuple[Any, ...]:
    if not x:
        return x
    index = rng.randrange(len(x))
    return (*x[:index], mutate_value(x[index], rng, depth + 1, shapes=shapes), *x[index + 1:])


def _set(x: set[Any] | frozenset[Any], rng: random.Random, depth: int, shapes: Shapes | None = None) -> Any:
    items = sorted(x, key=repr)
    out = set(_list(items, rng, depth, shapes)) if rng.random() < 0.8 else set()
    try:
        return type(x)(out)
    except TypeError:
        return x


def _dict(x: dict[Any, Any], rng: random.Random, depth: int, shapes: Shapes | None = None) -> dict[Any, Any]:
    if not x:
        return x
    keys = list(x)
    chosen = rng.choice(keys)
    out = dict(x)
    action = rng.randrange(4)
    if action == 0:
        return {}
    if action == 1:
        del out[chosen]
    elif action == 2:
        out[chosen] = mutate_value(x[chosen], rng, depth + 1, shapes=shapes)
    else:
        new_key = mutate_value(chosen, rng, depth + 1, shapes=shapes)
        with contextlib.suppress(TypeError):  # an unhashable new key
            out[new_key] = mutate_value(x[chosen], rng, depth + 1, shapes=shapes)
    return out


_BY_TYPE: dict[type, Callable[[Any, random.Random, int, Shapes | None], Any]] = {
    int: _int, float: _float, bool: _bool, str: _str, bytes: _bytes, list: _list, tuple: _tuple,
    set: _set, frozenset: _set, dict: _dict,
}
