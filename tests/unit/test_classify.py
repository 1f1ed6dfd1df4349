"""Classifier and locator units on ErrorInfo objects built by hand.

The behaviour on real sandbox output is checked by tests/sandbox/test_feedback_table.py; these
pin the pure rules (MRO walk, category table, frame choice, spans, unfinished code).
"""

from __future__ import annotations

import pytest

from client.models import Category, ErrorInfo, FinishReason, Frame, TestStatus, Where
from service.feedback.coordinates import line_bounds
from service.feedback.location import (
    FrameChoice,
    Location,
    last_nonblank_line,
    locate,
    opens_unterminated_triple_quote,
    pick_frame,
)
from service.feedback.taxonomy import ClassifyOptions, Subtype, category_of, is_compile_error, subtype_of
from service.feedback.truncation import UnfinishedRule, is_unfinished


def err(*mro: str, frames: list[Frame] | None = None) -> ErrorInfo:
    return ErrorInfo(type=mro[0], exception_mro=list(mro), frames=frames or [])


def frame(where: Where, line: int | None, end_line: int | None = None) -> Frame:
    return Frame(where=where, file="f", function="g", line=line, end_line=end_line)


# mro (most derived first), expected subtype
BY_CLASS = [
    (["IndexError", "LookupError", "Exception"], Subtype.INDEX),
    (["KeyError", "LookupError", "Exception"], Subtype.KEY),
    (["TypeError", "Exception"], Subtype.TYPE),
    (["ValueError", "Exception"], Subtype.VALUE),
    (["UnicodeDecodeError", "UnicodeError", "ValueError", "Exception"], Subtype.VALUE),
    (["EOFError", "Exception"], Subtype.EOF),
    (["UnboundLocalError", "NameError", "Exception"], Subtype.NAME),
    (["ModuleNotFoundError", "ImportError", "Exception"], Subtype.IMPORT),
    (["ZeroDivisionError", "ArithmeticError", "Exception"], Subtype.ZERO_DIVISION),
    (["RecursionError", "RuntimeError", "Exception"], Subtype.RECURSION),
    (["TabError", "IndentationError", "SyntaxError", "Exception"], Subtype.INDENTATION),
    (["IndentationError", "SyntaxError", "Exception"], Subtype.INDENTATION),
    (["SyntaxError", "Exception"], Subtype.SYNTAX),
    (["AttributeError", "Exception"], Subtype.ELSE),
    (["StopIteration", "Exception"], Subtype.ELSE),
    (["AssertionError", "Exception"], Subtype.ELSE),
    (["__main__.MyErr", "Exception"], Subtype.ELSE),
    (["__main__.MyErr", "ValueError", "Exception"], Subtype.VALUE),
    (["__main__.IndexError", "Exception"], Subtype.ELSE),  # a shadowing name is not the builtin
    (["builtins.KeyError", "builtins.LookupError"], Subtype.KEY),
    (["MemoryError", "Exception"], Subtype.MEMORY),
    (["SystemExit"], Subtype.CRASH),
    ([], Subtype.ELSE),
]


@pytest.mark.parametrize(("mro", "expected"), BY_CLASS)
def test_subtype_by_mro(mro: list[str], expected: Subtype) -> None:
    error = ErrorInfo(type=mro[0] if mro else "Weird", exception_mro=mro)
    assert subtype_of(TestStatus.ERROR, error, triple_quoted=False) is expected


def test_message_text_is_never_read() -> None:
    error = ErrorInfo(type="__main__.E", exception_mro=["__main__.E"], message="IndexError: x")
    assert subtype_of(TestStatus.ERROR, error, triple_quoted=False) is Subtype.ELSE


# status, error type, expected subtype
BY_STATUS = [
    (TestStatus.TIMEOUT, "Timeout", Subtype.TIMEOUT),
    (TestStatus.MEMORY, "MemoryLimit", Subtype.MEMORY),
    (TestStatus.MEMORY, "MemoryError", Subtype.MEMORY),
    (TestStatus.OUTPUT_LIMIT, "OutputLimit", Subtype.OUTPUT_LIMIT),
    (TestStatus.CRASH, "Signal", Subtype.CRASH),
    (TestStatus.CRASH, "SystemExit", Subtype.CRASH),
    (TestStatus.CRASH, "Exit", Subtype.CRASH),
    (TestStatus.CRASH, "SandboxKilled", Subtype.CRASH),
    (TestStatus.FAIL, "AssertionError", Subtype.WRONG_ANSWER),
]


@pytest.mark.parametrize(("status", "type_", "expected"), BY_STATUS)
def test_subtype_by_status(status: TestStatus, type_: str, expected: Subtype) -> None:
    assert subtype_of(status, err(type_), triple_quoted=False) is expected


def test_subtype_without_error() -> None:
    assert subtype_of(TestStatus.CRASH, None, triple_quoted=False) is Subtype.CRASH
    assert subtype_of(TestStatus.TIMEOUT, None, triple_quoted=False) is Subtype.TIMEOUT
    assert subtype_of(TestStatus.ERROR, None, triple_quoted=False) is Subtype.ELSE


