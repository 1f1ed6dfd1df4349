"""Program lines mapped back to the prompt or the generated code (pure)."""

from __future__ import annotations

import pytest

from client.models import Where
from service.feedback.coordinates import ProgramMap, line_span


@pytest.mark.parametrize(
    ("prompt", "code", "line", "col", "expected"),
    [
        ("", "a\nb\n", 2, None, (Where.CODE, 2)),
        ("def f():\n", "    return 1\n    x\n", 1, None, (Where.PROMPT, 1)),
        ("def f():\n", "    return 1\n    x\n", 3, None, (Where.CODE, 2)),
        ("def f():\r\n", "    return 1\r\n    x\r\n", 3, None, (Where.CODE, 2)),
        ("x = (", "1 +\n2)\n", 1, 3, (Where.PROMPT, 1)),  # shared line, column in the prompt part
        ("x = (", "1 +\n2)\n", 1, 6, (Where.CODE, 1)),  # shared line, column in the code part
        ("x = (", "1 +\n2)\n", 2, None, (Where.CODE, 2)),
        ("p\n", "c\n", 9, None, (Where.CODE, 9)),  # out of range: left as it is
    ],
)
def test_program_lines_map_to_prompt_or_code(
    prompt: str, code: str, line: int, col: int | None, expected: tuple[Where, int]
) -> None:
    assert ProgramMap(prompt, code).locate(line, col) == expected


def test_line_span_excludes_the_line_end() -> None:
    code = "a = 1\r\nb = [1][5]\nc\rd"
    assert line_span(code, 2) == (7, 17) and code[7:17] == "b = [1][5]"
    assert line_span(code, 4) == (20, 21)
    assert line_span(code, 5) is None
