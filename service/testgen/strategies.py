"""Property-based inputs with Hypothesis, for parameters whose types are known.

A strategy is built from each parameter's inferred type (:mod:`.infer`) and Hypothesis
draws argument tuples from them on the host: pure data (ints with their boundaries,
floats, unicode text, empty and nested containers), never a call of the reference,
which only ever runs in the sandbox. Drawing is derandomised, so the same function
gives the same inputs every time.
"""

from __future__ import annotations

import contextlib
import string
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException

from service.testgen.infer import Kind, Param, T

__all__ = ["draw_inputs", "strategy_for"]

_TEXT = st.one_of(
    st.text(string.ascii_letters + string.digits + " ", max_size=12),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=8),
)
_SCALARS: dict[Kind, st.SearchStrategy[Any]] = {
    Kind.INT: st.one_of(st.integers(-10, 10), st.integers(-(10**6), 10**6)),
    Kind.FLOAT: st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    Kind.BOOL: st.booleans(),
    Kind.STR: _TEXT,
    Kind.BYTES: st.binary(max_size=12),
    Kind.NONE: st.none(),
}
_HASHABLE = frozenset({Kind.INT, Kind.FLOAT, Kind.BOOL, Kind.STR, Kind.BYTES, Kind.NONE, Kind.TUPLE, Kind.VTUPLE,
                       Kind.FROZENSET})


def strategy_for(t: T, depth: int = 0) -> st.SearchStrategy[Any] | None:
    """A strategy for values of type ``t``; None when ``t`` is not fully known."""
    if t.kind in _SCALARS:
        return _SCALARS[t.kind]
    if depth > 3 or not t.known():
        return None
    parts = [strategy_for(a, depth + 1) for a in t.args]
    if any(p is None for p in parts):
        return None
    elems: list[st.SearchStrategy[Any]] = [p for p in parts if p is not None]
    if t.kind is Kind.LIST:
        return st.lists(elems[0], max_size=8)
    if t.kind is Kind.TUPLE:
        return st.tuples(*elems)
    if t.kind is Kind.VTUPLE:
        return st.lists(elems[0], max_size=6).map(tuple)
    if t.kind in (Kind.SET, Kind.FROZENSET) and t.args[0].kind in _HASHABLE:
        sets = st.sets(elems[0], max_size=6)
        return sets.map(frozenset) if t.kind is Kind.FROZENSET else sets
    if t.kind is Kind.DICT and t.args[0].kind in _HASHABLE:
        return st.dictionaries(elems[0], elems[1], max_size=5)
    if t.kind is Kind.UNION:
        return st.one_of(*elems)
    return None


def draw_inputs(params: list[Param], count: int) -> list[tuple[Any, ...]]:
    """Up to ``count`` argument tuples for ``params`` (the required ones and the known
    optional ones that follow them); none when a required parameter's type is unknown."""
    chosen: list[st.SearchStrategy[Any]] = []
    for param in params:
        strategy = strategy_for(param.type)
        if strategy is None:
            if param.required:
                return []
            break
        chosen.append(strategy)
    if not chosen or count <= 0:
        return []
    drawn: list[tuple[Any, ...]] = []

    @settings(max_examples=count, derandomize=True, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.tuples(*chosen))
    def collect(args: tuple[Any, ...]) -> None:
        drawn.append(args)

    with contextlib.suppress(HypothesisException):  # e.g. fewer distinct values than asked for
        collect()
    return drawn
