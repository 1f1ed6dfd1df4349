"""Judging outputs: a stdio program's stdout against the expected text, a call test's
return value against the expected JSON value. Pure; runs in the trusted processes (P for
stdio, H for call tests) on values they read or decoded themselves."""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["apps_compare_text", "compare_text", "compare_value", "json_value"]


def _tokens_equal_float(a: str, b: str, tol: float = 1e-6) -> bool:
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    if math.isnan(x) or math.isnan(y):
        return False
    return abs(x - y) <= tol or abs(x - y) <= tol * max(abs(x), abs(y))


def compare_text(got: str, want: str, mode: str) -> bool:
    """Judge a stdio program's stdout against the expected output."""
    if mode == "exact":
        return got == want
    if mode == "tokens":
        return got.split() == want.split()
    if mode == "float":
        g, w = got.split(), want.split()
        return len(g) == len(w) and all(_tokens_equal_float(a, b) for a, b in zip(g, w, strict=True))
    return apps_compare_text(got, want)


def apps_compare_text(got: str, want: str) -> bool:
    """The APPS testing_util cascade (lenient: token sets, 3-decimal rounding). Compat only."""
    out = got.splitlines()
    if out == [want] or out == want.split("\n") or [o.strip() for o in out] == want.split("\n"):
        return True
    want_lines = [x.strip() for x in want.split("\n") if x]
    out_lines = [x.strip() for x in out if x.strip()]
    if out_lines == want_lines or [o.strip() for o in out] == want_lines:
        return True
    if len(out_lines) == len(want_lines) and all(
            _tokens_equal_float(a, b, 1e-5) for a, b in zip(out_lines, want_lines, strict=True)):
        return True
    want_set = {frozenset(line.split()) for line in want_lines}
    got_set = {frozenset(line.split()) for line in out_lines}
    if got_set == want_set:
        return True
    try:
        def rounded(lines: list[str]) -> set[frozenset[float]]:
            return {frozenset(round(float(t), 3) for t in line.split()) for line in lines}
        return rounded(out_lines) == rounded(want_lines)
    except ValueError:
        return False


def compare_value(got: Any, want: Any, mode: str) -> bool:
    """Judge a call test's return value (as :func:`json_value`) against the expected value."""
    if mode == "apps":
        return _value_equal(got, want, False) or (
            isinstance(want, list) and len(want) > 0 and _value_equal(got, want[0], False))
    return _value_equal(got, want, mode == "float")


def _value_equal(a: Any, b: Any, tolerant: bool) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if tolerant:
            return _tokens_equal_float(repr(float(a)), repr(float(b)))
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_value_equal(x, y, tolerant) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_value_equal(a[k], b[k], tolerant) for k in a)
    return type(a) is type(b) and bool(a == b)


def json_value(value: Any, depth: int = 0) -> Any:
    """A call test's return value as JSON data (tuples as lists), as the expected values
    are written. Values are genuine builtin objects here (decoded by the harness).

    Raises:
        TypeError: the value has no JSON form (a set, an object of the program).
        ValueError: nested too deeply.
    """
    if depth > 100:
        raise ValueError("nested too deeply")
    cls = type(value)
    if value is None or cls is bool or cls is str:
        return value
    if cls is int:
        return value
    if cls is float:
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if cls is list or cls is tuple:
        return [json_value(v, depth + 1) for v in value]
    if isinstance(value, dict) and cls.__module__ in ("builtins", "collections"):
        out = {}
        for k, v in value.items():
            key = k if type(k) is str else json.dumps(json_value(k, depth + 1))
            out[key] = json_value(v, depth + 1)
        return out
    if cls.__module__ == "numpy":
        converted = value.tolist() if hasattr(value, "tolist") else value.item()
        return json_value(converted, depth + 1)
    if isinstance(value, (int, float, str, list, tuple)):  # a plain form the program gave
        return json_value(_builtin_of(value), depth + 1)
    raise TypeError(f"return value of type {_name(cls)} is not JSON")


def _builtin_of(value: Any) -> Any:
    for base in (bool, int, float, str, list, tuple):
        if isinstance(value, base):
            return base(value)  # type: ignore[arg-type]
    return value


def _name(cls: type) -> str:
    module = getattr(cls, "__module__", "") or ""
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