def test_triple_quoted_only_refines_syntax() -> None:
    syntax = err("SyntaxError", "Exception")
    assert subtype_of(TestStatus.ERROR, syntax, triple_quoted=True) is Subtype.TRIPLE_QUOTED
    indent = err("IndentationError", "SyntaxError")
    assert subtype_of(TestStatus.ERROR, indent, triple_quoted=True) is Subtype.INDENTATION


# subtype, in_code, unfinished, expected category
CATEGORIES = [
    (Subtype.SYNTAX, True, False, Category.LINE),
    (Subtype.SYNTAX, True, True, Category.GLOBAL),
    (Subtype.SYNTAX, False, False, Category.IGNORE),
    (Subtype.INDENTATION, True, False, Category.IGNORE),
    (Subtype.INDENTATION, True, True, Category.GLOBAL),
    (Subtype.TRIPLE_QUOTED, True, False, Category.IGNORE),
    (Subtype.TRIPLE_QUOTED, True, True, Category.IGNORE),
    (Subtype.INDEX, True, False, Category.LINE),
    (Subtype.INDEX, False, False, Category.IGNORE),
    (Subtype.TYPE, True, False, Category.LINE),
    (Subtype.VALUE, True, False, Category.LINE),
    (Subtype.EOF, True, False, Category.LINE),
    (Subtype.NAME, True, False, Category.LINE),
    (Subtype.KEY, True, False, Category.LINE),
    (Subtype.IMPORT, True, False, Category.LINE),
    (Subtype.ZERO_DIVISION, True, False, Category.LINE),
    (Subtype.ELSE, True, False, Category.LINE),
    (Subtype.ELSE, False, False, Category.IGNORE),
    (Subtype.TIMEOUT, False, False, Category.GLOBAL),
    (Subtype.RECURSION, True, False, Category.GLOBAL),
    (Subtype.MEMORY, False, False, Category.GLOBAL),
    (Subtype.OUTPUT_LIMIT, False, False, Category.GLOBAL),
    (Subtype.CRASH, True, False, Category.IGNORE),
    (Subtype.WRONG_ANSWER, False, False, Category.IGNORE),
]


@pytest.mark.parametrize(("subtype", "in_code", "unfinished", "expected"), CATEGORIES)
def test_category_table(
    subtype: Subtype, in_code: bool, unfinished: bool, expected: Category
) -> None:
    assert category_of(subtype, in_code=in_code, unfinished=unfinished) is expected


def test_category_options() -> None:
    compat = ClassifyOptions(timeout_ignore=True, crash_category=Category.GLOBAL)
    assert category_of(Subtype.TIMEOUT, in_code=False, unfinished=False, options=compat) is (
        Category.IGNORE
    )
    assert category_of(Subtype.CRASH, in_code=True, unfinished=False, options=compat) is (
        Category.GLOBAL
    )


def test_compile_error_vs_runtime_syntax_error() -> None:
    assert is_compile_error(err("SyntaxError", frames=[frame(Where.CODE, 3)]))
    assert is_compile_error(err("TabError", "IndentationError", "SyntaxError"))
    agent_then_position = [frame(Where.NONE, 80), frame(Where.CODE, 3)]
    assert is_compile_error(err("SyntaxError", frames=agent_then_position))
    runtime = [frame(Where.CODE, 2), frame(Where.NONE, 1)]
    assert not is_compile_error(err("SyntaxError", frames=runtime))
    raised_in_code = [frame(Where.TESTS, 1), frame(Where.CODE, 2)]
    assert not is_compile_error(err("SyntaxError", frames=raised_in_code))
    assert not is_compile_error(err("SyntaxError", frames=[frame(Where.NONE, 1)]))
    assert not is_compile_error(err("IndexError", frames=[frame(Where.CODE, 3)]))


# --------------------------------------------------------------------- location
@pytest.mark.parametrize(
    ("text", "bounds"),
    [
        ("", [(0, 0)]),
        ("a", [(0, 1)]),
        ("a\n", [(0, 1), (2, 2)]),
        ("a\r\nbb\rc", [(0, 1), (3, 5), (6, 7)]),
        ("a\x0cb\nc", [(0, 3), (4, 5)]),  # a form feed is not a Python line break
    ],
)
def test_line_bounds(text: str, bounds: list[tuple[int, int]]) -> None:
    assert list(line_bounds(text)) == bounds


@pytest.mark.parametrize(("text", "line"), [("", 0), ("\n \n", 0), ("a\n\n", 1), ("a\nb\n  \n", 2)])
def test_last_nonblank_line(text: str, line: int) -> None:
    assert last_nonblank_line(text) == line


NESTED = [frame(Where.TESTS, 1), frame(Where.CODE, 5), frame(Where.CODE, 2), frame(Where.NONE, 9)]


