"""Candidate inputs of one item: seeds, their mutants, property-based draws.

Seeds come first (the caller's ``inputs``, then the description's examples), coerced
to the parameters' declared container types (JSON has no tuples or sets); then the
function's own constants and their neighbours put into int and str arguments
(boundaries), the type-aware mutants of the seeds and Hypothesis draws from the inferred
types, without repeats, up to ``max_candidates``.
"""

from __future__ import annotations

import ast
import random
import zlib
from dataclasses import dataclass, field
from typing import Any

from service.testgen.examples import Seed, seeds_from_description
from service.testgen.infer import Kind, Param, T, params_of
from service.testgen.mutate import Shapes, mutate_inputs, shaped, strings_of
from service.testgen.options import TestgenOptions
from service.testgen.strategies import draw_inputs
from service.testgen.values import Unrepresentable, key, to_source

__all__ = ["Candidate", "Plan", "plan_inputs"]


@dataclass(frozen=True)
class Candidate:
    """One input: positional and keyword arguments, and where it came from."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    origin: str = "seed"  # input (the item's own) | seed (the description's) | boundary | mutant | hypothesis

    def call_source(self, callee: str) -> str:
        """``callee(1, [2], k='x')``."""
        parts = [to_source(a) for a in self.args] + [f"{k}={to_source(v)}" for k, v in self.kwargs.items()]
        return f"{callee}({', '.join(parts)})"

    def literals(self) -> tuple[str, str]:
        """The arguments as two literals (a tuple and a dict) for the probe to evaluate."""
        return to_source(tuple(self.args)), to_source(dict(self.kwargs))


@dataclass
class Plan:
    candidates: list[Candidate]
    params: list[Param]
    seeds: int


def plan_inputs(fn: ast.FunctionDef, description: str, inputs: list[list[Any]] | None, *, method: bool,
                options: TestgenOptions, name: str, proposed: list[Seed] | None = None) -> Plan:
    """The candidate inputs of a function (``name`` seeds the random choices; ``proposed``:
    seeds from a backend such as Pynguin, after the caller's and the description's)."""
    given = [Seed(tuple(i)) for i in inputs or []]
    params0 = params_of(fn, description, [s.args for s in given], method=method)
    names = [p.name for p in params0]
    described = seeds_from_description(description, fn.name, names)
    seeds = [_coerce(_positional(s, names), params0) for s in [*given, *described, *(proposed or [])]]
    params = params_of(fn, description, [s.args for s in seeds], method=method)
    out: list[Candidate] = []
    seen: set[str] = set()

    def add(candidate: Candidate) -> None:
        text = key((candidate.args, candidate.kwargs))
        if text not in seen and len(out) < options.max_candidates and _fits(candidate, options):
            seen.add(text)
            out.append(candidate)

    for n, s in enumerate(seeds):
        add(Candidate(s.args, s.kwargs, "input" if n < len(given) else "seed"))
    rng_seed = zlib.crc32(name.encode()) ^ options.seed
    positional = [s.args for s in seeds if not s.kwargs]
    drawn = draw_inputs(params, options.hypothesis_examples)
    for args in _boundaries(fn, (positional or drawn)[:3]):
        add(Candidate(args, {}, "boundary"))
    for args in _swaps(positional[:3]):
        add(Candidate(args, {}, "boundary"))
    shapes = Shapes.of([*(t for s in positional for t in strings_of(s)), *_str_constants(fn)])
    for args in _shaped(positional[:3], shapes, options.shaped, rng_seed):
        add(Candidate(args, {}, "mutant"))
    for args in mutate_inputs(positional, options.mutations, seed=rng_seed, shapes=shapes):
        add(Candidate(args, {}, "mutant"))
    for args in drawn:
        add(Candidate(args, {}, "hypothesis"))
    # Seeds first, then the smallest inputs: the reference's time grows with its input,
    # and the probe stops trying after a few inputs over budget.
    head = [c for c in out if c.origin in ("input", "seed")]
    tail = sorted((c for c in out if c.origin not in ("input", "seed")), key=lambda c: sum(map(len, c.literals())))
    return Plan(head + tail, params, len(seeds))


def _boundaries(fn: ast.FunctionDef, bases: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The constants the function compares with, and their neighbours, in each int or str
    argument of a few base inputs (a boundary mutant ``<`` → ``<=`` is told apart only there)."""
    ints = _spread(sorted({n.value for n in ast.walk(fn) if isinstance(n, ast.Constant) and type(n.value) is int}),
                   16)
    strs = sorted(s for s in _str_constants(fn) if len(s) <= 20)[:12]
    out: list[tuple[Any, ...]] = []
    for base in bases:
        for position, value in enumerate(base):
            options: list[Any] = []
            if type(value) is int:
                options = [v for c in ints for v in (c - 1, c, c + 1)] + _sums(ints, value)
            elif type(value) is str:
                options = strs + _substituted(value, strs)
            out += [(*base[:position], v, *base[position + 1:]) for v in options]
    return out


