"""Coordinates: line bounds of a text, and where a line of the program the sandbox ran lies
in the texts we were given.

The sandbox runs ``prompt + code`` as one file. Frames and SyntaxErrors come back in that
file's lines; trainers need them in the coordinates of ``code`` (the text the model
generated), of ``prompt``, or of the tests. Line ends are those of Python's tokenizer
(``\\r\\n``, ``\\r``, ``\\n``), so CRLF sources (MBPP) keep their numbering.
"""

from __future__ import annotations

import bisect
import re
from functools import lru_cache

from client.models import Where

__all__ = ["ProgramMap", "line_bounds", "line_span", "line_starts"]

_LINE_END = re.compile(r"\r\n|\r|\n")


@lru_cache(maxsize=16)  # every test of a program asks about the same texts
def line_bounds(text: str) -> tuple[tuple[int, int], ...]:
    """``(start, end)`` of every line of ``text`` (end excludes the terminator).

    A text ending with a newline has a last, empty line, as an editor shows it.
    """
    bounds: list[tuple[int, int]] = []
    start = 0
    for match in _LINE_END.finditer(text):
        bounds.append((start, match.start()))
        start = match.end()
    bounds.append((start, len(text)))
    return tuple(bounds)


def line_starts(text: str) -> list[int]:
    """Char offset at which each line of ``text`` starts (line 1 at index 0)."""
    return [start for start, _ in line_bounds(text)]


def line_span(text: str, line: int) -> tuple[int, int] | None:
    """``[start, end)`` char offsets of 1-based ``line`` in ``text``, without its line end."""
    bounds = line_bounds(text)
    return bounds[line - 1] if 1 <= line <= len(bounds) else None


class ProgramMap:
    """Maps lines of ``prompt + code`` back to the prompt or the code.

    The line tables are built once per program: a RecursionError brings ~1,000 frames.
    """

    def __init__(self, prompt: str, code: str) -> None:
        self.prompt = prompt
        self._program_starts = line_starts(prompt + code) if prompt else []
        self._program_len = len(prompt) + len(code)
        self._code_starts = line_starts(code) if prompt else []

    def locate(self, line: int, col: int | None = None) -> tuple[Where, int]:
        """(where, line in that text) for a 1-based line of the program.

        A line shared by the end of a prompt without a final newline and the start of the
        code belongs to the code when ``col`` (1-based) points into the code part, or
        when no column is known.
        """
        starts = self._program_starts
        if not self.prompt or not 1 <= line <= len(starts):
            return Where.CODE, line
        cut = len(self.prompt)
        start = starts[line - 1]
        if start >= cut:
            return Where.CODE, bisect.bisect_right(self._code_starts, start - cut)
        end = starts[line] if line < len(starts) else self._program_len
        if end <= cut:
            return Where.PROMPT, line
        if col is not None and start + col - 1 < cut:
            return Where.PROMPT, line
        return Where.CODE, 1