@pytest.mark.parametrize(
    ("frames", "choice", "line", "where"),
    [
        (NESTED, FrameChoice.INNERMOST, 2, Where.CODE),
        (NESTED, FrameChoice.OUTERMOST, 5, Where.CODE),
        ([frame(Where.TESTS, 1), frame(Where.PROMPT, 3)], FrameChoice.INNERMOST, 3, Where.PROMPT),
        ([frame(Where.TESTS, 1), frame(Where.PROMPT, 3)], FrameChoice.OUTERMOST, 1, Where.TESTS),
        ([frame(Where.NONE, 1)], FrameChoice.INNERMOST, None, None),
        ([], FrameChoice.INNERMOST, None, None),
    ],
)
def test_pick_frame(
    frames: list[Frame], choice: FrameChoice, line: int | None, where: Where | None
) -> None:
    got = pick_frame(frames, choice)
    assert ((got.line, got.where) if got else (None, None)) == (line, where)


CODE = "def f(x):\n    return x[3]\n\ndef g(x):\n    return x[3]\n"


def test_duplicate_lines_are_told_apart() -> None:
    loc = locate(
        err("IndexError", frames=[frame(Where.CODE, 7), frame(Where.CODE, 5)]),
        CODE,
        choice=FrameChoice.INNERMOST,
        compile_error=False,
    )
    assert loc == Location(where=Where.CODE, line=5, end_line=5, char_start=37, char_end=52)
    assert CODE[37:52] == "    return x[3]"


def test_multi_line_frame_span() -> None:
    code = "x = f(\n  1,\n  2)\n"
    loc = locate(
        err("TypeError", frames=[frame(Where.CODE, 1, 3)]),
        code,
        choice=FrameChoice.INNERMOST,
        compile_error=False,
    )
    assert (loc.char_start, loc.char_end) == (0, len(code) - 1)


def test_compile_error_on_blank_line_moves_up() -> None:
    code = "def f():\n    for i in x:\n"
    loc = locate(
        err("IndentationError", frames=[frame(Where.CODE, 3)]),
        code,
        choice=FrameChoice.INNERMOST,
        compile_error=True,
    )
    assert (loc.line, loc.char_start, loc.char_end) == (2, 9, 24)


def test_error_outside_code_has_no_span() -> None:
    loc = locate(
        err("IndexError", frames=[frame(Where.TESTS, 2)]),
        CODE,
        choice=FrameChoice.INNERMOST,
        compile_error=False,
    )
    assert loc == Location(where=Where.TESTS, line=2)


def test_a_location_fills_errorinfo_fields_of_the_same_names() -> None:
    loc = Location(where=Where.CODE, line=2, end_line=3, col=0, char_start=5, char_end=9)
    assert set(loc.fields()) <= set(ErrorInfo.model_fields)
    assert err("IndexError").model_copy(update=loc.fields()).char_end == 9


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ('x = """abc\ny = 1\n', 1, True),
        ("x = '''abc", 1, True),
        ('x = """abc"""\n', 1, False),
        ('x = """a""" + """b\n', 1, True),
        ('x = """a\nb"""\n', 1, False),
        ('x = "abc\n', 1, False),
        ('x = 1\ny = """\n', 1, False),
        ('x = 1\ny = """\n', 2, True),
        ('x = """', 7, False),
        ('x = """', None, False),
    ],
)
def test_unterminated_triple_quote(text: str, line: int | None, expected: bool) -> None:
    assert opens_unterminated_triple_quote(text, line) is expected


# --------------------------------------------------------------------- unfinished
CUT = "def f(x):\n    y = (x +\n"


def at(line: int, where: Where = Where.CODE) -> Location:
    return Location(where=where, line=line)


@pytest.mark.parametrize(
    ("location", "finish", "unclosed", "rule", "expected"),
    [
        (at(2), FinishReason.LENGTH, False, UnfinishedRule.AUTO, True),
        (at(2), None, False, UnfinishedRule.AUTO, True),
        (at(2), FinishReason.STOP, True, UnfinishedRule.AUTO, False),
        (at(1), FinishReason.LENGTH, True, UnfinishedRule.AUTO, True),
        (at(1), FinishReason.LENGTH, False, UnfinishedRule.AUTO, False),
        (at(1), None, True, UnfinishedRule.AUTO, False),
        (at(1, Where.PROMPT), FinishReason.LENGTH, True, UnfinishedRule.AUTO, True),
        (at(1, Where.TESTS), FinishReason.LENGTH, True, UnfinishedRule.AUTO, False),
        (at(2), FinishReason.STOP, False, UnfinishedRule.POSITIONAL, True),
        (at(2), FinishReason.LENGTH, True, UnfinishedRule.OFF, False),
    ],
)
def test_unfinished(
    location: Location,
    finish: FinishReason | None,
    unclosed: bool,
    rule: UnfinishedRule,
    expected: bool,
) -> None:
    got = is_unfinished(CUT, location, finish_reason=finish, unclosed=unclosed, rule=rule)
    assert got is expected