def _shaped(bases: list[tuple[Any, ...]], shapes: Shapes, count: int, seed: int) -> list[tuple[Any, ...]]:
    """Up to ``count`` seeds with one string argument mutated within its shape, one or two
    steps away from the seed (never further: a random walk leaves the grammar)."""
    spots = [(b, i) for b in bases for i, v in enumerate(b) if type(v) is str]
    if not spots or not shapes:
        return []
    rng = random.Random(seed)
    out = []
    for n in range(count):
        base, position = spots[n % len(spots)]
        value = shaped(base[position], rng, shapes)
        if n % 3 == 2:
            value = shaped(value, rng, shapes)
        out.append((*base[:position], value, *base[position + 1:]))
    return out


def _str_constants(fn: ast.FunctionDef) -> list[str]:
    """The function's string constants, not its docstring."""
    doc = ast.get_docstring(fn, clean=False)
    found = {n.value for n in ast.walk(fn) if isinstance(n, ast.Constant) and type(n.value) is str}
    return sorted(found - {doc})


def _spread(values: list[int], count: int) -> list[int]:
    """At most ``count`` of ``values``, spread over the whole (sorted) range."""
    if len(values) <= count:
        return values
    return [values[round(i * (len(values) - 1) / (count - 1))] for i in range(count)]


def _sums(ints: list[int], salt: int) -> list[int]:
    """Sums of two or three of the function's positive int constants (a table of
    thresholds or numerals is told apart only by a number that uses several of them):
    ``[1, 4, 5, 9, 10, 40, ...]`` → ``944``, ``49``. Deterministic per argument value."""
    positive = [c for c in ints if c > 0]
    if len(positive) < 3:
        return []
    rng = random.Random(salt)
    return [sum(rng.sample(positive, rng.choice((2, 3)))) for _ in range(12)]


def _substituted(value: str, constants: list[str]) -> list[str]:
    """``value`` with one constant of the function that occurs in it replaced by another
    (``"example.txt"`` → ``"example.exe"``; ``"three one five"`` → ``"three two five"``):
    a constant mutant is told apart only where its constant meets the others."""
    found = [c for c in constants if c and c in value]
    return [value.replace(old, new, 1) for old in found for new in constants if new != old][:24]


def _swaps(bases: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Seeds with two arguments of the same type swapped (``f(3, 4, 5)`` → ``f(5, 4, 3)``):
    a reference that treats its arguments alike differs from a mutant only when the
    telling value moves."""
    out = []
    for base in bases:
        for i in range(len(base)):
            for j in range(i + 1, len(base)):
                if type(base[i]) is type(base[j]) and base[i] != base[j]:
                    out.append((*base[:i], base[j], *base[i + 1: j], base[i], *base[j + 1:]))
    return out


def _positional(seed: Seed, names: list[str]) -> Seed:
    """Keyword arguments that name the leading parameters, as positional ones."""
    if not seed.kwargs:
        return seed
    order = names[len(seed.args): len(seed.args) + len(seed.kwargs)]
    if set(order) != set(seed.kwargs):
        return seed
    return Seed(seed.args + tuple(seed.kwargs[n] for n in order))


def _fits(candidate: Candidate, options: TestgenOptions) -> bool:
    try:
        return sum(map(len, candidate.literals())) <= options.max_input_chars
    except Unrepresentable:
        return False


def _coerce(seed: Seed, params: list[Param]) -> Seed:
    args = tuple(_as_type(v, p.type) for v, p in zip(seed.args, params, strict=False))
    return Seed(args + seed.args[len(args):], seed.kwargs)


def _as_type(value: Any, t: T) -> Any:
    """A JSON value as the declared container type (a list given for a tuple, a set)."""
    if type(value) is list:
        if t.kind is Kind.TUPLE and len(t.args) == len(value):
            return tuple(_as_type(v, a) for v, a in zip(value, t.args, strict=True))
        inner = t.args[0] if t.args else T(Kind.ANY)
        items = [_as_type(v, inner) for v in value]
        if t.kind is Kind.VTUPLE:
            return tuple(items)
        if t.kind in (Kind.SET, Kind.FROZENSET):
            try:
                return set(items) if t.kind is Kind.SET else frozenset(items)
            except TypeError:
                return value
        return items
    if type(value) is int and t.kind is Kind.FLOAT:
        return value  # an int is a fine float argument; keep what was given
    return value
