"""Was a compile error caused by code cut off at its end (RLTF's U_global syntax case)?

The generator knows why it stopped: ``finish_reason == "length"`` means it hit its token
limit, so a compile error at the end of the code is a truncation, not a mistake on that
line. Rules (docs/feedback.md):

- ``finish_reason == "length"``: unfinished when the error is on or after the last
  non-blank line of the code, or when the program text ends inside an open bracket,
  a multi-line string or a backslash continuation (:func:`ends_open`);
- no finish reason: the positional rule alone;
- ``finish_reason == "stop"``: the generator ended the code itself; never unfinished.
"""

from __future__ import annotations

import io
import tokenize
from enum import StrEnum
from functools import lru_cache

from client.models import FinishReason, Where
from service.feedback.location import Location, last_nonblank_line

__all__ = ["MAX_SCAN_CHARS", "UnfinishedRule", "ends_open", "is_unfinished"]

#: Longer programs are not scanned by :func:`ends_open` (the caller falls back).
MAX_SCAN_CHARS = 1_000_000


class UnfinishedRule(StrEnum):
    """How unfinished code is recognised (a per-request option of the rltf scheme)."""

    AUTO = "auto"  # finish_reason when given, else the positional rule
    POSITIONAL = "positional"  # ignore finish_reason
    OFF = "off"  # never: every syntax error is U_line


@lru_cache(maxsize=16)  # a compile error is reported by every test of the program
def ends_open(program: str) -> bool:
    """Whether ``program`` ends inside an open bracket, string or line continuation.

    Lexes the text with :mod:`tokenize` (nothing is executed) and relies on the class of
    what it raises, not its message: ``TokenError`` is raised exactly when the input ends
    inside a multi-line statement or string. This is preferred to the compiler's message:
    some "never closed" messages ("unterminated string literal", "expected an indented
    block") also describe mistakes in the middle of finished code. Programs over
    :data:`MAX_SCAN_CHARS` are not lexed; for them the caller falls back on
    ``ErrorInfo.syntax_unclosed``, the executor's reading of that message.
    """
    try:
        for _ in tokenize.generate_tokens(io.StringIO(program).readline):
            pass
    except tokenize.TokenError:
        return True
    except Exception:  # IndentationError and friends: not an open construct at EOF
        return False
    return False


def _at_end(code: str, location: Location) -> bool:
    if location.where is not Where.CODE or location.line is None:
        return False
    return location.line >= last_nonblank_line(code)


def is_unfinished(
    code: str,
    location: Location,
    *,
    finish_reason: FinishReason | None,
    unclosed: bool | None,
    rule: UnfinishedRule = UnfinishedRule.AUTO,
) -> bool:
    """Whether a compile error at ``location`` is due to code cut off at its end.

    Args:
        code: the generated text.
        location: the compile error's resolved position.
        finish_reason: the generator's, from the request.
        unclosed: the program ends inside an open construct (:func:`ends_open`).
        rule: see :class:`UnfinishedRule`.
    """
    if rule is UnfinishedRule.OFF:
        return False
    if rule is UnfinishedRule.POSITIONAL or finish_reason is None:
        return _at_end(code, location)
    if finish_reason is FinishReason.STOP:
        return False
    in_program = location.where in (Where.CODE, Where.PROMPT)
    return _at_end(code, location) or (bool(unclosed) and in_program)
