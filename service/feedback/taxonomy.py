"""RLTF's error taxonomy: from one test's structured error to a sub-error and a category.

Pure and total: every input yields a :class:`Subtype` and a :class:`Category`; nothing
raises. Classes are recognised by walking the exception's MRO (qualified names, most
derived first, as the sandbox agent reports them), never by reading the message text:
messages changed between Python versions, class hierarchies did not. (The one message the
service reads is a SyntaxError's, by the executor, for the ``syntax_unclosed`` hint that
:mod:`service.feedback.truncation` falls back on; it never decides a sub-error.)

Category rules (docs/feedback.md has the reasons):

- ``syntax`` → U_line, or U_global when the code is unfinished;
- ``indentation`` → U_ignore, or U_global when the code is unfinished;
- ``triple_quoted`` → U_ignore (the paper and the RLTF code agree, truncated or not);
- index/type/value/eof/name/key/import/zero_division/else → U_line when the error can be
  placed on a line of the generated code, else U_ignore;
- timeout/recursion/memory/output_limit → U_global;
- crash (signals, non-zero exits) and wrong_answer → U_ignore.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from client.models import Category, ErrorInfo, TestStatus, Where
from service.feedback.truncation import UnfinishedRule

__all__ = [
    "ERROR_STATUSES",
    "ClassifyOptions",
    "Subtype",
    "category_of",
    "is_compile_error",
    "mro_names",
    "subtype_of",
]


class Subtype(StrEnum):
    """RLTF Table 2 sub-errors, plus names for what the paper does not name."""

    SYNTAX = "syntax"
    INDEX = "index"
    TYPE = "type"
    VALUE = "value"
    EOF = "eof"
    TIMEOUT = "timeout"
    NAME = "name"
    KEY = "key"
    IMPORT = "import"
    ZERO_DIVISION = "zero_division"
    RECURSION = "recursion"
    TRIPLE_QUOTED = "triple_quoted"
    INDENTATION = "indentation"
    ELSE = "else"
    CRASH = "crash"
    MEMORY = "memory"
    OUTPUT_LIMIT = "output_limit"
    WRONG_ANSWER = "wrong_answer"


# Builtin classes (and the agent's pseudo-types for what it observed from outside) by
# the sub-error they name. Looked up along the MRO, so subclasses inherit the subtype:
# UnboundLocalError -> name, ModuleNotFoundError -> import, TabError -> indentation.
_BY_CLASS: dict[str, Subtype] = {
    "IndentationError": Subtype.INDENTATION,
    "SyntaxError": Subtype.SYNTAX,
    "IndexError": Subtype.INDEX,
    "TypeError": Subtype.TYPE,
    "ValueError": Subtype.VALUE,
    "EOFError": Subtype.EOF,
    "NameError": Subtype.NAME,
    "KeyError": Subtype.KEY,
    "ImportError": Subtype.IMPORT,
    "ZeroDivisionError": Subtype.ZERO_DIVISION,
    "RecursionError": Subtype.RECURSION,
    "MemoryError": Subtype.MEMORY,
    "MemoryLimit": Subtype.MEMORY,
    "Timeout": Subtype.TIMEOUT,
    "OutputLimit": Subtype.OUTPUT_LIMIT,
    "Signal": Subtype.CRASH,
    "Exit": Subtype.CRASH,
    "SystemExit": Subtype.CRASH,
    "SandboxKilled": Subtype.CRASH,
}

#: Test statuses that make a program's outcome ``error`` (not a wrong answer).
ERROR_STATUSES = frozenset(
    {TestStatus.ERROR, TestStatus.TIMEOUT, TestStatus.MEMORY, TestStatus.OUTPUT_LIMIT, TestStatus.CRASH}
)

# The test status, when it says more than the class could (a killed process has none).
_BY_STATUS: dict[TestStatus, Subtype] = {
    TestStatus.TIMEOUT: Subtype.TIMEOUT,
    TestStatus.MEMORY: Subtype.MEMORY,
    TestStatus.OUTPUT_LIMIT: Subtype.OUTPUT_LIMIT,
    TestStatus.FAIL: Subtype.WRONG_ANSWER,
}

_COMPILE = frozenset({Subtype.SYNTAX, Subtype.INDENTATION, Subtype.TRIPLE_QUOTED})
_GLOBAL = frozenset({Subtype.TIMEOUT, Subtype.RECURSION, Subtype.MEMORY, Subtype.OUTPUT_LIMIT})
_IGNORE = frozenset({Subtype.CRASH, Subtype.WRONG_ANSWER, Subtype.TRIPLE_QUOTED})


@dataclass(frozen=True, kw_only=True)
class ClassifyOptions:
    """Overridable category decisions (defaults are the paper's; see docs/feedback.md).

    Attributes:
        timeout_ignore: the RLTF code's behaviour: timeouts end up U_ignore.
        crash_category: category for signals and non-zero exits.
        unfinished: how truncated code is recognised (:mod:`service.feedback.truncation`).
    """

    timeout_ignore: bool = False
    crash_category: Category = Category.IGNORE
    unfinished: UnfinishedRule = UnfinishedRule.AUTO


def _builtin(name: str) -> str:
    """``builtins.IndexError`` and ``IndexError`` are the same class; others stay qualified."""
    return name.removeprefix("builtins.")


def mro_names(error: ErrorInfo) -> list[str]:
    """The error's class names, most derived first (its ``type`` when no MRO was sent)."""
    names = error.exception_mro or [error.type]
    return [_builtin(n) for n in names if isinstance(n, str)]


def _subtype_by_class(error: ErrorInfo) -> Subtype:
    for name in mro_names(error):
        found = _BY_CLASS.get(name)
        if found is not None:
            return found
    return Subtype.ELSE


def subtype_of(status: TestStatus, error: ErrorInfo | None, *, triple_quoted: bool) -> Subtype:
    """The sub-error of one test.

    Args:
        status: the test's status as judged by the executor.
        error: its error (None for wrong stdio/call answers, timeouts without details).
        triple_quoted: the compile error sits on an unterminated triple-quoted string
            (found from the source text at the error's position, see ``location``).
    """
    by_status = _BY_STATUS.get(status)
    if by_status is not None:
        return by_status
    if error is None:
        return Subtype.CRASH if status is TestStatus.CRASH else Subtype.ELSE
    found = _subtype_by_class(error)
    if found is Subtype.SYNTAX and triple_quoted:
        return Subtype.TRIPLE_QUOTED
    if status is TestStatus.CRASH and found not in _GLOBAL:
        return Subtype.CRASH
    return found


def is_compile_error(error: ErrorInfo) -> bool:
    """A SyntaxError (or subclass) raised while compiling the program or its tests.

    The executor reports a SyntaxError's own position as its innermost frame, in
    program/tests coordinates; for a compile error nothing of the program or the tests
    was running yet, so no other frame lies in those texts. A SyntaxError raised at run
    time (``eval``/``compile`` of a string) has its position outside them (``<string>``)
    or was raised while a frame of the program or the tests was running.
    """
    if _subtype_by_class(error) not in _COMPILE:
        return False
    if not error.frames:
        return True
    *outer, position = error.frames
    return position.where is not Where.NONE and all(f.where is Where.NONE for f in outer)


def category_of(
    subtype: Subtype,
    *,
    in_code: bool,
    unfinished: bool,
    options: ClassifyOptions | None = None,
) -> Category:
    """RLTF's U_line / U_global / U_ignore for one sub-error.

    Args:
        subtype: from :func:`subtype_of`.
        in_code: the error was placed on a line of the generated code.
        unfinished: a compile error caused by code cut off at its end (``unfinished``).
        options: overrides (defaults: the paper's table).
    """
    opts = options or ClassifyOptions()
    if subtype is Subtype.TIMEOUT and opts.timeout_ignore:
        return Category.IGNORE
    if subtype is Subtype.CRASH:
        return opts.crash_category
    if subtype in _IGNORE:
        return Category.IGNORE
    if subtype in _GLOBAL or (unfinished and subtype in _COMPILE):
        return Category.GLOBAL
    if subtype is Subtype.INDENTATION:
        return Category.IGNORE
    return Category.LINE if in_code else Category.IGNORE
