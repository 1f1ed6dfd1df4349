"""Scanning source-like text outside string literals (the description's calls, Java
statements and argument lists): each character with its bracket depth."""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["outside_quotes"]

_OPEN, _CLOSE = "([{", ")]}"


def outside_quotes(text: str, *, angles: bool = False) -> Iterator[tuple[int, str, int]]:
    """(index, character, depth) of each character outside '...' and "..." literals
    (backslash escapes respected); ``depth`` counts the brackets open before it, and a
    closing bracket is reported at the depth it returns to. ``angles``: ``<>`` nest too
    (Java generics)."""
    opening, closing = (_OPEN + "<", _CLOSE + ">") if angles else (_OPEN, _CLOSE)
    depth, quote, index = 0, "", 0
    while index < len(text):
        ch = text[index]
        if quote:
            if ch == "\\":
                index += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        else:
            if ch in opening:
                depth += 1
            elif ch in closing:
                depth -= 1
            yield index, ch, depth
        index += 1
