"""Type-aware mutation of seed inputs (EvalPlus's approach, Liu et al., 2023).

From a pool that starts with the seeds, an input is picked at random, one of its
arguments is mutated according to its runtime type (ints nudged and sent to their
boundaries, strings and lists grown, shrunk, reversed and given unicode, containers
emptied, elements mutated recursively, dictionary keys added and removed), and the
result joins the pool. Deterministic for a given ``seed``; sizes stay bounded so the
reference's outputs stay small enough to be tests.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from typing import Any

from service.testgen.values import key

__all__ = ["mutate_inputs", "mutate_value"]

MAX_LEN = 40
MAX_INT = 10**9
_CHARS = ("a", "Z", "0", " ", "_", "é", "ß", "中", "\n", "!", "A", "z")


def mutate_inputs(seeds: list[tuple[Any, ...]], count: int, *, seed: int = 0) -> list[tuple[Any, ...]]:
    """Up to ``count`` new argument tuples mutated from ``seeds`` (seeds not repeated)."""
    rng = random.Random(seed)
    pool = [s for s in seeds if s]
    seen = {key(s) for s in seeds}
    out: list[tuple[Any, ...]] = []
    tries = 0
    while pool and len(out) < count and tries < count * 20:
        tries += 1
        parent = rng.choice(pool)
        position = rng.randrange(len(parent))
        child = (*parent[:position], mutate_value(parent[position], rng), *parent[position + 1:])
        text = key(child)
        if text not in seen:
            seen.add(text)
            out.append(child)
            pool.append(child)
    return out


def mutate_value(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """One random mutation of ``value`` that keeps its type (containers recursively)."""
    handler = _BY_TYPE.get(type(value))
    if handler is None or depth > 4:
        return value
    return handler(value, rng, depth)


def _int(x: int, rng: random.Random, depth: int) -> int:
    options = [x + 1, x - 1, -x, 0, 1, -1, x * 2, x // 2, x + rng.randint(-10, 10), rng.randint(-100, 100),
               10 ** rng.randint(2, 6), -(10 ** rng.randint(2, 6))]
    value: int = rng.choice(options)
    return max(-MAX_INT, min(MAX_INT, value))


def _float(x: float, rng: random.Random, depth: int) -> float:
    options = [x + 0.5, x - 0.5, -x, 0.0, 1.0, -1.0, x * 1.5, x / 3, round(x, 1), 1e-9, rng.uniform(-100, 100)]
    value = rng.choice(options)
    return value if abs(value) < 1e12 else 0.0


def _bool(x: bool, rng: random.Random, depth: int) -> bool:
    return not x


def _str(x: str, rng: random.Random, depth: int) -> str:
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


def _bytes(x: bytes, rng: random.Random, depth: int) -> bytes:
    return _str(x.decode("latin-1"), rng, depth).encode("utf-8")[:MAX_LEN]


def _list(x: list[Any], rng: random.Random, depth: int) -> list[Any]:
    options: list[Callable[[], list[Any]]] = [lambda: [], lambda: x[1:], lambda: x[:-1], lambda: x[::-1]]
    if x:
        index = rng.randrange(len(x))
        options += [
            lambda: [*x[:index], mutate_value(x[index], rng, depth + 1), *x[index + 1:]],
            lambda: [*x, mutate_value(rng.choice(x), rng, depth + 1)],
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


def _tuple(x: tuple[Any, ...], rng: random.Random, depth: int) -> tuple[Any, ...]:
    if not x:
        return x
    index = rng.randrange(len(x))
    return (*x[:index], mutate_value(x[index], rng, depth + 1), *x[index + 1:])


def _set(x: set[Any] | frozenset[Any], rng: random.Random, depth: int) -> Any:
    items = sorted(x, key=repr)
    out = set(_list(items, rng, depth)) if rng.random() < 0.8 else set()
    try:
        return type(x)(out)
    except TypeError:
        return x


def _dict(x: dict[Any, Any], rng: random.Random, depth: int) -> dict[Any, Any]:
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
        out[chosen] = mutate_value(x[chosen], rng, depth + 1)
    else:
        new_key = mutate_value(chosen, rng, depth + 1)
        with contextlib.suppress(TypeError):  # an unhashable new key
            out[new_key] = mutate_value(x[chosen], rng, depth + 1)
    return out


_BY_TYPE: dict[type, Callable[[Any, random.Random, int], Any]] = {
    int: _int, float: _float, bool: _bool, str: _str, bytes: _bytes, list: _list, tuple: _tuple,
    set: _set, frozenset: _set, dict: _dict,
}
