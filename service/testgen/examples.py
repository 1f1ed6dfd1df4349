"""Seed inputs from a description's examples: doctests (``>>> f(3)``), prose
(``e.g. f(3) == 9``, ``f(3) ➞ 9``) and ``Input: a = [1, 2], b = 3`` lines.

Every call of the function under test whose arguments are literals is a seed (its
stated result is not needed: the reference is the oracle). Arguments are read with
:func:`ast.literal_eval`, so nothing in a description is ever executed.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from service.testgen.scan import outside_quotes

__all__ = ["Seed", "seeds_from_description"]

_MAX_CALL_CHARS = 4000


@dataclass(frozen=True)
class Seed:
    """Positional and keyword arguments of one call."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


def seeds_from_description(text: str, fn_name: str, params: list[str] | None = None) -> list[Seed]:
    """The literal-argument calls of ``fn_name`` in ``text``, in order, without repeats;
    ``params`` (the function's parameter names) also reads ``Input: a = 1, b = 2`` lines."""
    found: list[Seed] = []
    for match in re.finditer(rf"(?<![\w.]){re.escape(fn_name)}\s*\(", text):
        call = _balanced(text, match.end() - 1)
        if call is not None:
            seed = _literal_call(fn_name + call)
            if seed is not None:
                found.append(seed)
    if params:
        for line in text.splitlines():
            values = _assignments(line, params)
            if values is not None:
                found.append(Seed(tuple(values[p] for p in params)))
    return _unique(found)


def _assignments(line: str, params: list[str]) -> dict[str, Any] | None:
    """``For lst = [1, 2], k = 3 the output ...``: a literal for every parameter, or None."""
    values: dict[str, Any] = {}
    for name in params:
        match = re.search(rf"(?<![\w.]){re.escape(name)}\s*=\s*(?!=)", line)
        if match is None:
            return None
        literal = _literal_at(line, match.end())
        if literal is None:
            return None
        values[name] = literal[0]
    return values


def _literal_at(line: str, start: int) -> tuple[Any] | None:
    rest = line[start:]
    if rest[:1] in "([{'\"":
        text = _balanced(line, start) if rest[:1] in "([{" else _quoted(rest)
    else:
        token = re.match(r"-?[\w.]+", rest)
        text = token.group(0) if token else None
    if not text:
        return None
    try:
        return (ast.literal_eval(text),)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _quoted(text: str) -> str | None:
    quote, index = text[0], 1
    while index < len(text):
        if text[index] == "\\":
            index += 1
        elif text[index] == quote:
            return text[: index + 1]
        index += 1
    return None


def _balanced(text: str, start: int) -> str | None:
    """The parenthesised text starting at ``text[start] == "("`` (strings respected)."""
    window = text[start: start + _MAX_CALL_CHARS]
    for index, ch, depth in outside_quotes(window):
        if depth == 0 and ch in ")]}":
            return window[: index + 1]
    return None


def _literal_call(text: str) -> Seed | None:
    try:
        node = ast.parse(text.replace("\n", " "), mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    if not isinstance(node, ast.Call) or any(isinstance(a, ast.Starred) for a in node.args):
        return None
    try:
        args = tuple(ast.literal_eval(a) for a in node.args)
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg is not None}
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if len(kwargs) != len(node.keywords):
        return None
    return Seed(args, kwargs)


def _unique(seeds: list[Seed]) -> list[Seed]:
    seen: set[str] = set()
    out = []
    for seed in seeds:
        text = repr((seed.args, sorted(seed.kwargs.items())))
        if text not in seen:
            seen.add(text)
            out.append(seed)
    return out
