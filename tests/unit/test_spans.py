"""client.spans: char spans to token spans, and RLTF's alpha."""

from __future__ import annotations

import pytest

from client.spans import alpha, fine_token_span, token_span

# "def f(x):\n    return x[3]\n" tokenized into made-up tokens
OFFSETS = [
    (0, 3),
    (3, 5),
    (5, 6),
    (6, 7),
    (7, 8),
    (8, 9),
    (9, 10),
    (10, 14),
    (14, 20),
    (20, 22),
    (22, 24),
    (24, 25),
    (25, 26),
]
WITH_SPECIALS = [(0, 0), *OFFSETS, (0, 0)]


@pytest.mark.parametrize(
    ("offsets", "start", "end", "shift", "expected"),
    [
        (OFFSETS, 10, 25, 0, (7, 12)),  # the second line, without its newline
        (OFFSETS, 0, 26, 0, (0, 13)),  # all code (U_global)
        (OFFSETS, 11, 12, 0, (7, 8)),  # inside one token
        (OFFSETS, 9, 10, 0, (6, 7)),  # the newline token alone
        (WITH_SPECIALS, 10, 25, 0, (8, 13)),  # (0, 0) special tokens overlap nothing
        (OFFSETS, 5, 5, 0, None),  # empty span
        (OFFSETS, 30, 40, 0, None),  # past the end
        ([(0, 6), *[(a + 6, b + 6) for a, b in OFFSETS]], 10, 25, 6, (8, 13)),  # prompt first
        ([[0, 3], [3, 5]], 0, 4, 0, (0, 2)),  # lists from JSON work too
    ],
)
def test_token_span(
    offsets: list[tuple[int, int]],
    start: int,
    end: int,
    shift: int,
    expected: tuple[int, int] | None,
) -> None:
    assert token_span(offsets, start, end, shift=shift) == expected


@pytest.mark.parametrize(
    ("n", "s", "e", "expected"),
    [(100, 10, 20, 10.0), (13, 0, 13, 1.0), (13, 7, 12, 2.6)],
)
def test_alpha(n: int, s: int, e: int, expected: float) -> None:
    assert alpha(n, s, e) == pytest.approx(expected)


def test_alpha_refuses_an_empty_span() -> None:
    with pytest.raises(ValueError, match="empty"):
        alpha(10, 3, 3)


def test_fine_token_span() -> None:
    rewards = {"fine": -0.3, "fine_char_start": 10.0, "fine_char_end": 25.0}
    assert fine_token_span(rewards, OFFSETS) == (7, 12)
    assert fine_token_span({"fine": 0.0, "fine_char_start": None}, OFFSETS) is None


def test_client_imports_no_tokenizer_library() -> None:
    import ast
    from pathlib import Path

    import client.spans

    tree = ast.parse(Path(client.spans.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    assert imported <= {"__future__", "collections"}
