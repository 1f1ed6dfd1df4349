"""The agent's value codec, on the host (pure: values built here, no program runs).

Values cross between the harness and the program's process with their exact builtin
types; anything else becomes a handle; the decoder treats its input as hostile."""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.codec import CodecError, Encoder, Opaque
from agent.decode import Decoder

Handles = list[Any]


def _roundtrip(value: Any) -> tuple[Any, Handles]:
    handles: Handles = []

    def to_handle(v: Any) -> Any:
        handles.append(v)
        return {"t": "h", "v": len(handles) - 1}

    node = Encoder(to_handle).encode(value)
    wire = json.loads(json.dumps(node))  # what crosses is JSON text
    return Decoder(lambda n: ("handle", n), lambda n: ("callback", n)).decode(wire), handles


def _canon(v: Any) -> Any:
    """A comparable form that keeps every exact type (and orders sets; NaN is itself)."""
    name = type(v).__name__
    if isinstance(v, (set, frozenset)):
        return name, sorted((_canon(x) for x in v), key=repr)
    if isinstance(v, (list, tuple)):
        return name, [_canon(x) for x in v]
    if isinstance(v, dict):
        return name, [(_canon(k), _canon(x)) for k, x in v.items()]
    return name, repr(v)


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same exact type, all the way down."""
    return bool(_canon(a) == _canon(b))


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**4000), max_value=10**4000),
    st.floats(allow_nan=True), st.text(), st.binary(), st.complex_numbers(allow_nan=False),
)
hashables = st.recursive(
    scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3), max_leaves=8
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(hashables, inner, max_size=3)
    | st.sets(hashables, max_size=3) | st.frozensets(hashables, max_size=3),
    max_leaves=20,
)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # reprs of 4,000-digit ints
@settings(max_examples=300, deadline=None)
@given(values)
def test_builtin_values_cross_with_their_exact_types(value: Any) -> None:
    out, handles = _roundtrip(value)
    assert handles == []
    assert _same(out, value)


@pytest.mark.parametrize(
    "value",
    [
        collections.Counter("abca"), collections.OrderedDict(b=1, a=2), collections.deque([1, 2], maxlen=5),
        fractions.Fraction(10**30, 7), decimal.Decimal("1.10"), datetime.date(2026, 12, 1),
        datetime.datetime(2026, 12, 1, 9, 30), datetime.timedelta(days=2, seconds=3), range(1, 10, 3),
        bytearray(b"\x00\xff"), {1: "a"}.keys(), len, int, math.sqrt, Ellipsis, slice(1, None, 2), 10**5000,
    ],
    ids=lambda v: type(v).__name__,
)
def test_stdlib_values_and_builtins_cross_as_themselves(value: Any) -> None:
    out, handles = _roundtrip(value)
    assert handles == []
    assert type(out) is type(value)
    assert out == value if not isinstance(value, type({}.keys())) else list(out) == list(value)


def test_defaultdict_keeps_a_builtin_factory() -> None:
    out, _ = _roundtrip(collections.defaultdict(list, {"a": [1]}))
    assert type(out) is collections.defaultdict and out.default_factory is list and out["a"] == [1]


class Liar:
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


class LyingInt(int):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = int.__hash__


class LyingList(list[int]):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = None  # type: ignore[assignment]


@pytest.mark.parametrize("value", [Liar(), LyingInt(5), LyingList([1]), lambda: 1], ids=["liar", "int", "list", "fn"])
def test_objects_that_are_not_builtin_values_become_handles(value: Any) -> None:
    out, handles = _roundtrip([value])
    assert out == [("handle", 0)] and handles == [value]


def test_the_encoder_reads_through_base_types_not_overrides() -> None:
    class Sneaky(dict[str, int]):
        def items(self):  # type: ignore[no-untyped-def, override]
            return [("forged", 1)]

    out, handles = _roundtrip({"x": 1})
    assert out == {"x": 1}
    out, handles = _roundtrip([Sneaky(x=1)])
    assert handles and out == [("handle", 0)]  # not a dict: a handle, never its forged items


def test_shared_references_and_cycles_survive() -> None:
    inner = [1]
    cyclic: list[Any] = [inner, inner]
    cyclic.append(cyclic)
    out, _ = _roundtrip(cyclic)
    assert out[0] is out[1] and out[2] is out


def test_refusing_hook_raises_opaque() -> None:
    def refuse(v: Any) -> Any:
        raise Opaque(v)

    with pytest.raises(Opaque):
        Encoder(refuse).encode(object())


@pytest.mark.parametrize(
    "node",
    [
        {"t": "nope"}, {"t": "r", "v": 3}, {"t": "d", "v": [1]}, {"t": "i", "v": 5}, {"t": "h", "v": "x"},
        {"t": "g", "m": "os", "n": "system.__class__.__subclasses__"}, {"t": "g", "m": "evil_module", "n": "x"},
        {"t": "na", "d": "|O", "s": [1], "v": ""}, {"t": "u"}, {"t": "y", "v": "!!"}, 3 + 0j,
        {"t": "ra", "v": [1, 2]}, {"t": "de", "v": "1" * 20_000},
    ],
    ids=lambda n: str(n)[:40],
)
def test_the_decoder_refuses_malformed_input(node: Any) -> None:
    with pytest.raises(CodecError):
        Decoder(lambda n: n if isinstance(n, int) else 1 / 0, lambda n: n).decode(node)


def test_the_decoder_bounds_nesting() -> None:
    node: Any = 1
    for _ in range(1000):
        node = [node]
    with pytest.raises(CodecError):
        Decoder(lambda n: n, lambda n: n).decode(node)


def test_a_state_replaces_the_contents_of_the_original_in_place() -> None:
    original = [3, 1, 2]
    nested = {"k": original}
    registry: list[Any] = [nested, original]
    decoder = Decoder(lambda n: n, lambda n: n, registry)
    decoder.decode_into(original, [1, 2, 3])
    decoder.decode_into(nested, {"t": "d", "v": ["k", {"t": "r", "v": 1}, "new", [9]]})
    assert original == [1, 2, 3] and nested["k"] is original and nested["new"] == [9]
    with pytest.raises(CodecError):
        decoder.decode_into(original, {"t": "s", "v": []})  # a list cannot become a set
