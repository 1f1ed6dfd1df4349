"""From the service's character spans to token spans, and RLTF's alpha.

The service reports where an error is as ``[char_start, char_end)`` offsets into the
generated code (``ErrorInfo.char_start/char_end``, and ``rewards["fine_char_start"]``/
``rewards["fine_char_end"]`` for the span RLTF's fine reward applies to). A trainer maps
them to tokens with its tokenizer's offset mapping, e.g. for Hugging Face tokenizers::

    enc = tokenizer(code, return_offsets_mapping=True, add_special_tokens=False)
    span = token_span(enc["offset_mapping"], start, end)
    a = alpha(len(enc["input_ids"]), *span)

No tokenizer library is imported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["alpha", "fine_token_span", "token_span"]


def token_span(
    offsets: Sequence[tuple[int, int]] | Sequence[Sequence[int]],
    char_start: int,
    char_end: int,
    *,
    shift: int = 0,
) -> tuple[int, int] | None:
    """Tokens ``[t_start, t_end)`` that overlap the characters ``[char_start, char_end)``.

    Args:
        offsets: one ``(start, end)`` character pair per token (a tokenizer's offset
            mapping). Empty pairs such as special tokens' ``(0, 0)`` overlap nothing.
        char_start: first character of the span (in code).
        char_end: one past its last character.
        shift: where the code starts in the tokenized text (``len(prompt)`` when the
            prompt and the code were tokenized together).

    Returns:
        The token span, or None when no token overlaps (an empty span included).
    """
    lo, hi = char_start + shift, char_end + shift
    first: int | None = None
    last = -1
    for index, pair in enumerate(offsets):
        start, end = int(pair[0]), int(pair[1])
        if start < end and start < hi and end > lo:
            first = index if first is None else first
            last = index
    if first is None:
        return None
    return first, last + 1


def alpha(n_tokens: int, t_start: int, t_end: int) -> float:
    """RLTF's weight of the fine-grained loss: ``T / (E - S)``.

    Args:
        n_tokens: T, the number of tokens of the generated code.
        t_start: S, first token of the span.
        t_end: E, one past its last token.

    Raises:
        ValueError: for an empty span (``t_end <= t_start``).
    """
    if t_end <= t_start:
        raise ValueError(f"empty token span [{t_start}, {t_end})")
    return n_tokens / (t_end - t_start)


def fine_token_span(
    rewards: Mapping[str, float | None],
    offsets: Sequence[tuple[int, int]] | Sequence[Sequence[int]],
    *,
    shift: int = 0,
) -> tuple[int, int] | None:
    """The token span of an rltf result's fine reward, or None when it has none."""
    start, end = rewards.get("fine_char_start"), rewards.get("fine_char_end")
    if start is None or end is None:
        return None
    return token_span(offsets, int(start), int(end), shift=shift)
