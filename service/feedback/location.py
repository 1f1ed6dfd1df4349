"""Where an error is: which text (code/prompt/tests), which line, which characters of code.

Pure functions over the frames the executor already mapped into the coordinates of the
text each frame is in. Lines are never searched for by their text, so a line that
occurs twice is attributed to the occurrence that actually failed.

Spans are ``[char_start, char_end)`` offsets into ``item.code``: from the first
character of the first line (indentation included) to the end of the last line, *not*
including its line terminator. Line terminators are ``\\n``, ``\\r\\n`` and ``\\r``, as
Python's own line numbers count them.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from client.models import ErrorInfo, Frame, Where
from service.feedback.coordinates import line_bounds

__all__ = [
    "FrameChoice",
    "Location",
    "last_nonblank_line",
    "locate",
    "opens_unterminated_triple_quote",
    "pick_frame",
]

_TRIPLE = re.compile(r"\"\"\"|'''")


class FrameChoice(StrEnum):
    INNERMOST = "innermost"
    OUTERMOST = "outermost"


@dataclass(frozen=True, kw_only=True)
class Location:
    """A resolved error position; the char span is set only when ``where`` is code.

    The fields are named as the :class:`~client.models.ErrorInfo` fields they fill
    (:meth:`fields`); ``col`` is 0-based.
    """

    where: Where = Where.NONE
    line: int | None = None
    end_line: int | None = None
    col: int | None = None
    char_start: int | None = None
    char_end: int | None = None

    def fields(self) -> dict[str, Any]:
        """This location as ``ErrorInfo`` field values (an update for ``model_copy``)."""
        return dataclasses.asdict(self)


def last_nonblank_line(text: str) -> int:
    """1-based number of the last line with a non-whitespace character; 0 if none."""
    bounds = line_bounds(text)
    return _nonblank_at_or_before(text, bounds, len(bounds)) or 0


def pick_frame(frames: list[Frame], choice: FrameChoice) -> Frame | None:
    """The frame an error is attributed to.

    The innermost (or outermost) frame in the generated code; failing that, the same
    choice among frames in the prompt or the tests; None when every frame is elsewhere
    (the standard library, the harness) or there are none.
    """
    ordered = frames if choice is FrameChoice.OUTERMOST else list(reversed(frames))
    for wanted in ((Where.CODE,), (Where.PROMPT, Where.TESTS)):
        for frame in ordered:
            if frame.where in wanted and frame.line is not None:
                return frame
    return None


def _nonblank_at_or_before(text: str, bounds: tuple[tuple[int, int], ...], line: int) -> int | None:
    """``line`` itself if it has text; else the closest non-blank line above it."""
    for index in range(min(line, len(bounds)), 0, -1):
        start, end = bounds[index - 1]
        if text[start:end].strip():
            return index
    return None


def _code_location(frame: Frame, code: str, *, compile_error: bool) -> Location:
    bounds = line_bounds(code)
    line = frame.line if frame.line is not None and frame.line >= 1 else None
    if line is not None and (compile_error or line > len(bounds)):
        # EOF errors point at a blank line or past the end: the text that is missing
        # belongs after the last line the model wrote, so that line is the one to blame.
        line = _nonblank_at_or_before(code, bounds, line)
    if line is None:
        return Location(where=Where.CODE, line=frame.line, col=frame.col)
    end_line = frame.end_line if frame.end_line is not None else line
    end_line = min(max(end_line, line), len(bounds))
    return Location(
        where=Where.CODE,
        line=line,
        end_line=end_line,
        col=frame.col,
        char_start=bounds[line - 1][0],
        char_end=bounds[end_line - 1][1],
    )


def locate(error: ErrorInfo, code: str, *, choice: FrameChoice, compile_error: bool) -> Location:
    """Resolve where ``error`` happened.

    Args:
        error: with ``frames`` as the executor reported them (outermost first).
        code: the generated text (``item.code``).
        choice: innermost or outermost frame in the generated code.
        compile_error: a SyntaxError of the program (its only frame is its position).
    """
    frame = pick_frame(error.frames, choice)
    if frame is None:
        return Location()
    if frame.where is Where.CODE:
        found = _code_location(frame, code, compile_error=compile_error)
    else:
        found = Location(where=frame.where, line=frame.line, end_line=frame.end_line, col=frame.col)
    return dataclasses.replace(found, col=_zero_based(found.col, compile_error=compile_error))


def _zero_based(col: int | None, *, compile_error: bool) -> int | None:
    """0-based columns everywhere (a SyntaxError's ``offset`` is 1-based)."""
    if col is None or not compile_error:
        return col
    return max(col - 1, 0)


def opens_unterminated_triple_quote(text: str, line: int | None) -> bool:
    """Whether ``line`` of ``text`` opens a triple-quoted string that never closes.

    Read from the source, not from the error message: Python reports an unterminated
    triple-quoted string at the line where it starts. Quotes inside a one-line string
    or a comment on that line can mislead this scan; such lines are rare in practice.
    """
    bounds = line_bounds(text)
    if line is None or not 1 <= line <= len(bounds):
        return False
    pos, line_end = bounds[line - 1]
    while True:
        opener = _TRIPLE.search(text, pos, line_end)
        if opener is None:
            return False
        close = text.find(opener.group(), opener.end())
        if close < 0:
            return True
        pos = close + 3
        if pos > line_end:
            return False
